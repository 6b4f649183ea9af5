package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

// Bounds of personal API tokens.
const (
	maxAPITokenName      = 100
	maxAPITokenDays      = 365
	maxLiveAPITokens     = 100 // per user: unrevoked and unexpired
	maxAPITokenPermCount = 100
)

// APIToken is a personal API token as its owner sees it (never its value).
type APIToken struct {
	ID     string `json:"id" db:"id"`
	Name   string `json:"name" db:"name"`
	Prefix string `json:"prefix" db:"prefix"`
	// Permissions narrows the token to a subset of the owner's
	// permissions; null means all of them (as they are at each use).
	Permissions []string `json:"permissions" db:"-" openapi:"nullable"`
	CreatedAt   db.Time  `json:"created_at" db:"created_at"`
	LastUsedAt  *db.Time `json:"last_used_at" db:"last_used_at"`
	ExpiresAt   *db.Time `json:"expires_at" db:"expires_at"`
	RevokedAt   *db.Time `json:"revoked_at" db:"revoked_at"`
	// Status is active, expired or revoked.
	Status string `json:"status" db:"-"`

	PermissionsJSON *db.JSON `json:"-" db:"permissions"`
}

// NewAPIToken is the answer of CreateAPIToken: the only time the token
// value is shown.
type NewAPIToken struct {
	APIToken
	Token string `json:"token"`
}

// CreateAPITokenParams are the body of POST /api-tokens.
type CreateAPITokenParams struct {
	Name          string    `json:"name"`
	ExpiresInDays *int      `json:"expires_in_days"` // absent or null: never expires
	Permissions   *[]string `json:"permissions"`     // absent or null: all the owner's permissions
}

func (t *APIToken) finish(now time.Time) error {
	if t.PermissionsJSON != nil && len(*t.PermissionsJSON) > 0 && string(*t.PermissionsJSON) != "null" {
		if err := json.Unmarshal(*t.PermissionsJSON, &t.Permissions); err != nil {
			return fmt.Errorf("auth: api token %s permissions: %w", t.ID, err)
		}
	}
	switch {
	case t.RevokedAt != nil:
		t.Status = "revoked"
	case t.ExpiresAt != nil && !t.ExpiresAt.After(now):
		t.Status = "expired"
	default:
		t.Status = "active"
	}
	return nil
}

// CreateAPIToken makes a personal API token for p. The value is returned
// once; only its sha256 is stored. A token may be narrowed to a subset of
// p's permissions. API tokens cannot create API tokens, so a leaked token
// cannot mint more.
func (s *Service) CreateAPIToken(ctx context.Context, p *Principal, in CreateAPITokenParams, m Meta) (NewAPIToken, error) {
	if p.TokenID != "" {
		return NewAPIToken{}, ErrSessionRequired
	}
	var inv apperr.Invalid
	name := strings.TrimSpace(in.Name)
	switch {
	case name == "":
		inv.Add("name", "is required")
	case utf8.RuneCountInString(name) > maxAPITokenName:
		inv.Add("name", fmt.Sprintf("must be at most %d characters", maxAPITokenName))
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		inv.Add("name", "must not contain control characters")
	}
	if in.ExpiresInDays != nil && (*in.ExpiresInDays < 1 || *in.ExpiresInDays > maxAPITokenDays) {
		inv.Add("expires_in_days", fmt.Sprintf("must be a whole number of days from 1 to %d (leave it out for a token that does not expire)", maxAPITokenDays))
	}
	var perms []string
	if in.Permissions != nil {
		perms = []string{}
		var extra []string
		for _, k := range *in.Permissions {
			k = strings.TrimSpace(k)
			if slices.Contains(perms, k) {
				continue
			}
			if !p.Can(k) {
				extra = append(extra, text.Truncate(k, 64))
				continue
			}
			perms = append(perms, k)
		}
		switch {
		case len(*in.Permissions) > maxAPITokenPermCount:
			inv.Add("permissions", fmt.Sprintf("must list at most %d permissions", maxAPITokenPermCount))
		case len(extra) > 0:
			if len(extra) > 10 {
				extra = append(extra[:10], "…")
			}
			inv.Add("permissions", "must be a subset of your own permissions; you do not hold: "+strings.Join(extra, ", "))
		}
		slices.Sort(perms)
	}
	if err := inv.Err(); err != nil {
		return NewAPIToken{}, err
	}
	token, prefix := newAPITokenValue()
	now := s.now()
	t := APIToken{ID: db.NewID(), Name: name, Prefix: prefix, Permissions: perms, CreatedAt: db.NewTime(now), Status: "active"}
	if in.ExpiresInDays != nil {
		exp := db.NewTime(now.Add(time.Duration(*in.ExpiresInDays) * 24 * time.Hour))
		t.ExpiresAt = &exp
	}
	var permsCol any
	if perms != nil {
		permsCol = string(db.MustJSON(perms))
	}
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var live int
		if err := tx.NewQuery(`SELECT COUNT(*) FROM api_tokens WHERE user_id = {:uid} AND revoked_at IS NULL
			AND (expires_at IS NULL OR expires_at > {:now})`).
			Bind(dbx.Params{"uid": p.UserID, "now": t.CreatedAt}).WithContext(ctx).Row(&live); err != nil {
			return err
		}
		if live >= maxLiveAPITokens {
			return apperr.New(apperr.ErrConflict, "too_many_api_tokens",
				"You have %d active API tokens, the most allowed. Revoke one you no longer use.", live)
		}
		if _, err := tx.Insert("api_tokens", dbx.Params{"id": t.ID, "user_id": p.UserID, "name": name, "prefix": prefix,
			"token_hash": hashToken(token), "permissions": permsCol, "expires_at": t.ExpiresAt,
			"created_at": t.CreatedAt, "updated_at": t.CreatedAt}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: insert api token: %w", err)
		}
		return audit.Record(ctx, tx, s.nowTime(), p.Actor(m), audit.Event{Action: "api_token.create", ObjectType: "api_token", ObjectID: t.ID,
			Details: map[string]any{"name": name, "prefix": prefix, "permissions": perms, "expires_at": t.ExpiresAt}})
	})
	if err != nil {
		return NewAPIToken{}, err
	}
	return NewAPIToken{APIToken: t, Token: token}, nil
}

// ListAPITokens returns p's tokens, newest first, revoked and expired ones
// included (they say so in status).
func (s *Service) ListAPITokens(ctx context.Context, p *Principal, pp db.PageParams) (db.Page[APIToken], error) {
	pp = pp.Normalize()
	where := dbx.HashExp{"user_id": p.UserID}
	var total int
	if err := s.db.Read.Select("COUNT(*)").From("api_tokens").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[APIToken]{}, fmt.Errorf("auth: count api tokens: %w", err)
	}
	var items []APIToken
	err := s.db.Read.Select("id", "name", "prefix", "permissions", "created_at", "last_used_at", "expires_at", "revoked_at").
		From("api_tokens").Where(where).OrderBy("created_at DESC", "id DESC").
		Limit(int64(pp.PerPage)).Offset(pp.Offset()).WithContext(ctx).All(&items)
	if err != nil {
		return db.Page[APIToken]{}, fmt.Errorf("auth: list api tokens: %w", err)
	}
	now := s.now()
	for i := range items {
		if err := items[i].finish(now); err != nil {
			return db.Page[APIToken]{}, err
		}
	}
	return db.NewPage(items, total, pp), nil
}

var errAPITokenNotFound = apperr.New(apperr.ErrNotFound, "api_token_not_found", "No such API token.")

// RevokeAPIToken revokes one of p's tokens; it stops working at once.
// Other users' tokens are not found. Revoking a revoked token changes
// nothing.
func (s *Service) RevokeAPIToken(ctx context.Context, p *Principal, id string, m Meta) error {
	if p.TokenID != "" {
		return ErrSessionRequired
	}
	if !db.ValidID(id) {
		return errAPITokenNotFound
	}
	var revoked bool
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var t struct {
			Name      string   `db:"name"`
			Prefix    string   `db:"prefix"`
			RevokedAt *db.Time `db:"revoked_at"`
		}
		err := tx.Select("name", "prefix", "revoked_at").From("api_tokens").
			Where(dbx.HashExp{"id": id, "user_id": p.UserID}).WithContext(ctx).One(&t)
		if errors.Is(err, sql.ErrNoRows) {
			return errAPITokenNotFound
		}
		if err != nil || t.RevokedAt != nil {
			return err
		}
		now := s.nowTime()
		if _, err := tx.Update("api_tokens", dbx.Params{"revoked_at": now, "updated_at": now},
			dbx.HashExp{"id": id, "revoked_at": nil}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: revoke api token: %w", err)
		}
		revoked = true
		return audit.Record(ctx, tx, now, p.Actor(m), audit.Event{Action: "api_token.revoke", ObjectType: "api_token", ObjectID: id,
			Details: map[string]any{"name": t.Name, "prefix": t.Prefix, "via_token": p.TokenID != ""}})
	})
	if err != nil {
		return err
	}
	if revoked {
		// Drop every cached principal: a request authenticating right now
		// read its generation before this bump and cannot cache the token.
		s.Invalidate()
	}
	return nil
}
