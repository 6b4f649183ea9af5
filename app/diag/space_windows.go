//go:build windows

package diag

import "golang.org/x/sys/windows"

// diskSpace is the free (for this account) and total space of the volume
// holding path.
func diskSpace(path string) (free, total uint64, ok bool) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, 0, false
	}
	var avail, tot, all uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &tot, &all); err != nil {
		return 0, 0, false
	}
	return avail, tot, true
}
