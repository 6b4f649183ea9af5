package auth

import (
	"context"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
)

var console = audit.Actor{Label: "console"}

// CreateAdmin creates an administrator from the console (purplebook user
// create-admin); it works whether or not setup has run.
func (s *Service) CreateAdmin(ctx context.Context, email, name, password string) (string, error) {
	var id string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var err error
		id, err = s.createUser(ctx, tx, CreateUserParams{Email: email, Name: name, Password: password, GroupIDs: []string{AdminsGroupID}})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), console, audit.Event{Action: "user.create", ObjectType: "user", ObjectID: id,
			Details: map[string]any{"email": email, "groups": []string{"Admins"}, "via": "console"}})
	})
	if err != nil {
		return "", err
	}
	_, _ = s.PrepareSetup(ctx) // setup is no longer needed: remove the token file
	return id, nil
}

// ResetPassword sets a new password from the console and ends every session
// of the account.
func (s *Service) ResetPassword(ctx context.Context, email, password string) error {
	u, err := s.getUser(ctx, s.db.Read, dbx.HashExp{"email_fold": db.Fold(email), "deleted_at": nil})
	if err != nil {
		return fmt.Errorf("no active account with email %q: %w", email, err)
	}
	if p := CheckPassword(password, u.Email, u.Name); p != "" {
		return (&apperr.Invalid{Fields: map[string]string{"password": p}})
	}
	return s.setPassword(ctx, u.ID, password, console, "console")
}

// setPassword stores a new hash, revokes all sessions of the user and audits.
func (s *Service) setPassword(ctx context.Context, userID, password string, actor audit.Actor, via string) error {
	hash, err := HashPassword(password, s.argon)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := tx.Update("users", dbx.Params{"password_hash": hash, "password_changed_at": now, "updated_at": now},
			dbx.HashExp{"id": userID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		if err := s.revokeWhere(ctx, tx, dbx.HashExp{"user_id": userID}, "password_changed"); err != nil {
			return err
		}
		n, err := s.revokeAPITokens(ctx, tx, userID)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor, audit.Event{Action: "user.password_changed", ObjectType: "user", ObjectID: userID,
			Details: map[string]any{"via": via, "api_tokens_revoked": n}})
	})
	if err != nil {
		return fmt.Errorf("auth: set password: %w", err)
	}
	s.Invalidate()
	return nil
}

// CreateUser creates an account in the given groups on behalf of actor (the
// route checks user.manage).
func (s *Service) CreateUser(ctx context.Context, actor *Principal, in CreateUserParams, m Meta) (string, error) {
	var id string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		var err error
		id, err = s.createUser(ctx, tx, in)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), actor.Actor(m), audit.Event{Action: "user.create", ObjectType: "user", ObjectID: id,
			Details: map[string]any{"email": in.Email, "group_ids": dedupe(in.GroupIDs)}})
	})
	if err != nil {
		return "", err
	}
	return id, nil
}
