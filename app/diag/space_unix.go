//go:build linux || darwin || freebsd

package diag

import "golang.org/x/sys/unix"

// diskSpace is the free (for unprivileged users) and total space of the
// file system holding path.
func diskSpace(path string) (free, total uint64, ok bool) {
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return 0, 0, false
	}
	return uint64(s.Bavail) * uint64(s.Bsize), uint64(s.Blocks) * uint64(s.Bsize), true
}
