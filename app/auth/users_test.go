package auth

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func usrTestService(t *testing.T) *Service {
	t.Helper()
	s, err := New(Options{DB: dbtest.New(t), Key: []byte(strings.Repeat("k", 32)),
		Argon2: Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	return s
}

// Two administrators removing each other from Admins at the same moment:
// at most one succeeds, on either engine (PostgreSQL runs them truly in
// parallel; lockAdmins serialises them).
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := usrTestService(t)
	survivor, err := s.CreateAdmin(ctx, "first@example.com", "First", "a long enough password 1")
	require.NoError(t, err)
	for round := range 15 {
		other, err := s.CreateAdmin(ctx, fmt.Sprintf("admin%d@example.com", round), "Other", "a long enough password 1")
		require.NoError(t, err)
		pair := [2]string{survivor, other}
		start := make(chan struct{})
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				actor := NewPrincipalForTest(pair[i], "user.manage")
				<-start
				_, errs[i] = s.UpdateUser(ctx, actor, pair[1-i], UpdateUserParams{GroupIDs: patch.Value([]string{})}, Meta{})
			}()
		}
		close(start)
		wg.Wait()
		n, err := s.activeAdmins(ctx, s.db.Read)
		require.NoError(t, err)
		require.Equal(t, 1, n, "round %d: %v", round, errs)
		switch {
		case errs[0] == nil && errs[1] != nil:
			survivor = pair[0]
			assert.ErrorIs(t, errs[1], errLastAdmin)
		case errs[1] == nil && errs[0] != nil:
			survivor = pair[1]
			assert.ErrorIs(t, errs[0], errLastAdmin)
		default:
			t.Fatalf("round %d: exactly one demotion must win: %v", round, errs)
		}
	}
}
