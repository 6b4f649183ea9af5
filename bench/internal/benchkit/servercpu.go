package benchkit

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// ServerCPU measures the CPU time of a local server's processes: the
// process pid and its children (PostgreSQL's postmaster and its backends),
// read from /proc/<pid>/schedstat, which counts nanoseconds on a CPU, so
// differences of it measure the work a query made the server do however
// busy the machine is. It works on Linux with a server on this machine
// that the bench may read /proc of; elsewhere OK is false.
type ServerCPU struct{ pid int }

// NewServerCPU watches the server whose backend process is backendPID
// (PostgreSQL: SELECT pg_backend_pid()); its parent is the postmaster.
func NewServerCPU(backendPID int) ServerCPU {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(backendPID) + "/stat")
	if err != nil {
		return ServerCPU{}
	}
	// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return ServerCPU{}
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return ServerCPU{}
	}
	c := ServerCPU{pid: ppid}
	if c.Time() == 0 {
		return ServerCPU{}
	}
	return c
}

// OK reports whether the server's CPU time can be read.
func (c ServerCPU) OK() bool { return c.pid != 0 }

// Time is the CPU time the server's processes have used so far (a backend
// that exits takes its share with it: measure with a pool that keeps its
// connections).
func (c ServerCPU) Time() time.Duration {
	if c.pid == 0 {
		return 0
	}
	p := strconv.Itoa(c.pid)
	pids := []string{p}
	if b, err := os.ReadFile("/proc/" + p + "/task/" + p + "/children"); err == nil {
		pids = append(pids, strings.Fields(string(b))...)
	}
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + pid + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				total += time.Duration(ns)
			}
		}
	}
	return total
}
