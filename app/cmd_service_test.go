package app

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/purplebook/purplebook/app/service"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseServiceActions(t *testing.T) {
	for _, a := range []string{"install", "uninstall", "start", "stop", "restart", "status"} {
		var out bytes.Buffer
		cmd, err := parseService([]string{a}, &out, envOf(nil), runtime.GOOS)
		require.NoError(t, err, a)
		assert.Equal(t, a, cmd.action)
		assert.Empty(t, out.String())
	}
}

func TestParseServiceErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing action", nil, "missing action"},
		{"unknown action", []string{"reload"}, `unknown action "reload"`},
		{"extra argument", []string{"start", "now"}, `unexpected argument "now"`},
		{"flag of install on start", []string{"start", "--listen", "0.0.0.0:1"}, "apply to install only"},
		{"unknown flag", []string{"install", "--port", "1"}, "flag provided but not defined: -port"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		_, err := parseService(c.args, &out, envOf(nil), runtime.GOOS)
		assert.ErrorIs(t, err, errUsage, c.name)
		assert.Contains(t, out.String(), c.want, c.name)
	}
}

func TestParseServiceHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"install", "--help"}} {
		var out bytes.Buffer
		_, err := parseService(args, &out, envOf(nil), runtime.GOOS)
		assert.ErrorIs(t, err, flag.ErrHelp, "%v", args)
		assert.Contains(t, out.String(), "Usage: purplebook service <action>")
		assert.Contains(t, out.String(), "-data-dir")
		assert.Contains(t, out.String(), service.DefaultDataDir(runtime.GOOS, envOf(nil)))
	}
}

func TestParseServiceInstallDefaults(t *testing.T) {
	var out bytes.Buffer
	cmd, err := parseService([]string{"install"}, &out, envOf(nil), runtime.GOOS)
	require.NoError(t, err)
	in := cmd.install
	assert.Equal(t, runtime.GOOS, in.GOOS)
	assert.Equal(t, service.DefaultDataDir(runtime.GOOS, envOf(nil)), in.DataDir, "the service default, not the user's")
	assert.Equal(t, "127.0.0.1:8420", in.Listen)
	assert.Empty(t, in.DB)
}

func TestParseServiceInstallAbsolute(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("paths below are Unix paths")
	}
	// Parsing touches no file; "/" keeps the paths clear of /tmp, which the
	// Linux service cannot use (PrivateTmp).
	t.Chdir("/")
	wd := "/"
	var out bytes.Buffer
	// Flags may come after or before the action; relative paths become absolute.
	for _, args := range [][]string{
		{"install", "--data-dir", "srv/data", "--listen", "0.0.0.0:9000", "--db", "srv/db/pb.db"},
		{"--data-dir", "srv/data", "install", "--listen", "0.0.0.0:9000", "--db=srv/db/pb.db"},
	} {
		cmd, err := parseService(args, &out, envOf(nil), runtime.GOOS)
		require.NoError(t, err, out.String())
		assert.Equal(t, filepath.Join(wd, "srv/data"), cmd.install.DataDir)
		assert.Equal(t, filepath.Join(wd, "srv/db/pb.db"), cmd.install.DB)
		assert.Equal(t, "0.0.0.0:9000", cmd.install.Listen)
		assert.Equal(t, []string{"serve", "--data-dir", filepath.Join(wd, "srv/data"), "--listen", "0.0.0.0:9000", "--db", filepath.Join(wd, "srv/db/pb.db")},
			cmd.install.Arguments()[:7])
	}
}

func TestParseServiceInstallEnv(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("paths below are Unix paths")
	}
	env := envOf(map[string]string{"PURPLEBOOK_DATA_DIR": "/srv/pb", "PURPLEBOOK_LISTEN": "0.0.0.0:8420", "PURPLEBOOK_DB": "postgres://u@h/db"})
	var out bytes.Buffer
	cmd, err := parseService([]string{"install"}, &out, env, runtime.GOOS)
	require.NoError(t, err)
	assert.Equal(t, "/srv/pb", cmd.install.DataDir)
	assert.Equal(t, "0.0.0.0:8420", cmd.install.Listen)
	assert.Equal(t, "postgres://u@h/db", cmd.install.DB, "URLs stay as they are")

	cmd, err = parseService([]string{"install", "--data-dir", "/opt/pb"}, &out, env, runtime.GOOS)
	require.NoError(t, err)
	assert.Equal(t, "/opt/pb", cmd.install.DataDir, "the flag wins over the environment")
}

func TestParseServiceInstallInvalid(t *testing.T) {
	var out bytes.Buffer
	_, err := parseService([]string{"install", "--listen", "8420"}, &out, envOf(nil), runtime.GOOS)
	assert.ErrorContains(t, err, "--listen")
	_, err = parseService([]string{"install", "--db", "mysql://x"}, &out, envOf(nil), runtime.GOOS)
	assert.ErrorContains(t, err, "--db")
	assert.False(t, errors.Is(err, errUsage), "validation errors are printed by Main")
}

func TestAdminHint(t *testing.T) {
	assert.Equal(t, "run as root: sudo purplebook service install --listen 0.0.0.0:8420",
		adminHint("linux", []string{"install", "--listen", "0.0.0.0:8420"}))
	assert.Contains(t, adminHint("windows", []string{"start"}), "run as Administrator")
	assert.Contains(t, adminHint("windows", []string{"start"}), "purplebook service start")
}

func TestServiceCommandWithoutRoot(t *testing.T) {
	if service.IsAdmin() {
		t.Skip("runs as root: would touch the real service manager")
	}
	var stdout, stderr bytes.Buffer
	code := Main([]string{"service", "install"}, &stdout, &stderr, envOf(nil))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "run as root")
}

func TestServiceCommandUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, Main([]string{"service"}, &stdout, &stderr, envOf(nil)))
	assert.Contains(t, stderr.String(), "missing action")
	stderr.Reset()
	assert.Equal(t, 2, Main([]string{"service", "bogus"}, &stdout, &stderr, envOf(nil)))
	assert.Contains(t, stderr.String(), `unknown action "bogus"`)
	stderr.Reset()
	assert.Equal(t, 0, Main([]string{"service", "--help"}, &stdout, &stderr, envOf(nil)))
	assert.Contains(t, stderr.String(), "Actions:")
}
