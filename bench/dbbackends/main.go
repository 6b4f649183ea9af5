//go:build postgres

// Command dbbackends runs the same workload on SQLite and PostgreSQL and
// prints both medians and their ratio: insert 10,000 audit events in one
// transaction, then list them all, 200 per page, newest first, with the total
// count per page (what the API's list endpoints do).
//
//	go run -tags postgres ./bench/dbbackends -pg "$PURPLEBOOK_TEST_PG_DSN"
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/bench/internal/benchkit"
)

func main() {
	pg := flag.String("pg", os.Getenv("PURPLEBOOK_TEST_PG_DSN"), "PostgreSQL URL (a scratch schema is created and dropped)")
	rows := flag.Int("rows", 10000, "rows to insert")
	runs := flag.Int("runs", 5, "repetitions; the median is reported")
	flag.Parse()
	if *pg == "" {
		fmt.Fprintln(os.Stderr, "dbbackends: -pg or PURPLEBOOK_TEST_PG_DSN is required")
		os.Exit(2)
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "pb-bench-")
	check(err)
	defer os.RemoveAll(tmp)

	type result struct{ insert, list []time.Duration }
	results := map[string]*result{}
	for _, backend := range []string{db.SQLite, db.Postgres} {
		r := &result{}
		results[backend] = r
		for i := 0; i < *runs; i++ {
			var d *db.DB
			var cleanup func()
			if backend == db.SQLite {
				d = open(ctx, filepath.Join(tmp, fmt.Sprintf("run%d.db", i)))
				cleanup = func() {}
			} else {
				d, cleanup = openPG(ctx, *pg)
			}
			ins, lst := workload(ctx, d, *rows)
			r.insert = append(r.insert, ins)
			r.list = append(r.list, lst)
			d.Close()
			cleanup()
		}
	}
	s, p := results[db.SQLite], results[db.Postgres]
	fmt.Printf("workload: insert %d audit events in one transaction; list them 200 per page with totals (median of %d runs)\n", *rows, *runs)
	fmt.Printf("%-8s  insert %8.1f ms   list %8.1f ms\n", "sqlite", ms(median(s.insert)), ms(median(s.list)))
	fmt.Printf("%-8s  insert %8.1f ms   list %8.1f ms\n", "postgres", ms(median(p.insert)), ms(median(p.list)))
	fmt.Printf("ratio postgres/sqlite: insert %.2fx, list %.2fx\n",
		ms(median(p.insert))/ms(median(s.insert)), ms(median(p.list))/ms(median(s.list)))
	for _, f := range []benchkit.Figure{
		{Name: "dbbackends_insert_postgres", Value: ms(median(p.insert)), Unit: "ms", Floor: ms(median(s.insert)), HasFloor: true,
			Label: fmt.Sprintf("insert %d audit events in one transaction (PostgreSQL)", *rows), FloorLabel: "the same on SQLite"},
		{Name: "dbbackends_list_postgres", Value: ms(median(p.list)), Unit: "ms", Floor: ms(median(s.list)), HasFloor: true,
			Label: "list them 200 per page with totals (PostgreSQL)", FloorLabel: "the same on SQLite"},
	} {
		f.Print()
	}
}

func workload(ctx context.Context, d *db.DB, n int) (time.Duration, time.Duration) {
	start := time.Now()
	base := time.Now().UTC()
	check(d.Tx(ctx, func(tx *dbx.Tx) error {
		for i := 0; i < n; i++ {
			_, err := tx.Insert("audit_events", dbx.Params{
				"id": db.NewID(), "at": db.NewTime(base.Add(time.Duration(i) * time.Millisecond)),
				"actor_label": "bench", "action": "bench.insert", "object_type": "bench",
				"object_id": fmt.Sprint(i), "details": db.JSON(fmt.Sprintf(`{"i":%d}`, i)),
			}).WithContext(ctx).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	}))
	insert := time.Since(start)
	start = time.Now()
	type row struct {
		ID      string  `db:"id"`
		At      db.Time `db:"at"`
		Action  string  `db:"action"`
		Details db.JSON `db:"details"`
	}
	seen := 0
	for page := 0; ; page++ {
		var total int
		check(d.Read.Select("COUNT(*)").From("audit_events").WithContext(ctx).Row(&total))
		var items []row
		check(d.Read.Select("id", "at", "action", "details").From("audit_events").
			OrderBy("at DESC", "id DESC").Limit(200).Offset(int64(page * 200)).WithContext(ctx).All(&items))
		seen += len(items)
		if len(items) < 200 {
			break
		}
	}
	if seen != n {
		panic(fmt.Sprintf("listed %d rows, want %d", seen, n))
	}
	return insert, time.Since(start)
}

func open(ctx context.Context, dsn string) *db.DB {
	d, err := db.Open(ctx, dsn)
	check(err)
	check(d.Migrate(ctx))
	return d
}

func openPG(ctx context.Context, base string) (*db.DB, func()) {
	admin, err := db.Open(ctx, base)
	check(err)
	schema := "bench_" + strings.ReplaceAll(db.NewID(), "-", "")
	_, err = admin.SQL().ExecContext(ctx, "CREATE SCHEMA "+schema)
	check(err)
	u, err := url.Parse(base)
	check(err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return open(ctx, u.String()), func() {
		_, _ = admin.SQL().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbbackends:", err)
		os.Exit(1)
	}
}
