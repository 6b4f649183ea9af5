package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
)

// APITokenPrefix starts every personal API token, so secret scanners and
// humans recognise them.
const APITokenPrefix = "pbk_"

type apiTokenRow struct {
	ID          string   `db:"id"`
	UserID      string   `db:"user_id"`
	Permissions *db.JSON `db:"permissions"`
	ExpiresAt   *db.Time `db:"expires_at"`
	LastUsedAt  *db.Time `db:"last_used_at"`
	RevokedAt   *db.Time `db:"revoked_at"`
}

// authenticateAPIToken resolves a pbk_ token to its owner, with the owner's
// current permissions narrowed to the token's subset.
func (s *Service) authenticateAPIToken(ctx context.Context, token string) (*Principal, error) {
	if len(token) > 200 {
		return nil, errInvalidToken
	}
	h := hashToken(token)
	gen := s.gen.Load()
	if v, ok := s.cache.Load("t:" + h); ok {
		cp := v.(cachedPrincipal)
		if cp.gen == gen && s.now().Sub(cp.at) < principalCacheTTL {
			return cp.p, nil
		}
	}
	var t apiTokenRow
	err := s.db.Read.Select("id", "user_id", "permissions", "expires_at", "last_used_at", "revoked_at").
		From("api_tokens").Where(dbx.HashExp{"token_hash": h}).WithContext(ctx).One(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("auth: api token lookup: %w", err)
	}
	now := s.now()
	if t.RevokedAt != nil {
		return nil, apperr.New(apperr.ErrUnauthenticated, "token_revoked", "This API token has been revoked.")
	}
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		return nil, apperr.New(apperr.ErrUnauthenticated, "token_expired", "This API token has expired.")
	}
	p, err := s.loadPrincipal(ctx, t.UserID)
	if err != nil {
		return nil, err
	}
	p.TokenID = t.ID
	if t.Permissions != nil && len(*t.Permissions) > 0 && string(*t.Permissions) != "null" {
		var subset []string
		if err := json.Unmarshal(*t.Permissions, &subset); err != nil {
			return nil, fmt.Errorf("auth: api token %s permissions: %w", t.ID, err)
		}
		narrowed := map[string]bool{}
		for _, k := range subset {
			if p.perms[k] {
				narrowed[k] = true
			}
		}
		p.perms = narrowed
	}
	// last_used_at is written at most once a minute per token.
	if t.LastUsedAt == nil || now.Sub(t.LastUsedAt.Time) > 60e9 {
		_, _ = s.db.Write.Update("api_tokens", dbx.Params{"last_used_at": db.NewTime(now)}, dbx.HashExp{"id": t.ID}).
			WithContext(ctx).Execute()
	}
	// A token that expires before the cache entry would is not cached, so
	// expiry takes effect on time.
	if t.ExpiresAt == nil || t.ExpiresAt.Sub(now) > principalCacheTTL {
		s.cache.Store("t:"+h, cachedPrincipal{p: p, gen: gen, at: now})
	}
	return p, nil
}

// newAPITokenValue returns a fresh token and the short prefix shown in lists.
func newAPITokenValue() (token, prefix string) {
	token = APITokenPrefix + randomToken(32)
	return token, token[:len(APITokenPrefix)+6]
}

var _ = strings.HasPrefix
