// Command faults kills a real purplebook process with SIGKILL in the middle
// of the writes a crash hurts most — an ATT&CK sync (45 MB upload, one big
// transaction), an Atomic Red Team import (zip spooled to a temporary file)
// and an evidence upload (30 MB streamed to a temporary file, then placed
// and committed) — N times each, restarts it, and checks that it starts
// clean with nothing acknowledged lost:
//
//   - every write answered 2xx before the kill is there (mission categories
//     written all along by a second client, and the upload itself when it
//     was acknowledged, its content byte-identical);
//   - the database passes PRAGMA integrity_check and the audit trail's hash
//     chain verifies;
//   - no temporary file of the killed process is left in <data-dir>/tmp,
//     and no evidence content file without a row (evidence gc at start).
//
// It prints a tally per scenario and exits 1 if anything failed.
//
//	make build
//	go run ./bench/faults -bin bin/purplebook [-n 20] [-scenarios sync,atomics,upload]
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/bench/internal/benchkit"
	"github.com/purplebook/purplebook/bench/internal/instance"
)

type tally struct {
	runs, killedMidway, cleanRestarts int
	acked, lost                       int
	opAcked, opLost                   int
	leftovers, orphans, brokenAudit   int
	corrupt                           int
}

func main() {
	bin := flag.String("bin", "bin/purplebook", "purplebook binary")
	n := flag.Int("n", 20, "kills per scenario")
	scen := flag.String("scenarios", "sync,atomics,upload", "scenarios to run")
	attack := flag.String("attack", "../shared/testdata/attack/enterprise-attack.json.gz", "ATT&CK bundle")
	atomics := flag.String("atomics", "../shared/testdata/atomics", "Atomic Red Team atomics directory")
	maxDelay := flag.Duration("max-delay", 0, "kill within this long after the operation starts (default: 1.2 times its duration, measured once)")
	flag.Parse()

	bundle, err := os.ReadFile(*attack)
	check(err)
	atomicsZip := zipDir(*atomics)
	evidence := make([]byte, 30<<20)
	_, _ = rand.Read(evidence)

	in, err := instance.New(*bin, "")
	check(err)
	defer in.Remove()
	check(in.Start())
	check(in.SignIn())
	var mission, test struct {
		ID string `json:"id"`
	}
	check(in.JSON("POST", "/api/v1/missions", map[string]string{"name": "Faults"}, 201, &mission))
	check(in.JSON("POST", "/api/v1/missions/"+mission.ID+"/tests", map[string]string{"name": "Target"}, 201, &test))

	ops := map[string]func() (int, []byte, error){
		"sync": func() (int, []byte, error) {
			body, ct := instance.Multipart(map[string]string{"allow_unverified": "true"}, "file", "enterprise-attack.json.gz", bytes.NewReader(bundle))
			return in.Do("POST", "/api/v1/mitre/sync", ct, body)
		},
		"atomics": func() (int, []byte, error) {
			body, ct := instance.Multipart(nil, "file", "atomics.zip", bytes.NewReader(atomicsZip))
			return in.Do("POST", "/api/v1/test-templates/import/atomics", ct, body)
		},
		"upload": func() (int, []byte, error) {
			body, ct := instance.Multipart(map[string]string{"side": "red"}, "file", "capture.bin", bytes.NewReader(evidence))
			return in.Do("POST", "/api/v1/missions/"+mission.ID+"/tests/"+test.ID+"/evidence", ct, body)
		},
	}
	evidenceSum := sha256.Sum256(evidence)
	results := map[string]*tally{}
	var order []string
	failed := false
	for _, name := range strings.Split(*scen, ",") {
		op, ok := ops[name]
		if !ok {
			check(fmt.Errorf("unknown scenario %q", name))
		}
		order = append(order, name)
		t := &tally{}
		results[name] = t
		// How long the operation takes here: the kill lands at a uniformly
		// random moment within 1.2 times that (or -max-delay when given).
		t0 := time.Now()
		if code, body, err := op(); err != nil || code >= 300 {
			check(fmt.Errorf("%s without a kill: %d %v %s", name, code, err, body))
		}
		window := time.Since(t0) * 6 / 5
		if *maxDelay > 0 {
			window = *maxDelay
		}
		fmt.Printf("%s takes %s here; killing within %s\n", name, time.Since(t0).Round(time.Millisecond), window.Round(time.Millisecond))
		for i := 0; i < *n; i++ {
			t.runs++
			// A second client writes all along: what it was told is stored
			// must survive the kill.
			var mu sync.Mutex
			var acked []string
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ctx.Err() == nil; k++ {
					name := fmt.Sprintf("%s-%d-%d", name, i, k)
					if err := in.JSON("POST", "/api/v1/missions/"+mission.ID+"/categories", map[string]string{"name": name}, 201, nil); err == nil {
						mu.Lock()
						acked = append(acked, name)
						mu.Unlock()
					}
				}
			}()
			type opResult struct {
				code int
				body []byte
			}
			res := make(chan opResult, 1)
			go func() {
				code, body, _ := op()
				res <- opResult{code, body}
			}()
			time.Sleep(time.Duration(mrand.Int64N(int64(window))))
			var r opResult
			select {
			case r = <-res:
			default:
				t.killedMidway++
			}
			in.Kill()
			stop()
			wg.Wait()
			if r.code == 0 {
				r = <-res // the client's side of the dropped connection
			}
			if err := in.Start(); err != nil {
				fmt.Fprintf(os.Stderr, "%s #%d: restart failed: %v\n", name, i, err)
				failed = true
				continue
			}
			clean := true
			// Acknowledged categories.
			var cats struct {
				Items []struct {
					Name string `json:"name"`
				} `json:"items"`
			}
			check(in.JSON("GET", "/api/v1/missions/"+mission.ID+"/categories?per_page=200", nil, 200, &cats))
			have := map[string]bool{}
			for _, c := range cats.Items {
				have[c.Name] = true
			}
			if len(cats.Items) == 200 { // more than a page: ask the database
				have = categoryNames(in.Dir, mission.ID)
			}
			mu.Lock()
			for _, a := range acked {
				t.acked++
				if !have[a] {
					t.lost++
					clean = false
				}
			}
			mu.Unlock()
			// The operation itself, when it was acknowledged.
			if r.code >= 200 && r.code < 300 {
				t.opAcked++
				if name == "upload" && !evidenceIntact(in, r.body, hex.EncodeToString(evidenceSum[:])) {
					t.opLost++
					clean = false
				}
			}
			c := inspect(in.Dir)
			t.leftovers += c.leftovers
			t.orphans += c.orphans
			t.brokenAudit += c.brokenAudit
			t.corrupt += c.corrupt
			if c.leftovers+c.orphans+c.brokenAudit+c.corrupt > 0 {
				clean = false
			}
			if clean {
				t.cleanRestarts++
			} else {
				failed = true
			}
		}
	}
	in.Stop()
	fmt.Printf("\nkill -9 during each operation, %d times, then restart (SQLite, %s)\n", *n, *bin)
	fmt.Printf("%-8s %5s %7s %6s %7s %5s %8s %6s %9s %8s %11s %8s\n", "scenario", "runs", "midway", "clean", "acked", "lost",
		"op acked", "op lost", "leftovers", "orphans", "audit broken", "corrupt")
	for _, name := range order {
		t := results[name]
		fmt.Printf("%-8s %5d %7d %6d %7d %5d %8d %6d %9d %8d %11d %8d\n", name, t.runs, t.killedMidway, t.cleanRestarts,
			t.acked, t.lost, t.opAcked, t.opLost, t.leftovers, t.orphans, t.brokenAudit, t.corrupt)
		benchkit.Figure{Name: "faults_" + name + "_unclean", Value: float64(t.runs - t.cleanRestarts + t.lost + t.opLost + t.orphans + t.brokenAudit + t.corrupt),
			Unit: "count", Goal: "=0", Label: fmt.Sprintf("kill -9 during %s x%d: unclean restarts + losses + orphans + broken audit + corruption", name, t.runs)}.Print()
	}
	if failed {
		fmt.Println("FAIL: something acknowledged was lost or a restart was not clean")
		os.Exit(1)
	}
	fmt.Println("PASS: every restart clean, nothing acknowledged lost")
}

// evidenceIntact checks an acknowledged upload: its row answers and its
// content has the sha256 sent.
func evidenceIntact(in *instance.Instance, body []byte, sum string) bool {
	var f struct {
		ID     string `json:"id"`
		SHA256 string `json:"sha256"`
	}
	if json.Unmarshal(body, &f) != nil || f.ID == "" || f.SHA256 != sum {
		return false
	}
	code, content, err := in.Do("GET", "/api/v1/evidence/"+f.ID, "", nil)
	if err != nil || code != 200 {
		return false
	}
	got := sha256.Sum256(content)
	return hex.EncodeToString(got[:]) == sum
}

type inspection struct{ leftovers, orphans, brokenAudit, corrupt int }

// inspect looks at the data dir of the restarted server: temporary files
// of dead processes, content files without a row, the database's
// integrity and the audit chain.
func inspect(dir string) inspection {
	var c inspection
	runs, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	live := 0
	for _, r := range runs {
		if r.IsDir() {
			live++
			continue
		}
		c.leftovers++
	}
	if live > 1 { // only the restarted server's own area may be there
		c.leftovers += live - 1
	}
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(dir, "purplebook.db"))
	check(err)
	defer d.Close()
	var ok string
	check(d.SQL().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&ok))
	if ok != "ok" {
		c.corrupt++
	}
	var sums []string
	check(d.Read.NewQuery("SELECT DISTINCT sha256 FROM evidence_files").Column(&sums))
	named := map[string]bool{}
	for _, s := range sums {
		named[s] = true
	}
	root := filepath.Join(dir, "evidence")
	_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if !named[strings.ReplaceAll(filepath.ToSlash(rel), "/", "")] {
			c.orphans++
		}
		return nil
	})
	rep, err := audit.Verify(ctx, d, time.Now(), nil)
	check(err)
	if !rep.Intact {
		c.brokenAudit++
		fmt.Fprintf(os.Stderr, "audit chain broken: %+v\n", rep.Break)
	}
	return c
}

func categoryNames(dir, missionID string) map[string]bool {
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(dir, "purplebook.db"))
	check(err)
	defer d.Close()
	var names []string
	check(d.Read.Select("name").From("mission_categories").Where(dbx.HashExp{"mission_id": missionID}).Column(&names))
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// zipDir zips an atomics directory as atomics/<technique>/<file>.
func zipDir(dir string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	check(filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		w, err := zw.Create("atomics/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}))
	check(zw.Close())
	return buf.Bytes()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}
