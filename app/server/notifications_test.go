package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type notificationPage struct {
	Items []struct {
		ID        string         `json:"id"`
		Kind      string         `json:"kind"`
		Payload   map[string]any `json:"payload"`
		ReadAt    *string        `json:"read_at"`
		CreatedAt string         `json:"created_at"`
	} `json:"items"`
	Total   int `json:"total"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
}

func (e *apiEnv) notifications(token, query string) notificationPage {
	e.t.Helper()
	rec := e.call("GET", "/api/v1/notifications"+query, "", token)
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
	var p notificationPage
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	return p
}

func (e *apiEnv) unread(token string) int {
	e.t.Helper()
	rec := e.call("GET", "/api/v1/notifications/unread-count", "", token)
	require.Equal(e.t, 200, rec.Code, rec.Body.String())
	var c struct {
		Count *int `json:"count"`
	}
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &c))
	require.NotNil(e.t, c.Count)
	return *c.Count
}

func kinds(p notificationPage) []string {
	out := []string{}
	for _, it := range p.Items {
		out = append(out, it.Kind)
	}
	return out
}

// Notifications come from real mission actions through the API; each user
// sees, counts and marks only their own.
func TestNotificationsFromMissionActions(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t) // the admin (lead) added red, blue and viewer

	p := e.notifications(e.red, "")
	require.Equal(t, []string{"mission.member_added"}, kinds(p))
	assert.Equal(t, e.missionID, p.Items[0].Payload["mission_id"], "payload is an object")
	assert.Equal(t, "red", p.Items[0].Payload["role"])
	assert.Nil(t, p.Items[0].ReadAt)
	assert.NotEmpty(t, p.Items[0].CreatedAt)
	assert.Empty(t, kinds(e.notifications(e.admin, "")), "nobody is notified of their own change")

	// The lead starts the mission: every member is told.
	rec := e.call("PATCH", e.path(""), `{"status":"active"}`, e.admin)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	for _, tok := range []string{e.red, e.blue, e.viewer} {
		assert.Equal(t, []string{"mission.status_changed", "mission.member_added"}, kinds(e.notifications(tok, "")), "newest first")
	}
	st := e.notifications(e.viewer, "").Items[0].Payload
	assert.Equal(t, "planned", st["from"])
	assert.Equal(t, "active", st["to"])

	// Red executes an ad-hoc test: blue is told, the viewer is not.
	tid := e.adhoc("whoami", `[]`)
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"state":"executed"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	bp := e.notifications(e.blue, "")
	require.Equal(t, "test.executed", bp.Items[0].Kind)
	assert.Equal(t, tid, bp.Items[0].Payload["test_id"])
	assert.NotContains(t, kinds(e.notifications(e.viewer, "")), "test.executed")

	// Blue records an outcome: red and the lead are told.
	rec = e.call("PATCH", e.path("/tests/"+tid), `{"outcomes":[{"control":"EDR","detection_level":"alerted"}]}`, e.blue)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, []string{"test.assessed"}, kinds(e.notifications(e.admin, "")))
	rp := e.notifications(e.red, "")
	require.Equal(t, []string{"test.assessed", "mission.status_changed", "mission.member_added"}, kinds(rp))
	assert.NotContains(t, kinds(e.notifications(e.blue, "")), "test.assessed", "blue made the change")

	// Counts and filters.
	assert.Equal(t, 3, e.unread(e.red))
	assert.Equal(t, 3, e.notifications(e.red, "?unread=true").Total)
	assert.Equal(t, 0, e.notifications(e.red, "?unread=false").Total)
	pg := e.notifications(e.red, "?per_page=1&page=2")
	assert.Equal(t, 3, pg.Total)
	assert.Equal(t, 2, pg.Page)
	assert.Equal(t, 1, pg.PerPage)
	assert.Equal(t, []string{"mission.status_changed"}, kinds(pg))
	for _, q := range []string{"?unread=maybe", "?per_page=0", "?per_page=201", "?page=x", "?unread=true&unread=false"} {
		rec := e.call("GET", "/api/v1/notifications"+q, "", e.red)
		assert.Equal(t, 400, rec.Code, q)
		assert.Equal(t, "invalid_query", decodeErr(t, rec).Error.Code, q)
	}

	// Mark one read: idempotent, first read time kept.
	first := rp.Items[0].ID
	rec = e.call("POST", "/api/v1/notifications/"+first+"/read", "", e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	got := jsonBody(t, rec)
	assert.Equal(t, first, got["id"])
	require.NotNil(t, got["read_at"])
	rec = e.call("POST", "/api/v1/notifications/"+first+"/read", "", e.red)
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, got["read_at"], jsonBody(t, rec)["read_at"], "marking again changes nothing")
	assert.Equal(t, 2, e.unread(e.red))
	assert.Equal(t, 2, e.notifications(e.red, "?unread=true").Total)
	read := e.notifications(e.red, "?unread=false")
	require.Equal(t, 1, read.Total)
	assert.Equal(t, first, read.Items[0].ID)

	// Isolation: another user's notification is not found, and never listed.
	blueUnread := e.unread(e.blue)
	require.Positive(t, blueUnread)
	for _, id := range []string{rp.Items[1].ID, db.NewID(), "not-a-uuid"} {
		rec := e.call("POST", "/api/v1/notifications/"+id+"/read", "", e.blue)
		assert.Equal(t, 404, rec.Code, id)
		assert.Equal(t, "not_found", decodeErr(t, rec).Error.Code)
	}
	for _, it := range e.notifications(e.blue, "").Items {
		for _, r := range rp.Items {
			assert.NotEqual(t, r.ID, it.ID)
		}
	}
	assert.Equal(t, 2, e.unread(e.red), "blue's attempts changed nothing")

	// Read all: only the caller's.
	rec = e.call("POST", "/api/v1/notifications/read-all", "", e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"marked":2}`, rec.Body.String())
	rec = e.call("POST", "/api/v1/notifications/read-all", "", e.red)
	assert.JSONEq(t, `{"marked":0}`, rec.Body.String())
	assert.Equal(t, 0, e.unread(e.red))
	assert.Equal(t, blueUnread, e.unread(e.blue))
	assert.Equal(t, 3, e.notifications(e.red, "").Total, "read notifications stay listed")

	// Anonymous callers get nothing.
	assert.Equal(t, 401, e.call("GET", "/api/v1/notifications", "", "").Code)
	assert.Equal(t, 401, e.call("POST", "/api/v1/notifications/read-all", "", "").Code)
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name, data string
}

// readEvent returns the next event, skipping comments and retry lines.
func readEvent(t *testing.T, r *bufio.Reader) (sseEvent, error) {
	t.Helper()
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "event:"):
			ev.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			ev.data += strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		}
	}
}

// unreadEvent reads the next unread event (skipping mission events) and
// returns its count.
func unreadEvent(t *testing.T, r *bufio.Reader) int {
	t.Helper()
	ev, err := readEvent(t, r)
	for err == nil && ev.name == "mission" {
		ev, err = readEvent(t, r)
	}
	require.NoError(t, err)
	require.Equal(t, "unread", ev.name)
	var c struct {
		Count *int `json:"count"`
	}
	require.NoError(t, json.Unmarshal([]byte(ev.data), &c), ev.data)
	require.NotNil(t, c.Count, ev.data)
	return *c.Count
}

// openStream opens GET /notifications/stream on base (a header token, or
// query, appended as is). The stream ends with ctx.
func openStream(t *testing.T, ctx context.Context, base, token, query string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/notifications/stream"+query, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func TestNotificationStream(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	uid, tok := e.user("streamer@example.com", groupViewers)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	res := openStream(t, ctx, ts.URL, tok, "")
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "text/event-stream; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	r := bufio.NewReader(res.Body)
	require.Equal(t, 0, unreadEvent(t, r), "the count is sent on connect")

	// A notification created by a mission action reaches the stream.
	rec := e.call("POST", "/api/v1/missions", `{"name":"Streamed"}`, e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	mid := jsonBody(t, rec)["id"].(string)
	rec = e.call("POST", "/api/v1/missions/"+mid+"/members", fmt.Sprintf(`{"user_id":%q,"role":"viewer"}`, uid), e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	require.Equal(t, 1, unreadEvent(t, r))

	// So does marking read (e.g. from another tab).
	rec = e.call("POST", "/api/v1/notifications/read-all", "", tok)
	require.Equal(t, 200, rec.Code)
	require.Equal(t, 0, unreadEvent(t, r))

	// Anonymous: 401 as JSON, no stream.
	anon := openStream(t, ctx, ts.URL, "", "")
	assert.Equal(t, 401, anon.StatusCode)
	assert.Contains(t, anon.Header.Get("Content-Type"), "application/json")
}

// missionEvent reads the next mission event (skipping unread counts).
func missionEvent(t *testing.T, r *bufio.Reader) map[string]any {
	t.Helper()
	ev, err := readEvent(t, r)
	for err == nil && ev.name == "unread" {
		ev, err = readEvent(t, r)
	}
	require.NoError(t, err)
	require.Equal(t, "mission", ev.name, ev.data)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(ev.data), &m), ev.data)
	return m
}

// TestMissionEventsStream: the live board. A change in a mission reaches
// the streams of its members as `event: mission` with ids only; a user
// who is not a member receives nothing of it.
func TestMissionEventsStream(t *testing.T) {
	t.Parallel()
	e := newMissionEnv(t)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	tid := e.adhoc("Live one", `[]`)
	require.Equal(t, 200, e.call("PATCH", e.path(""), `{"status":"active"}`, e.admin).Code)

	blue := openStream(t, ctx, ts.URL, e.blue, "")
	require.Equal(t, 200, blue.StatusCode)
	br := bufio.NewReader(blue.Body)
	outsiderID, outsider := e.user("watcher@example.com", groupBlue)
	out := openStream(t, ctx, ts.URL, outsider, "")
	or := bufio.NewReader(out.Body)
	require.Equal(t, 0, unreadEvent(t, or))

	rec := e.call("PATCH", e.path("/tests/"+tid), `{"state":"executed"}`, e.red)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	ev := missionEvent(t, br)
	assert.Equal(t, "test.updated", ev["kind"])
	assert.Equal(t, e.missionID, ev["mission_id"])
	assert.Equal(t, tid, ev["test_id"])
	assert.EqualValues(t, jsonBody(t, rec)["version"], ev["version"])
	assert.Equal(t, e.redID, ev["actor_id"])
	assert.NotContains(t, ev, "name", "ids only, no content")

	// A new test, a reorder and evidence are events too.
	tid2 := e.adhoc("Live two", `[]`)
	ev = missionEvent(t, br)
	assert.Equal(t, "test.added", ev["kind"])
	assert.Equal(t, tid2, ev["test_id"])
	rec = e.call("PUT", e.path("/tests/order"), fmt.Sprintf(`{"test_ids":[%q,%q]}`, tid2, tid), e.admin)
	require.Equal(t, 204, rec.Code, rec.Body.String())
	assert.Equal(t, "tests.reordered", missionEvent(t, br)["kind"])

	// The outsider saw none of it: their next event is about a mission
	// they were just added to.
	rec = e.call("POST", "/api/v1/missions", `{"name":"Theirs"}`, e.admin)
	require.Equal(t, 201, rec.Code)
	other := jsonBody(t, rec)["id"].(string)
	rec = e.call("POST", "/api/v1/missions/"+other+"/members", fmt.Sprintf(`{"user_id":%q,"role":"blue"}`, outsiderID), e.admin)
	require.Equal(t, 201, rec.Code, rec.Body.String())
	ev = missionEvent(t, or)
	assert.Equal(t, other, ev["mission_id"])
	assert.Equal(t, "members.changed", ev["kind"])
}

func TestNotificationStreamLimitsAndShutdown(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, tok := e.user("tabs@example.com")
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	var readers []*bufio.Reader
	for i := 0; i < notify.MaxStreamsPerUser; i++ {
		res := openStream(t, ctx, ts.URL, tok, "")
		require.Equal(t, 200, res.StatusCode)
		r := bufio.NewReader(res.Body)
		require.Equal(t, 0, unreadEvent(t, r))
		readers = append(readers, r)
	}
	// One more tab than allowed: 429; the SPA falls back to polling.
	res := openStream(t, ctx, ts.URL, tok, "")
	require.Equal(t, 429, res.StatusCode)
	body, _ := io.ReadAll(res.Body)
	assert.Contains(t, string(body), "too_many_streams")
	// The cap is per user.
	other := openStream(t, ctx, ts.URL, e.admin, "")
	require.Equal(t, 200, other.StatusCode)
	readers = append(readers, bufio.NewReader(other.Body))

	// Shutdown ends every stream (Run registers closeStreams with
	// RegisterOnShutdown) and refuses new ones.
	e.srv.closeStreams()
	for i, r := range readers {
		_, err := readEvent(t, r)
		if i == len(readers)-1 {
			// The admin's stream still holds its first event.
			require.NoError(t, err)
			_, err = readEvent(t, r)
		}
		assert.ErrorIs(t, err, io.EOF, "stream %d ends", i)
	}
	res = openStream(t, ctx, ts.URL, e.admin, "")
	assert.Equal(t, 503, res.StatusCode)
}

// Run's graceful shutdown ends open streams at once instead of waiting for
// its 10-second timeout.
func TestRunEndsNotificationStreams(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx, ln) }()
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(rcancel)
	res := openStream(t, rctx, "http://"+ln.Addr().String(), e.admin, "")
	require.Equal(t, 200, res.StatusCode)
	r := bufio.NewReader(res.Body)
	require.Equal(t, 0, unreadEvent(t, r))
	cancel()
	_, err = readEvent(t, r)
	require.ErrorIs(t, err, io.EOF, "the stream ends")
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-rctx.Done():
		require.Fail(t, "Run did not return")
	}
}

// The access token may travel in ?access_token= on the stream route only.
func TestNotificationStreamQueryToken(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t)
	e.setupAdmin()
	_, tok := e.user("query@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	handler := e.srv.Handler()
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	q := "?access_token=" + url.QueryEscape(tok)

	res := openStream(t, ctx, ts.URL, "", q)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, 0, unreadEvent(t, bufio.NewReader(res.Body)))

	// A bad token in the query is refused like a bad header.
	res = openStream(t, ctx, ts.URL, "", "?access_token=nope")
	assert.Equal(t, 401, res.StatusCode)
	res = openStream(t, ctx, ts.URL, "", "?access_token=")
	assert.Equal(t, 401, res.StatusCode)

	// Any other route ignores a query token.
	for _, path := range []string{"/api/v1/notifications/unread-count", "/api/v1/notifications"} {
		req := httptest.NewRequest("GET", path+q, nil)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		assert.Equal(t, 401, rec.Code, path)
	}
	req := httptest.NewRequest("POST", "/api/v1/notifications/read-all"+q, nil)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	assert.Equal(t, 401, rec.Code)
}
