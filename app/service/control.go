package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"

	"github.com/kardianos/service"
)

// Actions are the service manager actions Control accepts.
var Actions = []string{"install", "uninstall", "start", "stop", "restart"}

// Control runs one of Actions against the OS service manager.
func Control(cfg *service.Config, action string) error {
	s, err := service.New(nopProgram{}, cfg)
	if err != nil {
		return err
	}
	fns := map[string]func() error{
		"install": s.Install, "uninstall": s.Uninstall,
		"start": s.Start, "stop": s.Stop, "restart": s.Restart,
	}
	fn, ok := fns[action]
	if !ok {
		return fmt.Errorf("unknown service action %q", action)
	}
	if err := fn(); err != nil {
		return fmt.Errorf("%s (%s): %w", action, service.Platform(), err)
	}
	return nil
}

// State is what Status found.
type State string

const (
	Running      State = "running"
	Stopped      State = "stopped"
	NotInstalled State = "not installed"
	Failed       State = "failed"
)

// Status asks the service manager about the service.
func Status(cfg *service.Config) (State, error) {
	s, err := service.New(nopProgram{}, cfg)
	if err != nil {
		return "", err
	}
	st, err := s.Status()
	if err != nil && service.Platform() == "unix-systemv" {
		// `service purplebook status` fails alike for every problem.
		// The init script exits 1 for "Stopped" too.
		if _, serr := os.Stat("/etc/init.d/" + Name); errors.Is(serr, os.ErrNotExist) {
			return NotInstalled, nil
		}
		return Stopped, nil
	}
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return NotInstalled, nil
	case err != nil && strings.Contains(err.Error(), "failed state"):
		return Failed, nil
	case err != nil:
		return "", fmt.Errorf("status (%s): %w", service.Platform(), err)
	case st == service.StatusRunning:
		return Running, nil
	case st == service.StatusStopped:
		return Stopped, nil
	}
	return "", fmt.Errorf("unknown service status %d", st)
}

// ServiceUser returns UserName when that user exists (the Linux packages and
// install.sh create it), else "" for root.
func ServiceUser(goos string) string {
	if goos != "linux" {
		return ""
	}
	if _, err := user.Lookup(UserName); err != nil {
		return ""
	}
	return UserName
}

// PrepareDataDir creates the data dir of an installation and restricts it:
// owned by the service user with mode 0750 on Unix, SYSTEM and Administrators
// only on Windows.
func PrepareDataDir(in Install) error {
	if err := os.MkdirAll(in.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if runtime.GOOS == "windows" {
		out, err := exec.Command("icacls", WindowsACLArgs(in.DataDir)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("restrict data dir with icacls: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := os.Chmod(in.DataDir, 0o750); err != nil {
		return err
	}
	if in.UserName == "" {
		return nil
	}
	u, err := user.Lookup(in.UserName)
	if err != nil {
		return err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	return os.Chown(in.DataDir, uid, gid)
}
