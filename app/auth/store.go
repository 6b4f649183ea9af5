package auth

// Account rows and the queries the rules share: users, permissions,
// groups of a user, refresh tokens, user creation.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

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

func (s *Service) insertRefresh(ctx context.Context, tx *dbx.Tx, userID, sessionID, familyID string, m Meta) (string, time.Time, error) {
	token := randomToken(32)
	now := s.now()
	expires := now.Add(s.refreshTTL)
	_, err := tx.Insert("refresh_tokens", dbx.Params{
		"id": db.NewID(), "user_id": userID, "session_id": sessionID, "family_id": familyID,
		"token_hash": hashToken(token), "expires_at": db.NewTime(expires),
		"user_agent": text.Truncate(m.UserAgent, 512), "ip": text.Truncate(m.IP, 64),
		"created_at": db.NewTime(now), "updated_at": db.NewTime(now),
	}).WithContext(ctx).Execute()
	return token, expires, err
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

func (s *Service) revokeWhere(ctx context.Context, tx dbx.Builder, where dbx.HashExp, reason string) error {
	now := s.nowTime()
	where["revoked_at"] = nil
	_, err := tx.Update("refresh_tokens", dbx.Params{"revoked_at": now, "revoked_reason": reason, "updated_at": now}, where).
		WithContext(ctx).Execute()
	return err
}

// revokeAPITokens revokes every live API token of a user and returns how
// many: a credential change (password, MFA reset) or a deactivation ends
// the tokens minted under the old credentials too, for good.
func (s *Service) revokeAPITokens(ctx context.Context, tx dbx.Builder, userID string) (int64, error) {
	now := s.nowTime()
	res, err := tx.Update("api_tokens", dbx.Params{"revoked_at": now, "updated_at": now},
		dbx.HashExp{"user_id": userID, "revoked_at": nil}).WithContext(ctx).Execute()
	if err != nil {
		return 0, fmt.Errorf("auth: revoke api tokens: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func (s *Service) userGroups(ctx context.Context, b dbx.Builder, userID string) ([]GroupRef, error) {
	groups := []GroupRef{}
	err := b.NewQuery(`SELECT g.id, g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id
		WHERE ug.user_id = {:uid} AND g.deleted_at IS NULL ORDER BY g.name_fold`).
		Bind(dbx.Params{"uid": userID}).WithContext(ctx).All(&groups)
	return groups, err
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
			inv.Add("group_ids", fmt.Sprintf("must be group ids (%q is not)", text.Truncate(id, 64)))
			continue
		}
		var n int
		if err := b.Select("COUNT(*)").From("groups").Where(dbx.HashExp{"id": id, "deleted_at": nil}).WithContext(ctx).Row(&n); err != nil {
			return err
		}
		if n == 0 {
			inv.Add("group_ids", fmt.Sprintf("include a group that does not exist (%s)", id))
		}
	}
	return inv.Err()
}
