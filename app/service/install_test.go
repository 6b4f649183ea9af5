package service

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kardianos/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noenv(string) string { return "" }

func TestDefaultDataDir(t *testing.T) {
	assert.Equal(t, "/var/lib/purplebook", DefaultDataDir("linux", noenv))
	assert.Equal(t, "/var/lib/purplebook", DefaultDataDir("freebsd", noenv))
	assert.Equal(t, "/Library/Application Support/Purplebook", DefaultDataDir("darwin", noenv))
	assert.Equal(t, `C:\ProgramData\Purplebook`, DefaultDataDir("windows", noenv))
	env := func(k string) string {
		if k == "ProgramData" {
			return `D:\PD\`
		}
		return ""
	}
	assert.Equal(t, `D:\PD\Purplebook`, DefaultDataDir("windows", env))
	for _, goos := range []string{"linux", "darwin", "windows"} {
		assert.True(t, IsAbs(goos, DefaultDataDir(goos, noenv)), goos)
	}
}

func TestIsAbs(t *testing.T) {
	assert.True(t, IsAbs("windows", `C:\x`))
	assert.True(t, IsAbs("windows", `c:/x`))
	assert.True(t, IsAbs("windows", `\\server\share`))
	assert.False(t, IsAbs("windows", `x\y`))
	assert.False(t, IsAbs("windows", `C:x`))
	assert.False(t, IsAbs("windows", `/x`))
	assert.True(t, IsAbs("linux", "/x"))
	assert.False(t, IsAbs("linux", "x"))
}

func TestArgumentsBakedIn(t *testing.T) {
	in := Install{GOOS: "linux", DataDir: "/var/lib/purplebook", Listen: "127.0.0.1:8420"}
	assert.Equal(t, []string{"serve", "--data-dir", "/var/lib/purplebook", "--listen", "127.0.0.1:8420", "--log-format", "json"}, in.Arguments())

	in = Install{GOOS: "windows", DataDir: `C:\ProgramData\Purplebook`, Listen: "0.0.0.0:8420", DB: `C:\db\pb.db`}
	assert.Equal(t, []string{"serve", "--data-dir", `C:\ProgramData\Purplebook`, "--listen", "0.0.0.0:8420", "--db", `C:\db\pb.db`}, in.Arguments())

	c, err := in.Config()
	require.NoError(t, err)
	assert.Equal(t, in.Arguments(), c.Arguments)
}

func TestConfigLinux(t *testing.T) {
	in := Install{GOOS: "linux", DataDir: "/srv/pb data", Listen: "127.0.0.1:9000", UserName: "purplebook", Executable: "/usr/local/bin/purplebook"}
	c, err := in.Config()
	require.NoError(t, err)
	assert.Equal(t, Name, c.Name)
	assert.Equal(t, "purplebook", c.Name, "the name the packages, docs and the NSIS script use")
	assert.Equal(t, "Purplebook", c.DisplayName)
	assert.NotEmpty(t, c.Description)
	assert.Equal(t, "purplebook", c.UserName)
	assert.Equal(t, "/usr/local/bin/purplebook", c.Executable)
	assert.Equal(t, []string{"After=network.target"}, c.Dependencies)
	assert.Equal(t, []string{"serve", "--data-dir", "/srv/pb data", "--listen", "127.0.0.1:9000", "--log-format", "json"}, c.Arguments)

	unit, _ := c.Option["SystemdScript"].(string)
	require.NotEmpty(t, unit)
	for _, want := range []string{
		"Restart=on-failure\n",
		"EnvironmentFile=-/etc/default/purplebook\n",
		"{{if UserName}}User={{UserName}}",
		"{{range Dependencies}}{{.}}",
		"{{range Arguments}} {{. | cmd}}{{end}}",
		"ProtectHome=yes\n",
		`ReadWritePaths="/srv/pb data"` + "\n",
		"WantedBy=multi-user.target\n",
	} {
		assert.Contains(t, unit, want)
	}
	for _, h := range Hardening {
		assert.Contains(t, unit, "\n"+h+"\n")
	}
}

func TestSystemdUnitDataDirUnderHome(t *testing.T) {
	unit := SystemdUnit("/home/alice/pb")
	assert.Contains(t, unit, "ProtectHome=read-only\n")
	assert.NotContains(t, unit, "ProtectHome=yes")
	assert.Contains(t, unit, "ReadWritePaths=/home/alice/pb\n")
}

func TestConfigWindows(t *testing.T) {
	in := Install{GOOS: "windows", DataDir: `C:\ProgramData\Purplebook`, Listen: "127.0.0.1:8420"}
	c, err := in.Config()
	require.NoError(t, err)
	assert.Empty(t, c.UserName, "LocalSystem")
	assert.Equal(t, []string{"Tcpip"}, c.Dependencies)
	assert.Equal(t, "automatic", c.Option["StartType"])
	assert.Equal(t, "restart", c.Option["OnFailure"])
	assert.NotContains(t, c.Option, "SystemdScript")
	assert.Equal(t, []string{`C:\ProgramData\Purplebook`, "/inheritance:r", "/grant:r", "*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F"},
		WindowsACLArgs(`C:\ProgramData\Purplebook`))
}

func TestConfigDarwin(t *testing.T) {
	in := Install{GOOS: "darwin", DataDir: DefaultDataDir("darwin", noenv), Listen: DefaultListen}
	c, err := in.Config()
	require.NoError(t, err)
	assert.Equal(t, true, c.Option["RunAtLoad"])
	assert.Equal(t, true, c.Option["KeepAlive"])
	assert.Equal(t, []string{"serve", "--data-dir", "/Library/Application Support/Purplebook", "--listen", DefaultListen}, c.Arguments)
}

func TestValidate(t *testing.T) {
	ok := Install{GOOS: "linux", DataDir: "/var/lib/purplebook", Listen: DefaultListen, Executable: "/usr/bin/purplebook"}
	require.NoError(t, ok.Validate())

	cases := map[string]func(*Install){
		"relative data dir":         func(i *Install) { i.DataDir = "data" },
		"windows data dir on linux": func(i *Install) { i.DataDir = `C:\x` },
		"empty listen":              func(i *Install) { i.Listen = "" },
		"newline":                   func(i *Install) { i.DataDir = "/x\n[Service]" },
		"template braces":           func(i *Install) { i.DataDir = "/x/{{Path}}" },
		"systemd specifier":         func(i *Install) { i.DB = "postgres://u:p%40ss@h/db" },
		"systemd variable":          func(i *Install) { i.DataDir = "/x/$HOME" },
		"binary in home":            func(i *Install) { i.Executable = "/home/alice/Downloads/purplebook" },
		"binary in tmp":             func(i *Install) { i.Executable = "/tmp/purplebook" },
		"data in tmp":               func(i *Install) { i.DataDir = "/var/tmp/pb" },
	}
	for name, mutate := range cases {
		in := ok
		mutate(&in)
		assert.Error(t, in.Validate(), name)
		_, err := in.Config()
		assert.Error(t, err, name)
	}
	win := Install{GOOS: "windows", DataDir: `C:\Data 100%`, Listen: DefaultListen, Executable: `C:\Users\a\purplebook.exe`}
	assert.NoError(t, win.Validate(), "%% and user dirs are fine outside systemd")
}

// TestPackagedUnitInStep keeps the unit the .deb/.rpm install as hardened as
// the one `service install` writes, and checks its fixed ExecStart.
func TestPackagedUnitInStep(t *testing.T) {
	f, err := os.Open("../../packaging/linux/purplebook.service")
	require.NoError(t, err)
	defer f.Close()
	lines := map[string]bool{}
	var execStart string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		lines[l] = true
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			execStart = v
		}
	}
	require.NoError(t, sc.Err())
	for _, h := range Hardening {
		assert.True(t, lines[h], "packaged unit lacks %q", h)
	}
	for _, l := range []string{"User=purplebook", "Group=purplebook", "StateDirectory=purplebook", "ProtectHome=yes",
		"ReadWritePaths=/var/lib/purplebook", "Restart=on-failure", "After=network.target",
		"EnvironmentFile=-/etc/default/purplebook", "WantedBy=multi-user.target"} {
		assert.True(t, lines[l], "packaged unit lacks %q", l)
	}
	in := Install{GOOS: "linux", DataDir: "/var/lib/purplebook", Listen: "${PURPLEBOOK_LISTEN}"}
	assert.Equal(t, "/usr/bin/purplebook "+strings.Join(in.Arguments(), " "), execStart)
}

func TestLogHandler(t *testing.T) {
	rec := &recLogger{}
	level := slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo})
	log := slog.New(newLogHandler(rec, level)).With("component", "http")
	log.Debug("hidden")
	log.Info("server_started", "listen", "127.0.0.1:8420")
	log.WithGroup("req").Warn("slow", "ms", 1200)
	log.Error("server_failed", "err", errors.New("boom"))
	assert.Equal(t, []string{
		"I msg=server_started component=http listen=127.0.0.1:8420",
		"W msg=slow component=http req.ms=1200",
		"E msg=server_failed component=http err=boom",
	}, rec.lines)
}

func TestSystemLogHandlerOffWindows(t *testing.T) {
	h := slog.NewTextHandler(discard{}, nil)
	got, wrapped := systemLogHandler(h)
	assert.False(t, wrapped, "only Windows services need the event log")
	assert.Same(t, h, got)
}

// TestProgramStop checks that Stop cancels fn's context and returns once fn
// has returned, well before the 15 s bound.
func TestProgramStop(t *testing.T) {
	stopped := make(chan struct{})
	p := &program{exit: func(int) { t.Error("exit called") }, run: func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // graceful shutdown
		close(stopped)
		return nil
	}}
	require.NoError(t, p.Start(nil))
	start := time.Now()
	require.NoError(t, p.Stop(nil))
	assert.Less(t, time.Since(start), 2*time.Second)
	select {
	case <-stopped:
	default:
		t.Fatal("Stop returned before fn")
	}
	assert.NoError(t, p.failed())
}

// TestProgramFails checks that a failing fn ends the wait of the service
// loop and that its error is reported.
func TestProgramFails(t *testing.T) {
	p := &program{exit: func(int) {}, run: func(ctx context.Context) error { return errors.New("listen: address in use") }}
	require.NoError(t, p.Start(nil))
	waited := make(chan struct{})
	go func() { p.waitForStop(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("waitForStop did not return after fn failed")
	}
	require.NoError(t, p.Stop(nil))
	assert.EqualError(t, p.failed(), "listen: address in use")
}

type recLogger struct{ lines []string }

func (r *recLogger) Error(v ...any) error   { return r.add("E", v) }
func (r *recLogger) Warning(v ...any) error { return r.add("W", v) }
func (r *recLogger) Info(v ...any) error    { return r.add("I", v) }
func (r *recLogger) add(l string, v []any) error {
	r.lines = append(r.lines, l+" "+v[0].(string))
	return nil
}
func (r *recLogger) Errorf(string, ...any) error   { return nil }
func (r *recLogger) Warningf(string, ...any) error { return nil }
func (r *recLogger) Infof(string, ...any) error    { return nil }

var _ service.Logger = (*recLogger)(nil)

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
