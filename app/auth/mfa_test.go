package auth

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecoveryCodes(t *testing.T) {
	codes, hashesJSON := newRecoveryCodes()
	require.Len(t, codes, RecoveryCodeCount)
	var hashes []string
	require.NoError(t, json.Unmarshal([]byte(hashesJSON), &hashes))
	require.Len(t, hashes, RecoveryCodeCount)
	re := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{2}$`)
	for i, c := range codes {
		assert.Regexp(t, re, c)
		n, ok := normalizeRecoveryCode(normalizeCode(c))
		require.True(t, ok, c)
		assert.Equal(t, hashes[i], hashToken(n))
	}
	// Typed loosely: upper case, spaces, o/i/l for 0/1/1.
	for typed, want := range map[string]string{
		"AB0C-DE1F-GH": "ab0cde1fgh",
		"abOc de1f gh": "ab0cde1fgh",
		"abocdeifgh":   "ab0cde1fgh",
		"ab0cdelfgh":   "ab0cde1fgh",
	} {
		n, ok := normalizeRecoveryCode(normalizeCode(typed))
		assert.True(t, ok, typed)
		assert.Equal(t, want, n, typed)
	}
	for _, bad := range []string{"", "abc", "ab0c-de1f-ghx", "ab0c-de1f-g!", "ab0c-de1f-gu"} {
		_, ok := normalizeRecoveryCode(normalizeCode(bad))
		assert.False(t, ok, bad)
	}
}

func TestCheckTOTPSkewAndReplay(t *testing.T) {
	now := time.Unix(1_750_000_000, 0) // mid-step
	s := &Service{now: func() time.Time { return now }}
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	code := func(d time.Duration) string {
		c, err := totp.GenerateCode(secret, now.Add(d))
		require.NoError(t, err)
		return c
	}
	assert.Equal(t, codeWrong, s.checkTOTP("u1", secret, code(-2*time.Minute)), "two steps late")
	assert.Equal(t, codeWrong, s.checkTOTP("u1", secret, code(2*time.Minute)), "two steps early")
	assert.Equal(t, codeOK, s.checkTOTP("u1", secret, code(-30*time.Second)), "one step late")
	assert.Equal(t, codeOK, s.checkTOTP("u1", secret, code(0)))
	assert.Equal(t, codeReused, s.checkTOTP("u1", secret, code(0)), "a code is accepted once")
	assert.Equal(t, codeReused, s.checkTOTP("u1", secret, code(-30*time.Second)), "an older step after a newer one")
	assert.Equal(t, codeOK, s.checkTOTP("u2", secret, code(0)), "per user")
	assert.Equal(t, codeOK, s.checkTOTP("u1", secret, code(30*time.Second)), "one step early")
}

func TestMFATokenSingleUse(t *testing.T) {
	var m mfaState
	now := time.Unix(1_750_000_000, 0) // the time is an argument: any will do
	assert.True(t, m.claimToken("a", now.Add(time.Minute), now))
	assert.False(t, m.claimToken("a", now.Add(time.Minute), now))
	m.releaseToken("a")
	assert.True(t, m.claimToken("a", now.Add(time.Minute), now))
	// Expired entries are forgotten.
	assert.True(t, m.claimToken("b", now.Add(time.Minute), now.Add(2*time.Minute)))
	assert.NotContains(t, m.spentToken, "a")
}

func TestCheckMFASetup(t *testing.T) {
	p := NewPrincipalForTest("u", "mission.read")
	assert.NoError(t, p.CheckMFASetup("/missions"))
	p.mfaSetupRequired = true
	for path, ok := range map[string]bool{
		"/auth/me": true, "/auth/mfa": true, "/auth/mfa/enroll": true, "/auth/mfa/confirm": true,
		"/auth/mfa/disable": true, "/auth/mfa/recovery-codes": true, "/auth/logout": true, "/auth/password": true,
		"/missions": false, "/api-tokens": false, "/settings": false, "/auth/mfaX": false, "/diag/db": false,
	} {
		assert.Equal(t, ok, p.CheckMFASetup(path) == nil, path)
	}
	var nilP *Principal
	assert.NoError(t, nilP.CheckMFASetup("/missions"))
}

func TestResetMFA(t *testing.T) {
	now := time.Date(2034, 5, 6, 7, 8, 9, 0, time.UTC)
	s, err := New(Options{DB: dbtest.New(t), Key: []byte(strings.Repeat("k", 32)),
		Argon2: Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Now:    func() time.Time { return now }})
	require.NoError(t, err)
	ctx := context.Background()
	id, err := s.CreateAdmin(ctx, "lost@example.com", "Lost", "correct horse battery staple")
	require.NoError(t, err)
	res, err := s.Login(ctx, "lost@example.com", "correct horse battery staple", Meta{})
	require.NoError(t, err)
	access := res.AccessToken
	p, err := s.Authenticate(ctx, access)
	require.NoError(t, err)
	en, err := s.EnrollMFA(ctx, p, Meta{})
	require.NoError(t, err)
	code, err := totp.GenerateCode(en.Secret, now)
	require.NoError(t, err)
	_, err = s.ConfirmMFA(ctx, p, code, Meta{})
	require.NoError(t, err)
	res, err = s.Login(ctx, "lost@example.com", "correct horse battery staple", Meta{})
	require.NoError(t, err)
	require.True(t, res.MFARequired)

	admin := NewPrincipalForTest(id, "user.manage")
	require.NoError(t, s.ResetMFA(ctx, admin, id, Meta{}))
	_, err = s.Authenticate(ctx, access)
	assert.ErrorIs(t, err, apperr.ErrUnauthenticated, "sessions end")
	res, err = s.Login(ctx, "lost@example.com", "correct horse battery staple", Meta{})
	require.NoError(t, err)
	assert.False(t, res.MFARequired, "password only again")
	assert.ErrorIs(t, s.ResetMFA(ctx, admin, id, Meta{}), apperr.ErrConflict)
	assert.ErrorIs(t, s.ResetMFA(ctx, admin, "nope", Meta{}), apperr.ErrNotFound)
}
