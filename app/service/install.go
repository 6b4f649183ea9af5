package service

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/kardianos/service"
)

// UserName is the system user the Linux packages create and the service runs
// as when it exists.
const UserName = "purplebook"

// DefaultListen is where the service listens unless told otherwise: loopback,
// so a laptop does not expose itself by accident.
const DefaultListen = "127.0.0.1:8420"

// Install describes one installation of the service: what is baked into the
// service definition. Arguments apply only at install (kardianos/service
// issue #132): to change them, uninstall and install again.
type Install struct {
	GOOS       string // target OS: runtime.GOOS in production, any in tests
	DataDir    string // absolute
	Listen     string // host:port
	DB         string // optional: absolute SQLite path or postgres:// URL
	UserName   string // Linux and macOS: run as this user; "" = root / LocalSystem
	Executable string // optional: the binary the service runs; "" = this one
}

// DefaultDataDir is the data directory of the service (not of a user's
// interactive run): /var/lib/purplebook on Linux and other Unixes,
// %ProgramData%\Purplebook on Windows, /Library/Application Support/Purplebook
// on macOS.
func DefaultDataDir(goos string, getenv func(string) string) string {
	switch goos {
	case "windows":
		pd := strings.TrimRight(getenv("ProgramData"), `\/`)
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return pd + `\Purplebook`
	case "darwin":
		return "/Library/Application Support/Purplebook"
	default:
		return "/var/lib/purplebook"
	}
}

// IsAbs reports whether p is absolute on goos (filepath.IsAbs answers only
// for the OS the code runs on).
func IsAbs(goos, p string) bool {
	if goos == "windows" {
		if strings.HasPrefix(p, `\\`) {
			return true // UNC
		}
		return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
			(p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z')
	}
	return path.IsAbs(p)
}

// Validate checks what would otherwise produce a broken service definition.
func (in Install) Validate() error {
	var errs []error
	if !IsAbs(in.GOOS, in.DataDir) {
		errs = append(errs, fmt.Errorf("data dir %q is not an absolute path", in.DataDir))
	}
	if in.Listen == "" {
		errs = append(errs, errors.New("listen address is empty"))
	}
	for _, v := range []string{in.DataDir, in.Listen, in.DB, in.UserName, in.Executable} {
		// These end up in a unit file, a plist or a registry value.
		if strings.ContainsAny(v, "\r\n\x00") || strings.Contains(v, "{{") || strings.Contains(v, "}}") {
			errs = append(errs, fmt.Errorf("%q contains characters a service definition cannot hold", v))
		}
	}
	if in.GOOS == "linux" && hiddenByPrivateTmp(in.DataDir) {
		errs = append(errs, fmt.Errorf("data dir %s: the service gets a private /tmp (PrivateTmp), choose a directory elsewhere", in.DataDir))
	}
	if in.GOOS == "linux" && in.Executable != "" && hiddenBySandbox(in.Executable) {
		errs = append(errs, fmt.Errorf("the service would run %s, which the systemd sandbox hides (ProtectHome, PrivateTmp): copy the binary first, e.g. sudo install -m 0755 %s /usr/local/bin/purplebook, and run the install from there", in.Executable, in.Executable))
	}
	if in.GOOS == "linux" {
		for _, v := range []string{in.DataDir, in.Listen, in.DB} {
			// systemd expands % specifiers and $VARIABLES in ExecStart.
			if strings.ContainsAny(v, "%$") {
				errs = append(errs, fmt.Errorf("%q contains %% or $, which systemd would expand: set it in /etc/default/purplebook (PURPLEBOOK_DB=..., PURPLEBOOK_DATA_DIR=...) instead", v))
			}
		}
	}
	return errors.Join(errs...)
}

// Arguments are the command line the service manager starts the binary with.
func (in Install) Arguments() []string {
	args := []string{"serve", "--data-dir", in.DataDir, "--listen", in.Listen}
	if in.DB != "" {
		args = append(args, "--db", in.DB)
	}
	if in.GOOS == "linux" {
		// journald stores each stdout line; JSON keeps the fields queryable.
		args = append(args, "--log-format", "json")
	}
	return args
}

// Config is the full service definition for the OS the installation targets.
func (in Install) Config() (*service.Config, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c := Config(in.Arguments())
	c.Executable = in.Executable
	switch in.GOOS {
	case "linux":
		c.UserName = in.UserName
		c.Dependencies = []string{"After=network.target"}
		c.Option = service.KeyValue{
			"SystemdScript": SystemdUnit(in.DataDir),
			"Restart":       "on-failure", // used by non-systemd init scripts
		}
	case "windows":
		// LocalSystem; the data dir is restricted to SYSTEM and Administrators.
		c.Dependencies = []string{"Tcpip"}
		c.Option = service.KeyValue{
			"StartType":              "automatic",
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "5s",
			"OnFailureResetPeriod":   86400,
		}
	case "darwin":
		c.UserName = in.UserName
		c.Option = service.KeyValue{
			"RunAtLoad": true,
			"KeepAlive": true,
		}
	default:
		c.UserName = in.UserName
	}
	return c, nil
}

// Hardening are the systemd sandboxing directives shared by the unit that
// `purplebook service install` writes and the one the .deb/.rpm install
// (packaging/linux/purplebook.service; a test keeps them in step). Pure Go
// needs no W^X exceptions, no capabilities and only IP and Unix sockets.
var Hardening = []string{
	"NoNewPrivileges=yes",
	"CapabilityBoundingSet=",
	"AmbientCapabilities=",
	"PrivateTmp=yes",
	"PrivateDevices=yes",
	"ProtectSystem=strict",
	"ProtectKernelTunables=yes",
	"ProtectKernelModules=yes",
	"ProtectKernelLogs=yes",
	"ProtectControlGroups=yes",
	"ProtectClock=yes",
	"ProtectHostname=yes",
	"ProtectProc=invisible",
	"PrivateMounts=yes",
	"RemoveIPC=yes",
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
	"RestrictNamespaces=yes",
	"RestrictRealtime=yes",
	"RestrictSUIDSGID=yes",
	"LockPersonality=yes",
	"MemoryDenyWriteExecute=yes",
	"SystemCallArchitectures=native",
	"SystemCallFilter=@system-service",
	"SystemCallErrorNumber=EPERM",
	"UMask=0077",
}

// underHome reports whether dir is in a tree that ProtectHome=yes hides.
func underHome(dir string) bool {
	for _, p := range []string{"/home", "/root", "/run/user"} {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			return true
		}
	}
	return false
}

// hiddenBySandbox reports whether the unit's sandbox hides the file at p.
func hiddenBySandbox(p string) bool {
	return underHome(p) || hiddenByPrivateTmp(p)
}

func hiddenByPrivateTmp(p string) bool {
	for _, t := range []string{"/tmp", "/var/tmp"} {
		if p == t || strings.HasPrefix(p, t+"/") {
			return true
		}
	}
	return false
}

// systemdQuote quotes a path for a space-separated unit file list.
func systemdQuote(p string) string {
	if strings.ContainsAny(p, " \t\"\\") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
	}
	return p
}

// SystemdUnit is the kardianos SystemdScript template for the unit `service
// install` writes to /etc/systemd/system/purplebook.service: the same
// hardening as the packaged unit, with the data dir as the only writable
// path. {{...}} are filled by kardianos at install.
func SystemdUnit(dataDir string) string {
	var b strings.Builder
	b.WriteString(`[Unit]
Description={{Description}}
Documentation=https://github.com/purplebook/purplebook/blob/main/docs/INSTALL.md
ConditionFileIsExecutable={{Path | cmdEscape}}
StartLimitIntervalSec=60
StartLimitBurst=5
{{range Dependencies}}{{.}}
{{end}}
[Service]
Type=simple
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if UserName}}User={{UserName}}
Group={{UserName}}
{{end}}EnvironmentFile=-/etc/default/purplebook
Restart=on-failure
RestartSec=5
TimeoutStopSec=30
`)
	for _, h := range Hardening {
		b.WriteString(h + "\n")
	}
	if !underHome(dataDir) {
		b.WriteString("ProtectHome=yes\n")
	} else {
		b.WriteString("ProtectHome=read-only\n")
	}
	b.WriteString("ReadWritePaths=" + systemdQuote(dataDir) + "\n")
	b.WriteString(`
[Install]
WantedBy=multi-user.target
`)
	return b.String()
}

// WindowsACLArgs are the icacls arguments that restrict dir to SYSTEM and the
// Administrators group (by SID, so they work in every language), inherited by
// everything created inside: the first-run setup token written there is then
// readable by administrators only.
func WindowsACLArgs(dir string) []string {
	return []string{dir, "/inheritance:r", "/grant:r", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F"}
}
