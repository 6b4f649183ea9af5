package config

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func parse(t *testing.T, args []string, e map[string]string) (Config, error) {
	t.Helper()
	fs := NewFlagSet("serve", "usage", io.Discard, env(e))
	fs.RegisterServe()
	return fs.Parse(args)
}

func TestPrecedenceFlagEnvDefault(t *testing.T) {
	home := t.TempDir()
	c, err := parse(t, nil, map[string]string{"HOME": home})
	require.NoError(t, err)
	assert.Equal(t, DefaultListen, c.Listen)
	assert.Equal(t, "auto", c.LogFormat)
	assert.False(t, c.EnableReset)
	assert.True(t, filepath.IsAbs(c.DataDir))
	assert.Equal(t, filepath.Join(c.DataDir, "purplebook.db"), c.DatabaseURL())

	c, err = parse(t, nil, map[string]string{"HOME": home, "PURPLEBOOK_LISTEN": "127.0.0.1:9000",
		"PURPLEBOOK_ENABLE_RESET": "true", "PURPLEBOOK_LOG_FORMAT": "json", "PURPLEBOOK_DATA_DIR": "/srv/pb"})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9000", c.Listen)
	assert.True(t, c.EnableReset)
	assert.Equal(t, "json", c.LogFormat)
	assert.Equal(t, "/srv/pb", c.DataDir)

	c, err = parse(t, []string{"--listen", "0.0.0.0:8421", "--enable-reset=false", "--data-dir", "rel"},
		map[string]string{"HOME": home, "PURPLEBOOK_LISTEN": "127.0.0.1:9000", "PURPLEBOOK_ENABLE_RESET": "true"})
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:8421", c.Listen, "flag beats env")
	assert.False(t, c.EnableReset, "an explicit false flag beats env")
	assert.True(t, filepath.IsAbs(c.DataDir), "data dir is made absolute")
}

// TestXDGDataHome checks the exact default per OS: only this GOOS's rule may
// answer (a Linux build giving the macOS path fails).
func TestXDGDataHome(t *testing.T) {
	getenv := env(map[string]string{"XDG_DATA_HOME": "/x/data", "HOME": "/home/u", "ProgramData": `D:\PD`})
	relative := env(map[string]string{"XDG_DATA_HOME": "x/data", "HOME": "/home/u"})
	noXDG := env(map[string]string{"HOME": "/home/u"})
	got := DefaultDataDir(getenv)
	switch runtime.GOOS {
	case "windows":
		assert.Equal(t, filepath.Join(`D:\PD`, "Purplebook"), got)
		assert.Equal(t, `C:\ProgramData\Purplebook`, DefaultDataDir(noXDG), "ProgramData unset")
	case "darwin":
		want := filepath.Join("/home/u", "Library", "Application Support", "Purplebook")
		assert.Equal(t, want, got, "macOS ignores XDG_DATA_HOME")
		assert.Equal(t, want, DefaultDataDir(noXDG))
	default:
		assert.Equal(t, filepath.Join("/x/data", "purplebook"), got)
		assert.Equal(t, filepath.Join("/home/u", ".local", "share", "purplebook"), DefaultDataDir(relative),
			"a relative XDG_DATA_HOME is ignored, as the XDG spec says")
		assert.Equal(t, filepath.Join("/home/u", ".local", "share", "purplebook"), DefaultDataDir(noXDG))
	}
}

func TestInvalidValues(t *testing.T) {
	home := map[string]string{"HOME": t.TempDir()}
	for _, args := range [][]string{
		{"--listen", "nonsense"},
		{"--listen", "127.0.0.1:99999"},
		{"--log-format", "xml"},
		{"--log-level", "loud"},
		{"--db", "mysql://x"},
	} {
		_, err := parse(t, args, home)
		assert.ErrorContains(t, err, args[0]+": ", "the error names the flag")
	}
	_, err := parse(t, nil, map[string]string{"HOME": home["HOME"], "PURPLEBOOK_ENABLE_RESET": "maybe"})
	assert.ErrorContains(t, err, "PURPLEBOOK_ENABLE_RESET")
	_, err = parse(t, []string{"--no-such-flag"}, home)
	assert.ErrorContains(t, err, "no-such-flag")
}

func TestRedacted(t *testing.T) {
	assert.Equal(t, "postgres://u:xxxxx@h:5432/db?sslmode=disable", Redacted("postgres://u:secret@h:5432/db?sslmode=disable"))
	assert.Equal(t, "postgres://h/db?password=xxxxx", Redacted("postgres://h/db?password=secret"))
	assert.Equal(t, "/var/lib/purplebook/purplebook.db", Redacted("/var/lib/purplebook/purplebook.db"))
	assert.True(t, IsPostgres("postgresql://x"))
	assert.False(t, IsPostgres("/tmp/x.db"))
}
