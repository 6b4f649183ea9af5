package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
)

// Placeholder accounts: a mission bundle names its members by e-mail, and an
// importer may keep an unknown member as an inactive account (no password,
// disabled) so that assignments, outcomes and history keep their person.
// An administrator activates it by inviting the address: the invitation
// may be created although the address has this account, and accepting it
// turns the placeholder into the invited user's account (name, password and
// the invitation's groups) instead of creating a second one.

// placeholderCond matches placeholder accounts.
const placeholderCond = "disabled = TRUE AND password_hash = ''"

// placeholderID returns the live placeholder account of an address ("" when
// there is none).
func placeholderID(ctx context.Context, b dbx.Builder, email string) (string, error) {
	var ids []string
	err := b.NewQuery(`SELECT id FROM users WHERE email_fold = {:e} AND deleted_at IS NULL AND ` + placeholderCond).
		Bind(dbx.Params{"e": db.Fold(strings.TrimSpace(email))}).WithContext(ctx).Column(&ids)
	if err != nil {
		return "", fmt.Errorf("auth: find placeholder: %w", err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}

// activatePlaceholder gives a placeholder account its owner's name and
// password, enables it and puts it in groups.
func (s *Service) activatePlaceholder(ctx context.Context, tx *dbx.Tx, id, name, password string, groups []string) error {
	hash, err := HashPassword(password, s.argon)
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	now := s.nowTime()
	res, err := tx.Update("users", dbx.Params{"name": name, "name_fold": db.Fold(name), "password_hash": hash,
		"password_changed_at": now, "disabled": false, "updated_at": now},
		dbx.NewExp("id = {:id} AND "+placeholderCond, dbx.Params{"id": id})).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("auth: activate account: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errInvitationUsed
	}
	for _, g := range dedupe(groups) {
		if _, err := tx.NewQuery(`INSERT INTO user_groups (user_id, group_id) VALUES ({:u}, {:g}) ON CONFLICT DO NOTHING`).
			Bind(dbx.Params{"u": id, "g": g}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: add group: %w", err)
		}
	}
	s.Invalidate()
	return nil
}
