package mitre

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/mitre/mitretest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encode is how CachedJSON encodes: HTML not escaped, a trailing newline.
func encode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}

// movedBundle is the small bundle with T1106 Native API moved from
// execution to persistence and renamed: what a new ATT&CK release does.
func movedBundle(t *testing.T) string {
	return mitretest.MoveTechnique(t, testdata(t, "enterprise-attack-small.json"), "T1106", "persistence", "Native API (moved)")
}

func syncPath(t *testing.T, s *Service, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = s.Sync(context.Background(), SyncParams{Upload: f, Source: path, AllowUnverified: true}, actor)
	require.NoError(t, err)
}

// techniquesAnswer is the cached answer of "techniques where q" and the
// same answer computed afresh, not through the cache.
func techniquesAnswer(t *testing.T, s *Service, p ListParams) (cached, fresh []byte) {
	t.Helper()
	ctx := context.Background()
	key := "techniques?" + p.Q + "&" + p.Tactic
	cached, err := s.CachedJSON(ctx, key, func(v *View) (any, error) { return v.Techniques(p) })
	require.NoError(t, err)
	page, err := s.Techniques(ctx, p)
	require.NoError(t, err)
	return cached, encode(t, page)
}

// A re-sync installs a new catalogue: every cached answer is computed again
// from it, in this process at once.
func TestCachedAnswersFollowResync(t *testing.T) {
	t.Parallel()
	s, _ := newSvc(t)
	mustSync(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	byName := ListParams{Q: "native"}
	inPersistence := ListParams{Tactic: "persistence"}

	before, fresh := techniquesAnswer(t, s, byName)
	assert.Equal(t, fresh, before)
	assert.Contains(t, string(before), `"name":"Native API"`)
	assert.Contains(t, string(before), `"shortname":"execution"`)
	again, _ := techniquesAnswer(t, s, byName)
	assert.Equal(t, before, again, "the same answer from the cache")
	persistenceBefore, _ := techniquesAnswer(t, s, inPersistence)
	assert.NotContains(t, string(persistenceBefore), "T1106")

	syncPath(t, s, movedBundle(t))
	after, fresh := techniquesAnswer(t, s, byName)
	assert.Equal(t, fresh, after, "the cached answer is the new catalogue's")
	assert.NotEqual(t, before, after)
	assert.Contains(t, string(after), `"name":"Native API (moved)"`)
	assert.Contains(t, string(after), `"shortname":"persistence"`)
	assert.NotContains(t, string(after), `"shortname":"execution"`)
	persistenceAfter, fresh := techniquesAnswer(t, s, inPersistence)
	assert.Equal(t, fresh, persistenceAfter)
	assert.Contains(t, string(persistenceAfter), "T1106")

	// Errors are answered, never cached.
	_, err := s.CachedJSON(context.Background(), "techniques?tactic=TA9999", func(v *View) (any, error) {
		return v.Techniques(ListParams{Tactic: "TA9999"})
	})
	require.Error(t, err)
	calls := 0
	_, err = s.CachedJSON(context.Background(), "techniques?tactic=TA9999", func(v *View) (any, error) {
		calls++
		return v.Techniques(ListParams{Tactic: "TA9999"})
	})
	require.Error(t, err)
	assert.Equal(t, 1, calls)
}

// Two instances on one database (a team server's PostgreSQL, or the same
// SQLite file): a sync through one reaches the other's snapshot and cached
// answers once its stamp is checked again, at most stampTTL later.
func TestAnotherInstancesSyncReachesTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := dbtest.DSN(t)
	open := func() *db.DB {
		d, err := db.Open(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(func() { d.Close() })
		return d
	}
	var offset atomic.Int64
	start := time.Now()
	clock := func() time.Time { return start.Add(time.Since(start) + time.Duration(offset.Load())) }
	a := New(Options{DB: open(), Now: clock})
	b := New(Options{DB: open()})
	mustSync(t, b, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})

	byName := ListParams{Q: "native"}
	before, _ := techniquesAnswer(t, a, byName)
	assert.Contains(t, string(before), `"name":"Native API"`)

	syncPath(t, b, movedBundle(t))
	offset.Add(int64(2 * stampTTL)) // a's snapshot is due for a stamp check
	after, fresh := techniquesAnswer(t, a, byName)
	assert.Equal(t, fresh, after)
	assert.Contains(t, string(after), `"name":"Native API (moved)"`)
	assert.Contains(t, string(after), `"shortname":"persistence"`)

	// The stamp is the settings row: when it goes (a reset through the
	// other instance), the snapshot is read again.
	_, err := b.db.Write.NewQuery(`DELETE FROM settings WHERE key = 'mitre_sync'`).Execute()
	require.NoError(t, err)
	offset.Add(int64(2 * stampTTL))
	reloaded, err := a.View(ctx)
	require.NoError(t, err)
	assert.Equal(t, "", reloaded.snap.stamp)
}

// Readers never wait for a sync and always see a whole catalogue, the old
// one or the new one (run with -race).
func TestReadersDuringResync(t *testing.T) {
	t.Parallel()
	s, _ := newSvc(t)
	mustSync(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	moved := movedBundle(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := s.CachedJSON(context.Background(), "q=native", func(v *View) (any, error) {
					return v.Techniques(ListParams{Q: "native"})
				})
				if !assert.NoError(t, err) {
					return
				}
				old := bytes.Contains(b, []byte(`"name":"Native API",`)) && bytes.Contains(b, []byte(`"shortname":"execution"`))
				moved := bytes.Contains(b, []byte(`"name":"Native API (moved)"`)) && bytes.Contains(b, []byte(`"shortname":"persistence"`))
				assert.True(t, old != moved, "one whole catalogue: %s", b)
				reads.Add(1)
			}
		}()
	}
	for i := 0; i < 3; i++ {
		syncPath(t, s, moved)
		mustSync(t, s, "enterprise-attack-small.json", SyncParams{AllowUnverified: true})
	}
	close(stop)
	wg.Wait()
	assert.Positive(t, reads.Load())
}

// The cache of one catalogue is bounded: past the bound it starts over.
func TestPageCacheBounded(t *testing.T) {
	t.Parallel()
	var c pageCache
	big := make([]byte, maxCachedBytes/4+1)
	for i := 0; i < 4; i++ {
		c.put(string(rune('a'+i)), big)
	}
	_, first := c.get("a")
	_, last := c.get("d")
	assert.False(t, first, "started over when the bytes bound was reached")
	assert.True(t, last)
	for i := 0; i < maxCachedPages+1; i++ {
		c.put("k"+string(rune(i)), []byte("x"))
	}
	assert.LessOrEqual(t, c.cur.Load().n.Load(), int64(maxCachedPages))
}
