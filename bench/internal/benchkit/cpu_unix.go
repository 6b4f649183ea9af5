//go:build unix

package benchkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
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

// Run is one measured run of a command (env added to the bench's): its wall
// time, peak RSS and CPU time (user + system, all threads, which shows how
// much of the wall time was computing rather than waiting for the disk).
type Run struct {
	Wall   time.Duration
	PeakKB int64
	CPU    time.Duration
}

// RunCommand runs name with args and measures it; a failure's error
// carries the command's output.
func RunCommand(env []string, name string, args ...string) (Run, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return Run{}, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	r := Run{Wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakKB = ru.Maxrss
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}
