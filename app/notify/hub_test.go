package notify

import (
	"errors"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wait returns whether a wake-up arrives within d (generous: no timing
// assertions, only "it comes" or "it does not come soon").
func wait(s *Subscription, d time.Duration) bool {
	select {
	case <-s.C:
		return true
	case <-time.After(d):
		return false
	}
}

func TestHubSignalsOnlyTheUser(t *testing.T) {
	t.Parallel()
	h := NewHub(2)
	a, err := h.Subscribe("a")
	require.NoError(t, err)
	defer a.Close()
	b, err := h.Subscribe("b")
	require.NoError(t, err)
	defer b.Close()

	h.Signal("a", "nobody")
	assert.True(t, wait(a, 5*time.Second), "a is woken")
	assert.True(t, wait(a, 5*time.Second), "and woken again after the commit had time to land")
	assert.False(t, wait(b, 2*RecheckDelay), "b is not")
}

func TestHubCoalescesBursts(t *testing.T) {
	t.Parallel()
	h := NewHub(1)
	s, err := h.Subscribe("u")
	require.NoError(t, err)
	defer s.Close()
	for i := 0; i < 100; i++ {
		h.Signal("u")
	}
	n := 0
	for wait(s, 3*RecheckDelay) {
		n++
	}
	assert.GreaterOrEqual(t, n, 1)
	assert.LessOrEqual(t, n, 3, "a burst wakes a listener a few times, not a hundred")
}

func TestHubCapAndClose(t *testing.T) {
	t.Parallel()
	h := NewHub(2)
	s1, err := h.Subscribe("u")
	require.NoError(t, err)
	s2, err := h.Subscribe("u")
	require.NoError(t, err)
	_, err = h.Subscribe("u")
	require.Error(t, err)
	assert.True(t, errors.Is(err, apperr.ErrTooManyRequests))
	other, err := h.Subscribe("v")
	require.NoError(t, err, "the cap is per user")
	other.Close()

	s1.Close()
	s1.Close() // harmless
	assert.Equal(t, 1, h.Streams("u"))
	s3, err := h.Subscribe("u")
	require.NoError(t, err, "a closed subscription frees its place")
	h.Signal("u")
	assert.False(t, wait(s1, 2*RecheckDelay), "a closed subscription hears nothing")
	assert.True(t, wait(s2, 5*time.Second))
	s2.Close()
	s3.Close()
	assert.Zero(t, h.Streams("u"))
	h.mu.Lock()
	assert.Empty(t, h.subs, "no users without subscriptions are kept")
	h.mu.Unlock()
}

func TestHubPublishesEventsToTheUsers(t *testing.T) {
	t.Parallel()
	h := NewHub(2)
	a, err := h.Subscribe("a")
	require.NoError(t, err)
	defer a.Close()
	b, err := h.Subscribe("b")
	require.NoError(t, err)
	defer b.Close()

	ev := Event{Kind: "test.updated", MissionID: "m", TestID: "t", Version: 2}
	h.Publish([]string{"a", "a", "nobody"}, ev)
	h.Publish([]string{"a"}, Event{Kind: "tests.reordered", MissionID: "m"})
	select {
	case <-a.Events:
	case <-time.After(5 * time.Second):
		t.Fatal("a is woken for events")
	}
	evs, overflow := a.TakeEvents()
	assert.False(t, overflow)
	assert.Equal(t, []Event{ev, {Kind: "tests.reordered", MissionID: "m"}}, evs, "in order, once per user")
	evs, _ = a.TakeEvents()
	assert.Empty(t, evs, "taken")
	select {
	case <-b.Events:
		t.Fatal("b is not woken")
	default:
	}
	evs, _ = b.TakeEvents()
	assert.Empty(t, evs)
	select {
	case <-a.C:
		t.Fatal("events do not wake the unread signal")
	case <-time.After(2 * SettleDelay):
	}
}

func TestHubEventOverflow(t *testing.T) {
	t.Parallel()
	h := NewHub(1)
	s, err := h.Subscribe("u")
	require.NoError(t, err)
	for i := 0; i < MaxQueuedEvents+10; i++ {
		h.Publish([]string{"u"}, Event{Kind: "test.updated", MissionID: "m", Version: i})
	}
	evs, overflow := s.TakeEvents()
	assert.True(t, overflow, "dropped events are reported")
	assert.Len(t, evs, MaxQueuedEvents)
	assert.Equal(t, 0, evs[0].Version, "the oldest are kept")
	s.Close()
	h.Publish([]string{"u"}, Event{Kind: "test.updated"})
	evs, overflow = s.TakeEvents()
	assert.Empty(t, evs, "nothing after Close")
	assert.False(t, overflow)
}
