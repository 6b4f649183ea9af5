package mitre

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// Encoded answers. Catalogue reads are the hottest requests of the API (the
// ATT&CK browser and every tag picker search as the user types), and their
// answer depends only on the query and the catalogue, which changes only on
// sync. So the JSON of each answer is encoded once per catalogue state and
// kept in the snapshot it was computed from: a sync or reset installs a new
// snapshot with an empty cache, and an answer is never served for a
// catalogue other than its own.

// Bounds of one snapshot's cache. Keys are query strings, which callers
// choose freely; when a bound is reached the cache starts over (popular
// answers come back at their next request), so memory stays bounded whatever
// is asked.
const (
	maxCachedPages = 4096
	maxCachedBytes = 16 << 20
)

type pageCache struct {
	cur atomic.Pointer[pageSet]
}

type pageSet struct {
	m     sync.Map // key → []byte
	n     atomic.Int64
	bytes atomic.Int64
}

func (c *pageCache) set() *pageSet {
	if s := c.cur.Load(); s != nil {
		return s
	}
	c.cur.CompareAndSwap(nil, &pageSet{})
	return c.cur.Load()
}

func (c *pageCache) get(key string) ([]byte, bool) {
	s := c.cur.Load()
	if s == nil {
		return nil, false
	}
	v, ok := s.m.Load(key)
	if !ok {
		return nil, false
	}
	return v.([]byte), true
}

func (c *pageCache) put(key string, b []byte) {
	s := c.set()
	if s.n.Load() >= maxCachedPages || s.bytes.Load()+int64(len(b)) > maxCachedBytes {
		fresh := &pageSet{}
		if !c.cur.CompareAndSwap(s, fresh) {
			return // another request started over already
		}
		s = fresh
	}
	if _, loaded := s.m.LoadOrStore(key, b); !loaded {
		s.n.Add(1)
		s.bytes.Add(int64(len(b)))
	}
}

// CachedJSON returns the JSON encoding of an answer computed from the
// current catalogue: from the cache when the same key was answered from this
// catalogue before, else build's result, encoded (HTML characters not
// escaped, one trailing newline, like the API's other answers) and cached.
// build gets the catalogue state the answer is cached under; its errors are
// returned and never cached. key must name everything the answer depends on
// besides the catalogue (the route and its query string).
func (s *Service) CachedJSON(ctx context.Context, key string, build func(v *View) (any, error)) ([]byte, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if b, ok := snap.pages.get(key); ok {
		return b, nil
	}
	ans, err := build(&View{snap: snap})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ans); err != nil {
		return nil, fmt.Errorf("mitre: encode answer: %w", err)
	}
	b := buf.Bytes()
	snap.pages.put(key, b)
	return b, nil
}
