// Package benchkit is what the Go bench programs share: the BENCH line
// every figure is reported with (bench/README.md), percentiles, process CPU
// time, and scratch databases.
package benchkit

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/purplebook/purplebook/app/db"
)

// Figure is one measured figure, printed as a BENCH line that `make bench`
// collects into its closing table.
type Figure struct {
	Name       string  // unique id, [a-z0-9_]
	Value      float64 // the measurement
	Unit       string  // ms, req/s, x, count, MB, s, …
	Goal       string  // "<=10", ">=10000", "=0"; "" = informational
	Floor      float64 // the same work done by the simplest thing possible; 0 = none
	HasFloor   bool
	Label      string // what was measured, for the table
	FloorLabel string // what the floor is
}

// Print writes the BENCH line of f to stdout.
func (f Figure) Print() {
	var b strings.Builder
	fmt.Fprintf(&b, "BENCH name=%s value=%s unit=%s", f.Name, num(f.Value), f.Unit)
	if f.Goal != "" {
		fmt.Fprintf(&b, " goal=%s", f.Goal)
	}
	if f.HasFloor {
		fmt.Fprintf(&b, " floor=%s", num(f.Floor))
	}
	if f.Label != "" {
		fmt.Fprintf(&b, " label=%q", f.Label)
	}
	if f.FloorLabel != "" {
		fmt.Fprintf(&b, " floor_label=%q", f.FloorLabel)
	}
	fmt.Println(b.String())
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// Ms is d in milliseconds, rounded to microseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	k := int(p/100*float64(len(s))+0.999999) - 1
	return s[max(0, min(k, len(s)-1))]
}

// Postgres makes a scratch schema on the server at base (a postgres:// URL)
// and returns the URL that selects it, and a cleanup that drops it.
func Postgres(ctx context.Context, base, prefix string) (string, func(), error) {
	admin, err := db.Open(ctx, base)
	if err != nil {
		return "", nil, err
	}
	schema := prefix + "_" + strings.ReplaceAll(db.NewID(), "-", "")
	if _, err := admin.SQL().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		_, _ = admin.SQL().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}, nil
}

// Check exits with the error, prefixed with the program's name.
func Check(prog string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
		os.Exit(1)
	}
}
