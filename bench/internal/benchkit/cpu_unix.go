//go:build unix

package benchkit

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time (user + system) the process has used so far, all
// threads. Differences of it measure work done in-process independently of
// how busy the machine is (on SQLite the whole query runs in-process).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
