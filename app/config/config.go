// Package config parses command-line flags and PURPLEBOOK_* environment
// variables into a Config. Precedence: flag, then environment, then default.
// It has no global state: callers pass getenv so tests can inject it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Config is everything `serve` (and the commands that open the data dir) need.
type Config struct {
	DataDir     string
	Listen      string
	DB          string // SQLite file path or postgres:// URL; empty = <DataDir>/purplebook.db
	LogFormat   string // auto, text or json
	LogLevel    string // debug, info, warn, error
	EnableReset bool
	// ImportDir is the one server directory POST /mitre/sync may read a
	// bundle from by name; empty = uploads only.
	ImportDir string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (comma-separated addresses or CIDRs in the flag).
	TrustedProxies []netip.Prefix

	trustedProxies string
}

// DefaultListen is loopback only: a laptop tool must not expose itself by accident.
const DefaultListen = "127.0.0.1:8420"

// DatabaseURL is the effective database location.
func (c Config) DatabaseURL() string {
	if c.DB != "" {
		return c.DB
	}
	return filepath.Join(c.DataDir, "purplebook.db")
}

// IsPostgres reports whether the database is a PostgreSQL URL.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Redacted returns the database location with any password removed, for logs.
func Redacted(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	scheme, rest, _ := strings.Cut(dsn, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		creds := rest[:at]
		if user, _, ok := strings.Cut(creds, ":"); ok {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	// password=... in the query string
	if q := strings.Index(rest, "?"); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for i, p := range params {
			if strings.HasPrefix(strings.ToLower(p), "password=") {
				params[i] = "password=xxxxx"
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return scheme + "://" + rest
}

// FlagSet describes one command's flags. Register adds the common data-dir
// flags; serve adds the rest with RegisterServe.
type FlagSet struct {
	*flag.FlagSet
	getenv func(string) string
	cfg    *Config
	set    map[string]bool
}

// NewFlagSet creates a flag set for a command that works on the data dir.
func NewFlagSet(name, usage string, out io.Writer, getenv func(string) string) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	f := &FlagSet{FlagSet: fs, getenv: getenv, cfg: &Config{}}
	fs.Usage = func() {
		fmt.Fprintf(out, "%s\n\nFlags (each also read from the PURPLEBOOK_* variable shown):\n", usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.cfg.DataDir, "data-dir", "", "data directory (env PURPLEBOOK_DATA_DIR; default "+DefaultDataDir(getenv)+")")
	fs.StringVar(&f.cfg.DB, "db", "", "database: SQLite file path or postgres:// URL (env PURPLEBOOK_DB; default <data-dir>/purplebook.db)")
	fs.StringVar(&f.cfg.LogFormat, "log-format", "", "log format: auto, text or json (env PURPLEBOOK_LOG_FORMAT; default auto)")
	fs.StringVar(&f.cfg.LogLevel, "log-level", "", "log level: debug, info, warn or error (env PURPLEBOOK_LOG_LEVEL; default info)")
	return f
}

// RegisterServe adds the flags only `serve` has.
func (f *FlagSet) RegisterServe() {
	f.StringVar(&f.cfg.Listen, "listen", "", "address to listen on (env PURPLEBOOK_LISTEN; default "+DefaultListen+"; use 0.0.0.0:8420 for a team server)")
	f.BoolVar(&f.cfg.EnableReset, "enable-reset", false, "enable POST /api/v1/diag/reset, which deletes all data (env PURPLEBOOK_ENABLE_RESET; for tests only)")
	f.StringVar(&f.cfg.ImportDir, "import-dir", "", "directory the ATT&CK sync API may read bundles from by name (env PURPLEBOOK_IMPORT_DIR; default none: uploads only)")
	f.StringVar(&f.cfg.trustedProxies, "trusted-proxies", "", "reverse proxies whose X-Forwarded-For names the client, as comma-separated addresses or CIDRs (env PURPLEBOOK_TRUSTED_PROXIES; default none)")
}

// Parse parses args and resolves env and defaults. flag.ErrHelp is returned
// as is when --help was asked for.
func (f *FlagSet) Parse(args []string) (Config, error) {
	if err := f.FlagSet.Parse(args); err != nil {
		return Config{}, err
	}
	f.set = map[string]bool{}
	f.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	c := *f.cfg
	str := func(name string, dst *string, env, def string) {
		if f.set[name] {
			return
		}
		if v := f.getenv(env); v != "" {
			*dst = v
			return
		}
		*dst = def
	}
	str("data-dir", &c.DataDir, "PURPLEBOOK_DATA_DIR", DefaultDataDir(f.getenv))
	str("db", &c.DB, "PURPLEBOOK_DB", "")
	str("log-format", &c.LogFormat, "PURPLEBOOK_LOG_FORMAT", "auto")
	str("log-level", &c.LogLevel, "PURPLEBOOK_LOG_LEVEL", "info")
	if f.Lookup("listen") != nil {
		str("listen", &c.Listen, "PURPLEBOOK_LISTEN", DefaultListen)
	}
	if f.Lookup("import-dir") != nil {
		str("import-dir", &c.ImportDir, "PURPLEBOOK_IMPORT_DIR", "")
		str("trusted-proxies", &c.trustedProxies, "PURPLEBOOK_TRUSTED_PROXIES", "")
	}
	if f.Lookup("enable-reset") != nil && !f.set["enable-reset"] {
		if v := f.getenv("PURPLEBOOK_ENABLE_RESET"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Config{}, fmt.Errorf("PURPLEBOOK_ENABLE_RESET: %q is not a boolean", v)
			}
			c.EnableReset = b
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks values and makes the data dir absolute.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir: cannot determine a default; set it explicitly"))
	} else if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format: %q must be auto, text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level: %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("--listen: %q is not host:port", c.Listen))
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("--listen: %q has an invalid port", c.Listen))
		}
	}
	if c.ImportDir != "" {
		if abs, err := filepath.Abs(c.ImportDir); err == nil {
			c.ImportDir = abs
		}
		if st, err := os.Stat(c.ImportDir); err != nil || !st.IsDir() {
			errs = append(errs, fmt.Errorf("--import-dir: %q is not a directory", c.ImportDir))
		}
	}
	if c.trustedProxies != "" {
		ps, err := ParsePrefixes(c.trustedProxies)
		if err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
		}
		c.TrustedProxies = ps
	}
	if c.DB != "" && !IsPostgres(c.DB) && strings.Contains(c.DB, "://") {
		errs = append(errs, fmt.Errorf("--db: %q: use a file path for SQLite or a postgres:// URL", Redacted(c.DB)))
	}
	return errors.Join(errs...)
}

// ParsePrefixes reads comma-separated addresses (a single host) and CIDRs.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// DefaultDataDir follows the OS convention: %ProgramData%\Purplebook on
// Windows, ~/Library/Application Support/Purplebook on macOS and
// $XDG_DATA_HOME/purplebook (~/.local/share/purplebook) elsewhere. The Linux
// service gets /var/lib/purplebook baked into its arguments at install.
func DefaultDataDir(getenv func(string) string) string {
	switch runtime.GOOS {
	case "windows":
		if pd := getenv("ProgramData"); pd != "" {
			return filepath.Join(pd, "Purplebook")
		}
		return `C:\ProgramData\Purplebook`
	case "darwin":
		if home := homeDir(getenv); home != "" {
			return filepath.Join(home, "Library", "Application Support", "Purplebook")
		}
	}
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "purplebook")
	}
	if home := homeDir(getenv); home != "" {
		return filepath.Join(home, ".local", "share", "purplebook")
	}
	return ""
}

func homeDir(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}
