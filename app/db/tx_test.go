package db_test

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

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

// Group commit: transactions that queued behind a running one commit
// together, each in its own savepoint. One that fails, panics or whose
// context ends while it runs is rolled back alone; the others commit, and
// each sees the writes of those before it. A function that stops its
// goroutine (t.FailNow) stops its caller's goroutine too, and the queue
// goes on.
func TestTxGroupCommit(t *testing.T) {
	t.Parallel()
	d := dbtest.NewSQLite(t)
	ctx := context.Background()
	stamp := "2026-01-01T00:00:00.000Z"
	insert := func(tx *dbx.Tx, key string) error {
		_, err := tx.Insert("settings", dbx.Params{"key": key, "value": `"x"`, "updated_at": stamp}).Execute()
		return err
	}
	hold := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = d.Tx(ctx, func(tx *dbx.Tx) error {
			close(held)
			<-hold
			return insert(tx, "group.first")
		})
	}()
	<-held

	const n = 24
	errs := make([]error, n)
	panics := make([]any, n)
	seen := make([]int, n)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			c := ctx
			if i%6 == 5 {
				c = cctx
			}
			errs[i] = d.Tx(c, func(tx *dbx.Tx) error {
				// What the transactions before this one wrote is visible.
				if err := tx.NewQuery("SELECT COUNT(*) FROM settings WHERE key LIKE 'group.%'").Row(&seen[i]); err != nil {
					return err
				}
				if err := insert(tx, fmt.Sprintf("group.%02d", i)); err != nil {
					return err
				}
				switch i % 6 {
				case 1:
					return fmt.Errorf("refused %d", i)
				case 2:
					return insert(tx, "group.first") // unique violation
				case 3:
					panic(fmt.Sprintf("boom %d", i))
				case 5:
					cancel() // the caller gives up while its function runs
				}
				return nil
			})
		}()
	}
	// Let them all queue behind the held transaction, then release it.
	require.Eventually(t, func() bool { return d.QueuedWrites() >= n }, 10*time.Second, 5*time.Millisecond)
	close(hold)
	wg.Wait()

	var keys []string
	require.NoError(t, d.Read.NewQuery("SELECT key FROM settings WHERE key LIKE 'group.%' ORDER BY key").Column(&keys))
	want := []string{"group.first"}
	for i := range n {
		switch i % 6 {
		case 0, 4:
			assert.NoError(t, errs[i], "transaction %d", i)
			assert.Nil(t, panics[i])
			want = append(want, fmt.Sprintf("group.%02d", i))
		case 1:
			assert.EqualError(t, errs[i], fmt.Sprintf("refused %d", i))
		case 2:
			assert.Error(t, errs[i], "transaction %d", i)
		case 3:
			assert.Equal(t, fmt.Sprintf("boom %d", i), panics[i])
		case 5:
			assert.ErrorIs(t, errs[i], context.Canceled, "transaction %d", i)
		}
	}
	sort.Strings(want)
	assert.Equal(t, want, keys, "only the transactions that succeeded are written, and all of them")
	m := 0
	for _, s := range seen {
		m = max(m, s)
	}
	assert.Greater(t, m, 1, "later transactions of a batch see the earlier ones' writes")

	// A function that calls runtime.Goexit (t.FailNow) ends its caller's
	// goroutine, not the writer: the next transaction still commits.
	exited := make(chan bool)
	go func() {
		finished := false
		defer func() { exited <- finished }()
		_ = d.Tx(ctx, func(tx *dbx.Tx) error {
			if err := insert(tx, "group.exit"); err != nil {
				return err
			}
			runtime.Goexit()
			return nil
		})
		finished = true
	}()
	assert.False(t, <-exited, "the caller's goroutine exits")
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error { return insert(tx, "group.after") }))
	var got []string
	require.NoError(t, d.Read.NewQuery("SELECT key FROM settings WHERE key IN ('group.exit', 'group.after')").Column(&got))
	assert.Equal(t, []string{"group.after"}, got)
}
