package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/librarybundle"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
	"github.com/purplebook/purplebook/app/config"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/services"
)

// EnvHoldApply names a file that a bundle import creates inside its apply
// transaction, just before the commit, and then waits (at most two
// minutes) for the process to be killed: the crash test's way to stop an
// apply at its worst moment. Never set it outside tests.
const EnvHoldApply = "PURPLEBOOK_TEST_HOLD_APPLY"

// EnvCPUProfile names a file a bundle command writes its CPU profile to
// (go tool pprof): how the bundle bench profiles the real export and
// import. A diagnostic, off unless set.
const EnvCPUProfile = "PURPLEBOOK_CPUPROFILE"

// bundleMemoryLimit is the bundle commands' soft heap limit (unless
// GOMEMLIMIT says otherwise).
const bundleMemoryLimit = 48 << 20

const bundleHelp = `Usage: purplebook bundle <action> [flags]

  export --mission ID --out FILE [--no-evidence] [--no-blue]
        write a mission bundle (.pbz): the engagement, its evidence and
        history, signed by this instance
  export --library --out FILE
        write a library bundle: every test template and scenario template,
        the detection levels and the security controls
  import FILE [--dry-run] [--yes] [--map EMAIL=EXISTING_EMAIL] [--skip EMAIL]
        verify a bundle (mission or library), show what it changes, then apply it (asks first
        unless --yes; --yes also accepts a signer this instance does not
        trust). Unknown users become inactive accounts unless mapped or
        skipped.
  key   print this instance's id, name and signing key fingerprint (what
        peers compare before trusting its bundles)

Works on the data directory directly; the server may be running.`

// console is who acts from the command line: every permission (whoever
// runs it can read the data directory anyway), audited as "console".
func console() missions.Caller {
	return missions.Caller{Can: func(string) bool { return true }, Actor: audit.Actor{Label: "console"}}
}

func runBundle(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, bundleHelp)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if e.getenv("GOMEMLIMIT") == "" {
		// A soft heap limit: a 2,000-test import keeps ~30 MB live, and
		// the default pacing lets the heap double that before collecting,
		// which took a bundle command's peak RSS near 100 MB (issue 12's
		// bound). Past the limit the runtime caps the GC's CPU, so a
		// larger mission is slower, never refused.
		debug.SetMemoryLimit(bundleMemoryLimit)
	}
	if path := e.getenv(EnvCPUProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvCPUProfile, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("%s: %w", EnvCPUProfile, err)
		}
		defer pprof.StopCPUProfile()
	}
	action, args := args[0], args[1:]
	fs := config.NewFlagSet("bundle "+action, bundleHelp, e.stderr, e.getenv)
	var missionID, out string
	var noEvidence, noBlue, dryRun, yes, library bool
	var maps, skips multiFlag
	switch action {
	case "export":
		fs.StringVar(&missionID, "mission", "", "id of the mission to export")
		fs.StringVar(&out, "out", "", "bundle file to write (.pbz)")
		fs.BoolVar(&noEvidence, "no-evidence", false, "leave evidence files out")
		fs.BoolVar(&noBlue, "no-blue", false, "leave blue-team data out (share the plan with red before the assessment)")
		fs.BoolVar(&library, "library", false, "export the template library, detection levels and security controls instead of a mission")
	case "import":
		fs.BoolVar(&dryRun, "dry-run", false, "only show what the import would change")
		fs.BoolVar(&yes, "yes", false, "apply without asking, also when the signer is not trusted")
		fs.Var(&maps, "map", "EMAIL=EXISTING_EMAIL: the bundle's user becomes this existing account (repeatable)")
		fs.Var(&skips, "skip", "EMAIL: drop the bundle's user (their references become empty; repeatable)")
	case "key":
	default:
		return fmt.Errorf("unknown bundle action %q (export, import, key)", action)
	}
	var file string
	if action == "import" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	cfg, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	setupLogging(cfg, e.stderr)
	if action == "import" && file == "" {
		if rest := fs.Args(); len(rest) > 0 {
			file = rest[0]
		}
	}
	d, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	opts := services.Options{DB: d, DataDir: cfg.DataDir, Now: time.Now}
	if hold := e.getenv(EnvHoldApply); hold != "" {
		opts.BeforeBundleCommit = func(ctx context.Context) error { return holdApply(ctx, e, hold) }
	}
	set, err := services.New(opts)
	if err != nil {
		return err
	}
	switch action {
	case "key":
		id := set.Identity
		fmt.Fprintf(e.stdout, "instance %s (%s)\nfingerprint %s\npublic key %s\n", id.Name(), id.ID(), id.Fingerprint(),
			bundle.EncodePublicKey(id.Public()))
		return nil
	case "export":
		if library && out != "" && missionID == "" {
			return exportLibrary(ctx, e, set, out)
		}
		if missionID == "" || out == "" {
			fs.Usage()
			return errors.New("--mission and --out are required")
		}
		return exportBundle(ctx, e, set, missionID, out, missionbundle.ExportOptions{Evidence: !noEvidence, Blue: !noBlue})
	}
	if file == "" {
		fs.Usage()
		return errors.New("name the bundle file to import")
	}
	choices, err := userChoices(ctx, d, maps, skips)
	if err != nil {
		return err
	}
	return importBundle(ctx, e, cfg, set, file, choices, dryRun, yes)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func holdApply(ctx context.Context, e env, path string) error {
	fmt.Fprintf(e.stdout, "apply: holding before the commit (%s)\n", EnvHoldApply)
	if err := os.WriteFile(path, []byte("holding\n"), 0o600); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Minute):
		return errors.New("held for two minutes: nobody killed the import")
	}
}

// userChoices turns --map and --skip into the import's user decisions.
func userChoices(ctx context.Context, d *db.DB, maps, skips []string) ([]missionbundle.UserChoice, error) {
	var out []missionbundle.UserChoice
	for _, m := range maps {
		from, to, ok := strings.Cut(m, "=")
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("--map %q: write EMAIL=EXISTING_EMAIL", m)
		}
		var id string
		if err := d.Read.NewQuery(`SELECT id FROM users WHERE email_fold = {:e} AND deleted_at IS NULL`).
			Bind(map[string]any{"e": db.Fold(to)}).WithContext(ctx).Row(&id); err != nil {
			return nil, fmt.Errorf("--map %s: no account %s here", m, to)
		}
		out = append(out, missionbundle.UserChoice{Email: from, Action: "map", UserID: id})
	}
	for _, s := range skips {
		out = append(out, missionbundle.UserChoice{Email: s, Action: "skip"})
	}
	return out, nil
}

func exportBundle(ctx context.Context, e env, set *services.Set, missionID, out string, opts missionbundle.ExportOptions) error {
	x, err := set.Bundles.Prepare(ctx, console(), missionID, opts)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		out = filepath.Join(out, x.Filename)
	}
	size, err := writeBundleFile(e, out, x.Estimate, func(w io.Writer, progress func(int64)) error {
		return x.WriteTo(ctx, w, progress)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exported mission %s to %s (%.1f MB)\n", missionID, out, float64(size)/1e6)
	fmt.Fprintf(e.stdout, "signed by %s, key fingerprint %s\n", set.Identity.Name(), set.Identity.Fingerprint())
	return nil
}

func importBundle(ctx context.Context, e env, cfg config.Config, set *services.Set, file string, choices []missionbundle.UserChoice,
	dryRun, yes bool) error {
	imports, err := newImports(ctx, cfg, set)
	if err != nil {
		return err
	}
	defer imports.Close()
	imp, err := imports.OpenFile(ctx, "", file)
	if err != nil {
		return err
	}
	switch k := imp.Reader().Manifest().Kind; k {
	case bundle.KindLibrary:
		return importLibrary(ctx, e, set, imp, dryRun, yes)
	case bundle.KindMission:
	default:
		return fmt.Errorf("%s is a %s bundle; restore instance backups with purplebook restore", file, k)
	}
	progress := progressPrinter(e, imp.Reader().Size())
	rep, err := set.Bundles.Plan(ctx, console(), imp, choices, func(n int64) {
		if progress != nil {
			progress(n, 0)
		}
	})
	clearProgress(e)
	if err != nil {
		return err
	}
	printReport(e, rep)
	if !proceed(e, dryRun, yes, rep.Source.Trusted) {
		return nil
	}
	fmt.Fprintln(e.stdout, "apply: started")
	done, err := set.Bundles.Apply(ctx, console(), imp, missionbundle.ApplyParams{AcceptUntrusted: true, Users: choices})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "apply: committed, %d changed, %d conflicts\n", done.Changed, len(done.Conflicts))
	return nil
}

func confirm(e env, q string) bool {
	fmt.Fprintf(e.stdout, "%s [y/N] ", q)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}

func printReport(e env, r *missionbundle.Report) {
	w := e.stdout
	trust := "NOT trusted"
	switch {
	case r.Source.Own:
		trust = "this instance's own key"
	case r.Source.Trusted:
		trust = "trusted"
	}
	fmt.Fprintf(w, "bundle of mission %q (%s), made %s by Purplebook %s\n", r.Mission.Name, r.Mission.ID, r.Source.CreatedAt, r.Source.AppVersion)
	fmt.Fprintf(w, "signed by %s, key fingerprint %s: %s\n", r.Source.InstanceName, r.Source.Fingerprint, trust)
	fmt.Fprintf(w, "verified: %d entries, %.1f MB; evidence %t, blue data %t\n", r.Bundle.Entries, float64(r.Bundle.Size)/1e6,
		r.Bundle.Options.Evidence, r.Bundle.Options.Blue)
	fmt.Fprintf(w, "the mission %s here: %s\n", map[bool]string{true: "exists", false: "does not exist"}[r.Mission.Exists], r.Mission.Action)
	for _, k := range []string{"mission", "categories", "scenarios", "tests", "evidence", "members", "users", "detection_levels", "audit_events"} {
		t := r.Objects[k]
		if t == nil || *t == (missionbundle.Tally{}) {
			continue
		}
		fmt.Fprintf(w, "  %-17s %d created, %d updated, %d unchanged, %d conflicts\n", k, t.Created, t.Updated, t.Unchanged, t.Conflicts)
	}
	fmt.Fprintf(w, "%d changed, %d conflicts\n", r.Changed, len(r.Conflicts))
	for i, c := range r.Conflicts {
		if i == 20 {
			fmt.Fprintf(w, "  … and %d more conflicts\n", len(r.Conflicts)-20)
			break
		}
		fmt.Fprintf(w, "  conflict: %s %q field %s: here %s, incoming %s\n", c.ObjectType, c.Name, c.Field, short(string(c.Local)), short(string(c.Incoming)))
	}
	for _, u := range r.Users {
		if u.Status == "unknown" {
			fmt.Fprintf(w, "  user %s (%s): not here, will be: %s\n", u.Email, u.Name, u.Action)
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  note: %s\n", warn)
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func exportLibrary(ctx context.Context, e env, set *services.Set, out string) error {
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		out = filepath.Join(out, set.Library.Filename())
	}
	var meta librarybundle.Meta
	if _, err := writeBundleFile(e, out, 0, func(w io.Writer, _ func(int64)) (err error) {
		meta, err = set.Library.WriteTo(ctx, w, librarybundle.All)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exported %d test templates, %d scenario templates, %d detection levels and %d security controls to %s\n",
		meta.Templates, meta.Scenarios, meta.DetectionLevels, meta.Controls, out)
	fmt.Fprintf(e.stdout, "signed by %s, key fingerprint %s\n", set.Identity.Name(), set.Identity.Fingerprint())
	return nil
}

func importLibrary(ctx context.Context, e env, set *services.Set, imp *bundle.Import, dryRun, yes bool) error {
	rep, err := set.Library.Plan(ctx, console(), imp)
	if err != nil {
		return err
	}
	trust := "NOT trusted here"
	if rep.Source.Trusted {
		trust = "trusted"
	}
	fmt.Fprintf(e.stdout, "library bundle signed by %s, key fingerprint %s (%s)\n", rep.Source.InstanceName, rep.Source.Fingerprint, trust)
	fmt.Fprintf(e.stdout, "test templates: %d created, %d updated, %d unchanged\n", rep.Templates.Created, rep.Templates.Updated, rep.Templates.Unchanged)
	fmt.Fprintf(e.stdout, "scenario templates: %d created, %d updated, %d unchanged\n", rep.Scenarios.Created, rep.Scenarios.Updated, rep.Scenarios.Unchanged)
	fmt.Fprintf(e.stdout, "detection levels: %d new %v\nsecurity controls: %d new %v\n", len(rep.NewLevels), rep.NewLevels, len(rep.NewControls), rep.NewControls)
	for _, w := range rep.Warnings {
		fmt.Fprintf(e.stdout, "warning: %s: %s\n", w.Name, w.Message)
	}
	if !proceed(e, dryRun, yes, rep.Source.Trusted) {
		return nil
	}
	done, err := set.Library.Apply(ctx, console(), imp, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "apply: committed, %d changed\n", done.Changed)
	return nil
}

// writeBundleFile writes a bundle (export or backup) to path through a
// 0600 temporary file beside it, fsynced and renamed at the end: an
// interrupted write never leaves a half-written file under that name.
// write gets a buffered writer and a progress callback (bytes written so
// far; estimate, when known, makes it a percentage). It answers the size of
// the file.
func writeBundleFile(e env, path string, estimate int64, write func(w io.Writer, progress func(int64)) error) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bundle-*.pbz")
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_ = tmp.Chmod(0o600)
	bw := bufio.NewWriterSize(tmp, 1<<20)
	show := progressPrinter(e, estimate)
	werr := write(bw, func(n int64) {
		if show != nil {
			show(n, 0)
		}
	})
	if werr == nil {
		werr = bw.Flush()
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	clearProgress(e)
	if werr != nil {
		return 0, werr
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// proceed decides, after an import's report was printed, whether to apply
// it: never on a dry run, at once with --yes, else when the user confirms
// (warned when the signer is not trusted here).
func proceed(e env, dryRun, yes, trusted bool) bool {
	if dryRun {
		fmt.Fprintln(e.stdout, "dry run: nothing was changed")
		return false
	}
	if yes {
		return true
	}
	q := "Apply this import?"
	if !trusted {
		q = "The signer is NOT trusted here. Apply this import anyway?"
	}
	if !confirm(e, q) {
		fmt.Fprintln(e.stdout, "not applied")
		return false
	}
	return true
}
