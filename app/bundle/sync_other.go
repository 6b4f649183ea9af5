//go:build !linux

package bundle

import (
	"fmt"
	"os"
)

// syncFiles flushes each staged file to disk.
func syncFiles(dir string, paths []string) error {
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("bundle: sync staging: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("bundle: sync staging: %w", err)
		}
	}
	syncDir(dir)
	return nil
}
