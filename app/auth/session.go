package auth

// Login sessions: password (and MFA) login, rotating refresh tokens with
// family revocation, logout.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

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
		details := map[string]any{"email": text.Truncate(email, 320)}
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

// recordAnon writes an audit event for an unauthenticated action.
func (s *Service) recordAnon(ctx context.Context, userID, label string, m Meta, action string, details map[string]any) error {
	return audit.Record(ctx, s.db.Write, s.nowTime(), audit.Actor{UserID: userID, Label: text.Truncate(label, 320), IP: m.IP, RequestID: m.RequestID},
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
		where := dbx.HashExp{"token_hash": hashToken(token)}
		err := tx.Select("id").From("refresh_tokens").Where(where).WithContext(ctx).Row(&rt.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return errInvalidRefresh
		}
		if err != nil {
			return err
		}
		// Concurrent refreshes of one token queue here (PostgreSQL; SQLite's
		// write transactions are exclusive already) and each reads the state
		// the previous one left: one rotates, the next sees a reuse and
		// revokes the family, the rest find it revoked, on both engines.
		if err := s.db.LockForUpdate(ctx, tx, "refresh_tokens", rt.ID); err != nil {
			return err
		}
		err = tx.Select("id", "user_id", "session_id", "family_id", "expires_at", "rotated_at", "revoked_at").
			From("refresh_tokens").Where(where).WithContext(ctx).One(&rt)
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
					Details: map[string]any{"family_id": rt.FamilyID, "user_agent": text.Truncate(m.UserAgent, 200)}})
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
