// Package server is the HTTP layer: router, middleware, the JSON error
// envelope, one handler file per resource, and the embedded SPA.
package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/services"
	"github.com/uptrace/bunrouter"
)

// Options are the server's dependencies, passed explicitly. The services
// come as one set (services.New), so the handlers reach them as s.opts.Auth,
// s.opts.Missions, …; none is built per request.
type Options struct {
	*services.Set
	// Imports is the staging area of bundle uploads (one per process);
	// nil answers bundle imports with 503.
	Imports     *bundle.Imports
	Assets      fs.FS // the built SPA (assets/dist)
	Version     string
	EnableReset bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (audit, login throttling); empty = the TCP peer is the
	// client.
	TrustedProxies []netip.Prefix
}

// Server serves the API and the SPA.
type Server struct {
	opts        Options
	handler     http.Handler
	routes      []Route
	extraRoutes []Route // tests add routes here
	openapi     *openAPIDoc
}

// New builds the router.
func New(opts Options) *Server {
	s := &Server{opts: opts}
	s.handler = s.buildRouter()
	return s
}

// Handler is the root http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists every API route with its access rule (for tests and docs).
func (s *Server) Routes() []Route { return s.routes }

// Run serves on ln until ctx is cancelled, then shuts down gracefully:
// in-flight requests get up to 10 seconds.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
		// Request contexts must not derive from ctx, or a shutdown would
		// abort in-flight queries instead of letting them finish.
		BaseContext: func(net.Listener) context.Context { return context.Background() },
	}
	// Long-lived streams (notifications) end when shutdown starts.
	srv.RegisterOnShutdown(s.closeStreams)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// chain applies the root middleware to h, in the order they run.
func chain(h bunrouter.HandlerFunc) bunrouter.HandlerFunc {
	mws := rootMiddleware()
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

func rootMiddleware() []bunrouter.MiddlewareFunc {
	return []bunrouter.MiddlewareFunc{requestID, accessLog, securityHeaders, errorEnvelope, recoverPanic}
}
