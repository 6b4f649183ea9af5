package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
)

// InvitationPreview is what the acceptance page may show before the account
// exists: the invited address, who invited, into which groups, until when.
// Nothing else about the instance leaks to the holder of the link.
type InvitationPreview struct {
	Email     string   `json:"email"`
	InvitedBy string   `json:"invited_by"` // the inviter's name; "" when made at the console or the account is gone
	Groups    []string `json:"groups"`
	ExpiresAt db.Time  `json:"expires_at"`
}

// throttleLookup is the throttle's account key for invitation lookups: the
// per-address counters are shared with login, so guessing tokens and
// guessing passwords draw on the same budget.
const throttleLookup = "\x00invitation-lookup"

var errLookupNotFound = apperr.New(apperr.ErrNotFound, "invitation_not_found",
	"This invitation link is not valid: it may have expired, been used or been replaced. Ask an administrator for a new one.")

// LookupInvitation previews a pending invitation by its token. Unknown,
// expired, revoked and used tokens are the same 404; failures count
// against the caller's address like failed logins.
func (s *Service) LookupInvitation(ctx context.Context, token string, m Meta) (InvitationPreview, error) {
	if wait := s.throttle.wait(throttleLookup, m.IP); wait > 0 {
		secs := max(1, int(wait.Round(time.Second)/time.Second))
		return InvitationPreview{}, &apperr.RetryAfter{Seconds: secs,
			Message: fmt.Sprintf("Too many invalid invitation links. Try again in %d seconds.", secs)}
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return InvitationPreview{}, &apperr.Invalid{Fields: map[string]string{"token": "is required"}}
	}
	fail := func() (InvitationPreview, error) {
		s.throttle.fail(throttleLookup, m.IP)
		return InvitationPreview{}, errLookupNotFound
	}
	if len(token) > 200 {
		return fail()
	}
	var row struct {
		ID        string  `db:"id"`
		CreatedBy *string `db:"created_by"`
	}
	err := s.db.Read.Select("id", "created_by").From("invitations").Where(dbx.HashExp{"token_hash": hashToken(token)}).
		WithContext(ctx).One(&row)
	if isNoRows(err) {
		return fail()
	}
	if err != nil {
		return InvitationPreview{}, fmt.Errorf("auth: lookup invitation: %w", err)
	}
	inv, err := s.getInvitation(ctx, s.db.Read, row.ID)
	if err != nil {
		return InvitationPreview{}, err
	}
	if inv.Status != InvitationPending {
		return fail()
	}
	p := InvitationPreview{Email: inv.Email, Groups: []string{}, ExpiresAt: inv.ExpiresAt}
	for _, g := range inv.Groups {
		p.Groups = append(p.Groups, g.Name)
	}
	if row.CreatedBy != nil {
		var name string
		err := s.db.Read.Select("name").From("users").Where(dbx.HashExp{"id": *row.CreatedBy, "deleted_at": nil}).
			WithContext(ctx).Row(&name)
		if err != nil && !isNoRows(err) {
			return InvitationPreview{}, fmt.Errorf("auth: invitation inviter: %w", err)
		}
		p.InvitedBy = name
	}
	return p, nil
}
