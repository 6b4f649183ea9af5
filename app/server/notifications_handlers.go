package server

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/purplebook/purplebook/app/db"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/notify"
	"github.com/uptrace/bunrouter"
)

// Notifications: every user sees and marks only their own, so the routes
// need authentication and no permission (the writes are on the self-service
// list of auth_test.go).
//
// Live badge: GET /notifications/stream is a Server-Sent Events stream that
// sends `event: unread` / `data: {"count":N}` on connect and whenever the
// count may have changed, and a comment line every streamHeartbeat so
// proxies keep the connection open. The same stream carries the live board:
// `event: mission` / `data: {"kind","mission_id","test_id","version","actor_id"}`
// for every committed change in a mission the user is a member of (ids
// only; the view re-reads through the API), and `event: resync` when events
// were dropped. SSE rather than WebSockets: one-way,
// plain HTTP, reconnects by itself, no extra dependency. Clients that cannot
// hold a stream (or hit the per-user cap, 429) poll GET
// /notifications/unread-count instead.

const notificationStreamPath = "/notifications/stream"

// streamHeartbeat is the interval of the keep-alive comment; at each beat
// the stream also re-checks its credential and the count.
const streamHeartbeat = 25 * time.Second

// streamRetryMillis tells EventSource how long to wait before reconnecting.
const streamRetryMillis = 5000

func (s *Server) notificationRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/notifications", Access: Authenticated, h: s.listNotifications, Summary: "My notifications", Query: paged("unread: true for unread only"), Out: db.Page[notify.Notification]{}},
		{Method: "GET", Path: "/notifications/unread-count", Access: Authenticated, h: s.unreadNotificationCount, Summary: "My unread count", Out: unreadCount{}},
		{Method: "GET", Path: notificationStreamPath, Access: Authenticated, h: s.notificationStream, Summary: "Live stream of unread counts and mission board events (SSE)",
			Query: []string{"access_token: the token, for EventSource (which cannot send headers)"},
			Out:   Media{Type: "text/event-stream", Desc: "Server-sent events: unread {count}, mission {event}, resync, unauthenticated"}},
		{Method: "POST", Path: "/notifications/read-all", Access: Authenticated, h: s.markAllNotificationsRead, Summary: "Mark all read", Out: markedCount{}},
		{Method: "POST", Path: "/notifications/:id/read", Access: Authenticated, h: s.markNotificationRead, Summary: "Mark one read", Out: notify.Notification{}},
	}
}

type unreadCount struct {
	Count int `json:"count"`
}

type markedCount struct {
	Marked int `json:"marked"`
}

func (s *Server) listNotifications(w http.ResponseWriter, req bunrouter.Request) error {
	var p notify.ListParams
	var err error
	if p.PageParams, err = pageParams(req); err != nil {
		return err
	}
	if p.Unread, err = queryBool(req, "unread"); err != nil {
		return err
	}
	page, err := s.opts.Notify.List(req.Context(), principal(req).UserID, p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) unreadNotificationCount(w http.ResponseWriter, req bunrouter.Request) error {
	n, err := s.opts.Notify.UnreadCount(req.Context(), principal(req).UserID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, unreadCount{Count: n})
}

func (s *Server) markNotificationRead(w http.ResponseWriter, req bunrouter.Request) error {
	n, err := s.opts.Notify.MarkRead(req.Context(), principal(req).UserID, req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, n)
}

func (s *Server) markAllNotificationsRead(w http.ResponseWriter, req bunrouter.Request) error {
	n, err := s.opts.Notify.MarkAllRead(req.Context(), principal(req).UserID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, markedCount{Marked: n})
}

// ---------------------------------------------------------------------------
// Live stream

// acceptQueryToken is the one exception to "credentials travel in the
// Authorization header": the browser's EventSource cannot set headers, so
// GET /notifications/stream also takes the access token as ?access_token=.
// It must run before the guard (buildRouter wraps every route's guarded
// handler with it); for every other route it returns next unchanged, so a
// query token is ignored there (401). The route stays Authenticated and the
// token is checked by the same guard as a header token. A header, when
// present, wins. The parameter is removed from the request URL before
// anything else sees it, and the access log never writes query strings, so
// the token does not reach the logs; Referrer-Policy is no-referrer.
func (s *Server) acceptQueryToken(rt Route, next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	if rt.Method != http.MethodGet || rt.Path != notificationStreamPath {
		return next
	}
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		q := req.URL.Query()
		vals, ok := q["access_token"]
		if !ok {
			return next(w, req)
		}
		q.Del("access_token")
		r := req.Request.Clone(req.Context()) // copies URL and Header
		r.URL.RawQuery = q.Encode()
		if r.Header.Get("Authorization") == "" && len(vals) == 1 && vals[0] != "" {
			r.Header.Set("Authorization", "Bearer "+vals[0])
		}
		req.Request = r
		return next(w, req)
	}
}

// notificationStream serves the SSE stream of the caller's unread count. It
// ends when the client leaves, when the server shuts down (closeStreams) or
// when the credential it was opened with stops being valid (logout, expiry,
// deactivation; checked at each heartbeat), after an `event: unauthenticated`
// that tells the SPA to reconnect with a fresh token.
func (s *Server) notificationStream(w http.ResponseWriter, req bunrouter.Request) error {
	p := principal(req)
	token := bearerToken(req)
	sub, err := s.opts.Notify.Subscribe(p.UserID)
	if err != nil {
		return err
	}
	defer sub.Close()
	ctx, done, ok := s.openStream(req.Context())
	if !ok {
		return apperr.New(apperr.ErrUnavailable, "shutting_down", "The server is shutting down; reconnect in a moment.")
	}
	defer done()

	count, err := s.opts.Notify.UnreadCount(ctx, p.UserID)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // tell nginx-style proxies not to buffer
	w.WriteHeader(http.StatusOK)

	send := func(chunk string) bool {
		if _, err := fmt.Fprint(w, chunk); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	unread := func(n int) string {
		b, _ := json.Marshal(map[string]int{"count": n})
		return "event: unread\ndata: " + string(b) + "\n\n"
	}
	if !send(fmt.Sprintf("retry: %d\n\n", streamRetryMillis) + unread(count)) {
		return nil
	}
	last := count
	recount := func() bool {
		n, err := s.opts.Notify.UnreadCount(ctx, p.UserID)
		if err != nil {
			if ctx.Err() == nil {
				slog.WarnContext(ctx, "notification_stream_count_failed", "request_id", requestIDFrom(ctx), "err", err)
			}
			return ctx.Err() == nil // keep the stream; the next signal or beat retries
		}
		if n == last {
			return true
		}
		last = n
		return send(unread(n))
	}
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.C:
			if !recount() {
				return nil
			}
		case <-sub.Events:
			if !send(missionEvents(sub.TakeEvents())) {
				return nil
			}
		case <-beat.C:
			if _, err := s.opts.Auth.Authenticate(ctx, token); err != nil {
				if ctx.Err() == nil {
					send("event: unauthenticated\ndata: {}\n\n")
				}
				return nil
			}
			if !send(": keep-alive\n\n") || !recount() {
				return nil
			}
		}
	}
}

// missionEvents writes mission events as SSE: `event: mission` with the
// event's JSON each, after an `event: resync` when some were dropped (the
// view reloads everything).
func missionEvents(evs []notify.Event, overflow bool) string {
	var b strings.Builder
	if overflow {
		b.WriteString("event: resync\ndata: {}\n\n")
	}
	for _, ev := range evs {
		j, _ := json.Marshal(ev)
		b.WriteString("event: mission\ndata: ")
		b.Write(j)
		b.WriteString("\n\n")
	}
	return b.String()
}

// streamSet tracks the open streams of one Server so that shutdown can end
// them: http.Server.Shutdown waits for active connections, and a stream is
// never idle.
type streamSet struct {
	mu      sync.Mutex
	cancels map[*int]context.CancelFunc
	closed  bool // shutting down: refuse new streams
	dead    bool // removed from streamSets: callers must look again
}

// streamSets maps *Server → *streamSet. A set is created by the first stream
// of a server and removed with its last (unless the server shut down), so
// servers without streams leave nothing behind.
var streamSets sync.Map

func (s *Server) liveStreamSet() *streamSet {
	for {
		v, _ := streamSets.LoadOrStore(s, &streamSet{cancels: map[*int]context.CancelFunc{}})
		set := v.(*streamSet)
		set.mu.Lock()
		if !set.dead {
			return set // locked
		}
		set.mu.Unlock()
	}
}

// openStream registers a stream: ctx ends with parent or at shutdown; call
// done when the stream ends. ok is false while the server shuts down.
func (s *Server) openStream(parent context.Context) (ctx context.Context, done func(), ok bool) {
	set := s.liveStreamSet()
	defer set.mu.Unlock()
	if set.closed {
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(parent)
	key := new(int)
	set.cancels[key] = cancel
	return ctx, func() {
		cancel()
		set.mu.Lock()
		defer set.mu.Unlock()
		delete(set.cancels, key)
		if len(set.cancels) == 0 && !set.closed {
			set.dead = true
			streamSets.CompareAndDelete(s, set)
		}
	}, true
}

// closeStreams ends every open notification stream of this server and
// refuses new ones. Run registers it: srv.RegisterOnShutdown(s.closeStreams).
func (s *Server) closeStreams() {
	set := s.liveStreamSet()
	defer set.mu.Unlock()
	set.closed = true
	for _, cancel := range set.cancels {
		cancel()
	}
}
