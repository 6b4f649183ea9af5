package service

import (
	"syscall"
	"unsafe"
)

// tokenElevation is TOKEN_INFORMATION_CLASS TokenElevation.
const tokenElevation = 20

// IsAdmin reports whether the process runs elevated (as Administrator), which
// installing and controlling services needs.
func IsAdmin() bool {
	p, err := syscall.GetCurrentProcess()
	if err != nil {
		return false
	}
	var t syscall.Token
	if err := syscall.OpenProcessToken(p, syscall.TOKEN_QUERY, &t); err != nil {
		return false
	}
	defer t.Close()
	var elevated, n uint32
	if err := syscall.GetTokenInformation(t, tokenElevation, (*byte)(unsafe.Pointer(&elevated)), uint32(unsafe.Sizeof(elevated)), &n); err != nil {
		return false
	}
	return elevated != 0
}
