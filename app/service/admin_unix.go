//go:build !windows

package service

import "os"

// IsAdmin reports whether the process may install and control services.
func IsAdmin() bool { return os.Geteuid() == 0 }
