package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/text"
	"github.com/uptrace/bunrouter"
)

type ctxKey int

const requestInfoKey ctxKey = 1

// requestInfo is what the middleware learns about a request: its id and,
// once the guard has run, the authenticated caller. One context value holds
// both, so a request is copied once (WithContext) rather than once per value.
type requestInfo struct {
	id        string
	principal *auth.Principal
}

func requestInfoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey).(*requestInfo)
	return ri
}

func requestIDFrom(ctx context.Context) string {
	if ri := requestInfoFrom(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// newRequestID makes 16 hex digits. Request ids correlate log lines; they
// need not be unpredictable, so the fast per-thread generator of math/rand
// serves (no system call per request).
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// requestID takes a sane incoming X-Request-ID or makes one, and echoes it.
func requestID(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		id := req.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()["X-Request-Id"] = []string{id}
		ctx := context.WithValue(req.Context(), requestInfoKey, &requestInfo{id: id})
		return next(w, req.WithContext(ctx))
	}
}

// statusWriter remembers the status and size for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one line per request: never the query string or headers,
// which may carry tokens.
func accessLog(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		err := next(sw, req)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if !slog.Default().Enabled(req.Context(), level) {
			return err // the attributes below would be built for nothing
		}
		route := req.Route()
		if route == "" || route == "/*path" {
			route = "(static)"
		}
		slog.Log(req.Context(), level, "http_request",
			"request_id", requestIDFrom(req.Context()),
			"method", req.Method,
			"route", route,
			"status", status,
			"bytes", sw.bytes,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
		)
		return err
	}
}

// errPanic marks a recovered panic; its text is logged, never sent.
var errPanic = errors.New("panic")

// recoverPanic turns a panic into an error for errorEnvelope (a 500 without
// internals) and logs it (logPanic).
func recoverPanic(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logPanic(req.Context(), requestIDFrom(req.Context()), req.Route(), v)
				err = errPanic
			}
		}()
		return next(w, req)
	}
}

// logPanic writes one error line per panic: the request id, the route and
// the panic value cut to 200 characters. The stack goes to a second line
// at debug level only, so a client that can trigger a panic cannot flood
// the log.
func logPanic(ctx context.Context, requestID, route string, v any) {
	slog.ErrorContext(ctx, "panic_recovered", "request_id", requestID, "route", route,
		"panic", text.Ellipsis(fmt.Sprint(v), 200))
	if slog.Default().Enabled(ctx, slog.LevelDebug) {
		slog.DebugContext(ctx, "panic_stack", "request_id", requestID, "stack", string(debug.Stack()))
	}
}

// errorEnvelope writes the JSON error envelope for a handler's error, unless
// the handler already wrote its response.
func errorEnvelope(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		err := next(w, req)
		if err == nil {
			return nil
		}
		if errors.Is(err, errResponseWritten) || errors.Is(err, context.Canceled) && req.Context().Err() != nil {
			return nil
		}
		e := classify(err)
		if e.Status >= 500 && !errors.Is(err, errPanic) {
			slog.ErrorContext(req.Context(), "request_failed",
				"request_id", requestIDFrom(req.Context()), "route", req.Route(), "err", err)
		}
		var ra *apperr.RetryAfter
		if errors.As(err, &ra) {
			w.Header().Set("Retry-After", strconv.Itoa(ra.Seconds))
		}
		if e.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="purplebook"`)
		}
		_ = writeJSON(w, e.Status, envelope{Error: e, RequestID: requestIDFrom(req.Context())})
		return nil
	}
}

// contentSecurityPolicy is strict: everything from this origin only, no
// inline script or style, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaderValues are set on every response. The value slices are
// shared by all responses (net/http only reads them; Set and Add replace or
// reallocate, never write into them), which saves an allocation per header.
var securityHeaderValues = map[string][]string{
	"Content-Security-Policy":      {contentSecurityPolicy},
	"X-Content-Type-Options":       {"nosniff"},
	"X-Frame-Options":              {"DENY"},
	"Referrer-Policy":              {"no-referrer"},
	"Cross-Origin-Opener-Policy":   {"same-origin"},
	"Cross-Origin-Resource-Policy": {"same-origin"},
	"Permissions-Policy":           {"camera=(), microphone=(), geolocation=(), payment=()"},
}

var hstsValue = []string{"max-age=31536000"}

func securityHeaders(next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		h := w.Header()
		for k, v := range securityHeaderValues {
			h[k] = v
		}
		if req.TLS != nil {
			h["Strict-Transport-Security"] = hstsValue
		}
		return next(w, req)
	}
}

// limitBody caps the request body of one route.
func limitBody(limit int64, next bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	return func(w http.ResponseWriter, req bunrouter.Request) error {
		if req.Body == nil || req.Body == http.NoBody {
			return next(w, req) // nothing to read, nothing to limit
		}
		if req.ContentLength > limit {
			return &http.MaxBytesError{Limit: limit}
		}
		req.Body = http.MaxBytesReader(w, req.Body, limit)
		return next(w, req)
	}
}
