package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is the tests' clock: it starts now and moves a millisecond per
// call, so events sort by time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() db.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return db.NewTime(c.t)
}

func record(t *testing.T, d *db.DB, c *clock, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		err := d.Tx(ctx, func(tx *dbx.Tx) error {
			return audit.Record(ctx, tx, c.now(), audit.Actor{Label: "tester", IP: "192.0.2.1"},
				audit.Event{Action: "test.event", ObjectType: "thing", ObjectID: fmt.Sprint(i),
					Details: map[string]any{"i": i, "size": int64(1) << 40, "ratio": 0.1, "text": "<a&b> ü", "nested": map[string]any{"z": 1, "a": []any{1.5, "x"}}}})
		})
		require.NoError(t, err)
	}
}

func verify(t *testing.T, d *db.DB, anchor *audit.Anchor) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), d, time.Now(), anchor)
	require.NoError(t, err)
	return rep
}

func idAt(t *testing.T, d *db.DB, seq int) string {
	t.Helper()
	var id string
	require.NoError(t, d.Read.NewQuery("SELECT id FROM audit_events WHERE seq = {:s}").Bind(dbx.Params{"s": seq}).Row(&id))
	return id
}

func TestChainIsIntactAfterWrites(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	c := newClock()
	rep := verify(t, d, nil)
	assert.True(t, rep.Intact, "an empty chain is intact")
	assert.Equal(t, audit.Genesis, rep.Head.Hash)

	record(t, d, c, 5)
	// A batch and a write outside any transaction are chained too.
	ctx := context.Background()
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		return audit.RecordMany(ctx, tx, c.now(), audit.Actor{Label: "bulk"}, []audit.Event{{Action: "a.one"}, {Action: "a.two"}, {Action: "a.three"}})
	}))
	require.NoError(t, audit.Record(ctx, d.Write, c.now(), audit.Actor{Label: "pool"}, audit.Event{Action: "no.tx"}))
	rep = verify(t, d, nil)
	require.True(t, rep.Intact, "%+v", rep.Break)
	assert.EqualValues(t, 9, rep.Rows)
	assert.EqualValues(t, 9, rep.Head.Seq)
	assert.Zero(t, rep.Unchained)

	// The listing shows each event's place in the chain.
	page, err := audit.List(ctx, d, audit.Filter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 9)
	require.NotNil(t, page.Items[0].Seq)
	assert.EqualValues(t, 9, *page.Items[0].Seq, "newest first")
	assert.Len(t, *page.Items[0].Hash, 64)

	// A rolled-back write leaves no trace in the chain.
	boom := fmt.Errorf("boom")
	err = d.Tx(ctx, func(tx *dbx.Tx) error {
		if err := audit.Record(ctx, tx, c.now(), audit.Actor{Label: "x"}, audit.Event{Action: "rolled.back"}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	record(t, d, c, 1)
	rep = verify(t, d, nil)
	require.True(t, rep.Intact, "%+v", rep.Break)
	assert.EqualValues(t, 10, rep.Head.Seq)
}

// Edits behind the application's back, by raw SQL: each is found and the
// verification names the event.
func TestTamperingIsFound(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		tamper  string // SQL; {:id} is the id of event 3
		seq     int64
		reason  string
		noEvent bool
	}{
		{name: "details changed", tamper: `UPDATE audit_events SET details = '{"i":99}' WHERE id = {:id}`, seq: 3, reason: "content does not match"},
		{name: "actor changed", tamper: `UPDATE audit_events SET actor_label = 'someone else' WHERE id = {:id}`, seq: 3, reason: "content does not match"},
		{name: "time changed", tamper: `UPDATE audit_events SET at = '2001-01-01T00:00:00.000Z' WHERE id = {:id}`, seq: 3, reason: "content does not match"},
		{name: "event deleted", tamper: `DELETE FROM audit_events WHERE id = {:id}`, seq: 3, reason: "missing (removed)"},
		{name: "last events deleted", tamper: `DELETE FROM audit_events WHERE seq >= 5`, seq: 5, reason: "were removed", noEvent: true},
		{name: "hash recomputed by hand is still caught at the next event",
			tamper: `UPDATE audit_events SET hash = '` + strings.Repeat("a", 64) + `' WHERE id = {:id}`, seq: 3, reason: "content does not match"},
		{name: "event inserted outside the chain",
			tamper: `INSERT INTO audit_events (id, at, actor_label, action, object_type, object_id, details, ip, request_id)
				VALUES ('` + db.NewID() + `', '2030-01-01T00:00:00.000Z', 'ghost', 'user.create', 'user', 'x', '{}', '', '')`,
			reason: "outside the chain", noEvent: true},
		{name: "head moved back", tamper: `UPDATE audit_chain SET seq = 4 WHERE id = 1`, seq: 4, reason: "head", noEvent: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := dbtest.New(t)
			record(t, d, newClock(), 6)
			id := idAt(t, d, 3)
			_, err := d.Write.NewQuery(tc.tamper).Bind(dbx.Params{"id": id}).Execute()
			require.NoError(t, err)
			rep := verify(t, d, nil)
			assert.False(t, rep.Intact)
			require.NotNil(t, rep.Break)
			assert.Contains(t, rep.Break.Reason, tc.reason)
			if tc.seq > 0 {
				assert.Equal(t, tc.seq, rep.Break.Seq, rep.Break.Reason)
			}
			if !tc.noEvent && tc.reason != "missing (removed)" {
				assert.Equal(t, id, rep.Break.ID, "the verification names the edited event")
			}
		})
	}
}

// A rewrite of the whole chain (every hash recomputed after an edit, as a
// thorough attacker would) verifies on its own; an anchor taken before
// catches it.
func TestAnchorCatchesARewrite(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	c := newClock()
	record(t, d, c, 4)
	anchor, err := audit.ExportAnchor(ctx, d, time.Now())
	require.NoError(t, err)
	assert.Equal(t, audit.AnchorFormat, anchor.Format)
	assert.EqualValues(t, 4, anchor.Seq)
	assert.NotEmpty(t, anchor.EventAt)
	record(t, d, c, 2)
	rep := verify(t, d, &anchor)
	require.True(t, rep.Intact)
	require.NotNil(t, rep.Anchor)
	assert.True(t, rep.Anchor.Matches, "the chain grew past the anchor and still passes through it")

	// Rewrite: change event 2, then recompute every hash from there with
	// the published algorithm (re-sealing from scratch does exactly that).
	_, err = d.Write.NewQuery(`UPDATE audit_events SET actor_label = 'forger' WHERE seq = 2`).Execute()
	require.NoError(t, err)
	_, err = d.Write.NewQuery(`UPDATE audit_events SET hash = NULL, prev_hash = NULL`).Execute()
	require.NoError(t, err)
	_, err = d.Write.NewQuery(`UPDATE audit_chain SET hash = '' WHERE id = 1`).Execute()
	require.NoError(t, err)
	_, err = audit.Seal(ctx, d)
	require.NoError(t, err)
	rep = verify(t, d, nil)
	assert.True(t, rep.Intact, "a complete rewrite is self-consistent…")
	rep = verify(t, d, &anchor)
	assert.False(t, rep.Intact, "…but not with the anchor")
	assert.False(t, rep.Anchor.Matches)
	assert.Contains(t, rep.Anchor.Reason, "rewritten")

	// Truncation below the anchor is named too.
	_, err = d.Write.NewQuery(`DELETE FROM audit_events WHERE seq > 2`).Execute()
	require.NoError(t, err)
	_, err = d.Write.NewQuery(`UPDATE audit_chain SET seq = 2, hash = (SELECT hash FROM audit_events WHERE seq = 2) WHERE id = 1`).Execute()
	require.NoError(t, err)
	rep = verify(t, d, &anchor)
	assert.False(t, rep.Intact)
	assert.Contains(t, rep.Anchor.Reason, "fewer")
	// Something that is not an anchor does not match.
	rep = verify(t, d, &audit.Anchor{Format: "x", Seq: 1})
	assert.False(t, rep.Anchor.Matches)
}

// Events written before the chain existed are hashed once (Seal, or the
// next write), in time order.
func TestLegacyEventsAreSealed(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	// What migration 0005 leaves: numbered events without hashes, and an
	// empty head hash.
	for i := 1; i <= 3; i++ {
		_, err := d.Write.Insert("audit_events", dbx.Params{"id": db.NewID(), "at": db.NewTime(time.Now().Add(time.Duration(i) * time.Second)),
			"actor_label": "old", "action": "legacy.event", "details": `{"n":` + fmt.Sprint(i) + `}`, "seq": i}).Execute()
		require.NoError(t, err)
	}
	_, err := d.Write.NewQuery(`UPDATE audit_chain SET seq = 3, hash = '' WHERE id = 1`).Execute()
	require.NoError(t, err)
	rep := verify(t, d, nil)
	assert.False(t, rep.Intact)
	assert.Contains(t, rep.Break.Reason, "not sealed")

	// The next write seals them first.
	record(t, d, newClock(), 1)
	rep = verify(t, d, nil)
	require.True(t, rep.Intact, "%+v", rep.Break)
	assert.EqualValues(t, 4, rep.Head.Seq)
	n, err := audit.Seal(ctx, d)
	require.NoError(t, err)
	assert.Zero(t, n, "sealing twice does nothing")
}

// Many writers at once (the server's requests): the chain stays one line
// on SQLite (one writer connection) and on PostgreSQL (the head row lock).
func TestChainHoldsUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	c := newClock()
	const writers, each = 16, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers*each+1)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				var err error
				switch i % 3 {
				case 0: // in a transaction that writes other rows too
					err = d.Tx(ctx, func(tx *dbx.Tx) error {
						if _, err := tx.Insert("settings", dbx.Params{"key": fmt.Sprintf("k-%d-%d", w, i), "value": "1",
							"updated_at": c.now()}).WithContext(ctx).Execute(); err != nil {
							return err
						}
						return audit.Record(ctx, tx, c.now(), audit.Actor{Label: fmt.Sprint(w)}, audit.Event{Action: "w.tx"})
					})
				case 1: // on the pool
					err = audit.Record(ctx, d.Write, c.now(), audit.Actor{Label: fmt.Sprint(w)}, audit.Event{Action: "w.pool"})
				default: // a batch
					err = d.Tx(ctx, func(tx *dbx.Tx) error {
						return audit.RecordMany(ctx, tx, c.now(), audit.Actor{Label: fmt.Sprint(w)},
							[]audit.Event{{Action: "w.many"}, {Action: "w.many"}})
					})
				}
				errs <- err
			}
		}(w)
	}
	// Verification while writers run sees a consistent prefix.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			rep, err := audit.Verify(ctx, d, time.Now(), nil)
			if err != nil || !rep.Intact {
				errs <- fmt.Errorf("verify during writes: %v %+v", err, rep.Break)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	rep := verify(t, d, nil)
	require.True(t, rep.Intact, "%+v", rep.Break)
	want := int64(writers * (each/3*(1+1+2) + 0))
	assert.Equal(t, want, rep.Head.Seq)
	assert.Equal(t, want, int64(dbtest.Count(t, d, "audit_events")))
}
