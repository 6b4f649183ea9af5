package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

// Invitation lifetimes, in hours.
const (
	DefaultInvitationHours = 72
	MaxInvitationHours     = 720
)

// Invitation statuses, derived from the row and the clock.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// InvitationStatuses lists the statuses, for filters.
var InvitationStatuses = []string{InvitationPending, InvitationAccepted, InvitationRevoked, InvitationExpired}

// Invitation is an invitation as administrators see it (never its token).
type Invitation struct {
	ID             string     `json:"id" db:"id"`
	Email          string     `json:"email" db:"email"`
	Groups         []GroupRef `json:"groups" db:"-"`
	Status         string     `json:"status" db:"-"`
	ExpiresAt      db.Time    `json:"expires_at" db:"expires_at"`
	CreatedAt      db.Time    `json:"created_at" db:"created_at"`
	CreatedBy      *string    `json:"created_by" db:"created_by"`
	AcceptedAt     *db.Time   `json:"accepted_at" db:"accepted_at"`
	AcceptedUserID *string    `json:"accepted_user_id" db:"accepted_user_id"`
	RevokedAt      *db.Time   `json:"revoked_at" db:"revoked_at"`
}

// NewInvitation is a just-created invitation with its one-time token,
// which is shown once and stored only as a hash.
type NewInvitation struct {
	Invitation
	Token string `json:"token"`
}

func (inv *Invitation) derive(now time.Time) {
	switch {
	case inv.AcceptedAt != nil:
		inv.Status = InvitationAccepted
	case inv.RevokedAt != nil:
		inv.Status = InvitationRevoked
	case !inv.ExpiresAt.After(now):
		inv.Status = InvitationExpired
	default:
		inv.Status = InvitationPending
	}
}

var errInvitationNotFound = apperr.New(apperr.ErrNotFound, "invitation_not_found", "No such invitation.")

// CreateInvitationParams create an invitation. ExpiresInHours defaults to
// 72 and may be at most 720.
type CreateInvitationParams struct {
	Email          string   `json:"email"`
	GroupIDs       []string `json:"group_ids"`
	ExpiresInHours *int     `json:"expires_in_hours"`
	// Replace revokes the address's pending invitations; without it a
	// pending one is a 409 invitation_pending naming it.
	Replace bool `json:"replace"`
}

// CreateInvitation makes a one-time invitation for an address that has no
// live account yet.
func (s *Service) CreateInvitation(ctx context.Context, actor *Principal, in CreateInvitationParams, m Meta) (NewInvitation, error) {
	var inv apperr.Invalid
	if p := ValidateEmail(in.Email); p != "" {
		inv.Add("email", p)
	}
	hours := DefaultInvitationHours
	if in.ExpiresInHours != nil {
		hours = *in.ExpiresInHours
		if hours < 1 || hours > MaxInvitationHours {
			inv.Add("expires_in_hours", fmt.Sprintf("must be between 1 and %d", MaxInvitationHours))
		}
	}
	email := strings.TrimSpace(in.Email)
	token := randomToken(32)
	var id string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		if err := s.checkGroups(ctx, tx, in.GroupIDs); err != nil && !mergeInvalid(&inv, err) {
			return err
		}
		if err := inv.Err(); err != nil {
			return err
		}
		// A placeholder account (imported with a mission bundle) does not
		// block an invitation: accepting it activates that account.
		var taken int
		if err := tx.NewQuery(`SELECT COUNT(*) FROM users WHERE email_fold = {:e} AND deleted_at IS NULL AND NOT (` + placeholderCond + `)`).
			Bind(dbx.Params{"e": db.Fold(email)}).WithContext(ctx).Row(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return errEmailTaken()
		}
		id = db.NewID()
		now := s.now()
		var createdBy any
		if actor != nil {
			createdBy = actor.UserID
		}
		expires := db.NewTime(now.Add(time.Duration(hours) * time.Hour))
		if _, err := tx.Insert("invitations", dbx.Params{"id": id, "email": email, "email_fold": db.Fold(email),
			"token_hash": hashToken(token), "created_by": createdBy, "expires_at": expires,
			"created_at": db.NewTime(now), "updated_at": db.NewTime(now)}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: insert invitation: %w", err)
		}
		groups := dedupe(in.GroupIDs)
		for _, g := range groups {
			if _, err := tx.Insert("invitation_groups", dbx.Params{"invitation_id": id, "group_id": g}).
				WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("auth: insert invitation group: %w", err)
			}
		}
		if err := s.settlePending(ctx, tx, actor, m, email, id, in.Replace); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), actor.Actor(m), audit.Event{Action: "invitation.create", ObjectType: "invitation", ObjectID: id,
			Details: map[string]any{"email": email, "group_ids": groups, "expires_at": expires}})
	})
	if err != nil {
		return NewInvitation{}, err
	}
	got, err := s.getInvitation(ctx, s.db.Read, id)
	if err != nil {
		return NewInvitation{}, err
	}
	return NewInvitation{Invitation: got, Token: token}, nil
}

const invitationColumns = "id, email, expires_at, created_at, created_by, accepted_at, accepted_user_id, revoked_at"

func (s *Service) getInvitation(ctx context.Context, b dbx.Builder, id string) (Invitation, error) {
	if !db.ValidID(id) {
		return Invitation{}, errInvitationNotFound
	}
	var inv Invitation
	err := b.NewQuery("SELECT " + invitationColumns + " FROM invitations WHERE id = {:id}").
		Bind(dbx.Params{"id": id}).WithContext(ctx).One(&inv)
	if isNoRows(err) {
		return Invitation{}, errInvitationNotFound
	}
	if err != nil {
		return Invitation{}, fmt.Errorf("auth: get invitation: %w", err)
	}
	list := []Invitation{inv}
	if err := s.attachInvitationGroups(ctx, b, list); err != nil {
		return Invitation{}, err
	}
	return list[0], nil
}

func (s *Service) attachInvitationGroups(ctx context.Context, b dbx.Builder, list []Invitation) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]any, len(list))
	for i, inv := range list {
		ids[i] = inv.ID
	}
	var rows []struct {
		InvitationID string `db:"invitation_id"`
		ID           string `db:"id"`
		Name         string `db:"name"`
	}
	err := b.Select("ig.invitation_id", "g.id", "g.name").From("invitation_groups ig").
		InnerJoin("groups g", dbx.NewExp("g.id = ig.group_id AND g.deleted_at IS NULL")).
		Where(dbx.In("ig.invitation_id", ids...)).OrderBy("g.name_fold", "g.id").WithContext(ctx).All(&rows)
	if err != nil {
		return fmt.Errorf("auth: invitation groups: %w", err)
	}
	by := map[string][]GroupRef{}
	for _, r := range rows {
		by[r.InvitationID] = append(by[r.InvitationID], GroupRef{ID: r.ID, Name: r.Name})
	}
	now := s.now()
	for i := range list {
		list[i].Groups = by[list[i].ID]
		if list[i].Groups == nil {
			list[i].Groups = []GroupRef{}
		}
		list[i].derive(now)
	}
	return nil
}

// InvitationFilter narrows ListInvitations.
type InvitationFilter struct {
	Status string // one of InvitationStatuses, or "" for all
	Q      string // substring of the email, case-insensitive
	db.PageParams
}

// ListInvitations returns a page of invitations, newest first.
func (s *Service) ListInvitations(ctx context.Context, f InvitationFilter) (db.Page[Invitation], error) {
	f.PageParams = f.PageParams.Normalize()
	conds, params := []string{"1 = 1"}, dbx.Params{"now": s.nowTime()}
	switch f.Status {
	case "":
	case InvitationPending:
		conds = append(conds, "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > {:now}")
	case InvitationAccepted:
		conds = append(conds, "accepted_at IS NOT NULL")
	case InvitationRevoked:
		conds = append(conds, "revoked_at IS NOT NULL")
	case InvitationExpired:
		conds = append(conds, "accepted_at IS NULL AND revoked_at IS NULL AND expires_at <= {:now}")
	default:
		return db.Page[Invitation]{}, apperr.BadRequest("invalid_query", "Unknown status %q: use one of %s.",
			text.Truncate(f.Status, 64), strings.Join(InvitationStatuses, ", ")).WithDetails(map[string]any{"status": "unknown status"})
	}
	if q := db.Fold(f.Q); q != "" {
		conds = append(conds, `email_fold LIKE {:q} ESCAPE '\'`)
		params["q"] = db.LikeContains(q)
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.Read.NewQuery("SELECT COUNT(*) FROM invitations WHERE " + where).Bind(params).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Invitation]{}, fmt.Errorf("auth: count invitations: %w", err)
	}
	var list []Invitation
	q := fmt.Sprintf("SELECT %s FROM invitations WHERE %s ORDER BY created_at DESC, id DESC LIMIT %d OFFSET %d",
		invitationColumns, where, f.PerPage, f.Offset())
	if err := s.db.Read.NewQuery(q).Bind(params).WithContext(ctx).All(&list); err != nil {
		return db.Page[Invitation]{}, fmt.Errorf("auth: list invitations: %w", err)
	}
	if err := s.attachInvitationGroups(ctx, s.db.Read, list); err != nil {
		return db.Page[Invitation]{}, err
	}
	return db.NewPage(list, total, f.PageParams), nil
}

// RevokeInvitation makes an invitation unusable. Revoking an accepted one
// is a conflict; revoking twice changes nothing.
func (s *Service) RevokeInvitation(ctx context.Context, actor *Principal, id string, m Meta) error {
	return s.db.Tx(ctx, func(tx *dbx.Tx) error {
		inv, err := s.getInvitation(ctx, tx, id)
		if err != nil {
			return err
		}
		switch inv.Status {
		case InvitationAccepted:
			return apperr.New(apperr.ErrConflict, "invitation_accepted", "This invitation has already been accepted; disable or delete the account instead.")
		case InvitationRevoked:
			return nil
		}
		now := s.nowTime()
		if _, err := tx.Update("invitations", dbx.Params{"revoked_at": now, "updated_at": now},
			dbx.HashExp{"id": inv.ID, "accepted_at": nil, "revoked_at": nil}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: revoke invitation: %w", err)
		}
		return audit.Record(ctx, tx, now, actor.Actor(m), audit.Event{Action: "invitation.revoke", ObjectType: "invitation", ObjectID: inv.ID,
			Details: map[string]any{"email": inv.Email, "before": map[string]any{"status": inv.Status},
				"after": map[string]any{"status": InvitationRevoked}}})
	})
}

// AcceptInvitationParams are the body of POST /invitations/accept.
type AcceptInvitationParams struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

var (
	errInvitationExpired = apperr.New(apperr.ErrGone, "invitation_expired", "This invitation has expired. Ask an administrator for a new one.")
	errInvitationRevoked = apperr.New(apperr.ErrGone, "invitation_revoked", "This invitation has been revoked. Ask an administrator for a new one.")
	errInvitationUsed    = apperr.New(apperr.ErrGone, "invitation_used", "This invitation has already been used. Log in instead.")
	errInvitationToken   = apperr.New(apperr.ErrNotFound, "invitation_not_found", "This invitation link is not valid. Check that it was copied completely.")
)

func invitationUnusable(inv Invitation) error {
	switch inv.Status {
	case InvitationAccepted:
		return errInvitationUsed
	case InvitationRevoked:
		return errInvitationRevoked
	case InvitationExpired:
		return errInvitationExpired
	}
	return nil
}

// AcceptInvitation creates the invited account (email from the invitation,
// groups from the invitation that still exist) and signs it in. The
// invitation is claimed and the account created in one transaction, so of
// two concurrent accepts exactly one wins.
func (s *Service) AcceptInvitation(ctx context.Context, in AcceptInvitationParams, m Meta) (*Session, error) {
	token := strings.TrimSpace(in.Token)
	if token == "" {
		return nil, &apperr.Invalid{Fields: map[string]string{"token": "is required"}}
	}
	if len(token) > 200 {
		return nil, errInvitationToken
	}
	var id string
	if err := s.db.Read.Select("id").From("invitations").Where(dbx.HashExp{"token_hash": hashToken(token)}).
		WithContext(ctx).Row(&id); isNoRows(err) {
		return nil, errInvitationToken
	} else if err != nil {
		return nil, fmt.Errorf("auth: find invitation: %w", err)
	}
	inv, err := s.getInvitation(ctx, s.db.Read, id)
	if err != nil {
		return nil, err
	}
	if err := invitationUnusable(inv); err != nil {
		return nil, err
	}
	var bad apperr.Invalid
	if p := ValidateName(in.Name); p != "" {
		bad.Add("name", p)
	}
	if p := CheckPassword(in.Password, inv.Email, in.Name); p != "" {
		bad.Add("password", p)
	}
	if err := bad.Err(); err != nil {
		return nil, err
	}
	var userID string
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		res, err := tx.NewQuery(`UPDATE invitations SET accepted_at = {:now}, updated_at = {:now}
			WHERE id = {:id} AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > {:now}`).
			Bind(dbx.Params{"id": inv.ID, "now": now}).WithContext(ctx).Execute()
		if err != nil {
			return fmt.Errorf("auth: claim invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			cur, err := s.getInvitation(ctx, tx, inv.ID)
			if err != nil {
				return err
			}
			if err := invitationUnusable(cur); err != nil {
				return err
			}
			return errInvitationUsed
		}
		groups := []string{}
		for _, g := range inv.Groups {
			groups = append(groups, g.ID)
		}
		placeholder, err := placeholderID(ctx, tx, inv.Email)
		if err != nil {
			return err
		}
		if placeholder != "" {
			userID = placeholder
			err = s.activatePlaceholder(ctx, tx, userID, in.Name, in.Password, groups)
		} else {
			userID, err = s.createUser(ctx, tx, CreateUserParams{Email: inv.Email, Name: in.Name, Password: in.Password, GroupIDs: groups})
		}
		if err != nil {
			return err
		}
		if _, err := tx.Update("invitations", dbx.Params{"accepted_user_id": userID}, dbx.HashExp{"id": inv.ID}).
			WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: link invitation: %w", err)
		}
		actor := audit.Actor{UserID: userID, Label: inv.Email, IP: m.IP, RequestID: m.RequestID}
		action := "user.create"
		if placeholder != "" {
			action = "user.activate"
		}
		if err := audit.Record(ctx, tx, now, actor, audit.Event{Action: action, ObjectType: "user", ObjectID: userID,
			Details: map[string]any{"email": inv.Email, "group_ids": groups, "via": "invitation", "invitation_id": inv.ID}}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: "invitation.accept", ObjectType: "invitation", ObjectID: inv.ID,
			Details: map[string]any{"email": inv.Email, "user_id": userID,
				"before": map[string]any{"status": InvitationPending}, "after": map[string]any{"status": InvitationAccepted}}})
	})
	if err != nil {
		return nil, err
	}
	return s.startSession(ctx, userID, m, "invitation")
}
