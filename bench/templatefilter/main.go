// Command templatefilter measures the template library's combined filter
// (tactic + platform + q) on 10,000 templates with 30,000 ATT&CK tags, on a
// SQLite file with the full enterprise catalogue (issue 6's target: p50 ≤ 20 ms).
//
//	go run ./bench/templatefilter [-templates 10000] [-runs 200]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/templates"
)

func main() {
	n := flag.Int("templates", 10000, "templates to create (3 tags each)")
	runs := flag.Int("runs", 200, "queries per filter")
	bundle := flag.String("bundle", "../shared/testdata/attack/enterprise-attack.json.gz", "ATT&CK bundle")
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pb-tplbench-")
	check(err)
	defer os.RemoveAll(dir)
	d, err := db.Open(ctx, filepath.Join(dir, "purplebook.db"))
	check(err)
	defer d.Close()
	check(d.Migrate(ctx))
	set, err := services.New(services.Options{DB: d, DataDir: dir, Key: []byte(strings.Repeat("b", 32)), Now: time.Now})
	check(err)
	m := set.Mitre
	f, err := os.Open(*bundle)
	check(err)
	_, err = m.Sync(ctx, mitre.SyncParams{Upload: f, AllowUnverified: true}, audit.Actor{Label: "bench"})
	f.Close()
	check(err)

	// Seed directly (the API path would measure inserts, not filters).
	var techIDs, subIDs []string
	check(d.Read.Select("id").From("mitre_techniques").Where(dbx.HashExp{"revoked": false, "deprecated": false}).Column(&techIDs))
	check(d.Read.Select("id").From("mitre_subtechniques").Where(dbx.HashExp{"revoked": false, "deprecated": false}).Column(&subIDs))
	platforms := []string{"windows", "linux", "macos"}
	words := []string{"process", "dump", "registry", "powershell", "service", "credential", "discovery", "lateral", "token", "scheduled"}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	now := db.NewTime(time.Now())
	check(d.Tx(ctx, func(tx *dbx.Tx) error {
		for i := 0; i < *n; i++ {
			id := db.NewID()
			name := fmt.Sprintf("%s %s test %d", words[r.IntN(len(words))], words[r.IntN(len(words))], i)
			pl := platforms[r.IntN(3)]
			if _, err := tx.Insert("test_templates", dbx.Params{"id": id, "name": name, "name_fold": db.Fold(name),
				"search_fold": db.Fold(name + " generated for the benchmark"), "description": "generated for the benchmark",
				"platforms": `["` + pl + `"]`, "platforms_fold": "|" + pl + "|", "created_at": now, "updated_at": now}).Execute(); err != nil {
				return err
			}
			used := map[string]bool{}
			for k := 0; k < 3; k++ {
				p := dbx.Params{"id": db.NewID(), "test_template_id": id, "created_at": now, "tactic_id": nil, "technique_id": nil, "subtechnique_id": nil}
				if k%2 == 0 {
					t := techIDs[r.IntN(len(techIDs))]
					if used[t] {
						continue
					}
					used[t] = true
					p["kind"], p["technique_id"] = "technique", t
				} else {
					s := subIDs[r.IntN(len(subIDs))]
					if used[s] {
						continue
					}
					used[s] = true
					p["kind"], p["subtechnique_id"] = "subtechnique", s
				}
				if _, err := tx.Insert("test_template_mitre_tags", p).Execute(); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	var tags int
	check(d.Read.Select("COUNT(*)").From("test_template_mitre_tags").Row(&tags))
	fmt.Printf("seeded %d templates with %d ATT&CK tags in %s\n", *n, tags, time.Since(start).Round(time.Millisecond))

	svc := set.Templates
	measure := func(label string, p templates.ListParams) {
		var ds []time.Duration
		var total, size int
		for i := 0; i < *runs; i++ {
			t0 := time.Now()
			page, err := svc.List(ctx, p)
			check(err)
			ds = append(ds, time.Since(t0))
			total, size = page.Total, len(page.Items)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Printf("%-44s p50 %6.2f ms  p90 %6.2f ms  (%d matches, page of %d)\n", label,
			ms(ds[len(ds)/2]), ms(ds[len(ds)*9/10]), total, size)
	}
	measure("no filter", templates.ListParams{})
	measure("tactic=discovery", templates.ListParams{Tactic: "discovery"})
	measure("tactic+platform+q (goal p50 <= 20 ms)", templates.ListParams{Tactic: "discovery", Platform: "windows", Q: "process"})
	measure("technique=T1059 (incl. subtechniques)", templates.ListParams{Technique: "T1059"})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "templatefilter:", err)
		os.Exit(1)
	}
}
