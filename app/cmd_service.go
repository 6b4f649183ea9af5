package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/purplebook/purplebook/app/config"
	"github.com/purplebook/purplebook/app/service"
)

const serviceUsage = `Usage: purplebook service <action> [flags]

Installs and controls purplebook as an OS service: systemd on Linux, the
service control manager on Windows, launchd on macOS. Every action but status
needs root (sudo) or an elevated Administrator prompt.

Actions:
  install    register the service, started at boot; the flags below are baked
             into it (to change them later: uninstall, then install again)
  uninstall  stop and remove the service; the data directory is kept
  start      start the service
  stop       stop the service after in-flight requests finish
  restart    stop, then start
  status     print running, stopped, failed or not installed

Under the service manager the logs go to the system log: journalctl -u
purplebook on Linux, Event Viewer (Windows Logs > Application, source
purplebook) on Windows, /var/log/purplebook.*.log on macOS.

Flags of install (each also read from the PURPLEBOOK_* variable shown):
`

// serviceCmd is a parsed `purplebook service` command line.
type serviceCmd struct {
	action  string
	install service.Install // install only; Executable and UserName are left to the caller
}

// parseService parses the arguments of `purplebook service` for goos. It
// touches no service manager, so tests run as any user.
func parseService(args []string, out io.Writer, getenv func(string) string, goos string) (serviceCmd, error) {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(out)
	defDir := service.DefaultDataDir(goos, getenv)
	var dataDir, listen, db string
	fs.StringVar(&dataDir, "data-dir", "", "data directory of the service (env PURPLEBOOK_DATA_DIR; default "+defDir+")")
	fs.StringVar(&listen, "listen", "", "address the service listens on (env PURPLEBOOK_LISTEN; default "+service.DefaultListen+"; 0.0.0.0:8420 for a team server)")
	fs.StringVar(&db, "db", "", "database: SQLite file path or postgres:// URL (env PURPLEBOOK_DB; default <data-dir>/purplebook.db)")
	fs.Usage = func() {
		fmt.Fprint(out, serviceUsage)
		fs.PrintDefaults()
	}
	// The action may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return serviceCmd{}, err
		}
		return serviceCmd{}, errUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(out, "purplebook service: missing action (install, uninstall, start, stop, restart or status)")
		fs.Usage()
		return serviceCmd{}, errUsage
	}
	action := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return serviceCmd{}, err
		}
		return serviceCmd{}, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(out, "purplebook service %s: unexpected argument %q\n", action, fs.Arg(0))
		return serviceCmd{}, errUsage
	}
	known := action == "status"
	for _, a := range service.Actions {
		known = known || a == action
	}
	if !known {
		fmt.Fprintf(out, "purplebook service: unknown action %q (install, uninstall, start, stop, restart or status)\n", action)
		return serviceCmd{}, errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if action != "install" {
		if len(set) > 0 {
			fmt.Fprintf(out, "purplebook service %s: --data-dir, --listen and --db apply to install only\n", action)
			return serviceCmd{}, errUsage
		}
		return serviceCmd{action: action}, nil
	}

	pick := func(name, flagVal, env, def string) string {
		if set[name] {
			return flagVal
		}
		if v := getenv(env); v != "" {
			return v
		}
		return def
	}
	in := service.Install{
		GOOS:    goos,
		DataDir: pick("data-dir", dataDir, "PURPLEBOOK_DATA_DIR", defDir),
		Listen:  pick("listen", listen, "PURPLEBOOK_LISTEN", service.DefaultListen),
		DB:      pick("db", db, "PURPLEBOOK_DB", ""),
	}
	// Relative paths mean nothing to a service: make them absolute here.
	if goos == runtime.GOOS {
		var err error
		if in.DataDir, err = filepath.Abs(in.DataDir); err != nil {
			return serviceCmd{}, err
		}
		if in.DB != "" && !strings.Contains(in.DB, "://") {
			if in.DB, err = filepath.Abs(in.DB); err != nil {
				return serviceCmd{}, err
			}
		}
	}
	// Same checks as serve, which will run with these values.
	check := config.Config{DataDir: in.DataDir, Listen: in.Listen, DB: in.DB, LogFormat: "auto", LogLevel: "info"}
	if err := check.Validate(); err != nil {
		return serviceCmd{}, err
	}
	if err := in.Validate(); err != nil {
		return serviceCmd{}, err
	}
	return serviceCmd{action: action, install: in}, nil
}

// adminHint tells how to rerun the command with the rights it needs.
func adminHint(goos string, args []string) string {
	cmd := strings.TrimSpace("purplebook service " + strings.Join(args, " "))
	if goos == "windows" {
		return "run as Administrator: open a terminal with \"Run as administrator\", then: " + cmd
	}
	return "run as root: sudo " + cmd
}

func runService(ctx context.Context, e env, args []string) error {
	goos := runtime.GOOS
	cmd, err := parseService(args, e.stderr, e.getenv, goos)
	if err != nil {
		return err
	}
	if cmd.action == "status" {
		st, err := service.Status(service.Config(nil))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s (%s): %s\n", service.Name, service.Platform(), st)
		return nil
	}
	if !service.IsAdmin() {
		return errors.New(adminHint(goos, args))
	}
	switch cmd.action {
	case "install":
		return installService(e, cmd.install)
	case "uninstall":
		if goos == "linux" && packagedUnit() {
			return errors.New("the service was installed by the purplebook package: remove it with the package manager (sudo apt remove purplebook, or sudo dnf remove purplebook)")
		}
		cfg := service.Config(nil)
		if st, err := service.Status(cfg); err == nil && st == service.Running {
			if err := service.Control(cfg, "stop"); err != nil {
				return err
			}
		}
		if err := service.Control(cfg, "uninstall"); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Removed service %q. Its data directory was kept.\n", service.Name)
		return nil
	default:
		if err := service.Control(service.Config(nil), cmd.action); err != nil {
			return err
		}
		past := map[string]string{"start": "Started", "stop": "Stopped", "restart": "Restarted"}[cmd.action]
		fmt.Fprintf(e.stdout, "%s service %q.\n", past, service.Name)
		return nil
	}
}

// Unit file paths on systemd: the package's and the one kardianos writes.
const (
	pkgUnitPath   = "/usr/lib/systemd/system/purplebook.service"
	localUnitPath = "/etc/systemd/system/purplebook.service"
)

// packagedUnit reports whether the systemd unit in use is the .deb/.rpm one.
func packagedUnit() bool {
	if !strings.HasSuffix(service.Platform(), "systemd") {
		return false
	}
	_, errPkg := os.Stat(pkgUnitPath)
	_, errLocal := os.Stat(localUnitPath)
	return errPkg == nil && errLocal != nil
}

func installService(e env, in service.Install) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return err
	}
	in.Executable = exe
	in.UserName = service.ServiceUser(in.GOOS)
	cfg, err := in.Config()
	if err != nil {
		return err
	}
	overridesPackage := in.GOOS == "linux" && packagedUnit()
	if st, err := service.Status(service.Config(nil)); err == nil && st != service.NotInstalled && !overridesPackage {
		return fmt.Errorf("the service is already installed (%s): to change its settings, run purplebook service uninstall first", st)
	}
	if err := service.PrepareDataDir(in); err != nil {
		return err
	}
	if err := service.Control(cfg, "install"); err != nil {
		return err
	}

	shown := make([]string, 0, len(cfg.Arguments)+1)
	for _, a := range append([]string{exe}, cfg.Arguments...) {
		a = config.Redacted(a)
		if strings.ContainsAny(a, " \t") {
			a = `"` + a + `"`
		}
		shown = append(shown, a)
	}
	user := in.UserName
	if user == "" {
		user = map[bool]string{true: "LocalSystem", false: "root"}[in.GOOS == "windows"]
	}
	w := e.stdout
	fmt.Fprintf(w, "Installed service %q (%s); it starts at boot.\n", service.Name, service.Platform())
	fmt.Fprintf(w, "  command:  %s\n", strings.Join(shown, " "))
	fmt.Fprintf(w, "  user:     %s\n", user)
	fmt.Fprintf(w, "  data dir: %s\n", in.DataDir)
	fmt.Fprintf(w, "  URL:      http://%s/\n", displayAddr(in.Listen))
	switch in.GOOS {
	case "linux":
		if strings.HasSuffix(service.Platform(), "systemd") {
			fmt.Fprintf(w, "  logs:     journalctl -u %s\n", service.Name)
		} else if service.Platform() == "unix-systemv" {
			fmt.Fprintf(w, "  logs:     /var/log/%s.log and /var/log/%s.err\n", service.Name, service.Name)
		}
		if overridesPackage {
			fmt.Fprintf(w, "  note:     %s overrides the unit of the package (%s); restart to apply\n", localUnitPath, pkgUnitPath)
		}
	case "windows":
		fmt.Fprintf(w, "  logs:     Event Viewer, Windows Logs > Application, source %s\n", service.Name)
	case "darwin":
		fmt.Fprintf(w, "  logs:     /var/log/%s.out.log and /var/log/%s.err.log\n", service.Name, service.Name)
	}
	if config.IsPostgres(in.DB) {
		fmt.Fprintln(w, "  warning:  the database URL, password included, is stored in the service definition;")
		fmt.Fprintln(w, "            prefer PURPLEBOOK_DB in a file only root can read (Linux: /etc/default/purplebook)")
	}
	if in.GOOS == "windows" {
		fmt.Fprintln(w, "Start it now with: purplebook service start")
	} else {
		fmt.Fprintln(w, "Start it now with: sudo purplebook service start")
	}
	return nil
}
