package server

import (
	"net/http"
	"strings"

	"github.com/purplebook/purplebook/app/apperr"
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
	Limit  int64 // body size limit; 0 = DefaultBodyLimit
	h      bunrouter.HandlerFunc
}

func (s *Server) apiRoutes() []Route {
	rs := []Route{
		{Method: "GET", Path: "/health", Access: Public, h: s.health},
		{Method: "GET", Path: "/diag/db", Access: Authenticated, h: s.diagDB},

		{Method: "GET", Path: "/setup", Access: Public, h: s.getSetup},
		{Method: "POST", Path: "/setup", Access: Public, h: s.postSetup},
		{Method: "POST", Path: "/auth/login", Access: Public, h: s.login},
		{Method: "POST", Path: "/auth/refresh", Access: Public, h: s.refresh},
		{Method: "POST", Path: "/auth/logout", Access: Authenticated, h: s.logout},
		{Method: "GET", Path: "/auth/me", Access: Authenticated, h: s.me},
	}
	rs = append(rs, s.mitreRoutes()...)
	rs = append(rs, s.templateRoutes()...)
	rs = append(rs, s.libraryRoutes()...)
	rs = append(rs, s.missionRoutes()...)
	rs = append(rs, s.evidenceRoutes()...)
	rs = append(rs, s.adminRoutes()...)
	rs = append(rs, s.accountRoutes()...)
	rs = append(rs, s.notificationRoutes()...)
	rs = append(rs, s.levelRoutes()...)
	rs = append(rs, s.workRoutes()...)
	if s.opts.EnableReset {
		rs = append(rs, Route{Method: "POST", Path: "/diag/reset", Access: Permission, Perm: "diag.reset", h: s.diagReset})
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
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/api" || strings.HasPrefix(req.URL.Path, "/api/") {
			api.ServeHTTP(w, req)
			return
		}
		spa.ServeHTTP(w, req)
	})
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
