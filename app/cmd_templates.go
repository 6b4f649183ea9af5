package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/config"
	"github.com/purplebook/purplebook/app/templates"
)

func runTemplates(ctx context.Context, e env, args []string) error {
	const help = `Usage: purplebook templates import-atomics [flags] PATH...

Imports Atomic Red Team tests into the template library of the data
directory. Each PATH is a YAML file, a zip or tar.gz of an atomics/ tree, or a
directory (its *.yaml files under atomics/, or all of them when there is no
atomics/ folder). Tests are keyed by auto_generated_guid: importing again
updates them instead of duplicating. Everything is imported in one
transaction; a rejected file or archive imports nothing.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, help)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] != "import-atomics" {
		return fmt.Errorf("unknown templates action %q (import-atomics)", args[0])
	}
	fs := config.NewFlagSet("templates import-atomics", help, e.stderr, e.getenv)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfg, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	paths := fs.Args()
	if len(paths) == 0 {
		fmt.Fprintln(e.stderr, "templates import-atomics: give at least one PATH")
		return errUsage
	}
	set, closeSet, err := openServices(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeSet()
	// Read and parse everything before writing: archives are spooled in
	// this process's temporary area of the data dir.
	c := set.Templates.NewAtomicCollector()
	for _, p := range paths {
		if err := c.AddPath(p); err != nil {
			return err
		}
	}
	rep, err := set.Templates.ImportAtomicFiles(ctx, audit.Actor{Label: "console"}, c)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printAtomicReport(e.stdout, rep)
	return nil
}

func printAtomicReport(w io.Writer, r *templates.ImportReport) {
	fmt.Fprintf(w, "Imported %d files, %d Atomic tests in %d ms: %d created, %d updated, %d unchanged, %d skipped\n",
		r.Files, r.Tests, r.DurationMS, r.Created, r.Updated, r.Unchanged, len(r.Skipped))
	for _, f := range r.PerFile {
		tech := f.AttackTechnique
		if tech == "" {
			tech = "-"
		}
		fmt.Fprintf(w, "  %-10s %3d tests: %3d created, %3d updated, %3d unchanged, %d skipped  %s\n",
			tech, f.Tests, f.Created, f.Updated, f.Unchanged, f.Skipped, f.File)
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "Skipped:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "  %s %s: %s\n", s.File, s.Test, s.Reason)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "Warnings (%d):\n", len(r.Warnings))
		for i, x := range r.Warnings {
			if i == 20 {
				fmt.Fprintf(w, "  … and %d more (--json lists them all)\n", len(r.Warnings)-20)
				break
			}
			where := x.File
			if x.Test != "" {
				where += " " + x.Test
			}
			if where != "" {
				where += ": "
			}
			fmt.Fprintf(w, "  %s%s\n", where, x.Message)
		}
	}
}
