package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// SQLite writers queue for the write connection: all commit, none fails; a
// caller whose context ends while it waits leaves the queue with the
// context's error and writes nothing, and the queue goes on.
func TestTxQueue(t *testing.T) {
	t.Parallel()
	d := dbtest.NewSQLite(t)
	ctx := context.Background()
	write := func(ctx context.Context, key string) error {
		return d.Tx(ctx, func(tx *dbx.Tx) error {
			_, err := tx.Insert("settings", dbx.Params{"key": key, "value": `"x"`, "updated_at": "2026-01-01T00:00:00.000Z"}).WithContext(ctx).Execute()
			return err
		})
	}
	hold := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = d.Tx(ctx, func(tx *dbx.Tx) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-held
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() { gone <- write(cctx, "bench.cancelled") }()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(ctx, fmt.Sprintf("bench.w%02d", i))
		}()
	}
	cancel()
	assert.ErrorIs(t, <-gone, context.Canceled)
	close(hold)
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	var n int
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM settings WHERE key LIKE 'bench.%'").Row(&n))
	assert.Equal(t, len(errs), n)
}
