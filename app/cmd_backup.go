package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/purplebook/purplebook/app/bundle/instancebundle"
	"github.com/purplebook/purplebook/app/config"
)

const backupHelp = `Usage: purplebook backup --out FILE [--data-dir D] [--db URL]

Writes a backup of the whole instance (.pbz): every table in a form that
restores into SQLite or PostgreSQL, every evidence file, the instance's
signing key. The server may be running: the backup is one consistent
snapshot and writers are not held up. FILE may be a directory: the backup
is then named purplebook-backup-<time>.pbz inside it.

The backup holds everything (password hashes, MFA secrets, the signing
key): keep it as safe as the data directory.`

func runBackup(ctx context.Context, e env, args []string) error {
	fs := config.NewFlagSet("backup", backupHelp, e.stderr, e.getenv)
	out := fs.String("out", "", "backup file to write (.pbz), or a directory")
	cfg, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	if *out == "" {
		fs.Usage()
		return errors.New("--out is required")
	}
	set, closeSet, err := openServices(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeSet()
	path := *out
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "purplebook-backup-"+time.Now().UTC().Format("20060102T150405Z")+".pbz")
	}
	var meta instancebundle.Meta
	size, err := writeBundleFile(e, path, 0, func(w io.Writer, progress func(int64)) (err error) {
		meta, err = set.Backups.WriteTo(ctx, w, progress)
		return err
	})
	if err != nil {
		return err
	}
	var rows int64
	for _, t := range meta.Tables {
		rows += t.Rows
	}
	fmt.Fprintf(e.stdout, "backed up %d tables (%d rows) and %d evidence files to %s (%.1f MB)\n",
		len(meta.Tables), rows, meta.Evidence.Files, path, float64(size)/1e6)
	fmt.Fprintf(e.stdout, "signed by %s, key fingerprint %s\n", set.Identity.Name(), set.Identity.Fingerprint())
	return nil
}

const restoreHelp = `Usage: purplebook restore FILE --data-dir D [--db URL] [--force]

Restores an instance backup (purplebook backup, or the Backups page) into
the data directory D and its database: the SQLite file in D, or the
PostgreSQL database named by --db postgres://… (a binary built with
-tags postgres). A SQLite backup restored into PostgreSQL is how a team
moves from one laptop to a team server.

It refuses while a server runs on D, verifies the whole backup (signature,
every entry's size and sha256) before it writes anything, refuses a backup
made by a newer Purplebook, loads every table in one transaction, and checks
the result: row counts and evidence hashes equal the backup's, foreign keys
hold, the audit chain verifies. A database that already has accounts is
replaced only with --force.`

func runRestore(ctx context.Context, e env, args []string) error {
	fs := config.NewFlagSet("restore", restoreHelp, e.stderr, e.getenv)
	force := fs.Bool("force", false, "replace the instance the target database already holds")
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	cfg, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	if file == "" && len(fs.Args()) > 0 {
		file = fs.Args()[0]
	}
	if file == "" {
		fs.Usage()
		return errors.New("name the backup file to restore")
	}
	rep, err := instancebundle.Restore(ctx, file, instancebundle.RestoreOptions{DataDir: cfg.DataDir, DBURL: cfg.DatabaseURL(),
		Force: *force, Now: time.Now, Progress: func(step string) { fmt.Fprintf(e.stdout, "restore: %s\n", step) }})
	if rep.Fingerprint != "" {
		fmt.Fprintf(e.stdout, "backup of %s taken %s by Purplebook %s (%s, schema %d)\nsigned by %s, key fingerprint %s\n",
			rep.Signer.InstanceName, rep.CreatedAt, rep.AppVersion, rep.SourceEngine, rep.SchemaVersion, rep.Signer.InstanceName, rep.Fingerprint)
	}
	if err != nil {
		return err
	}
	var rows int64
	for _, t := range rep.Tables {
		rows += t.Rows
	}
	fmt.Fprintf(e.stdout, "restored %d tables (%d rows) and %d evidence files into %s (%s)\n", len(rep.Tables), rows,
		rep.Evidence.Files, config.Redacted(cfg.DatabaseURL()), rep.Engine)
	fmt.Fprintf(e.stdout, "audit chain intact (%d events)\n", rep.AuditChain.Rows)
	return nil
}
