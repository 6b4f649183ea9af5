package db_test

import (
	"context"
	"slices"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dumpAll reads every table in logical form inside one snapshot.
func dumpAll(t *testing.T, d *db.DB, cat *db.Catalog) map[string][][]any {
	t.Helper()
	out := map[string][][]any{}
	require.NoError(t, d.ReadSnapshot(context.Background(), func(tx *dbx.Tx) error {
		for _, name := range cat.TableNames() {
			tb := cat.Tables[name]
			err := db.ScanTable(context.Background(), tx, tb, func(vals []any) error {
				out[name] = append(out[name], slices.Clone(vals))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}))
	return out
}

// TestLogicalRoundTrip dumps the seeded database in logical form, deletes
// everything, writes the dump back and dumps again: the same values, with
// the logical Go types (booleans stay booleans on SQLite, JSON stays text on
// PostgreSQL).
func TestLogicalRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	cat, err := d.Catalog(ctx)
	require.NoError(t, err)
	before := dumpAll(t, d, cat)
	require.NotEmpty(t, before["permissions"])

	for _, name := range cat.TableNames() {
		for _, c := range cat.Tables[name].Columns {
			assert.Contains(t, []string{db.TypeText, db.TypeInteger, db.TypeBoolean, db.TypeJSON, db.TypeReal}, c.Type, "%s.%s", name, c.Name)
		}
		for _, row := range before[name] {
			for i, c := range cat.Tables[name].Columns {
				if row[i] == nil {
					continue
				}
				switch c.Type {
				case db.TypeBoolean:
					assert.IsType(t, true, row[i], "%s.%s", name, c.Name)
				case db.TypeInteger:
					assert.IsType(t, int64(0), row[i], "%s.%s", name, c.Name)
				default:
					if c.Type != db.TypeReal {
						assert.IsType(t, "", row[i], "%s.%s", name, c.Name)
					}
				}
			}
		}
	}

	order := cat.DeleteOrder()
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		for _, name := range order {
			if _, err := tx.NewQuery("DELETE FROM {{" + name + "}}").WithContext(ctx).Execute(); err != nil {
				return err
			}
		}
		for i := len(order) - 1; i >= 0; i-- {
			tb := cat.Tables[order[i]]
			cols := make([]string, len(tb.Columns))
			for j, c := range tb.Columns {
				cols[j] = c.Name
			}
			if err := db.InsertRows(ctx, tx, tb.Name, cols, before[tb.Name]); err != nil {
				return err
			}
		}
		return nil
	}))
	assert.Equal(t, before, dumpAll(t, d, cat))
}

func TestFromJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ, raw string
		want     any
		bad      bool
	}{
		{db.TypeText, `"a"`, "a", false},
		{db.TypeText, `null`, nil, false},
		{db.TypeText, `1`, nil, true},
		{db.TypeJSON, `"{\"a\":1}"`, `{"a":1}`, false},
		{db.TypeJSON, `"{nope"`, nil, true},
		{db.TypeInteger, `42`, int64(42), false},
		{db.TypeInteger, `4.5`, nil, true},
		{db.TypeBoolean, `true`, true, false},
		{db.TypeBoolean, `1`, nil, true},
		{db.TypeReal, `1.5`, 1.5, false},
		{"blob", `"x"`, nil, true},
	} {
		got, err := db.FromJSON(tc.typ, []byte(tc.raw))
		if tc.bad {
			assert.Error(t, err, "%s %s", tc.typ, tc.raw)
			continue
		}
		require.NoError(t, err, "%s %s", tc.typ, tc.raw)
		assert.Equal(t, tc.want, got, "%s %s", tc.typ, tc.raw)
	}
}
