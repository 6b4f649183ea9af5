package notify

import (
	"sync"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
)

// The hub is a tiny in-process broadcaster behind the live unread badge: a
// signal carries no data, only "this user's unread count may have changed";
// listeners re-read the count from the database. Signals are hints, so a
// lost, early or duplicate one is harmless: a listener that misses a change
// still catches up at its next heartbeat. It is per process: with several
// purplebook processes on one PostgreSQL database, a change made through
// another process reaches a stream at its next heartbeat.

// MaxStreamsPerUser caps the live streams (browser tabs) one user may hold
// open in this process.
const MaxStreamsPerUser = 5

// Signal timing. Create signals inside the caller's transaction, before the
// commit, so a listener is woken SettleDelay after the last of a burst of
// signals (which also coalesces bursts, e.g. a scenario of many tests) and
// once more RecheckDelay after that, by which time the commit has happened.
const (
	SettleDelay  = 200 * time.Millisecond
	RecheckDelay = time.Second
)

// ErrTooManyStreams is returned by Subscribe when the user holds
// MaxStreamsPerUser streams already.
var ErrTooManyStreams = apperr.New(apperr.ErrTooManyRequests, "too_many_streams",
	"You have too many live connections open; close a tab, or poll /notifications/unread-count instead.")

// Hub fans signals out to subscriptions, by user id.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[*Subscription]struct{}
	max  int
}

// NewHub makes a hub allowing max subscriptions per user.
func NewHub(max int) *Hub {
	return &Hub{subs: map[string]map[*Subscription]struct{}{}, max: max}
}

// Subscription receives a value on C (buffered, so signals coalesce) when its
// user's unread count may have changed. Close it when done.
type Subscription struct {
	C <-chan struct{}

	c    chan struct{}
	hub  *Hub
	user string

	mu       sync.Mutex
	timer    *time.Timer
	followUp bool // fire once more, RecheckDelay after the next firing
	closed   bool
}

// Subscribe adds a subscription for userID, or fails with ErrTooManyStreams.
func (h *Hub) Subscribe(userID string) (*Subscription, error) {
	c := make(chan struct{}, 1)
	s := &Subscription{C: c, c: c, hub: h, user: userID}
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.subs[userID]
	if len(set) >= h.max {
		return nil, ErrTooManyStreams
	}
	if set == nil {
		set = map[*Subscription]struct{}{}
		h.subs[userID] = set
	}
	set[s] = struct{}{}
	return s, nil
}

// Signal wakes every subscription of the given users (after SettleDelay, and
// again RecheckDelay later). It never blocks.
func (h *Hub) Signal(userIDs ...string) {
	var wake []*Subscription
	h.mu.Lock()
	for _, u := range userIDs {
		for s := range h.subs[u] {
			wake = append(wake, s)
		}
	}
	h.mu.Unlock()
	for _, s := range wake {
		s.kick()
	}
}

// Streams is the number of open subscriptions of userID.
func (h *Hub) Streams(userID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[userID])
}

// Close removes the subscription; it receives nothing afterwards. Closing
// twice is harmless.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	if set := s.hub.subs[s.user]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(s.hub.subs, s.user)
		}
	}
	s.hub.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
}

// kick (re)starts the debounce timer: a burst of signals fires once.
func (s *Subscription) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.followUp = true
	if s.timer == nil {
		s.timer = time.AfterFunc(SettleDelay, s.fire)
		return
	}
	s.timer.Reset(SettleDelay)
}

func (s *Subscription) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.c <- struct{}{}:
	default: // a wake-up is pending already
	}
	if s.followUp {
		s.followUp = false
		s.timer.Reset(RecheckDelay)
	}
}
