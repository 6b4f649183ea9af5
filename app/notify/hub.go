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

// Event is a change in a mission that the open views of its members (the
// board, a test page) may want to show without reloading. It carries ids
// only, never content: a listener re-reads what changed through the API,
// with its own permissions. Events are published after the change
// committed and, like signals, are hints: a view that misses one catches up
// at its next reload (a "resync" tells it that events were dropped).
type Event struct {
	Kind      string `json:"kind"` // e.g. test.updated, test.added, test.deleted, tests.reordered, mission.updated
	MissionID string `json:"mission_id"`
	TestID    string `json:"test_id,omitempty"`
	Version   int    `json:"version,omitempty"` // the test's (or mission's) version after the change
	ActorID   string `json:"actor_id,omitempty"`
}

// MaxQueuedEvents bounds the events waiting for one subscription; beyond
// it they are dropped and the subscription reports an overflow.
const MaxQueuedEvents = 64

// Subscription receives a value on C (buffered, so signals coalesce) when its
// user's unread count may have changed, and on Events when mission events
// are waiting (take them with TakeEvents). Close it when done.
type Subscription struct {
	C      <-chan struct{}
	Events <-chan struct{}

	c    chan struct{}
	evc  chan struct{}
	hub  *Hub
	user string

	mu       sync.Mutex
	timer    *time.Timer
	followUp bool // fire once more, RecheckDelay after the next firing
	closed   bool
	queue    []Event
	overflow bool
}

// Subscribe adds a subscription for userID, or fails with ErrTooManyStreams.
func (h *Hub) Subscribe(userID string) (*Subscription, error) {
	c, evc := make(chan struct{}, 1), make(chan struct{}, 1)
	s := &Subscription{C: c, c: c, Events: evc, evc: evc, hub: h, user: userID}
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

// Listening reports whether anybody holds a subscription: a publisher may
// skip working out whom to tell when nobody listens.
func (h *Hub) Listening() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
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

// Publish queues ev for every subscription of the given users, at once (no
// settling delay: call it after the change committed). It never blocks.
func (h *Hub) Publish(userIDs []string, ev Event) {
	var to []*Subscription
	h.mu.Lock()
	seen := map[string]bool{}
	for _, u := range userIDs {
		if seen[u] {
			continue
		}
		seen[u] = true
		for s := range h.subs[u] {
			to = append(to, s)
		}
	}
	h.mu.Unlock()
	for _, s := range to {
		s.push(ev)
	}
}

func (s *Subscription) push(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if len(s.queue) >= MaxQueuedEvents {
		s.overflow = true
	} else {
		s.queue = append(s.queue, ev)
	}
	select {
	case s.evc <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// TakeEvents returns the queued events, oldest first, and whether some were
// dropped since the last call; the queue is empty afterwards.
func (s *Subscription) TakeEvents() (events []Event, overflow bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	events, overflow = s.queue, s.overflow
	s.queue, s.overflow = nil, false
	return events, overflow
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
	s.queue = nil
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
