// Command bundles measures engagement bundles (issue 12's targets) on a
// generated mission of 2,000 tests, 10,000 per-control outcomes and N MB of
// evidence (screenshots that are compressed already, and logs that are
// not):
//
//   - export and import (dry run + apply) of the bundle with evidence, each
//     through the real binary (`purplebook bundle export|import`), as
//     throughput beside `tar c | tar x` of the same evidence files in the
//     same run (target ≥ 80 % of tar), with each process's peak RSS
//     (target ≤ 100 MB);
//
//   - the bundle without evidence: export (target ≤ 1 s) and import, dry
//     run plus apply (target ≤ 2 s), measured in process.
//
//     go run ./bench/bundles -bin bin/purplebook [-evidence-mb 1024] [-tests 2000] [-keep]
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/bench/internal/benchkit"
)

var cpuProfile string

var cheap = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func main() {
	bin := flag.String("bin", "bin/purplebook", "the purplebook binary (make build)")
	evidenceMB := flag.Int("evidence-mb", 1024, "evidence to generate, in MB")
	nTests := flag.Int("tests", 2000, "tests in the mission (5 outcomes each)")
	keep := flag.Bool("keep", false, "keep the work directory")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write CPU profiles: of the in-process no-evidence import to this file, of the\n"+
		"binary's export and import with evidence to this name + .export and .import (through PURPLEBOOK_CPUPROFILE)")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := os.Stat(*bin); err != nil {
		fail("no binary at %s: run make build first", *bin)
	}
	ctx := context.Background()
	work, err := os.MkdirTemp("", "pb-bundlebench-")
	check(err)
	if *keep {
		fmt.Println("work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	src := filepath.Join(work, "source")

	t0 := time.Now()
	missionID, evBytes, evFiles := generate(ctx, src, *nTests, int64(*evidenceMB)<<20)
	fmt.Printf("generated: %d tests, %d outcomes, %d evidence files, %.1f MB in %.1f s\n",
		*nTests, *nTests*5, evFiles, float64(evBytes)/1e6, time.Since(t0).Seconds())

	// tar c | tar x of the same evidence files, the floor to compare with.
	tarDst := filepath.Join(work, "tar")
	check(os.MkdirAll(tarDst, 0o700))
	syncFS()
	tarSecs, _ := measure(nil, "bash", "-c", fmt.Sprintf("tar -C %q -cf - . | tar -C %q -xf -", filepath.Join(src, "evidence"), tarDst))
	check(os.RemoveAll(tarDst))

	// Export through the binary.
	out := filepath.Join(work, "mission.pbz")
	syncFS()
	expSecs, expRSS := measure(profileEnv("export"), *bin, "bundle", "export", "--data-dir", src, "--mission", missionID, "--out", out)
	st, err := os.Stat(out)
	check(err)

	// Import through the binary, into an empty instance.
	dst := filepath.Join(work, "target")
	run(*bin, "migrate", "--data-dir", dst, "up")
	syncFS()
	impSecs, impRSS := measure(profileEnv("import"), *bin, "bundle", "import", out, "--yes", "--data-dir", dst)

	mbps := func(s float64) float64 { return float64(evBytes) / 1e6 / s }
	fmt.Printf("tar c | tar x:        %6.2f s  %7.1f MB/s\n", tarSecs, mbps(tarSecs))
	fmt.Printf("export (evidence):    %6.2f s  %7.1f MB/s  %5.1f%% of tar (target ≥ 80%%)  peak RSS %5.1f MB (target ≤ 100)  bundle %.1f MB\n",
		expSecs, mbps(expSecs), 100*tarSecs/expSecs, float64(expRSS)/1024, float64(st.Size())/1e6)
	fmt.Printf("import (evidence):    %6.2f s  %7.1f MB/s  %5.1f%% of tar (target ≥ 80%%)  peak RSS %5.1f MB (target ≤ 100)\n",
		impSecs, mbps(impSecs), 100*tarSecs/impSecs, float64(impRSS)/1024)

	// Without evidence, in process: the operations themselves.
	noEvExport, noEvImport, size := withoutEvidence(ctx, src, work, missionID)
	fmt.Printf("export (no evidence): %6.3f s  (target ≤ 1 s)  bundle %.1f MB\n", noEvExport.Seconds(), float64(size)/1e6)
	fmt.Printf("import (no evidence): %6.3f s  dry run + apply (target ≤ 2 s)\n", noEvImport.Seconds())
	evMB := float64(evBytes) / 1e6
	for _, f := range []benchkit.Figure{
		{Name: "bundles_export_evidence_rate", Value: mbps(expSecs), Unit: "MB/s", Goal: fmt.Sprintf(">=%.1f", 0.8*mbps(tarSecs)),
			Floor: mbps(tarSecs), HasFloor: true, Label: fmt.Sprintf("bundle export with %.0f MB of evidence (goal: 80%% of tar)", evMB), FloorLabel: "tar c | tar x"},
		{Name: "bundles_import_evidence_rate", Value: mbps(impSecs), Unit: "MB/s", Goal: fmt.Sprintf(">=%.1f", 0.8*mbps(tarSecs)),
			Floor: mbps(tarSecs), HasFloor: true, Label: fmt.Sprintf("bundle import with %.0f MB of evidence (goal: 80%% of tar)", evMB), FloorLabel: "tar c | tar x"},
		{Name: "bundles_export_rss", Value: float64(expRSS) / 1024, Unit: "MB", Goal: "<=100", Label: "bundle export peak RSS"},
		{Name: "bundles_import_rss", Value: float64(impRSS) / 1024, Unit: "MB", Goal: "<=100", Label: "bundle import peak RSS"},
		{Name: "bundles_export_no_evidence", Value: noEvExport.Seconds(), Unit: "s", Goal: "<=1", Label: fmt.Sprintf("bundle export, %d tests, no evidence", *nTests)},
		{Name: "bundles_import_no_evidence", Value: noEvImport.Seconds(), Unit: "s", Goal: "<=2", Label: "bundle import (dry run + apply), no evidence"},
	} {
		f.Print()
	}
}

func open(ctx context.Context, dir string) *services.Set {
	d, err := db.Open(ctx, filepath.Join(dir, "purplebook.db"))
	check(err)
	check(d.Migrate(ctx))
	set, err := services.New(services.Options{DB: d, DataDir: dir, Now: time.Now, Argon2: cheap})
	check(err)
	return set
}

var console = missions.Caller{Can: func(string) bool { return true }, Actor: audit.Actor{Label: "bench"}}

// generate builds the mission through the services, as the API would.
func generate(ctx context.Context, dir string, nTests int, evidence int64) (string, int64, int) {
	set := open(ctx, dir)
	defer set.DB.Close()
	m, err := set.Missions.Create(ctx, console, missions.MissionInput{Name: "Bundle bench", Description: "generated"})
	check(err)
	var ids []string
	for i := range nTests {
		t, err := set.Missions.AddTest(ctx, console, m.ID, missions.AddTestInput{Name: fmt.Sprintf("Test %04d", i),
			Description: strings.Repeat("Emulates an adversary step. ", 8), Command: fmt.Sprintf("Invoke-AtomicTest T%04d", 1000+i),
			Platforms: []string{"windows"}, OpsecLevel: "medium"})
		check(err)
		ids = append(ids, t.ID)
	}
	levels := []string{"blocked", "alerted", "logged", "none", "tbd"}
	for i, id := range ids {
		var p missions.TestPatch
		body := fmt.Sprintf(`{"state":"executed","operator":"op","command":"run %d","output":"%s","outcomes":[
			{"control":"EDR","detection_level":%q},{"control":"SIEM","detection_level":%q},{"control":"AV","detection_level":%q},
			{"control":"Firewall","detection_level":%q},{"control":"Web proxy","detection_level":%q}]}`,
			i, strings.Repeat("output line\\n", 20), levels[i%5], levels[(i+1)%5], levels[(i+2)%5], levels[(i+3)%5], levels[(i+4)%5])
		check(jsonUnmarshal(body, &p))
		_, err := set.Missions.PatchTest(ctx, console, m.ID, id, p)
		check(err)
	}
	// Evidence: 60 % screenshots (PNG, incompressible), 40 % logs.
	rng := rand.New(rand.NewChaCha8([32]byte{1, 2, 3}))
	var total int64
	files := 0
	for total < evidence {
		size := int64(1<<20 + rng.IntN(3<<20))
		size = min(size, evidence-total)
		if size < 1024 {
			break
		}
		var content io.Reader
		name := "screen.png"
		if files%5 < 3 {
			content = io.MultiReader(bytes.NewReader([]byte("\x89PNG\r\n\x1a\n")), io.LimitReader(rngReader{rng}, size-8))
		} else {
			name = "events.log"
			content = io.LimitReader(&logReader{rng: rng}, size)
		}
		up, err := set.Evidence.Begin(ctx, console, m.ID, ids[files%len(ids)])
		check(err)
		check(up.ReadFile(content, name))
		_, err = up.Commit(ctx)
		check(err)
		total += size
		files++
	}
	return m.ID, total, files
}

type rngReader struct{ r *rand.Rand }

func (g rngReader) Read(p []byte) (int, error) {
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], g.r.Uint64())
	}
	for ; i < len(p); i++ {
		p[i] = byte(g.r.Uint32())
	}
	return len(p), nil
}

// logReader produces Windows-event-like lines: compressible, not trivially.
type logReader struct {
	rng *rand.Rand
	buf []byte
}

func (l *logReader) Read(p []byte) (int, error) {
	if len(l.buf) == 0 {
		l.buf = fmt.Appendf(nil, "2026-03-01T12:%02d:%02d.%03dZ host-%03d EventID=%d user=CORP\\u%04d proc=C:\\Windows\\System32\\%s pid=%d\n",
			l.rng.IntN(60), l.rng.IntN(60), l.rng.IntN(1000), l.rng.IntN(200), []int{4624, 4688, 4769, 7045}[l.rng.IntN(4)],
			l.rng.IntN(5000), []string{"cmd.exe", "powershell.exe", "rundll32.exe", "svchost.exe"}[l.rng.IntN(4)], l.rng.IntN(65536))
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

func withoutEvidence(ctx context.Context, src, work, missionID string) (export, imp time.Duration, size int64) {
	set := open(ctx, src)
	start := time.Now()
	x, err := set.Bundles.Prepare(ctx, console, missionID, missionbundle.ExportOptions{Evidence: false, Blue: true})
	check(err)
	path := filepath.Join(work, "noevidence.pbz")
	f, err := os.Create(path)
	check(err)
	check(x.WriteTo(ctx, f, nil))
	check(f.Close())
	export = time.Since(start)
	set.DB.Close()
	st, err := os.Stat(path)
	check(err)

	dst := filepath.Join(work, "target-noevidence")
	tgt := open(ctx, dst)
	defer tgt.DB.Close()
	im, err := bundle.NewImports(ctx, bundle.ImportsOptions{Root: filepath.Join(dst, "bundles", "staging"), Now: time.Now,
		Recover: tgt.Evidence.DropUnreferenced})
	check(err)
	defer im.Close()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	start = time.Now()
	i, err := im.OpenFile(ctx, "", path)
	check(err)
	_, err = tgt.Bundles.Plan(ctx, console, i, nil, nil)
	check(err)
	_, err = tgt.Bundles.Apply(ctx, console, i, missionbundle.ApplyParams{AcceptUntrusted: true})
	check(err)
	return export, time.Since(start), st.Size()
}

// profileEnv is the environment that has the binary write its CPU profile
// of a bundle command beside the in-process one (none without -cpuprofile).
func profileEnv(what string) []string {
	if cpuProfile == "" {
		return nil
	}
	return []string{"PURPLEBOOK_CPUPROFILE=" + cpuProfile + "." + what}
}

// measure runs a command (env added to the bench's) and returns its wall
// time (s) and peak RSS (KB); it prints the command's CPU time, which shows
// how much of the wall time was spent computing rather than waiting for the
// disk.
func measure(env []string, name string, args ...string) (float64, int64) {
	r, err := benchkit.RunCommand(env, name, args...)
	check(err)
	what := filepath.Base(name) + " " + args[1]
	if name == "bash" {
		what = "tar c | tar x"
	}
	fmt.Printf("  (%s: %.2f s wall, %.2f s CPU)\n", what, r.Wall.Seconds(), r.CPU.Seconds())
	return r.Wall.Seconds(), r.PeakKB
}

func run(name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		fail("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// syncFS flushes dirty pages so each phase starts from the same place.
func syncFS() { syscall.Sync() }

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bundles bench: "+format+"\n", args...)
	os.Exit(1)
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
