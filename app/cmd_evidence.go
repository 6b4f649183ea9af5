package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/config"
	"github.com/purplebook/purplebook/app/evidence"
)

func runEvidence(ctx context.Context, e env, args []string) error {
	const help = `Usage: purplebook evidence gc [--dry-run] [--min-age D] [--json]

Removes evidence content files that no evidence row names (what a crash
between storing a file and committing its row leaves behind) and reports
rows whose file is missing. serve runs it at every start.

While another purplebook process uses the data dir (the server), files
newer than --min-age are spared: an upload there may not have committed yet.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, help)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] != "gc" {
		return fmt.Errorf("unknown evidence action %q (gc)", args[0])
	}
	fs := config.NewFlagSet("evidence gc", help, e.stderr, e.getenv)
	dry := fs.Bool("dry-run", false, "report what would be removed, remove nothing")
	minAge := fs.Duration("min-age", -1, "spare orphan files newer than this (default: 0 when no other process uses the data dir, else 1h)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	if rest := fs.Args(); len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q", rest[0])
	}
	set, closeSet, err := openServices(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeSet()
	age := *minAge
	if age < 0 {
		age = 0
		if set.Temp.OthersAlive() {
			age = time.Hour
		}
	}
	rep, err := set.Evidence.GC(ctx, evidence.GCOptions{DryRun: *dry, MinAge: age, Actor: audit.Actor{Label: "console"}})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	w := e.stdout
	verb := "removed"
	if rep.DryRun {
		verb = "would remove"
	}
	fmt.Fprintf(w, "%d content files, %d referenced; %d without a row (%d bytes): %s %d", rep.Scanned, rep.Referenced,
		len(rep.Orphans), rep.OrphanSize, verb, len(rep.Orphans)-rep.Recent)
	if rep.Recent > 0 {
		fmt.Fprintf(w, ", spared %d newer than %s", rep.Recent, age)
	}
	fmt.Fprintln(w)
	for _, s := range rep.Orphans {
		fmt.Fprintf(w, "  orphan %s\n", s)
	}
	for _, s := range rep.Missing {
		fmt.Fprintf(w, "  MISSING file of %s (named by a row; restore it from a backup)\n", s)
	}
	for _, s := range rep.Foreign {
		fmt.Fprintf(w, "  left alone: evidence/%s (not a content file)\n", s)
	}
	return nil
}
