package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/require"
)

// BenchmarkLogin is the cost that dominates a login: one argon2id
// verification with DefaultArgon2 (target 50–250 ms on a 2-core machine;
// bench/auth.sh reports the median).
func BenchmarkLogin(b *testing.B) {
	hash, err := HashPassword("correct horse battery staple", DefaultArgon2)
	require.NoError(b, err)
	for b.Loop() {
		if ok, _ := VerifyPassword(hash, "correct horse battery staple", DefaultArgon2); !ok {
			b.Fatal("verification failed")
		}
	}
}

// BenchmarkLoginService is a whole password login through the service with
// DefaultArgon2: the verification plus the session's database writes.
func BenchmarkLoginService(b *testing.B) {
	s, _ := benchService(b, DefaultArgon2)
	ctx := context.Background()
	for b.Loop() {
		res, err := s.Login(ctx, "bench@example.com", "correct horse battery staple", Meta{IP: "192.0.2.9"})
		if err != nil || res.Session == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticate resolves an access token to a principal in the
// steady state (principal cached for up to 30 s).
func BenchmarkAuthenticate(b *testing.B) {
	s, tok := benchService(b, Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	ctx := context.Background()
	for b.Loop() {
		p, err := s.Authenticate(ctx, tok)
		if err != nil || !p.Can("diag.reset") {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateUncached is the first request of a session after a
// cache miss (every 30 s, or after a permission change): the session and
// permission lookups in the database.
func BenchmarkAuthenticateUncached(b *testing.B) {
	s, tok := benchService(b, Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	ctx := context.Background()
	for b.Loop() {
		s.Invalidate()
		if _, err := s.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// benchService returns a service on a fresh database with one administrator
// and an access token of theirs.
func benchService(b *testing.B, argon Argon2Params) (*Service, string) {
	b.Helper()
	s, err := New(Options{DB: dbtest.New(b), Key: []byte(strings.Repeat("k", 32)), Argon2: argon})
	require.NoError(b, err)
	ctx := context.Background()
	_, err = s.CreateAdmin(ctx, "bench@example.com", "Bench", "correct horse battery staple")
	require.NoError(b, err)
	res, err := s.Login(ctx, "bench@example.com", "correct horse battery staple", Meta{IP: "192.0.2.9"})
	require.NoError(b, err)
	return s, res.AccessToken
}
