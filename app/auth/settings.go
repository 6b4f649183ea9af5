package auth

import (
	"context"
	"encoding/json"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/settings"
)

// PutSetting stores a setting's value on behalf of p (the route checks
// settings.manage) through the settings service, adding the rules that
// belong to accounts: turning on require_mfa needs MFA on the caller's own
// account, so an administrator cannot lock themselves into the enrolment
// screen by surprise, and a change to require_mfa applies to every
// principal at its next request.
func (s *Service) PutSetting(ctx context.Context, p *Principal, key string, raw json.RawMessage, m Meta) (settings.Setting, error) {
	v, err := settings.Parse(key, raw)
	if err != nil {
		return settings.Setting{}, err
	}
	if key == settings.RequireMFA && v == true {
		u, err := s.getUser(ctx, s.db.Read, dbx.HashExp{"id": p.UserID})
		if err != nil {
			return settings.Setting{}, errSessionEnded
		}
		if !u.MFAEnabled {
			return settings.Setting{}, &apperr.Invalid{Message: "Turn on MFA for your own account before requiring it for everyone.",
				Fields: map[string]string{"value": "Turn on MFA for your own account first (Profile → Two-factor authentication)."}}
		}
	}
	out, changed, err := s.settings.Put(ctx, p.Actor(m), key, raw)
	if err != nil {
		return settings.Setting{}, err
	}
	if changed && key == settings.RequireMFA {
		s.Invalidate() // every principal re-reads whether it must enrol
	}
	return out, nil
}

// mfaSetupRequired reports whether a user with the given MFA state must
// enrol before doing anything else.
func (s *Service) mfaSetupRequired(ctx context.Context, b dbx.Builder, mfaEnabled bool) (bool, error) {
	if mfaEnabled {
		return false, nil
	}
	return settings.RequireMFAIn(ctx, b)
}
