package server

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/diag"
	"github.com/purplebook/purplebook/app/text"
	"github.com/uptrace/bunrouter"
)

// Access says who may call a route.
type Access int

const (
	// Public routes answer anyone: health, setup, login.
	Public Access = iota
	// Authenticated routes need a valid token.
	Authenticated
	// Permission routes need a token whose user holds Route.Perm.
	Permission
)

// Route is one API endpoint. Every route declares its access rule here, in
// one table, so a test can walk them all.
type Route struct {
	Method string
	Path   string // below /api/v1
	Access Access
	Perm   string
	// Session: the route changes the caller's own credentials or profile
	// (password, MFA, API tokens, name, logout), so only a login session
	// may call it; a personal API token gets 403 session_required, however
	// it was narrowed, and cannot take over its owner's account.
	Session bool
	Limit   int64 // body size limit; 0 = DefaultBodyLimit
	h       bunrouter.HandlerFunc

	// The contract, for the OpenAPI document (openapi.go): a summary, the
	// request body (a zero value of the Go type it decodes, or Form, Media,
	// Alt), the success body (a zero value of the type it writes, Media for
	// other content, Responses for several statuses) and its status (0 =
	// 200; 204 with no Out). Query lists "name: what it does" parameters.
	Summary string
	In      any
	Out     any
	Status  int
	Query   []string
	Doc     string // more words for the description
}

func (s *Server) apiRoutes() []Route {
	rs := []Route{
		{Method: "GET", Path: "/health", Access: Public, h: s.health, Summary: "Liveness and version", Out: healthStatus{}},
		{Method: "GET", Path: openAPIPath, Access: Public, h: s.openAPI, Summary: "This OpenAPI 3.1 document",
			Out: Media{Type: "application/json", Desc: "The OpenAPI 3.1 description of every route"}},
		{Method: "GET", Path: "/diag/db", Access: Authenticated, h: s.diagDB, Summary: "Database reachability and schema version",
			Out: Responses{200: diag.DBStatus{}, 503: diag.DBStatus{}}},

		{Method: "GET", Path: "/setup", Access: Public, h: s.getSetup, Summary: "Whether first-run setup is needed", Out: setupStatus{}},
		{Method: "POST", Path: "/setup", Access: Public, h: s.postSetup, Summary: "Create the first administrator (needs the setup token)",
			In: auth.SetupParams{}, Out: auth.Session{}, Status: 201},
		{Method: "POST", Path: "/auth/login", Access: Public, h: s.login, Summary: "Sign in (email and password, or the MFA step: mfa_token and code)",
			In: loginRequest{}, Out: auth.LoginResult{}},
		{Method: "POST", Path: "/auth/refresh", Access: Public, h: s.refresh, Summary: "Rotate the refresh token (cookie or body)",
			In: refreshRequest{}, Out: auth.Session{}, Doc: "The body is optional: the HttpOnly refresh cookie is used when it is left out."},
		{Method: "POST", Path: "/auth/logout", Access: Authenticated, Session: true, h: s.logout, Summary: "Sign out", Status: 204},
		{Method: "GET", Path: "/auth/me", Access: Authenticated, h: s.me, Summary: "The caller with effective permissions", Out: auth.Me{}},
	}
	rs = append(rs, s.mitreRoutes()...)
	rs = append(rs, s.templateRoutes()...)
	rs = append(rs, s.libraryRoutes()...)
	rs = append(rs, s.missionRoutes()...)
	rs = append(rs, s.evidenceRoutes()...)
	rs = append(rs, s.adminRoutes()...)
	rs = append(rs, s.backupRoutes()...)
	rs = append(rs, s.auditRoutes()...)
	rs = append(rs, s.accountRoutes()...)
	rs = append(rs, s.notificationRoutes()...)
	rs = append(rs, s.levelRoutes()...)
	rs = append(rs, s.resultsRoutes()...)
	rs = append(rs, s.bundleRoutes()...)
	rs = append(rs, s.workRoutes()...)
	if s.opts.EnableReset {
		rs = append(rs, Route{Method: "POST", Path: "/diag/reset", Access: Permission, Perm: "diag.reset", h: s.diagReset,
			Summary: "Delete all data (only with --enable-reset)", Out: resetResult{}})
	}
	return rs
}

func (s *Server) buildRouter() http.Handler {
	// Two routers: the API (so a known path with the wrong method is a JSON
	// 405 and an unknown one a JSON 404) and the SPA (GET/HEAD of files with
	// a history fallback). /api is never answered with HTML.
	api := bunrouter.New(
		bunrouter.Use(rootMiddleware()...),
		bunrouter.WithNotFoundHandler(notFound),
		bunrouter.WithMethodNotAllowedHandler(chain(methodNotAllowed)),
	)
	s.routes = append(s.apiRoutes(), s.extraRoutes...)
	s.openapi = newOpenAPIDoc(s.routes, s.opts.Version)
	g := api.NewGroup("/api/v1")
	for _, rt := range s.routes {
		limit := rt.Limit
		if limit == 0 {
			limit = DefaultBodyLimit
		}
		g.Handle(rt.Method, rt.Path, limitBody(limit, s.acceptQueryToken(rt, s.guard(rt, rt.h))))
	}
	spa := bunrouter.New(
		bunrouter.Use(rootMiddleware()...),
		bunrouter.WithNotFoundHandler(s.spaHandler()),
		bunrouter.WithMethodNotAllowedHandler(chain(methodNotAllowed)),
	)
	spa.GET("/*path", s.spaHandler())
	spa.HEAD("/*path", s.spaHandler())
	rejectTarget := chain(func(w http.ResponseWriter, req bunrouter.Request) error {
		return apperr.BadRequest("invalid_request_target", "The request path or query %s.", badTarget(req.Request))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer lastResort(w, req)
		// Control bytes, invalid UTF-8 or broken escapes in the target are
		// refused before routing: the router never sees them.
		if badTarget(req) != "" {
			_ = rejectTarget(w, bunrouter.NewRequest(s.withClient(req)))
			return
		}
		req = s.withClient(req)
		if req.URL.Path == "/api" || strings.HasPrefix(req.URL.Path, "/api/") {
			api.ServeHTTP(w, req)
			return
		}
		spa.ServeHTTP(w, req)
	})
}

// badTarget says what is wrong with the request's path or query, or "":
// a control byte (NUL included), invalid UTF-8 once decoded, or an
// invalid percent-encoding.
func badTarget(req *http.Request) string {
	if p := checkText(req.URL.Path); p != "" {
		return p
	}
	if req.URL.RawPath != "" {
		if _, err := url.PathUnescape(req.URL.RawPath); err != nil {
			return "has an invalid percent-encoding"
		}
	}
	if req.URL.RawQuery == "" {
		return ""
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return "has an invalid percent-encoding"
	}
	for k, vs := range q {
		if p := checkText(k); p != "" {
			return p
		}
		for _, v := range vs {
			if p := checkText(v); p != "" {
				return p
			}
		}
	}
	return ""
}

func checkText(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return "contains a control character"
		}
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

// lastResort catches a panic that escaped every middleware (the router's
// own code): one log line, and a 500 envelope when nothing was written yet
// (net/http would otherwise drop the connection and log the whole stack).
func lastResort(w http.ResponseWriter, req *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	id := requestIDFrom(req.Context())
	if id == "" {
		id = newRequestID()
	}
	logPanic(req.Context(), id, "(router)", v)
	defer func() { _ = recover() }() // the response may be half written
	w.Header().Set("X-Request-ID", id)
	_ = writeJSON(w, http.StatusInternalServerError, envelope{Error: classify(errPanic), RequestID: id})
}

func notFound(w http.ResponseWriter, req bunrouter.Request) error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such endpoint: %s %s.", req.Method, cleanPath(req.URL.Path))
}

func methodNotAllowed(w http.ResponseWriter, req bunrouter.Request) error {
	return writeJSON(w, http.StatusMethodNotAllowed, envelope{
		Error: apiError{Code: "method_not_allowed",
			Message: "Method " + req.Method + " is not allowed on " + cleanPath(req.URL.Path) + ".",
			Details: map[string]any{}},
		RequestID: requestIDFrom(req.Context()),
	})
}

// cleanPath keeps error messages short and free of control characters.
func cleanPath(p string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, text.Ellipsis(p, 200))
}
