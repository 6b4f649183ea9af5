package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/config"
	"github.com/purplebook/purplebook/app/mitre"
	"golang.org/x/term"
)

func runMitre(ctx context.Context, e env, args []string) error {
	const help = `Usage: purplebook mitre sync [flags] [--source PATH|URL]

Imports a MITRE ATT&CK Enterprise STIX bundle (2.0 or 2.1, plain or .gz) into
the catalogue of the data directory. Without --source, the pinned release is
fetched (needs network); on an air-gapped machine pass the file.
A source that is not the pinned release needs --sha256 or --allow-unverified.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, help)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] != "sync" {
		return fmt.Errorf("unknown mitre action %q (sync)", args[0])
	}
	fs := config.NewFlagSet("mitre sync", help, e.stderr, e.getenv)
	var p mitre.SyncParams
	fs.StringVar(&p.Source, "source", "", "bundle file path or https URL (default: the pinned release URL)")
	fs.StringVar(&p.ExpectedSHA256, "sha256", "", "expected sha256 of the bundle (of the file or of its uncompressed content)")
	fs.BoolVar(&p.AllowUnverified, "allow-unverified", false, "import a bundle that is neither pinned nor matched by --sha256")
	fs.StringVar(&p.Version, "version", "", "ATT&CK version to record when the bundle does not carry one (e.g. 18.1)")
	cfg, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	if rest := fs.Args(); len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q (use --source)", rest[0])
	}
	if p.Source != "" && !strings.Contains(p.Source, "://") {
		f, err := os.Open(p.Source)
		if err != nil {
			return fmt.Errorf("cannot open %s: %w", p.Source, err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		p.Upload = f
		p.Progress = progressPrinter(e, st.Size())
	} else {
		p.Progress = progressPrinter(e, -1)
	}
	set, closeSet, err := openServices(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeSet()
	// The operator at the console may read any local file or URL; the
	// API's confinement (import directory, allowed hosts) is for callers
	// over the network.
	p.Trusted = true
	res, err := set.Mitre.Sync(ctx, p, audit.Actor{Label: "console"})
	clearProgress(e)
	if err != nil {
		return err
	}
	printSyncReport(e, res)
	return nil
}

var progressMu sync.Mutex

// progressPrinter draws "reading 12.3 / 45.0 MB" on a terminal, at most ten
// times a second; elsewhere it prints nothing.
func progressPrinter(e env, total int64) func(read, _ int64) {
	f, ok := e.stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var last time.Time
	return func(read, _ int64) {
		progressMu.Lock()
		defer progressMu.Unlock()
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		if total > 0 {
			fmt.Fprintf(e.stderr, "\rreading %.1f / %.1f MB (%d%%)   ", float64(read)/1e6, float64(total)/1e6, read*100/total)
		} else {
			fmt.Fprintf(e.stderr, "\rreading %.1f MB   ", float64(read)/1e6)
		}
	}
}

func clearProgress(e env) {
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
}

func printSyncReport(e env, r *mitre.SyncResult) {
	w := e.stdout
	verified := "NOT verified"
	if r.Verified {
		verified = "verified (" + r.Verification + ")"
	}
	fmt.Fprintf(w, "ATT&CK %s synced from %s in %.0f ms: %s\n", r.Version, r.SourceURL, r.DurationMS, verified)
	fmt.Fprintf(w, "  sha256 %s, STIX %s, %d objects\n", r.SHA256, r.SpecVersion, r.Objects)
	c := r.Counts
	fmt.Fprintf(w, "  catalogue: %d tactics, %d techniques (%d active), %d subtechniques (%d active)\n",
		c.Tactics, c.Techniques, c.ActiveTechniques, c.Subtechniques, c.ActiveSubtechniques)
	ch := r.Changes
	fmt.Fprintf(w, "  changes: %d added, %d renamed, %d revoked, %d deprecated, %d removed, %d restored\n",
		len(ch.Added), len(ch.Renamed), len(ch.Revoked), len(ch.Deprecated), len(ch.Removed), len(ch.Restored))
	show := func(label string, xs []mitre.Change) {
		for i, x := range xs {
			if i == 20 {
				fmt.Fprintf(w, "    … and %d more\n", len(xs)-20)
				break
			}
			extra := ""
			if x.OldName != "" {
				extra = " (was " + x.OldName + ")"
			}
			if x.ReplacedBy != "" {
				extra = " → " + x.ReplacedBy
			}
			fmt.Fprintf(w, "    %s %s %s%s\n", label, x.ExternalID, x.Name, extra)
		}
	}
	if ch.Total() < 200 { // a first import lists nothing but additions
		show("renamed", ch.Renamed)
		show("revoked", ch.Revoked)
		show("deprecated", ch.Deprecated)
		show("removed", ch.Removed)
	}
	if len(r.AffectedTags) > 0 {
		fmt.Fprintf(w, "  %d template tags now point at inactive entries:\n", len(r.AffectedTags))
		for _, a := range r.AffectedTags {
			repl := ""
			if a.ReplacedBy != "" {
				repl = ", replaced by " + a.ReplacedBy
			}
			fmt.Fprintf(w, "    %s: %s %s (%s%s)\n", a.TestTemplateName, a.ExternalID, a.Name, a.State, repl)
		}
	}
}
