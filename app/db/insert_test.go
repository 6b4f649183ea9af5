package db_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// InsertRows in every shape of chunking: fewer rows than a chunk, exactly
// one chunk, several full chunks (one prepared statement) and a partial
// last one; every row arrives with its own values.
func TestInsertRowsChunks(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	const per = 2000 / 3
	for i, n := range []int{1, per - 1, per, per + 1, 2 * per, 2*per + 169} {
		table := fmt.Sprintf("insert_rows_probe_%d", i)
		rows := make([][]any, n)
		for r := range rows {
			rows[r] = []any{fmt.Sprintf("id-%05d", r), r * 7, fmt.Sprintf("s%d", r)}
		}
		require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
			if _, err := tx.NewQuery(`CREATE TABLE ` + table + ` (id TEXT PRIMARY KEY, n INTEGER NOT NULL, s TEXT NOT NULL)`).
				WithContext(ctx).Execute(); err != nil {
				return err
			}
			return db.InsertRows(ctx, tx, table, []string{"id", "n", "s"}, rows)
		}))
		var got []struct {
			ID string `db:"id"`
			N  int    `db:"n"`
			S  string `db:"s"`
		}
		require.NoError(t, d.Read.NewQuery(`SELECT id, n, s FROM `+table+` ORDER BY id`).WithContext(ctx).All(&got))
		require.Len(t, got, n)
		for r, g := range got {
			assert.Equal(t, rows[r], []any{g.ID, g.N, g.S}, "%d rows, row %d", n, r)
		}
	}
}
