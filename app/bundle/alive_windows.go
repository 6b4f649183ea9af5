//go:build windows

package bundle

import "os"

// processAlive reports whether a process with this pid exists: on Windows
// FindProcess opens it, which fails when it is gone.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}
