// Package app is the composition root: it parses the command line, wires the
// capabilities together and runs the chosen subcommand.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/config"
	"github.com/purplebook/purplebook/app/datadir"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/diag"
	"github.com/purplebook/purplebook/app/evidence"
	"github.com/purplebook/purplebook/app/server"
	"github.com/purplebook/purplebook/app/service"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/assets"
	"golang.org/x/term"
)

// env is what every command gets: its output streams and the environment.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the web server (the default when no command is given)", runServe},
		{"migrate", "migrate the database schema: up | down N | version | force V", runMigrate},
		{"mitre", "import the MITRE ATT&CK catalogue: sync --source FILE|URL [--sha256 H] [--allow-unverified]", runMitre},
		{"templates", "manage the template library: import-atomics PATH... (YAML files, zip/tar.gz, directories)", runTemplates},
		{"user", "manage accounts from the console: create-admin | reset-password", runUser},
		{"bundle", "carry engagements between instances: export --mission ID --out FILE | import FILE [--dry-run] | key", runBundle},
		{"backup", "back up the whole instance: --out FILE (the server may be running)", runBackup},
		{"restore", "restore an instance backup: FILE --data-dir D [--db postgres://…] [--force] (server stopped)", runRestore},
		{"audit", "check the audit trail: verify [--anchor FILE] | anchor", runAudit},
		{"evidence", "maintain evidence files: gc [--dry-run] (removes files no row names)", runEvidence},
		{"service", "install and control the OS service: install | uninstall | start | stop | restart | status", runService},
		{"version", "print the version", runVersion},
	}
}

const usageHeader = `Purplebook: a purple-team engagement tracker in one binary.

Usage: purplebook [command] [flags]

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'purplebook <command> --help' for the flags of a command.\n")
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return mainContext(context.Background(), args, stdout, stderr, getenv)
}

// mainContext is Main until ctx ends (tests stop a server with it).
func mainContext(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	e := env{stdout: stdout, stderr: stderr, getenv: getenv}
	name := "serve"
	if len(args) > 0 {
		switch {
		case args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
			usage(stdout)
			return 0
		case !strings.HasPrefix(args[0], "-"):
			name, args = args[0], args[1:]
		}
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, e, args)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(stderr, "purplebook %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stderr, "purplebook: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// errUsage means the flag package already printed what was wrong.
var errUsage = errors.New("usage")

func parseFlags(fs *config.FlagSet, args []string) (config.Config, error) {
	cfg, err := fs.Parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		// flag already printed parse errors; our validation errors it did not.
		if fs.Parsed() {
			fmt.Fprintln(fs.Output(), err)
		}
		return cfg, errUsage
	}
	return cfg, nil
}

func setupLogging(cfg config.Config, w io.Writer) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if service.Interactive() {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// Under the Windows service manager stderr is discarded: log to the
	// event log from the first line on (a no-op elsewhere).
	h = service.SystemLogHandler(h)
	slog.SetDefault(slog.New(h))
}

// prepareDataDir creates the data dir (0700) and, for SQLite, the database
// file (0600) before SQLite opens it, so its -wal and -shm are private too.
func prepareDataDir(cfg config.Config) error {
	dbFile := ""
	if !config.IsPostgres(cfg.DatabaseURL()) {
		f, _, err := db.SQLiteFile(cfg.DatabaseURL())
		if err != nil {
			return err
		}
		dbFile = f
	}
	return datadir.Prepare(cfg.DataDir, dbFile)
}

// openDB opens and migrates the database of cfg.
func openDB(ctx context.Context, cfg config.Config) (*db.DB, error) {
	if err := prepareDataDir(cfg); err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL())
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// newServices builds the instance's services on the wall clock, with the
// signing key of the data dir and a temporary area of this process there
// (Set.Close removes it).
// openServices opens the database and the services on it, for a CLI
// command; closeSet closes both.
func openServices(ctx context.Context, cfg config.Config) (set *services.Set, closeSet func(), err error) {
	d, err := openDB(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if set, err = newServices(cfg, d); err != nil {
		d.Close()
		return nil, nil, err
	}
	return set, func() { set.Close(); d.Close() }, nil
}

func newServices(cfg config.Config, d *db.DB) (*services.Set, error) {
	return newServicesWith(cfg, d, nil)
}

func newServicesWith(cfg config.Config, d *db.DB, tmp *datadir.Temp) (*services.Set, error) {
	return services.New(services.Options{DB: d, DataDir: cfg.DataDir, Now: time.Now, ImportDir: cfg.ImportDir, Temp: tmp})
}

// startupCleanup runs before the server takes requests: audit events from
// before the hash chain sealed into it, group and other permissions off the
// data dir, and content files no row names removed
// (at once when no other process shares the data dir, else only those
// older than an hour, which no upload in flight can own).
func startupCleanup(ctx context.Context, cfg config.Config, set *services.Set) {
	if n, err := audit.Seal(ctx, set.DB); err != nil {
		slog.Warn("audit_seal_failed", "err", err)
	} else if n > 0 {
		slog.Info("audit_sealed", "events", n)
	}
	if n, err := datadir.Secure(cfg.DataDir); err != nil {
		slog.Warn("data_dir_modes_failed", "err", err)
	} else if n > 0 {
		slog.Info("data_dir_modes_tightened", "paths", n)
	}
	minAge := time.Duration(0)
	if set.Temp.OthersAlive() {
		minAge = time.Hour
	}
	rep, err := set.Evidence.GC(ctx, evidence.GCOptions{MinAge: minAge, Actor: audit.Actor{Label: "system (start)"}})
	if err != nil {
		slog.Warn("evidence_gc_failed", "err", err)
		return
	}
	if rep.Removed > 0 || rep.Recent > 0 || len(rep.Missing) > 0 {
		slog.Info("evidence_gc", "removed", rep.Removed, "bytes", rep.OrphanSize, "spared_recent", rep.Recent,
			"missing", len(rep.Missing))
	}
}

// newImports opens this process's bundle staging area in the data dir.
func newImports(ctx context.Context, cfg config.Config, set *services.Set) (*bundle.Imports, error) {
	return bundle.NewImports(ctx, bundle.ImportsOptions{Root: filepath.Join(cfg.DataDir, "bundles", "staging"), Now: set.Now,
		Recover: set.Evidence.DropUnreferenced})
}

func runServe(ctx context.Context, e env, args []string) error {
	fs := config.NewFlagSet("serve", "Usage: purplebook serve [flags]\n\nRuns the web server with the API and the web app. Migrates the database first.", e.stderr, e.getenv)
	fs.RegisterServe()
	cfg, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	version := diag.BuildVersion()

	// Held for the server's life: a restore of this data dir refuses while
	// it is (purplebook restore takes it exclusively).
	lock, err := datadir.LockShared(cfg.DataDir)
	if errors.Is(err, datadir.ErrLocked) {
		return fmt.Errorf("a restore is running on the data directory %s: start the server when it has finished", cfg.DataDir)
	}
	if err != nil {
		return err
	}
	defer lock.Close()

	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another purplebook running? choose another port with --listen)", cfg.Listen, err)
	}
	// This process's temporary area; what crashed processes left in the
	// data dir's tmp goes now (no request can own it).
	tmp, cleaned, err := datadir.OpenTemp(cfg.DataDir)
	if err != nil {
		ln.Close()
		return err
	}
	if len(cleaned.Removed) > 0 {
		slog.Info("tmp_cleanup", "removed", len(cleaned.Removed), "bytes", cleaned.Bytes)
	}
	set, err := newServicesWith(cfg, d, tmp)
	if err != nil {
		tmp.Close()
		ln.Close()
		return err
	}
	defer set.Close()
	startupCleanup(ctx, cfg, set)
	// Library rows whose Bloom bits were never computed (from before
	// migration 0004, which fills the ATT&CK lists in SQL but cannot compute
	// the bits) pass every Bloom test, so every filter still finds them,
	// only slower: compute them once.
	if n, err := set.Templates.RepairFilterColumns(ctx); err != nil {
		ln.Close()
		return err
	} else if n > 0 {
		slog.Info("library_filter_columns_repaired", "templates", n)
	}
	authSvc := set.Auth
	setupToken, err := authSvc.PrepareSetup(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	// Bundle uploads stage here; a previous run's leftovers (and an apply a
	// crash interrupted) are cleared first.
	imports, err := newImports(ctx, cfg, set)
	if err != nil {
		ln.Close()
		return err
	}
	defer imports.Close()
	srv := server.New(server.Options{Set: set, Imports: imports, Assets: assets.FS(), Version: version, EnableReset: cfg.EnableReset,
		TrustedProxies: cfg.TrustedProxies})
	url := "http://" + displayAddr(ln.Addr().String()) + "/"
	slog.Info("server_started", "version", version, "listen", ln.Addr().String(),
		"data_dir", cfg.DataDir, "driver", d.Driver(), "db", config.Redacted(cfg.DatabaseURL()), "reset_enabled", cfg.EnableReset)
	fmt.Fprintf(e.stdout, "Purplebook %s listening on %s\n", version, url)
	fmt.Fprintf(e.stdout, "Data directory: %s\n", cfg.DataDir)
	if setupToken != "" && isTerminal(e.stdout) && service.Interactive() {
		fmt.Fprintf(e.stdout, "\nFirst run: no account exists yet. Create the administrator at\n  %ssetup?token=%s\n", url, setupToken)
		fmt.Fprintf(e.stdout, "The one-time token is also in %s (readable only by this user).\n", authSvc.SetupTokenPath())
		fmt.Fprintf(e.stdout, "Or from a console: purplebook user create-admin --data-dir %q --email you@example.com --name \"Your Name\"\n\n", cfg.DataDir)
	} else if setupToken != "" {
		// Not a terminal (a service manager, a redirected log): the output
		// is kept somewhere others may read. Name the file (0600, readable
		// by the service user and administrators), never the token.
		slog.Info("setup_required", "url", url+"setup", "token_file", authSvc.SetupTokenPath())
		fmt.Fprintf(e.stdout, "First run: open %ssetup and enter the one-time token from %s\n", url, authSvc.SetupTokenPath())
	}
	return service.Run(ctx, service.Config(append([]string{"serve"}, args...)), func(ctx context.Context) error {
		// Scheduled backups (settings backup_schedule) run beside the server
		// and stop before the database closes.
		sctx, stop := context.WithCancel(ctx)
		scheduled := make(chan struct{})
		go func() {
			defer close(scheduled)
			set.Backups.Schedule(sctx, set.Settings.BackupSchedule)
		}()
		err := srv.Run(ctx, ln)
		stop()
		<-scheduled
		slog.Info("server_stopped")
		return err
	})
}

// isTerminal reports whether w is a terminal a person is looking at: only
// then may a secret be printed.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// displayAddr turns 0.0.0.0 / [::] into something a browser can open.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func runMigrate(ctx context.Context, e env, args []string) error {
	fs := config.NewFlagSet("migrate", `Usage: purplebook migrate [flags] up | down N | version | force V

  up         apply every pending migration (serve does this at start)
  down N     revert the newest N migrations (destroys the data they hold)
  version    print the schema version and whether it is dirty
  force V    mark the schema as version V and clear the dirty flag, after a
             failed migration was repaired by hand`, e.stderr, e.getenv)
	cfg, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return errUsage
	}
	if err := prepareDataDir(cfg); err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL())
	if err != nil {
		return err
	}
	defer d.Close()
	needN := func() (int, error) {
		if len(rest) != 2 {
			return 0, fmt.Errorf("%s needs exactly one number", rest[0])
		}
		n, err := strconv.Atoi(rest[1])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: %q is not a non-negative number", rest[0], rest[1])
		}
		return n, nil
	}
	switch rest[0] {
	case "up":
		if err := d.Migrate(ctx); err != nil {
			return err
		}
	case "down":
		n, err := needN()
		if err != nil {
			return err
		}
		if err := d.MigrateDown(ctx, n); err != nil {
			return err
		}
	case "force":
		n, err := needN()
		if err != nil {
			return err
		}
		if err := d.MigrateForce(ctx, n); err != nil {
			return err
		}
	case "version":
	default:
		return fmt.Errorf("unknown migrate action %q (up, down N, version, force V)", rest[0])
	}
	st, err := d.State(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema version %d (latest %d), dirty: %t, driver: %s\n", st.Version, st.Latest, st.Dirty, d.Driver())
	return nil
}

func runVersion(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "Usage: purplebook version\n\nPrints the version and the database backends compiled in.")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	fmt.Fprintf(e.stdout, "purplebook %s (databases: %s)\n", diag.BuildVersion(), strings.Join(db.Available(), ", "))
	return nil
}
