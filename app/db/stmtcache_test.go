package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SQLite connections keep their prepared statements: the same statement run
// again inside the loop over its own rows (one connection, in a
// transaction) gets a statement of its own; more distinct statements than
// the cache holds are evicted without harm; a schema change after a
// statement was cached is seen; a failed statement leaves the cached one
// usable.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	d := dbtest.NewSQLite(t)
	ctx := context.Background()
	stamp := "2026-01-01T00:00:00.000Z"
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		for i := range 5 {
			if _, err := tx.Insert("settings", dbx.Params{"key": fmt.Sprintf("cache.%d", i), "value": fmt.Sprintf(`"%d"`, i), "updated_at": stamp}).Execute(); err != nil {
				return err
			}
		}
		return nil
	}))
	const q = "SELECT key, value FROM settings WHERE key LIKE 'cache.%' ORDER BY key"

	// Nested: the outer rows stay open while the same SQL runs again.
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		rows, err := tx.NewQuery(q).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		outer := 0
		for rows.Next() {
			var k, v string
			require.NoError(t, rows.Scan(&k, &v))
			var inner []struct {
				Key   string `db:"key"`
				Value string `db:"value"`
			}
			require.NoError(t, tx.NewQuery(q).All(&inner))
			assert.Len(t, inner, 5, "the inner run sees every row")
			assert.Equal(t, fmt.Sprintf("cache.%d", outer), k, "the outer rows are not disturbed by the inner run")
			outer++
		}
		assert.Equal(t, 5, outer)
		return rows.Err()
	}))

	// More distinct statements than the cache holds, then the first again.
	for i := range 600 {
		var n int
		require.NoError(t, d.Read.NewQuery(fmt.Sprintf("SELECT COUNT(*) + %d FROM settings WHERE key LIKE 'cache.%%'", i)).Row(&n))
		require.Equal(t, 5+i, n)
	}
	var keys []string
	require.NoError(t, d.Read.NewQuery("SELECT key FROM settings WHERE key LIKE 'cache.%' ORDER BY key").Column(&keys))
	assert.Len(t, keys, 5)

	// A schema change after caching: SELECT * sees the new column.
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		_, err := tx.NewQuery("CREATE TABLE cache_probe (id INTEGER PRIMARY KEY)").Execute()
		return err
	}))
	cols := func() []string {
		rows, err := d.Write.NewQuery("SELECT * FROM cache_probe").Rows()
		require.NoError(t, err)
		defer rows.Close()
		c, err := rows.Columns()
		require.NoError(t, err)
		return c
	}
	assert.Equal(t, []string{"id"}, cols())
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		_, err := tx.NewQuery("ALTER TABLE cache_probe ADD COLUMN note TEXT").Execute()
		return err
	}))
	assert.Equal(t, []string{"id", "note"}, cols())

	// A statement that fails (unique key) and then succeeds with other values.
	ins := "INSERT INTO settings (key, value, updated_at) VALUES ({:k}, '\"x\"', {:t})"
	err := d.Tx(ctx, func(tx *dbx.Tx) error {
		_, err := tx.NewQuery(ins).Bind(dbx.Params{"k": "cache.0", "t": stamp}).Execute()
		return err
	})
	require.Error(t, err)
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		_, err := tx.NewQuery(ins).Bind(dbx.Params{"k": "cache.new", "t": stamp}).Execute()
		return err
	}))
	var n int
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM settings WHERE key LIKE 'cache.%'").Row(&n))
	assert.Equal(t, 6, n)
}
