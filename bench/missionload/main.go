// Command missionload measures the mission board and the red/blue workflow
// through the real HTTP stack on loopback (issue 7's targets): a mission
// with 2,000 tests and 10,000 outcomes; board list p50 (≤ 50 ms), test PATCH
// p50 (≤ 5 ms), and 50 concurrent clients PATCHing different tests for 10 s
// with zero errors, printing the throughput and the p50/p99 of the requests
// (issue 15: p99 ≤ 100 ms on SQLite).
//
// -sync NORMAL,FULL runs everything once per SQLite synchronous level (in
// one run, on the same machine): the price of FULL, which keeps the last
// acknowledged commits through a power cut (issue 14). -pg runs the same
// on a scratch schema of that PostgreSQL server (build with -tags postgres);
// the closing table puts every backend side by side.
//
//	go run ./bench/missionload [-tests 2000] [-clients 50] [-duration 10s] [-sync NORMAL,FULL]
//	go run -tags postgres ./bench/missionload -pg "$PURPLEBOOK_TEST_PG_DSN"
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/server"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/bench/internal/benchkit"
	"io/fs"
	"log/slog"
	"testing/fstest"
)

const prog = "missionload"

// result is what one backend measured.
type result struct {
	label            string
	board, red, blue float64 // p50, ms
	ok, fails        int64
	perSecond        float64
	concP50, concP99 float64 // ms per PATCH under the concurrent load
	concMax          float64
}

var cpuProfile string

func main() {
	nTests := flag.Int("tests", 2000, "tests in the mission (5 outcomes each)")
	clients := flag.Int("clients", 50, "concurrent PATCH clients")
	duration := flag.Duration("duration", 10*time.Second, "concurrent phase length")
	runs := flag.Int("runs", 100, "sequential measurements")
	syncLevels := flag.String("sync", db.DefaultSynchronous, "SQLite synchronous levels to run, comma-separated (e.g. NORMAL,FULL); \"\" = no SQLite run")
	pg := flag.String("pg", "", "PostgreSQL URL: run on a scratch schema there too (needs -tags postgres)")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of each concurrent phase to this path + .<backend>")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	var results []result
	for _, level := range strings.Split(*syncLevels, ",") {
		if level = strings.ToUpper(strings.TrimSpace(level)); level == "" {
			continue
		}
		fmt.Printf("== SQLite synchronous=%s\n", level)
		dir, err := os.MkdirTemp("", "pb-missionbench-")
		check(err)
		r := run(ctx, "SQLite "+level, filepath.Join(dir, "purplebook.db")+"?synchronous="+level, dir, *nTests, *clients, *duration, *runs)
		os.RemoveAll(dir)
		results = append(results, r)
	}
	if *pg != "" {
		fmt.Println("== PostgreSQL")
		dsn, cleanup, err := benchkit.Postgres(ctx, *pg, "bench_mission")
		check(err)
		dir, err := os.MkdirTemp("", "pb-missionbench-")
		check(err)
		r := run(ctx, "PostgreSQL", dsn, dir, *nTests, *clients, *duration, *runs)
		os.RemoveAll(dir)
		cleanup()
		results = append(results, r)
	}
	fmt.Printf("\nside by side (same run, same machine; %d tests, %d concurrent clients for %s):\n", *nTests, *clients, *duration)
	fmt.Printf("  %-18s %9s %9s %9s %9s %7s %9s %9s %9s\n", "backend", "board p50", "red p50", "blue p50", "PATCH/s", "errors", "conc p50", "conc p99", "conc max")
	for _, r := range results {
		fmt.Printf("  %-18s %9.2f %9.2f %9.2f %9.0f %7d %9.2f %9.2f %9.2f\n", r.label, r.board, r.red, r.blue, r.perSecond, r.fails,
			r.concP50, r.concP99, r.concMax)
	}
	for _, r := range results {
		id := strings.ToLower(strings.ReplaceAll(r.label, " ", "_"))
		sqlite := strings.HasPrefix(r.label, "SQLite")
		goal := func(g string) string { // the goals are SQLite's; PostgreSQL is printed beside them
			if sqlite {
				return g
			}
			return ""
		}
		benchkit.Figure{Name: "missionload_board_p50_" + id, Value: r.board, Unit: "ms", Goal: goal("<=50"),
			Label: fmt.Sprintf("board page of a %d-test mission, p50 (%s)", *nTests, r.label)}.Print()
		benchkit.Figure{Name: "missionload_patch_p50_" + id, Value: r.red, Unit: "ms", Goal: goal("<=5"),
			Label: fmt.Sprintf("test PATCH p50 (%s)", r.label)}.Print()
		benchkit.Figure{Name: "missionload_writers_p99_" + id, Value: r.concP99, Unit: "ms", Goal: goal("<=100"),
			Floor: r.red, HasFloor: true, FloorLabel: "one PATCH alone (p50)",
			Label: fmt.Sprintf("%d concurrent writers, PATCH p99 (%s)", *clients, r.label)}.Print()
		benchkit.Figure{Name: "missionload_writers_p50_" + id, Value: r.concP50, Unit: "ms",
			Label: fmt.Sprintf("%d concurrent writers, PATCH p50 (%s)", *clients, r.label)}.Print()
		benchkit.Figure{Name: "missionload_writers_rate_" + id, Value: r.perSecond, Unit: "req/s",
			Label: fmt.Sprintf("%d concurrent writers, PATCH/s (%s)", *clients, r.label)}.Print()
		benchkit.Figure{Name: "missionload_writers_errors_" + id, Value: float64(r.fails), Unit: "count", Goal: "=0",
			Label: fmt.Sprintf("%d concurrent writers, errors (%s)", *clients, r.label)}.Print()
	}
}

// run measures one instance on the database dsn (dir holds its other
// files).
func run(ctx context.Context, label, dsn, dir string, nTestsV, clientsV int, durationV time.Duration, runsV int) result {
	nTests, clients, duration, runs := &nTestsV, &clientsV, &durationV, &runsV
	d, err := db.Open(ctx, dsn)
	check(err)
	check(d.Migrate(ctx))
	set, err := services.New(services.Options{DB: d, DataDir: dir, Key: []byte(strings.Repeat("b", 32)), Now: time.Now,
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	check(err)
	_, err = set.Auth.CreateAdmin(ctx, "lead@example.com", "Lead", "bench password 123")
	check(err)
	var assets fs.FS = fstest.MapFS{"index.html": {Data: []byte("x")}}
	srv := httptest.NewServer(server.New(server.Options{Set: set, Assets: assets}).Handler())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients + 10}}

	call := func(method, path, token, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	_, b := call("POST", "/api/v1/auth/login", "", `{"email":"lead@example.com","password":"bench password 123"}`)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	check(json.Unmarshal(b, &login))
	token := login.AccessToken
	code, b := call("POST", "/api/v1/missions", token, `{"name":"Bench"}`)
	if code != 201 {
		check(fmt.Errorf("create mission: %d %s", code, b))
	}
	var mission struct {
		ID string `json:"id"`
	}
	check(json.Unmarshal(b, &mission))

	// Seed tests and outcomes directly (fast), as executed + assessed.
	var levelIDs []string
	check(d.Read.Select("id").From("detection_levels").OrderBy("rank").Column(&levelIDs))
	controls := []string{"EDR", "SIEM", "AV", "Firewall", "DLP"}
	start := time.Now()
	var testIDs []string
	now := db.NewTime(time.Now())
	check(d.Tx(ctx, func(tx *dbx.Tx) error {
		for i := 0; i < *nTests; i++ {
			id := db.NewID()
			testIDs = append(testIDs, id)
			name := fmt.Sprintf("Test %04d", i)
			if _, err := tx.Insert("mission_tests", dbx.Params{"id": id, "mission_id": mission.ID, "position": i, "name": name,
				"name_fold": db.Fold(name), "state": "executed", "executed_at": now, "version": 1, "created_at": now, "updated_at": now,
				"command_run": "whoami /all", "output": strings.Repeat("x", 200)}).Execute(); err != nil {
				return err
			}
			for k, t := range []string{"T1059", "T1059.001"} {
				kind := []string{"technique", "subtechnique"}[k]
				if _, err := tx.Insert("mission_test_mitre_tags", dbx.Params{"id": db.NewID(), "mission_test_id": id, "kind": kind,
					"external_id": t, "name": "n", "url": "", "created_at": now}).Execute(); err != nil {
					return err
				}
			}
			for k, c := range controls {
				if _, err := tx.Insert("mission_test_outcomes", dbx.Params{"id": db.NewID(), "mission_test_id": id, "control": c,
					"detection_level_id": levelIDs[(i+k)%len(levelIDs)], "created_at": now, "updated_at": now}).Execute(); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	var outcomes int
	check(d.Read.Select("COUNT(*)").From("mission_test_outcomes").Row(&outcomes))
	fmt.Printf("mission with %d tests and %d outcomes seeded in %s (%s, HTTP on loopback)\n", len(testIDs), outcomes, time.Since(start).Round(time.Millisecond), label)

	measure := func(label string, n int, f func(i int)) float64 {
		var ds []time.Duration
		for i := 0; i < n; i++ {
			t0 := time.Now()
			f(i)
			ds = append(ds, time.Since(t0))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Printf("%-52s p50 %7.2f ms  p90 %7.2f ms\n", label, ms(ds[len(ds)/2]), ms(ds[len(ds)*9/10]))
		return ms(ds[len(ds)/2])
	}
	base := "/api/v1/missions/" + mission.ID
	boardP50 := measure("board page (GET tests?per_page=200) (goal p50 <= 50 ms)", *runs, func(int) {
		if c, b := call("GET", base+"/tests?per_page=200", token, ""); c != 200 {
			check(fmt.Errorf("board: %d %s", c, b))
		}
	})
	measure(fmt.Sprintf("whole board (%d pages of 200)", (*nTests+199)/200), *runs/5, func(int) {
		for p := 1; p <= (*nTests+199)/200; p++ {
			if c, b := call("GET", fmt.Sprintf("%s/tests?per_page=200&page=%d", base, p), token, ""); c != 200 {
				check(fmt.Errorf("board: %d %s", c, b))
			}
		}
	})
	redP50 := measure("test PATCH (red notes, goal p50 <= 5 ms)", *runs, func(i int) {
		if c, b := call("PATCH", base+"/tests/"+testIDs[i%len(testIDs)], token, `{"red_notes":"note `+fmt.Sprint(i)+`"}`); c != 200 {
			check(fmt.Errorf("patch: %d %s", c, b))
		}
	})
	blueP50 := measure("test PATCH (blue outcome for one control)", *runs, func(i int) {
		if c, b := call("PATCH", base+"/tests/"+testIDs[(i+500)%len(testIDs)], token,
			`{"outcomes":[{"control":"EDR","detection_level":"alerted"}]}`); c != 200 {
			check(fmt.Errorf("patch: %d %s", c, b))
		}
	})

	// Concurrency: each client PATCHes its own tests; every request timed.
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile + "." + strings.ReplaceAll(strings.ToLower(label), " ", "-"))
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	var ok, fails atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	lat := make([][]time.Duration, *clients)
	for cl := 0; cl < *clients; cl++ {
		wg.Add(1)
		go func(cl int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				id := testIDs[(cl+i*(*clients))%len(testIDs)]
				body := bytes.NewBufferString(fmt.Sprintf(`{"red_notes":"client %d round %d"}`, cl, i))
				t0 := time.Now()
				c, b := call("PATCH", base+"/tests/"+id, token, body.String())
				lat[cl] = append(lat[cl], time.Since(t0))
				if c == 200 {
					ok.Add(1)
				} else {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", c, b))
				}
			}
		}(cl)
	}
	wg.Wait()
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := result{label: label, board: boardP50, red: redP50, blue: blueP50, ok: ok.Load(), fails: fails.Load(),
		perSecond: float64(ok.Load()) / duration.Seconds(), concP50: benchkit.Ms(benchkit.Percentile(all, 50)),
		concP99: benchkit.Ms(benchkit.Percentile(all, 99)), concMax: benchkit.Ms(benchkit.Percentile(all, 100))}
	fmt.Printf("%d concurrent clients PATCHing different tests for %s: %d ok, %d errors, %.0f PATCH/s, per request p50 %.2f ms p99 %.2f ms max %.2f ms\n",
		*clients, *duration, r.ok, r.fails, r.perSecond, r.concP50, r.concP99, r.concMax)
	if e := firstErr.Load(); e != nil {
		fmt.Println("first error:", e)
	}
	srv.Close()
	set.Close()
	d.Close()
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) { benchkit.Check(prog, err) }
