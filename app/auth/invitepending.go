package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
)

// One pending invitation per address: two links for the same person are
// confusing (which one counts, which groups?) and the second was accepted
// silently. Creating one while another is pending is a 409
// invitation_pending with the existing invitation in details.existing; with
// replace the pending ones are revoked (audited) in the same transaction.

// ErrInvitationPending is the code of that conflict.
const ErrInvitationPending = "invitation_pending"

// settlePending runs inside CreateInvitation's transaction, after the new
// invitation newID was inserted.
func (s *Service) settlePending(ctx context.Context, tx *dbx.Tx, actor *Principal, m Meta, email, newID string, replace bool) error {
	now := s.nowTime()
	var ids []string
	err := tx.Select("id").From("invitations").
		Where(dbx.NewExp(`email_fold = {:e} AND id <> {:id} AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > {:now}`,
			dbx.Params{"e": db.Fold(email), "id": newID, "now": now})).
		OrderBy("created_at DESC", "id DESC").WithContext(ctx).Column(&ids)
	if err != nil {
		return fmt.Errorf("auth: pending invitations: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	if !replace {
		existing, err := s.getInvitation(ctx, tx, ids[0])
		if err != nil {
			return err
		}
		return apperr.New(apperr.ErrConflict, ErrInvitationPending,
			"%s already has a pending invitation (until %s). Replace it to send a new link; the old one stops working.",
			strings.TrimSpace(existing.Email), existing.ExpiresAt.String()).
			WithDetails(map[string]any{"existing": existing})
	}
	for _, id := range ids {
		if _, err := tx.Update("invitations", dbx.Params{"revoked_at": now, "updated_at": now}, dbx.HashExp{"id": id}).
			WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: replace invitation: %w", err)
		}
		if err := audit.Record(ctx, tx, now, actor.Actor(m), audit.Event{Action: "invitation.revoke", ObjectType: "invitation", ObjectID: id,
			Details: map[string]any{"email": email, "reason": "replaced", "replaced_by": newID,
				"before": map[string]any{"status": InvitationPending}, "after": map[string]any{"status": InvitationRevoked}}}); err != nil {
			return err
		}
	}
	return nil
}
