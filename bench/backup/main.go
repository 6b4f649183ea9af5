// Command backup measures instance backups (issue 12, item 7) through the
// real binary: an instance with a generated mission (N tests, 5 per-control
// outcomes each) and M MB of evidence serves while 20 clients write
// through the API (creating tests, as fast as they can), and an
// administrator downloads GET /api/v1/admin/backup. It prints the backup's
// time, size and throughput, the server's peak RSS while it ran, the
// writers' requests, errors (target: none) and latency during the backup,
// then restores the backup with `purplebook restore` (into SQLite, or into
// PostgreSQL with -pg) and checks the restored audit chain.
//
//	go run ./bench/backup -bin bin/purplebook [-tests 2000] [-evidence-mb 1024] [-writers 20]
//	go run ./bench/backup -bin bin/purplebook-pg -pg postgres://…   (restore into PostgreSQL)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/bench/internal/benchkit"
	"github.com/purplebook/purplebook/bench/internal/instance"
)

var console = missions.Caller{Can: func(string) bool { return true }, Actor: audit.Actor{Label: "bench"}}

func main() {
	bin := flag.String("bin", "bin/purplebook", "the purplebook binary (make build; make build-pg for -pg)")
	nTests := flag.Int("tests", 2000, "tests in the generated mission")
	evidenceMB := flag.Int("evidence-mb", 1024, "evidence to generate, in MB")
	writers := flag.Int("writers", 20, "concurrent API writers during the backup")
	pg := flag.String("pg", "", "restore into this PostgreSQL database (an empty schema) instead of SQLite")
	keep := flag.Bool("keep", false, "keep the data directories")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if _, err := os.Stat(*bin); err != nil {
		fail("no binary at %s: run make build first", *bin)
	}
	in, err := instance.New(*bin, "")
	check(err)
	if !*keep {
		defer in.Remove()
	} else {
		fmt.Println("source data dir:", in.Dir)
	}
	t0 := time.Now()
	missionID, evBytes := generate(in.Dir, *nTests, int64(*evidenceMB)<<20)
	fmt.Printf("generated: %d tests, %d outcomes, %.1f MB evidence in %.1f s\n", *nTests, *nTests*5, float64(evBytes)/1e6, time.Since(t0).Seconds())
	check(in.Start())
	defer in.Stop()
	check(in.SignIn())

	// Writers.
	var during atomic.Bool
	var total, inBackup, errs atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range *writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				body, _ := json.Marshal(map[string]string{"name": fmt.Sprintf("writer %d test %d", w, i)})
				start := time.Now()
				code, b, err := in.Do("POST", "/api/v1/missions/"+missionID+"/tests", "application/json", bytes.NewReader(body))
				d := time.Since(start)
				total.Add(1)
				if err != nil || code != http.StatusCreated {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %v %.200s", code, err, b))
					continue
				}
				if during.Load() {
					inBackup.Add(1)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)

	// The backup, while they write; the server's RSS sampled meanwhile.
	out := filepath.Join(os.TempDir(), fmt.Sprintf("pb-backupbench-%d.pbz", os.Getpid()))
	defer os.Remove(out)
	var peak atomic.Int64
	sampling := make(chan struct{})
	go func() {
		for {
			if r, err := instance.RSS(in.Cmd.Process.Pid); err == nil && r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-sampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	during.Store(true)
	start := time.Now()
	size := download(in, out)
	secs := time.Since(start).Seconds()
	during.Store(false)
	close(sampling)
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	in.Stop()

	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("backup under %d writers: %6.2f s  %.1f MB  %7.1f MB/s  server peak RSS %.1f MB\n",
		*writers, secs, float64(size)/1e6, float64(size)/1e6/secs, float64(peak.Load())/1e6)
	fmt.Printf("writers: %d requests, %d during the backup (p50 %s, p99 %s), %d errors (target 0)\n",
		total.Load(), inBackup.Load(), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), errs.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Printf("  first error: %s\n", e)
	}
	mu.Unlock()

	// Restore through the binary.
	dst, err := os.MkdirTemp("", "pb-backupbench-restore-")
	check(err)
	if !*keep {
		defer os.RemoveAll(dst)
	}
	args := []string{"restore", out, "--data-dir", dst}
	if *pg != "" {
		args = append(args, "--db", *pg, "--force")
	}
	syscall.Sync()
	rsecs, rss := measure(*bin, args...)
	target := "SQLite"
	if *pg != "" {
		target = "PostgreSQL"
	}
	fmt.Printf("restore into %s: %6.2f s  %7.1f MB/s  peak RSS %.1f MB\n", target, rsecs, float64(size)/1e6/rsecs, float64(rss)/1024)
	verify := []string{"audit", "verify", "--data-dir", dst}
	if *pg != "" {
		verify = append(verify, "--db", *pg)
	}
	vout, err := exec.Command(*bin, verify...).CombinedOutput()
	fmt.Printf("restored audit chain: %s\n", strings.TrimSpace(string(vout)))
	for _, f := range []benchkit.Figure{
		{Name: "backup_writer_errors", Value: float64(errs.Load()), Unit: "count", Goal: "=0",
			Label: fmt.Sprintf("client errors of %d writers during an instance backup", *writers)},
		{Name: "backup_writer_p99", Value: float64(pct(0.99).Microseconds()) / 1000, Unit: "ms", Label: "writer p99 during the backup"},
		{Name: "backup_throughput", Value: float64(size) / 1e6 / secs, Unit: "MB/s", Label: "GET /admin/backup under the writers"},
		{Name: "backup_server_rss", Value: float64(peak.Load()) / 1e6, Unit: "MB", Label: "server peak RSS during the backup"},
		{Name: "restore_throughput", Value: float64(size) / 1e6 / rsecs, Unit: "MB/s", Label: "purplebook restore into " + target},
		{Name: "restore_rss", Value: float64(rss) / 1024, Unit: "MB", Label: "purplebook restore peak RSS"},
	} {
		f.Print()
	}
	if err != nil || errs.Load() > 0 {
		os.Exit(1)
	}
}

// download streams the backup to a file.
func download(in *instance.Instance, path string) int64 {
	req, err := http.NewRequest("GET", in.URL+"/api/v1/admin/backup", nil)
	check(err)
	req.Header.Set("Authorization", "Bearer "+in.Token)
	resp, err := in.Client.Do(req)
	check(err)
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		fail("backup: %d %s", resp.StatusCode, b)
	}
	f, err := os.Create(path)
	check(err)
	n, err := io.Copy(f, resp.Body)
	check(err)
	check(f.Close())
	return n
}

// generate builds a mission through the services, as the API would.
func generate(dir string, nTests int, evidence int64) (string, int64) {
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(dir, "purplebook.db"))
	check(err)
	defer d.Close()
	check(d.Migrate(ctx))
	set, err := services.New(services.Options{DB: d, DataDir: dir, Now: time.Now,
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	check(err)
	defer set.Close()
	m, err := set.Missions.Create(ctx, console, missions.MissionInput{Name: "Backup bench", Description: "generated"})
	check(err)
	var ids []string
	levels := []string{"blocked", "alerted", "logged", "none", "tbd"}
	for i := range nTests {
		t, err := set.Missions.AddTest(ctx, console, m.ID, missions.AddTestInput{Name: fmt.Sprintf("Test %04d", i),
			Description: strings.Repeat("Emulates an adversary step. ", 8), Command: fmt.Sprintf("Invoke-AtomicTest T%04d", 1000+i),
			Platforms: []string{"windows"}, OpsecLevel: "medium"})
		check(err)
		ids = append(ids, t.ID)
		var p missions.TestPatch
		check(json.Unmarshal([]byte(fmt.Sprintf(`{"state":"executed","operator":"op","output":"%s","outcomes":[
			{"control":"EDR","detection_level":%q},{"control":"SIEM","detection_level":%q},{"control":"AV","detection_level":%q},
			{"control":"Firewall","detection_level":%q},{"control":"Web proxy","detection_level":%q}]}`,
			strings.Repeat("output line\\n", 20), levels[i%5], levels[(i+1)%5], levels[(i+2)%5], levels[(i+3)%5], levels[(i+4)%5])), &p))
		_, err = set.Missions.PatchTest(ctx, console, m.ID, t.ID, p)
		check(err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{4, 2}))
	var total int64
	for files := 0; total < evidence; files++ {
		size := min(int64(1<<20+rng.IntN(3<<20)), evidence-total)
		if size < 1024 {
			break
		}
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		copy(buf, "\x89PNG\r\n\x1a\n")
		up, err := set.Evidence.Begin(ctx, console, m.ID, ids[files%len(ids)])
		check(err)
		check(up.ReadFile(bytes.NewReader(buf), "screen.png"))
		_, err = up.Commit(ctx)
		check(err)
		total += size
	}
	return m.ID, total
}

// measure runs a command and returns its wall time (s) and peak RSS (KB).
func measure(name string, args ...string) (float64, int64) {
	r, err := benchkit.RunCommand(nil, name, args...)
	check(err)
	return r.Wall.Seconds(), r.PeakKB
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "backup bench: "+format+"\n", args...)
	os.Exit(1)
}
