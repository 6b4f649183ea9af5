package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/config"
)

// errBroken makes the command exit 1 after it printed its report.
var errBroken = errors.New("the audit trail is not intact")

func runAudit(ctx context.Context, e env, args []string) error {
	const help = `Usage: purplebook audit verify [--anchor FILE] [--json] | anchor [--out FILE]

  verify   walk the audit trail's hash chain and print "intact" or the first
           event where it breaks (changed, removed, or written behind the
           application's back); with --anchor, also check that the chain
           still passes through an anchor exported earlier. Exits 1 when
           the trail is not intact.
  anchor   print the chain's head (last event's position, hash and time) as
           JSON, to keep somewhere else and check against later.`
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, help)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	action := args[0]
	if action != "verify" && action != "anchor" {
		return fmt.Errorf("unknown audit action %q (verify, anchor)", action)
	}
	fs := config.NewFlagSet("audit "+action, help, e.stderr, e.getenv)
	anchorFile := fs.String("anchor", "", "verify: an anchor file exported earlier (purplebook audit anchor, or the audit page)")
	asJSON := fs.Bool("json", false, "verify: print the report as JSON")
	out := fs.String("out", "", "anchor: write the anchor to this file (0600) instead of stdout")
	cfg, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	if rest := fs.Args(); len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q", rest[0])
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	// Events written before the chain existed are hashed once, here or at
	// the server's start.
	if n, err := audit.Seal(ctx, d); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(e.stderr, "sealed %d audit events written before the chain existed\n", n)
	}
	if action == "anchor" {
		a, err := audit.ExportAnchor(ctx, d, time.Now())
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(a, "", "  ")
		b = append(b, '\n')
		if *out == "" {
			_, err = e.stdout.Write(b)
			return err
		}
		if err := os.WriteFile(*out, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "anchor at event %d (%s) written to %s\n", a.Seq, a.Hash, *out)
		return nil
	}
	var anchor *audit.Anchor
	if *anchorFile != "" {
		b, err := os.ReadFile(*anchorFile)
		if err != nil {
			return err
		}
		anchor = &audit.Anchor{}
		if err := json.Unmarshal(b, anchor); err != nil {
			return fmt.Errorf("%s is not an anchor file: %w", *anchorFile, err)
		}
	}
	rep, err := audit.Verify(ctx, d, time.Now(), anchor)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printAuditReport(e, rep)
	}
	if !rep.Intact {
		return errBroken
	}
	return nil
}

func printAuditReport(e env, rep audit.Report) {
	w := e.stdout
	if rep.Intact {
		fmt.Fprintf(w, "intact: %d events, head %d %s\n", rep.Rows, rep.Head.Seq, rep.Head.Hash)
	} else {
		fmt.Fprintf(w, "BROKEN after %d good events (head %d)\n", rep.Rows, rep.Head.Seq)
		if b := rep.Break; b != nil {
			fmt.Fprintf(w, "  first broken event: seq %d", b.Seq)
			if b.ID != "" {
				fmt.Fprintf(w, ", id %s, %s at %s", b.ID, b.Action, b.At)
			}
			fmt.Fprintf(w, "\n  %s\n", b.Reason)
		}
	}
	if rep.Unchained > 0 {
		fmt.Fprintf(w, "  %d event(s) outside the chain\n", rep.Unchained)
	}
	if a := rep.Anchor; a != nil {
		if a.Matches {
			fmt.Fprintf(w, "anchor: the chain passes through event %d %s\n", a.Seq, a.Hash)
		} else {
			fmt.Fprintf(w, "anchor at event %d does NOT match: %s\n", a.Seq, a.Reason)
		}
	}
}
