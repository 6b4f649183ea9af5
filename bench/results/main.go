// Command results measures the results capability (issue 16's targets) on a
// generated SQLite database:
//
//   - a mission with 2,000 tests (every red and blue field, 1–3 control
//     outcomes per assessed test, evidence rows): results page data p50
//     ≤ 100 ms, Navigator layer ≤ 100 ms, HTML report ≤ 1 s;
//   - the organisation-wide coverage over 500 missions and 1,000,000
//     mission tests: p50 ≤ 300 ms.
//
// The catalogue is the real ATT&CK bundle (../shared/testdata), synced
// through the real service. Missions, tests, tags, outcomes and evidence
// rows are bulk-inserted as valid rows (the schema's CHECKs and foreign keys
// apply); the results aggregates are then built with app/tally, the code the
// write path uses. Every measurement calls the real services, JSON encoding
// included where the API encodes, and prints p50 and p90. Other missions
// carry no per-control outcome rows (the organisation-wide view never reads
// them).
//
//	go run ./bench/results                              # 500 missions, 1,000,000 tests
//	go run ./bench/results -missions 20 -total 40000    # quick
//	go run ./bench/results -keep /tmp/pb-results.db     # keep the database
//	go run ./bench/results -keep /tmp/pb-results.db -reuse   # measure a kept database again
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/results"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/tally"
	"github.com/purplebook/purplebook/bench/internal/benchkit"
)

func main() {
	nMissions := flag.Int("missions", 500, "missions")
	total := flag.Int("total", 1_000_000, "mission tests over all missions")
	big := flag.Int("big", 2000, "tests in the measured mission (part of -total)")
	runs := flag.Int("runs", 15, "measurements per figure")
	bundle := flag.String("bundle", filepath.Join("..", "shared", "testdata", "attack", "enterprise-attack-core.json.gz"), "ATT&CK bundle (run from the repository root)")
	keep := flag.String("keep", "", "write the database here and keep it")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measurements here")
	reuse := flag.Bool("reuse", false, "with -keep: measure the kept database instead of generating one")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if *nMissions < 6 || *big > *total {
		fail(fmt.Errorf("need at least 6 missions and -big ≤ -total"))
	}

	dir, err := os.MkdirTemp("", "pb-results-bench-")
	check(err)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "purplebook.db")
	reusing := false
	if *keep != "" {
		path = *keep
		if _, err := os.Stat(path); err == nil && *reuse {
			reusing = true
		} else {
			_ = os.Remove(path)
		}
	}
	d, err := db.Open(ctx, path)
	check(err)
	defer d.Close()
	check(d.Migrate(ctx))
	set, err := services.New(services.Options{DB: d, DataDir: dir, Key: []byte(strings.Repeat("b", 32)), Now: time.Now,
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	check(err)

	var leadID, memberID, bigID string
	var days []string
	if reusing {
		check(d.Read.NewQuery("SELECT id FROM users WHERE email = 'lead@example.com'").Row(&leadID))
		check(d.Read.NewQuery("SELECT id FROM users WHERE email = 'member@example.com'").Row(&memberID))
		check(d.Read.NewQuery("SELECT COUNT(*) FROM missions").Row(nMissions))
		check(d.Read.NewQuery("SELECT id FROM missions WHERE name = {:n}").Bind(dbx.Params{"n": fmt.Sprintf("Engagement %03d", *nMissions/2)}).Row(&bigID))
		check(d.Read.NewQuery("SELECT starts_on FROM missions ORDER BY starts_on").Column(&days))
		fmt.Printf("reusing %s: %d missions\n", path, *nMissions)
	} else {
		t0 := time.Now()
		f, err := os.Open(*bundle)
		check(err)
		_, err = set.Mitre.Sync(ctx, mitre.SyncParams{Upload: f, AllowUnverified: true, Version: "18.1"}, audit.Actor{Label: "bench"})
		f.Close()
		check(err)
		leadID, err = set.Auth.CreateAdmin(ctx, "lead@example.com", "Lead", "bench password 123")
		check(err)
		memberID, err = set.Auth.CreateUser(ctx, nil, auth.CreateUserParams{Email: "member@example.com", Name: "Member",
			Password: "bench password 123", GroupIDs: []string{}}, auth.Meta{})
		check(err)
		fmt.Printf("catalogue synced, users made in %s\n", time.Since(t0).Round(time.Millisecond))

		t0 = time.Now()
		g := newGenerator(ctx, d, set, leadID, memberID)
		bigID = g.generate(*nMissions, *total, *big)
		fmt.Printf("generated %d missions, %d tests, %d tags, %d outcomes, %d evidence rows in %s\n",
			*nMissions, g.tests, g.tags, g.outcomes, g.evidence, time.Since(t0).Round(time.Millisecond))
		for i := range g.missionDays {
			days = append(days, g.dayOf(i))
		}

		t0 = time.Now()
		check(d.Tx(ctx, func(tx *dbx.Tx) error { return tally.RebuildAll(ctx, tx) }))
		var aggRows, monthRows, orgRows int
		check(d.Read.NewQuery("SELECT COUNT(*) FROM result_technique_counts").Row(&aggRows))
		check(d.Read.NewQuery("SELECT COUNT(*) FROM result_month_counts").Row(&monthRows))
		check(d.Read.NewQuery("SELECT COUNT(*) FROM result_org_counts").Row(&orgRows))
		fmt.Printf("aggregates rebuilt from scratch in %s: %d technique rows, %d month rows, %d organisation rows\n",
			time.Since(t0).Round(time.Millisecond), aggRows, monthRows, orgRows)
		_, err = d.SQL().ExecContext(ctx, "ANALYZE")
		check(err)
	}
	if st, err := os.Stat(path); err == nil {
		fmt.Printf("database: %.0f MiB\n", float64(st.Size())/(1<<20))
	}

	all := func(string) bool { return true }
	lead := missions.Caller{UserID: leadID, Can: all, Actor: audit.Actor{UserID: leadID, Label: "lead"}}
	member := missions.Caller{UserID: memberID, Can: func(p string) bool { return p == "mission.read" }, Actor: audit.Actor{UserID: memberID}}
	r := set.Results
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(pf))
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("\n%-58s %10s %10s   target\n", "measurement", "p50", "p90")
	var size int
	measure(*runs, "mission results (GET /missions/{id}/results, 2,000 tests)", "≤ 100 ms", func() {
		res, err := r.MissionResults(ctx, lead, bigID)
		check(err)
		b, err := json.Marshal(res)
		check(err)
		size = len(b)
	})
	fmt.Printf("%-58s %10s\n", "  response size", fmt.Sprintf("%d KiB", size>>10))
	measure(*runs, "mission layer (GET /missions/{id}/layer)", "≤ 100 ms", func() {
		l, err := r.MissionLayer(ctx, lead, bigID, results.LayerParams{BaseURL: "http://127.0.0.1:8420"})
		check(err)
		_, err = json.Marshal(l)
		check(err)
	})
	measure(*runs, "HTML report (GET /missions/{id}/report.html)", "≤ 1 s", func() {
		rep, err := r.MissionReport(ctx, lead, bigID)
		check(err)
		var cw countWriter
		check(rep.WriteHTML(&cw))
		size = int(cw)
	})
	fmt.Printf("%-58s %10s\n", "  report size", fmt.Sprintf("%d KiB", size>>10))
	measure(*runs, "CSV report (GET /missions/{id}/report.csv)", "", func() {
		rep, err := r.MissionReport(ctx, lead, bigID)
		check(err)
		check(rep.WriteCSV(io.Discard, results.CSVOptions{BOM: true}))
	})
	measure(*runs, fmt.Sprintf("coverage, all %d missions (GET /coverage)", *nMissions), "≤ 300 ms", func() {
		c, err := r.Coverage(ctx, lead, results.CoverageParams{})
		check(err)
		_, err = json.Marshal(c)
		check(err)
	})
	from, to := days[len(days)/4], days[3*len(days)/4]
	measure(*runs, "coverage, half the missions by start month (from/to)", "≤ 300 ms", func() {
		_, err := r.Coverage(ctx, lead, results.CoverageParams{From: from, To: to})
		check(err)
	})
	measure(*runs, "coverage, completed missions (status filter)", "≤ 300 ms", func() {
		_, err := r.Coverage(ctx, lead, results.CoverageParams{Statuses: []string{"completed"}})
		check(err)
	})
	measure(*runs, "coverage, by mission name (per-mission rows)", "", func() {
		_, err := r.Coverage(ctx, lead, results.CoverageParams{Q: "Engagement"})
		check(err)
	})
	measure(*runs, "coverage of a member of 5 missions", "", func() {
		_, err := r.Coverage(ctx, member, results.CoverageParams{})
		check(err)
	})
	measure(*runs, "coverage layer (GET /coverage/layer)", "", func() {
		l, err := r.CoverageLayer(ctx, lead, results.CoverageParams{}, results.LayerParams{})
		check(err)
		_, err = json.Marshal(l)
		check(err)
	})
	// The write path with the aggregates hook: a blue assessment.
	var ids []string
	check(d.Read.NewQuery(`SELECT id FROM mission_tests WHERE mission_id = {:m} AND state = 'executed' ORDER BY position`).
		Bind(dbx.Params{"m": bigID}).Column(&ids))
	i := 0
	measure(min(*runs*3, len(ids)), "assessment write with aggregates (PATCH outcomes)", "", func() {
		_, err := set.Missions.PatchTest(ctx, lead, bigID, ids[i], missions.TestPatch{Outcomes: patch.Value([]missions.OutcomeInput{
			{Control: "EDR", DetectionLevel: patch.Value("alerted")}})})
		check(err)
		i++
	})
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

func measure(n int, label, target string, f func()) {
	if n <= 0 {
		return
	}
	f() // warm-up
	ds := make([]time.Duration, n)
	for i := range ds {
		t := time.Now()
		f()
		ds[i] = time.Since(t)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	p := func(q float64) string {
		d := ds[min(len(ds)-1, int(q*float64(len(ds))))]
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	fmt.Printf("%-58s %10s %10s   %s\n", label, p(0.5), p(0.9), target)
	goal := ""
	if v, unit, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(target, "≤")), " "); ok {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			if unit == "s" {
				n *= 1000
			}
			goal = "<=" + strconv.FormatFloat(n, 'f', -1, 64)
		}
	}
	name, _, _ := strings.Cut(label, " (")
	benchkit.Figure{Name: "results_" + strings.Trim(nonWord.ReplaceAllString(strings.ToLower(name), "_"), "_"),
		Value: benchkit.Ms(ds[len(ds)/2]), Unit: "ms", Goal: goal, Label: label + ", p50"}.Print()
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// generator bulk-inserts valid rows.
type generator struct {
	ctx          context.Context
	d            *db.DB
	set          *services.Set
	rng          *rand.Rand
	lead, member string
	levels       map[string]string // key → id
	pool         []string          // technique and sub-technique ids the "library" covers
	names        map[string]string
	base         time.Time
	tests, tags  int
	outcomes     int
	evidence     int
	missionDays  []time.Time
}

func newGenerator(ctx context.Context, d *db.DB, set *services.Set, lead, member string) *generator {
	g := &generator{ctx: ctx, d: d, set: set, rng: rand.New(rand.NewPCG(16, 2026)), lead: lead, member: member,
		levels: map[string]string{}, names: map[string]string{}, base: time.Now().UTC().AddDate(-3, 0, 0).Truncate(24 * time.Hour)}
	ls, err := set.Levels.List(ctx)
	check(err)
	for _, l := range ls {
		g.levels[l.Key] = l.ID
	}
	m, err := set.Mitre.Matrix(ctx)
	check(err)
	seen := map[string]bool{}
	var all []string
	for _, t := range m.Tactics {
		for _, te := range t.Techniques {
			for _, e := range append([]*mitre.MatrixEntry{te}, te.Subtechniques...) {
				if !seen[e.ExternalID] {
					seen[e.ExternalID] = true
					all = append(all, e.ExternalID)
					g.names[e.ExternalID] = e.Name
				}
			}
		}
	}
	sort.Strings(all)
	g.rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	g.pool = all[:min(350, len(all))] // Atomic Red Team covers about 330 ids
	return g
}

func (g *generator) dayOf(i int) string { return g.missionDays[i].Format("2006-01-02") }

func (g *generator) insert(tx *dbx.Tx, table string, cols []string, rows [][]any) {
	check(db.InsertRows(g.ctx, tx, table, cols, rows))
}

var testCols = []string{"id", "mission_id", "position", "name", "name_fold", "objective", "command_template", "state", "skip_reason",
	"operator", "started_at", "finished_at", "executed_at", "target_host", "target_ip", "tool", "user_context", "command_run",
	"output", "execution_result", "blue_notes", "outcome_level_id", "detected_at", "assessed_at", "version", "created_at", "updated_at"}

// generate writes the missions and returns the id of the measured one.
func (g *generator) generate(nMissions, total, big int) string {
	outcomeKeys := []string{"blocked", "alerted", "logged", "none", "not_applicable", "tbd"}
	outcomeWeights := []int{15, 25, 20, 30, 5, 5}
	controls := []string{"EDR", "SIEM", "AV", "Firewall", "Mail gateway", "Web proxy"}
	rest := (total - big) / (nMissions - 1)
	var bigID string
	for mi := 0; mi < nMissions; mi++ {
		n := rest
		if mi == nMissions/2 {
			n = big
		}
		id := db.NewID()
		if mi == nMissions/2 {
			bigID = id
		}
		day := g.base.Add(time.Duration(mi) * (3 * 365 * 24 * time.Hour) / time.Duration(nMissions))
		g.missionDays = append(g.missionDays, day)
		status := "completed"
		switch {
		case mi == nMissions/2:
			status = "active" // the big mission takes the write figure: finished missions are read-only
		case mi > nMissions*9/10:
			status = "active"
		case mi%17 == 0:
			status = "archived"
		}
		check(g.d.Tx(g.ctx, func(tx *dbx.Tx) error {
			now := db.NewTime(day)
			name := fmt.Sprintf("Engagement %03d", mi)
			_, err := tx.Insert("missions", dbx.Params{"id": id, "name": name, "name_fold": strings.ToLower(name), "status": status,
				"starts_on": day.Format("2006-01-02"), "ends_on": day.AddDate(0, 0, 14).Format("2006-01-02"), "created_by": g.lead,
				"version": 1, "created_at": now, "updated_at": now}).WithContext(g.ctx).Execute()
			if err != nil {
				return err
			}
			members := [][]any{{db.NewID(), id, g.lead, "lead", now, now}}
			if mi%(nMissions/5) == 0 {
				members = append(members, []any{db.NewID(), id, g.member, "blue", now, now})
			}
			g.insert(tx, "mission_members", []string{"id", "mission_id", "user_id", "role", "created_at", "updated_at"}, members)
			var tests, tags, outs, evs [][]any
			for p := 0; p < n; p++ {
				tid := db.NewID()
				start := day.Add(time.Duration(g.rng.IntN(14*24*3600)) * time.Second)
				tech := g.pool[g.rng.IntN(len(g.pool))]
				r := g.rng.IntN(100)
				state := "assessed"
				switch {
				case r < 10:
					state = "pending"
				case r < 15:
					state = "in_progress"
				case r < 25:
					state = "executed"
				case r < 30:
					state = "skipped"
				}
				var started, finished, executed, assessed, detected, outcome, execResult any
				skip := ""
				if state == "in_progress" {
					started = db.NewTime(start)
				}
				if state == "skipped" {
					skip = "Not in scope for this engagement"
				}
				if state == "executed" || state == "assessed" {
					started, finished, executed = db.NewTime(start), db.NewTime(start.Add(40*time.Second)), db.NewTime(start.Add(40*time.Second))
					execResult = "succeeded"
				}
				if state == "assessed" {
					key := weighted(g.rng, outcomeKeys, outcomeWeights)
					outcome = g.levels[key]
					assessed = db.NewTime(start.Add(2 * time.Hour))
					if key == "blocked" || key == "alerted" || key == "logged" {
						detected = db.NewTime(start.Add(time.Duration(30+g.rng.IntN(3600)) * time.Second))
					}
					if id == bigID {
						// The derived outcome is the best among 1–3 controls.
						best := indexOf(outcomeKeys, key)
						k := 1 + g.rng.IntN(3)
						perm := g.rng.Perm(len(controls))[:k]
						for ci, c := range perm {
							lk := key
							if ci > 0 {
								lk = outcomeKeys[best+g.rng.IntN(len(outcomeKeys)-best)]
							}
							var logged, alerted, prevented any
							off := func() any { return db.NewTime(start.Add(time.Duration(5+g.rng.IntN(7200)) * time.Second)) }
							switch lk {
							case "blocked":
								prevented, logged = off(), off()
							case "alerted":
								alerted, logged = off(), off()
							case "logged":
								logged = off()
							}
							outs = append(outs, []any{db.NewID(), tid, controls[c], ci == 0, g.levels[lk], logged, alerted, prevented,
								"Rule " + lk, "", g.lead, now, now})
						}
						if p%4 == 0 {
							evs = append(evs, []any{db.NewID(), tid, "red", fmt.Sprintf("screenshot-%d.png", p), "image/png", 48000 + p,
								fmt.Sprintf("%064x", g.rng.Uint64()), "Output of the command", g.lead, now, now})
						}
					}
				}
				name := fmt.Sprintf("%s — %s procedure %d", tech, g.names[tech], p)
				cmd := fmt.Sprintf("powershell.exe -NoProfile -Command \"Invoke-AtomicTest %s -TestNumbers %d\"", tech, 1+p%5)
				out := ""
				if executed != nil {
					out = strings.Repeat(fmt.Sprintf("[%s] step %d ok\n", tech, p), 6)
				}
				tests = append(tests, []any{tid, id, p, name, strings.ToLower(name), "See whether " + g.names[tech] + " is detected",
					cmd, state, skip, "operator", started, finished, executed, "ws01.lab", "10.0.0.15", "powershell",
					"LAB\\user", cmd, out, execResult, "", outcome, detected, assessed, 1, now, now})
				tags = append(tags, []any{db.NewID(), tid, kindOf(tech), tech, g.names[tech], "", now})
				if g.rng.IntN(10) == 0 {
					other := g.pool[g.rng.IntN(len(g.pool))]
					if other != tech {
						tags = append(tags, []any{db.NewID(), tid, kindOf(other), other, g.names[other], "", now})
					}
				}
			}
			g.insert(tx, "mission_tests", testCols, tests)
			g.insert(tx, "mission_test_mitre_tags", []string{"id", "mission_test_id", "kind", "external_id", "name", "url", "created_at"}, tags)
			g.insert(tx, "mission_test_outcomes", []string{"id", "mission_test_id", "control", "expected", "detection_level_id",
				"logged_at", "alerted_at", "prevented_at", "alert_name", "notes", "assessed_by", "created_at", "updated_at"}, outs)
			g.insert(tx, "evidence_files", []string{"id", "mission_test_id", "side", "original_filename", "content_type", "size",
				"sha256", "caption", "uploaded_by", "created_at", "updated_at"}, evs)
			g.tests += len(tests)
			g.tags += len(tags)
			g.outcomes += len(outs)
			g.evidence += len(evs)
			return nil
		}))
	}
	return bigID
}

func kindOf(id string) string {
	if strings.Contains(id, ".") {
		return "subtechnique"
	}
	return "technique"
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return 0
}

func weighted(rng *rand.Rand, xs []string, ws []int) string {
	sum := 0
	for _, w := range ws {
		sum += w
	}
	r := rng.IntN(sum)
	for i, w := range ws {
		if r < w {
			return xs[i]
		}
		r -= w
	}
	return xs[len(xs)-1]
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "results bench:", err)
	os.Exit(1)
}
