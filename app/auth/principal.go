package auth

// The authenticated caller: principals, how a bearer credential becomes
// one (cached per session or token), and the caller's own profile (Me).

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID    string
	Email     string
	Name      string
	SessionID string // login session; empty for API tokens
	TokenID   string // API token id; empty for sessions
	perms     map[string]bool
	// mfaSetupRequired: the instance requires MFA and this user has not
	// enrolled; CheckMFASetup confines them to enrolment (mfa.go).
	mfaSetupRequired bool
}

// Can reports whether the principal holds perm.
func (p *Principal) Can(perm string) bool { return p != nil && p.perms[perm] }

// Permissions lists the effective permissions, sorted.
func (p *Principal) Permissions() []string {
	out := make([]string, 0, len(p.perms))
	for k := range p.perms {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Actor is the principal as recorded in the audit log.
func (p *Principal) Actor(m Meta) audit.Actor {
	if p == nil {
		return audit.Actor{Label: "anonymous", IP: m.IP, RequestID: m.RequestID}
	}
	return audit.Actor{UserID: p.UserID, Label: p.Email, Name: p.Name, IP: m.IP, RequestID: m.RequestID}
}

// NewPrincipalForTest builds a principal with the given permissions.
func NewPrincipalForTest(userID string, perms ...string) *Principal {
	p := &Principal{UserID: userID, Email: userID + "@test", perms: map[string]bool{}}
	for _, x := range perms {
		p.perms[x] = true
	}
	return p
}

// Authenticate resolves a bearer credential: an access token from login, or a
// personal API token (pbk_…).
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	if bearer == "" {
		return nil, apperr.New(apperr.ErrUnauthenticated, "unauthenticated", "Authentication required: send Authorization: Bearer <token>.")
	}
	if strings.HasPrefix(bearer, APITokenPrefix) {
		return s.authenticateAPIToken(ctx, bearer)
	}
	now := s.now()
	c, err := s.verifyAccess(bearer, now)
	if errors.Is(err, errExpiredToken) {
		return nil, errExpired
	}
	if err != nil {
		return nil, errInvalidToken
	}
	gen := s.gen.Load()
	if v, ok := s.cache.Load(c.cacheKey); ok {
		cp := v.(cachedPrincipal)
		if cp.gen == gen && now.Sub(cp.at) < principalCacheTTL && cp.p.UserID == c.userID {
			return cp.p, nil
		}
	}
	var live int
	err = s.db.Read.Select("COUNT(*)").From("refresh_tokens").
		Where(dbx.HashExp{"session_id": c.sessionID, "user_id": c.userID, "revoked_at": nil}).
		WithContext(ctx).Row(&live)
	if err != nil {
		return nil, fmt.Errorf("auth: session lookup: %w", err)
	}
	if live == 0 {
		return nil, errSessionEnded
	}
	p, err := s.loadPrincipal(ctx, c.userID)
	if err != nil {
		return nil, err
	}
	p.SessionID = c.sessionID
	s.cache.Store(c.cacheKey, cachedPrincipal{p: p, gen: gen, at: now})
	return p, nil
}

// verifiedToken is an access token whose signature has been checked: its
// claims, and the key of its session in the principal cache.
type verifiedToken struct {
	userID, sessionID string
	cacheKey          string // "s:" + session id
	exp               int64  // unix seconds
}

// maxVerifiedTokens bounds the verified-token cache. Access tokens live 15
// minutes, so it holds about as many entries as tokens were used in that
// time; beyond the bound, expired entries are swept, and if that is not
// enough the cache starts over.
const maxVerifiedTokens = 10_000

// verifyAccess checks an access token. A token is a pure function of the
// signing key, so a token verified once needs no second HMAC, decoding or
// JSON parse: it is looked up by its text (expiry is still checked at every
// use). Only successfully verified tokens are remembered, so the cache
// cannot be filled with garbage. Whether the session is still live and
// what the user may do is decided after this, by the principal cache.
func (s *Service) verifyAccess(bearer string, now time.Time) (*verifiedToken, error) {
	if v, ok := s.tokens.Load(bearer); ok {
		t := v.(*verifiedToken)
		if now.Unix() >= t.exp {
			return nil, errExpiredToken
		}
		return t, nil
	}
	c, err := s.signer.Verify(bearer, "access", now)
	if err != nil {
		return nil, err
	}
	t := &verifiedToken{userID: c.UserID, sessionID: c.SessionID, cacheKey: "s:" + c.SessionID, exp: c.ExpiresAt}
	if s.tokenCount.Add(1) > maxVerifiedTokens {
		s.sweepTokens(now)
	}
	s.tokens.Store(bearer, t)
	return t, nil
}

// sweepTokens drops expired verified tokens, or all of them when too many
// are still valid.
func (s *Service) sweepTokens(now time.Time) {
	var left int64
	s.tokens.Range(func(k, v any) bool {
		if now.Unix() >= v.(*verifiedToken).exp {
			s.tokens.Delete(k)
		} else {
			left++
		}
		return true
	})
	if left > maxVerifiedTokens/2 {
		s.tokens.Clear()
		left = 0
	}
	s.tokenCount.Store(left)
}

// loadPrincipal reads an active user and the union of their groups'
// permissions. A disabled or deleted user ends every session.
func (s *Service) loadPrincipal(ctx context.Context, userID string) (*Principal, error) {
	u, err := s.getUser(ctx, s.db.Read, dbx.HashExp{"id": userID})
	if errors.Is(err, apperr.ErrNotFound) || err == nil && (u.Disabled || u.DeletedAt != nil) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load user: %w", err)
	}
	perms, err := s.userPermissions(ctx, s.db.Read, userID)
	if err != nil {
		return nil, err
	}
	p := &Principal{UserID: u.ID, Email: u.Email, Name: u.Name, perms: map[string]bool{}}
	for _, k := range perms {
		p.perms[k] = true
	}
	if p.mfaSetupRequired, err = s.mfaSetupRequired(ctx, s.db.Read, u.MFAEnabled); err != nil {
		return nil, err
	}
	return p, nil
}

// GroupRef names a group.
type GroupRef struct {
	ID   string `json:"id" db:"id"`
	Name string `json:"name" db:"name"`
}

// Me is the signed-in user with effective permissions.
type Me struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	MFAEnabled  bool       `json:"mfa_enabled"`
	Groups      []GroupRef `json:"groups"`
	Permissions []string   `json:"permissions"`
	CreatedAt   db.Time    `json:"created_at"`
	LastLoginAt *db.Time   `json:"last_login_at"`
	// MFASetupRequired: the instance requires MFA and this account must
	// enrol before it can use anything but /auth/me, /auth/mfa/*,
	// /auth/logout and /auth/password.
	MFASetupRequired bool `json:"mfa_setup_required"`
}

func (s *Service) me(ctx context.Context, b dbx.Builder, u userRow) (Me, error) {
	groups, err := s.userGroups(ctx, b, u.ID)
	if err != nil {
		return Me{}, err
	}
	perms, err := s.userPermissions(ctx, b, u.ID)
	if err != nil {
		return Me{}, err
	}
	if perms == nil {
		perms = []string{}
	}
	setup, err := s.mfaSetupRequired(ctx, b, u.MFAEnabled)
	if err != nil {
		return Me{}, err
	}
	return Me{ID: u.ID, Email: u.Email, Name: u.Name, MFAEnabled: u.MFAEnabled, Groups: groups,
		Permissions: perms, CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt, MFASetupRequired: setup}, nil
}

// Me returns the principal's account with effective permissions (narrowed
// for API tokens).
func (s *Service) Me(ctx context.Context, p *Principal) (Me, error) {
	u, err := s.getUser(ctx, s.db.Read, dbx.HashExp{"id": p.UserID})
	if err != nil {
		return Me{}, err
	}
	m, err := s.me(ctx, s.db.Read, u)
	if err != nil {
		return Me{}, err
	}
	m.Permissions = p.Permissions()
	return m, nil
}
