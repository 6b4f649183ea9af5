// Package auth owns accounts and access: users, groups and permissions,
// first-run setup, login with rotating refresh tokens, access tokens,
// invitations, TOTP MFA, personal API tokens, and login throttling.
package auth

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/settings"
)

// AdminsGroupID is the seeded Admins group (every permission).
const AdminsGroupID = "00000000-0000-7000-8000-000000000001"

// Token lifetimes.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 14 * 24 * time.Hour
	mfaTokenTTL       = 5 * time.Minute
	principalCacheTTL = 30 * time.Second
)

// Options configure the service.
type Options struct {
	DB         *db.DB
	Key        []byte // token signing key, ≥ 32 bytes
	DataDir    string // where setup-token lives; empty = no file
	Argon2     Argon2Params
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Now        func() time.Time
	Settings   *settings.Service // require_mfa; nil = one on DB with Now
}

// Service is the accounts-and-access capability.
type Service struct {
	db         *db.DB
	signer     *Signer
	dataDir    string
	argon      Argon2Params
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
	throttle   *throttle
	settings   *settings.Service

	setupMu   sync.Mutex
	setupHash string // sha256 of the current one-time setup token

	gen   atomic.Uint64 // bumped by every change to users, groups, permissions
	cache sync.Map      // session id or token hash → cachedPrincipal

	tokens     sync.Map     // access token text → *verifiedToken (principal.go)
	tokenCount atomic.Int64 // entries stored in tokens, approximately

	mfa mfaState // TOTP replay guard and spent MFA tokens (mfa.go)
}

type cachedPrincipal struct {
	p   *Principal
	gen uint64
	at  time.Time
}

// New builds the service.
func New(o Options) (*Service, error) {
	signer, err := NewSigner(o.Key)
	if err != nil {
		return nil, err
	}
	if o.Argon2.Memory == 0 {
		o.Argon2 = DefaultArgon2
	}
	if o.AccessTTL == 0 {
		o.AccessTTL = DefaultAccessTTL
	}
	if o.RefreshTTL == 0 {
		o.RefreshTTL = DefaultRefreshTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Settings == nil {
		o.Settings = settings.New(settings.Options{DB: o.DB, Now: o.Now})
	}
	return &Service{db: o.DB, signer: signer, dataDir: o.DataDir, argon: o.Argon2,
		accessTTL: o.AccessTTL, refreshTTL: o.RefreshTTL, now: o.Now, throttle: newThrottle(o.Now), settings: o.Settings}, nil
}

// Meta is what the HTTP layer knows about a request, for audit and throttling.
type Meta struct {
	IP        string
	UserAgent string
	RequestID string
}

// Invalidate drops every cached principal: permission, group and user
// changes take effect at the next request.
func (s *Service) Invalidate() { s.gen.Add(1) }

func (s *Service) nowTime() db.Time { return db.NewTime(s.now()) }

// Errors every caller may see. Their messages never say whether an account
// exists.
var (
	errInvalidCredentials = apperr.New(apperr.ErrUnauthenticated, "invalid_credentials", "Email or password is incorrect.")
	errInvalidToken       = apperr.New(apperr.ErrUnauthenticated, "invalid_token", "The access token is invalid. Log in again.")
	errExpired            = apperr.New(apperr.ErrUnauthenticated, "token_expired", "The access token has expired. Refresh it or log in again.")
	errSessionEnded       = apperr.New(apperr.ErrUnauthenticated, "session_ended", "This session has ended. Log in again.")
	errInvalidRefresh     = apperr.New(apperr.ErrUnauthenticated, "invalid_refresh_token", "The refresh token is invalid or has expired. Log in again.")
)
