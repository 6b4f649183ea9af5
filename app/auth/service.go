// Package auth owns accounts and access: users, groups and permissions,
// first-run setup, login with rotating refresh tokens, access tokens,
// invitations, TOTP MFA, personal API tokens, and login throttling.
package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
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

// ---------------------------------------------------------------------------
// Principal

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
	return audit.Actor{UserID: p.UserID, Label: p.Email, IP: m.IP, RequestID: m.RequestID}
}

// NewPrincipalForTest builds a principal with the given permissions.
func NewPrincipalForTest(userID string, perms ...string) *Principal {
	p := &Principal{UserID: userID, Email: userID + "@test", perms: map[string]bool{}}
	for _, x := range perms {
		p.perms[x] = true
	}
	return p
}

// Errors every caller may see. Their messages never say whether an account
// exists.
var (
	errInvalidCredentials = apperr.New(apperr.ErrUnauthenticated, "invalid_credentials", "Email or password is incorrect.")
	errInvalidToken       = apperr.New(apperr.ErrUnauthenticated, "invalid_token", "The access token is invalid. Log in again.")
	errExpired            = apperr.New(apperr.ErrUnauthenticated, "token_expired", "The access token has expired. Refresh it or log in again.")
	errSessionEnded       = apperr.New(apperr.ErrUnauthenticated, "session_ended", "This session has ended. Log in again.")
	errInvalidRefresh     = apperr.New(apperr.ErrUnauthenticated, "invalid_refresh_token", "The refresh token is invalid or has expired. Log in again.")
)

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

type userRow struct {
	ID            string   `db:"id"`
	Email         string   `db:"email"`
	EmailFold     string   `db:"email_fold"`
	Name          string   `db:"name"`
	PasswordHash  string   `db:"password_hash"`
	Disabled      bool     `db:"disabled"`
	MFAEnabled    bool     `db:"mfa_enabled"`
	TOTPSecret    *string  `db:"totp_secret"`
	RecoveryCodes db.JSON  `db:"recovery_codes"`
	LastLoginAt   *db.Time `db:"last_login_at"`
	CreatedAt     db.Time  `db:"created_at"`
	UpdatedAt     db.Time  `db:"updated_at"`
	DeletedAt     *db.Time `db:"deleted_at"`
}

const userColumns = "id, email, email_fold, name, password_hash, disabled, mfa_enabled, totp_secret, recovery_codes, last_login_at, created_at, updated_at, deleted_at"

func (s *Service) getUser(ctx context.Context, b dbx.Builder, where dbx.Expression) (userRow, error) {
	var u userRow
	err := b.Select(strings.Split(userColumns, ", ")...).From("users").Where(where).WithContext(ctx).One(&u)
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.ErrNotFound
	}
	return u, err
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

func (s *Service) userPermissions(ctx context.Context, b dbx.Builder, userID string) ([]string, error) {
	var perms []string
	err := b.NewQuery(`SELECT DISTINCT gp.permission_key FROM user_groups ug
		JOIN groups g ON g.id = ug.group_id AND g.deleted_at IS NULL
		JOIN group_permissions gp ON gp.group_id = g.id
		WHERE ug.user_id = {:uid} ORDER BY gp.permission_key`).
		Bind(dbx.Params{"uid": userID}).WithContext(ctx).Column(&perms)
	if err != nil {
		return nil, fmt.Errorf("auth: permissions: %w", err)
	}
	return perms, nil
}

// ---------------------------------------------------------------------------
// Login, refresh, logout

// Session is the answer of a successful login or refresh.
type Session struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	User         Me     `json:"user"`
	// RefreshExpires is when the refresh token expires (for the cookie).
	RefreshExpires time.Time `json:"-"`
}

// LoginResult is either a Session or an MFA challenge.
type LoginResult struct {
	*Session
	MFARequired bool   `json:"mfa_required,omitempty"`
	MFAToken    string `json:"mfa_token,omitempty"`
}

// Login checks email and password. Unknown accounts and wrong passwords get
// the same answer after the same work. Repeated failures are throttled.
func (s *Service) Login(ctx context.Context, email, password string, m Meta) (LoginResult, error) {
	fold := db.Fold(email)
	if wait := s.throttle.wait(fold, m.IP); wait > 0 {
		secs := int(wait.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		return LoginResult{}, &apperr.RetryAfter{Seconds: secs,
			Message: fmt.Sprintf("Too many failed logins. Try again in %d seconds.", secs)}
	}
	if len(password) > 4*MaxPasswordLen || len(email) > 320 {
		return LoginResult{}, errInvalidCredentials
	}
	u, err := s.getUser(ctx, s.db.Read, dbx.HashExp{"email_fold": fold, "deleted_at": nil})
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return LoginResult{}, fmt.Errorf("auth: login: %w", err)
	}
	ok, rehash := false, false
	if err == nil {
		ok, rehash = VerifyPassword(u.PasswordHash, password, s.argon)
	} else {
		burnPasswordTime(password, s.argon)
	}
	if !ok || u.Disabled {
		s.throttle.fail(fold, m.IP)
		details := map[string]any{"email": truncate(email, 320)}
		if ok && u.Disabled {
			details["reason"] = "disabled"
		}
		_ = s.recordAnon(ctx, u.ID, email, m, "auth.login_failed", details)
		return LoginResult{}, errInvalidCredentials
	}
	s.throttle.succeed(fold, m.IP)
	if rehash {
		if h, err := HashPassword(password, s.argon); err == nil {
			_, _ = s.db.Write.Update("users", dbx.Params{"password_hash": h}, dbx.HashExp{"id": u.ID}).WithContext(ctx).Execute()
		}
	}
	if u.MFAEnabled {
		now := s.now()
		// The sid of an MFA token is a nonce: it makes the token single-use (LoginMFA).
		tok := s.signer.Sign(Claims{Type: "mfa", UserID: u.ID, SessionID: db.NewID(), IssuedAt: now.Unix(), ExpiresAt: now.Add(mfaTokenTTL).Unix()})
		return LoginResult{MFARequired: true, MFAToken: tok}, nil
	}
	sess, err := s.startSession(ctx, u.ID, m, "password")
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Session: sess}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// recordAnon writes an audit event for an unauthenticated action.
func (s *Service) recordAnon(ctx context.Context, userID, label string, m Meta, action string, details map[string]any) error {
	return audit.Record(ctx, s.db.Write, s.nowTime(), audit.Actor{UserID: userID, Label: truncate(label, 320), IP: m.IP, RequestID: m.RequestID},
		audit.Event{Action: action, ObjectType: "user", ObjectID: userID, Details: details})
}

// startSession creates a login session: a refresh token family and an
// access token.
func (s *Service) startSession(ctx context.Context, userID string, m Meta, method string) (*Session, error) {
	sessionID := db.NewID()
	var sess *Session
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		refresh, expires, err := s.insertRefresh(ctx, tx, userID, sessionID, sessionID, m)
		if err != nil {
			return err
		}
		now := s.nowTime()
		if _, err := tx.Update("users", dbx.Params{"last_login_at": now}, dbx.HashExp{"id": userID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		u, err := s.getUser(ctx, tx, dbx.HashExp{"id": userID})
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, now, audit.Actor{UserID: userID, Label: u.Email, IP: m.IP, RequestID: m.RequestID},
			audit.Event{Action: "auth.login", ObjectType: "user", ObjectID: userID, Details: map[string]any{"method": method, "session_id": sessionID}}); err != nil {
			return err
		}
		sess, err = s.newSession(ctx, tx, u, sessionID, refresh, expires)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: start session: %w", err)
	}
	return sess, nil
}

func (s *Service) insertRefresh(ctx context.Context, tx *dbx.Tx, userID, sessionID, familyID string, m Meta) (string, time.Time, error) {
	token := randomToken(32)
	now := s.now()
	expires := now.Add(s.refreshTTL)
	_, err := tx.Insert("refresh_tokens", dbx.Params{
		"id": db.NewID(), "user_id": userID, "session_id": sessionID, "family_id": familyID,
		"token_hash": hashToken(token), "expires_at": db.NewTime(expires),
		"user_agent": truncate(m.UserAgent, 512), "ip": truncate(m.IP, 64),
		"created_at": db.NewTime(now), "updated_at": db.NewTime(now),
	}).WithContext(ctx).Execute()
	return token, expires, err
}

func (s *Service) newSession(ctx context.Context, b dbx.Builder, u userRow, sessionID, refresh string, refreshExpires time.Time) (*Session, error) {
	now := s.now()
	access := s.signer.Sign(Claims{Type: "access", UserID: u.ID, SessionID: sessionID,
		IssuedAt: now.Unix(), ExpiresAt: now.Add(s.accessTTL).Unix()})
	me, err := s.me(ctx, b, u)
	if err != nil {
		return nil, err
	}
	return &Session{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(s.accessTTL / time.Second),
		RefreshToken: refresh, User: me, RefreshExpires: refreshExpires}, nil
}

type refreshRow struct {
	ID        string   `db:"id"`
	UserID    string   `db:"user_id"`
	SessionID string   `db:"session_id"`
	FamilyID  string   `db:"family_id"`
	ExpiresAt db.Time  `db:"expires_at"`
	RotatedAt *db.Time `db:"rotated_at"`
	RevokedAt *db.Time `db:"revoked_at"`
}

// Refresh rotates a refresh token: the presented one is spent and a new one
// issued. Presenting a spent token again means it was stolen (or replayed):
// the whole family is revoked and the event audited.
func (s *Service) Refresh(ctx context.Context, token string, m Meta) (*Session, error) {
	if token == "" || len(token) > 200 {
		return nil, errInvalidRefresh
	}
	var sess *Session
	var reuse, ended bool
	var sessionID string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var rt refreshRow
		err := tx.Select("id", "user_id", "session_id", "family_id", "expires_at", "rotated_at", "revoked_at").
			From("refresh_tokens").Where(dbx.HashExp{"token_hash": hashToken(token)}).WithContext(ctx).One(&rt)
		if errors.Is(err, sql.ErrNoRows) {
			return errInvalidRefresh
		}
		if err != nil {
			return err
		}
		now := s.nowTime()
		sessionID = rt.SessionID
		if rt.RevokedAt != nil {
			return errInvalidRefresh
		}
		if rt.RotatedAt != nil {
			reuse = true
			if err := s.revokeWhere(ctx, tx, dbx.HashExp{"family_id": rt.FamilyID}, "reuse"); err != nil {
				return err
			}
			return audit.Record(ctx, tx, now, audit.Actor{UserID: rt.UserID, Label: "refresh token", IP: m.IP, RequestID: m.RequestID},
				audit.Event{Action: "auth.refresh_reuse", ObjectType: "session", ObjectID: rt.SessionID,
					Details: map[string]any{"family_id": rt.FamilyID, "user_agent": truncate(m.UserAgent, 200)}})
		}
		if !rt.ExpiresAt.After(now.Time) {
			return errInvalidRefresh
		}
		u, err := s.getUser(ctx, tx, dbx.HashExp{"id": rt.UserID})
		if err != nil || u.Disabled || u.DeletedAt != nil {
			ended = true
			return s.revokeWhere(ctx, tx, dbx.HashExp{"family_id": rt.FamilyID}, "user_inactive")
		}
		newToken, expires, err := s.insertRefresh(ctx, tx, rt.UserID, rt.SessionID, rt.FamilyID, m)
		if err != nil {
			return err
		}
		var newID string
		if err := tx.Select("id").From("refresh_tokens").Where(dbx.HashExp{"token_hash": hashToken(newToken)}).WithContext(ctx).Row(&newID); err != nil {
			return err
		}
		res, err := tx.Update("refresh_tokens", dbx.Params{"rotated_at": now, "replaced_by": newID, "updated_at": now},
			dbx.And(dbx.HashExp{"id": rt.ID, "rotated_at": nil})).WithContext(ctx).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errInvalidRefresh // a concurrent refresh spent it first
		}
		sess, err = s.newSession(ctx, tx, u, rt.SessionID, newToken, expires)
		return err
	})
	switch {
	case reuse && err == nil:
		s.Invalidate()
		return nil, apperr.New(apperr.ErrUnauthenticated, "refresh_token_reused",
			"This refresh token was already used. For safety the session has been ended everywhere; log in again.")
	case ended && err == nil:
		s.Invalidate()
		return nil, errSessionEnded
	case err != nil:
		return nil, err
	}
	s.cache.Delete("s:" + sessionID)
	return sess, nil
}

func (s *Service) revokeWhere(ctx context.Context, tx dbx.Builder, where dbx.HashExp, reason string) error {
	now := s.nowTime()
	where["revoked_at"] = nil
	_, err := tx.Update("refresh_tokens", dbx.Params{"revoked_at": now, "revoked_reason": reason, "updated_at": now}, where).
		WithContext(ctx).Execute()
	return err
}

// Logout ends the principal's session: its refresh tokens are revoked and
// its access tokens stop working at once.
func (s *Service) Logout(ctx context.Context, p *Principal, m Meta) error {
	if p.SessionID == "" {
		return apperr.BadRequest("not_a_session", "API tokens are revoked under /api-tokens, not logged out.")
	}
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		if err := s.revokeWhere(ctx, tx, dbx.HashExp{"session_id": p.SessionID}, "logout"); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), p.Actor(m), audit.Event{Action: "auth.logout", ObjectType: "session", ObjectID: p.SessionID})
	})
	if err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	s.cache.Delete("s:" + p.SessionID)
	return nil
}

// LogoutRefresh ends the session a refresh token belongs to (logout from a
// page that holds only the cookie).
func (s *Service) LogoutRefresh(ctx context.Context, token string, m Meta) error {
	var rt refreshRow
	err := s.db.Read.Select("id", "user_id", "session_id", "family_id", "expires_at", "rotated_at", "revoked_at").
		From("refresh_tokens").Where(dbx.HashExp{"token_hash": hashToken(token)}).WithContext(ctx).One(&rt)
	if err != nil {
		return nil // nothing to end
	}
	p, err := s.loadPrincipal(ctx, rt.UserID)
	if err != nil {
		return nil
	}
	p.SessionID = rt.SessionID
	return s.Logout(ctx, p, m)
}

// ---------------------------------------------------------------------------
// Me

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

func (s *Service) userGroups(ctx context.Context, b dbx.Builder, userID string) ([]GroupRef, error) {
	groups := []GroupRef{}
	err := b.NewQuery(`SELECT g.id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id
		WHERE ug.user_id = {:uid} AND g.deleted_at IS NULL ORDER BY g.name_fold`).
		Bind(dbx.Params{"uid": userID}).WithContext(ctx).All(&groups)
	return groups, err
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

// ---------------------------------------------------------------------------
// First-run setup

// SetupNeeded reports whether no user exists yet.
func (s *Service) SetupNeeded(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.Read.Select("COUNT(*)").From("users").WithContext(ctx).Row(&n); err != nil {
		return false, fmt.Errorf("auth: count users: %w", err)
	}
	return n == 0, nil
}

// SetupTokenPath is where the one-time setup token is written.
func (s *Service) SetupTokenPath() string {
	if s.dataDir == "" {
		return ""
	}
	return filepath.Join(s.dataDir, "setup-token")
}

// PrepareSetup makes a new one-time setup token when no user exists, writes
// it to <data-dir>/setup-token (0600) and returns it; it returns "" (and
// removes a stale file) when setup is done.
func (s *Service) PrepareSetup(ctx context.Context) (string, error) {
	needed, err := s.SetupNeeded(ctx)
	if err != nil {
		return "", err
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	path := s.SetupTokenPath()
	if !needed {
		s.setupHash = ""
		if path != "" {
			_ = os.Remove(path)
		}
		return "", nil
	}
	token := randomToken(24)
	if path != "" {
		tmp := path + ".tmp"
		_ = os.Remove(tmp)
		if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("auth: write setup token: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("auth: write setup token: %w", err)
		}
	}
	s.setupHash = hashToken(token)
	return token, nil
}

// SetupParams create the first administrator.
type SetupParams struct {
	Token    string `json:"token"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// Setup creates the first administrator (member of Admins) with the
// one-time token, then logs them in.
func (s *Service) Setup(ctx context.Context, in SetupParams, m Meta) (*Session, error) {
	s.setupMu.Lock()
	want := s.setupHash
	s.setupMu.Unlock()
	needed, err := s.SetupNeeded(ctx)
	if err != nil {
		return nil, err
	}
	if !needed || want == "" {
		return nil, apperr.New(apperr.ErrConflict, "setup_done", "Setup is already complete. Log in instead.")
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(strings.TrimSpace(in.Token))), []byte(want)) != 1 {
		_ = s.recordAnon(ctx, "", in.Email, m, "setup.token_rejected", nil)
		return nil, apperr.New(apperr.ErrForbidden, "invalid_setup_token",
			"The setup token is wrong. Use the token printed by the server or stored in the setup-token file of its data directory.")
	}
	var userID string
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		// A marker row makes a concurrent second setup fail on its key,
		// whatever the isolation level.
		if _, err := tx.Insert("settings", dbx.Params{"key": "setup_completed_at", "value": string(db.MustJSON(s.nowTime().String())),
			"updated_at": s.nowTime()}).WithContext(ctx).Execute(); err != nil {
			return apperr.New(apperr.ErrConflict, "setup_done", "Setup is already complete. Log in instead.")
		}
		var err error
		userID, err = s.createUser(ctx, tx, CreateUserParams{Email: in.Email, Name: in.Name, Password: in.Password,
			GroupIDs: []string{AdminsGroupID}})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), audit.Actor{UserID: userID, Label: in.Email, IP: m.IP, RequestID: m.RequestID},
			audit.Event{Action: "setup.completed", ObjectType: "user", ObjectID: userID})
	})
	if err != nil {
		return nil, err
	}
	s.setupMu.Lock()
	s.setupHash = ""
	if p := s.SetupTokenPath(); p != "" {
		_ = os.Remove(p)
	}
	s.setupMu.Unlock()
	return s.startSession(ctx, userID, m, "setup")
}

// ---------------------------------------------------------------------------
// Users (creation shared by setup, invitations, the CLI and the admin API)

// CreateUserParams create an account.
type CreateUserParams struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	GroupIDs []string `json:"group_ids"`
}

// ValidateEmail returns a problem or "".
func ValidateEmail(e string) string {
	e = strings.TrimSpace(e)
	local, domain, ok := strings.Cut(e, "@")
	switch {
	case e == "":
		return "is required"
	case len(e) > 254:
		return "must be at most 254 characters"
	case !ok || local == "" || domain == "" || strings.ContainsAny(e, " \t\r\n<>\"(),;:\\[]") || strings.Count(e, "@") != 1:
		return "must be an email address like name@example.com"
	}
	return ""
}

// ValidateName returns a problem or "".
func ValidateName(n string) string {
	n = strings.TrimSpace(n)
	switch {
	case n == "":
		return "is required"
	case len([]rune(n)) > 200:
		return "must be at most 200 characters"
	case strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

func (s *Service) createUser(ctx context.Context, tx *dbx.Tx, in CreateUserParams) (string, error) {
	var inv apperr.Invalid
	if p := ValidateEmail(in.Email); p != "" {
		inv.Add("email", p)
	}
	if p := ValidateName(in.Name); p != "" {
		inv.Add("name", p)
	}
	if p := CheckPassword(in.Password, in.Email, in.Name); p != "" {
		inv.Add("password", p)
	}
	if err := inv.Err(); err != nil {
		return "", err
	}
	email := strings.TrimSpace(in.Email)
	var taken int
	if err := tx.Select("COUNT(*)").From("users").Where(dbx.HashExp{"email_fold": db.Fold(email), "deleted_at": nil}).
		WithContext(ctx).Row(&taken); err != nil {
		return "", err
	}
	if taken > 0 {
		return "", apperr.New(apperr.ErrConflict, "email_taken", "An account with this email already exists.").
			WithDetails(map[string]any{"email": "is already in use"})
	}
	if err := s.checkGroups(ctx, tx, in.GroupIDs); err != nil {
		return "", err
	}
	hash, err := HashPassword(in.Password, s.argon)
	if err != nil {
		return "", err
	}
	id, now := db.NewID(), s.nowTime()
	name := strings.TrimSpace(in.Name)
	_, err = tx.Insert("users", dbx.Params{"id": id, "email": email, "email_fold": db.Fold(email), "name": name,
		"name_fold": db.Fold(name), "password_hash": hash, "password_changed_at": now, "created_at": now, "updated_at": now,
	}).WithContext(ctx).Execute()
	if err != nil {
		return "", fmt.Errorf("auth: insert user: %w", err)
	}
	for _, g := range dedupe(in.GroupIDs) {
		if _, err := tx.Insert("user_groups", dbx.Params{"user_id": id, "group_id": g}).WithContext(ctx).Execute(); err != nil {
			return "", err
		}
	}
	s.Invalidate()
	return id, nil
}

// checkGroups makes sure every id names a live group.
func (s *Service) checkGroups(ctx context.Context, b dbx.Builder, ids []string) error {
	ids = dedupe(ids)
	var inv apperr.Invalid
	for _, id := range ids {
		if !db.ValidID(id) {
			inv.Add("group_ids", fmt.Sprintf("%q is not a group id", truncate(id, 64)))
			continue
		}
		var n int
		if err := b.Select("COUNT(*)").From("groups").Where(dbx.HashExp{"id": id, "deleted_at": nil}).WithContext(ctx).Row(&n); err != nil {
			return err
		}
		if n == 0 {
			inv.Add("group_ids", fmt.Sprintf("group %s does not exist", id))
		}
	}
	return inv.Err()
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
