package server

import (
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/settings"
)

// accountRoutes: TOTP MFA, personal API tokens, settings. MFA and API
// token routes are Session routes: a personal API token can neither read nor
// change them.
//
// The require_mfa setting confines users without MFA to enrolment. The
// guard (auth_mw.go) enforces it right after authenticating:
//
//	if err := p.CheckMFASetup(rt.Path); err != nil {
//		return err
//	}
//
// The second login step (DESIGN's POST /auth/mfa/verify) is POST
// /auth/login with {mfa_token, code}: the MFA step must be reachable
// without a session, and the public routes are kept to a fixed few.
func (s *Server) accountRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/auth/mfa", Access: Authenticated, Session: true, h: s.getMFA, Summary: "MFA state", Out: auth.MFAStatus{}},
		{Method: "POST", Path: "/auth/mfa/enroll", Access: Authenticated, Session: true, h: s.enrollMFA, Summary: "Start TOTP enrolment (secret, otpauth URI, QR)", Out: auth.MFAEnrollment{}},
		{Method: "POST", Path: "/auth/mfa/confirm", Access: Authenticated, Session: true, h: s.confirmMFA, Summary: "Confirm enrolment with a code; returns recovery codes", In: mfaCodeRequest{}, Out: auth.RecoveryCodes{}},
		{Method: "POST", Path: "/auth/mfa/disable", Access: Authenticated, Session: true, h: s.disableMFA, Summary: "Turn MFA off (password)", In: mfaPasswordRequest{}, Out: auth.MFAStatus{}},
		{Method: "POST", Path: "/auth/mfa/recovery-codes", Access: Authenticated, Session: true, h: s.regenerateRecoveryCodes, Summary: "New recovery codes (password)", In: mfaPasswordRequest{}, Out: auth.RecoveryCodes{}},

		{Method: "GET", Path: "/api-tokens", Access: Authenticated, Session: true, h: s.listAPITokens, Summary: "My personal API tokens", Query: paged(), Out: db.Page[auth.APIToken]{}},
		{Method: "POST", Path: "/api-tokens", Access: Authenticated, Session: true, h: s.createAPIToken, Summary: "Create a personal API token (shown once)", In: auth.CreateAPITokenParams{}, Out: auth.NewAPIToken{}, Status: 201},
		{Method: "DELETE", Path: "/api-tokens/:id", Access: Authenticated, Session: true, h: s.revokeAPIToken, Summary: "Revoke a personal API token", Status: 204},

		{Method: "GET", Path: "/settings", Access: Authenticated, h: s.getSettings, Summary: "All settings by key", Out: map[string]any{}},
		{Method: "GET", Path: "/settings/:key", Access: Authenticated, h: s.getSetting, Summary: "One setting", Out: settings.Setting{}},
		{Method: "PUT", Path: "/settings/:key", Access: Permission, Perm: "settings.manage", h: s.putSetting, Summary: "Change a setting", In: settingRequest{}, Out: settings.Setting{}},
	}
}
