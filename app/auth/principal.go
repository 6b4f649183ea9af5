package auth

// The authenticated caller: principals, how a bearer credential becomes
// one (cached per session or token), and the caller's own profile (Me).

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

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
	c, err := s.signer.Verify(bearer, "access", s.now())
	if errors.Is(err, errExpiredToken) {
		return nil, errExpired
	}
	if err != nil {
		return nil, errInvalidToken
	}
	gen := s.gen.Load()
	if v, ok := s.cache.Load("s:" + c.SessionID); ok {
		cp := v.(cachedPrincipal)
		if cp.gen == gen && s.now().Sub(cp.at) < principalCacheTTL && cp.p.UserID == c.UserID {
			return cp.p, nil
		}
	}
	var live int
	err = s.db.Read.Select("COUNT(*)").From("refresh_tokens").
		Where(dbx.HashExp{"session_id": c.SessionID, "user_id": c.UserID, "revoked_at": nil}).
		WithContext(ctx).Row(&live)
	if err != nil {
		return nil, fmt.Errorf("auth: session lookup: %w", err)
	}
	if live == 0 {
		return nil, errSessionEnded
	}
	p, err := s.loadPrincipal(ctx, c.UserID)
	if err != nil {
		return nil, err
	}
	p.SessionID = c.SessionID
	s.cache.Store("s:"+c.SessionID, cachedPrincipal{p: p, gen: gen, at: s.now()})
	return p, nil
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
