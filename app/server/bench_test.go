package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bunrouter"
)

// The guard's per-request cost: the same tiny handler behind a
// permission-gated route, and GET /health (public, no authentication) as
// the baseline. bench/auth.sh prints the medians and the difference.

const benchPerm = "test_template.read"

type benchEnv struct {
	srv      *Server
	access   string // access token of a login session
	apiToken string // pbk_ token narrowed to benchPerm
	auth     *auth.Service
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	set := newTestSet(b, dbtest.New(b), time.Now)
	a := set.Auth
	ctx := context.Background()
	_, err := a.CreateAdmin(ctx, "bench@example.com", "Bench", adminPassword)
	require.NoError(b, err)
	res, err := a.Login(ctx, "bench@example.com", adminPassword, auth.Meta{IP: "192.0.2.1"})
	require.NoError(b, err)
	p, err := a.Authenticate(ctx, res.AccessToken)
	require.NoError(b, err)
	perms := []string{benchPerm}
	tok, err := a.CreateAPIToken(ctx, p, auth.CreateAPITokenParams{Name: "bench", Permissions: &perms}, auth.Meta{})
	require.NoError(b, err)
	gated := Route{Method: "GET", Path: "/bench/gated", Access: Permission, Perm: benchPerm,
		h: func(w http.ResponseWriter, req bunrouter.Request) error {
			return writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": "test"})
		}}
	s := &Server{opts: Options{Set: set, Assets: testAssets, Version: "test"}, extraRoutes: []Route{gated}}
	s.handler = s.buildRouter()
	return &benchEnv{srv: s, access: res.AccessToken, apiToken: tok.Token, auth: a}
}

func (e *benchEnv) run(b *testing.B, path, token string, before func()) {
	b.Helper()
	h := e.srv.Handler()
	serve := func() {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = "192.0.2.1:1234"
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
	serve() // warm the principal cache
	b.ReportAllocs()
	for b.Loop() {
		if before != nil {
			before()
		}
		serve()
	}
}

// BenchmarkHealthGET is the baseline: the full middleware stack and router
// on a public route (no authentication).
func BenchmarkHealthGET(b *testing.B) {
	e := newBenchEnv(b)
	e.run(b, "/api/v1/health", "", nil)
}

// BenchmarkAuthenticatedGET is the same kind of request on a
// permission-gated route with an access token: authentication (HMAC check,
// cached principal) plus the permission check.
func BenchmarkAuthenticatedGET(b *testing.B) {
	e := newBenchEnv(b)
	e.run(b, "/api/v1/bench/gated", e.access, nil)
}

// BenchmarkAuthenticatedGETAPIToken is the same with a narrowed pbk_ token
// (sha256 of the token, cached principal).
func BenchmarkAuthenticatedGETAPIToken(b *testing.B) {
	e := newBenchEnv(b)
	e.run(b, "/api/v1/bench/gated", e.apiToken, nil)
}

// BenchmarkAuthenticatedGETUncached forces a principal-cache miss on every
// request (as after a permission change): the session and permission
// lookups in the database.
func BenchmarkAuthenticatedGETUncached(b *testing.B) {
	e := newBenchEnv(b)
	e.run(b, "/api/v1/bench/gated", e.access, e.auth.Invalidate)
}

// BenchmarkMitreTechniquesQ is GET /api/v1/mitre/techniques?q=proc through
// the whole stack (middleware, guard, handler) on the full enterprise
// catalogue: the per-request cost behind bench/mitre.sh's wrk figure,
// without the network. -benchmem gives its allocations.
func BenchmarkMitreTechniquesQ(b *testing.B) {
	e := newBenchEnv(b)
	f, err := os.Open(filepath.Join("..", "..", "..", "shared", "testdata", "attack", "enterprise-attack.json.gz"))
	require.NoError(b, err)
	defer f.Close()
	_, err = e.srv.opts.Mitre.Sync(context.Background(), mitre.SyncParams{Upload: f, AllowUnverified: true}, audit.Actor{Label: "bench"})
	require.NoError(b, err)
	e.run(b, "/api/v1/mitre/techniques?q=proc", e.access, nil)
}
