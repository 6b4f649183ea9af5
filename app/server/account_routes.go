package server

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
		{Method: "GET", Path: "/auth/mfa", Access: Authenticated, Session: true, h: s.getMFA},
		{Method: "POST", Path: "/auth/mfa/enroll", Access: Authenticated, Session: true, h: s.enrollMFA},
		{Method: "POST", Path: "/auth/mfa/confirm", Access: Authenticated, Session: true, h: s.confirmMFA},
		{Method: "POST", Path: "/auth/mfa/disable", Access: Authenticated, Session: true, h: s.disableMFA},
		{Method: "POST", Path: "/auth/mfa/recovery-codes", Access: Authenticated, Session: true, h: s.regenerateRecoveryCodes},

		{Method: "GET", Path: "/api-tokens", Access: Authenticated, Session: true, h: s.listAPITokens},
		{Method: "POST", Path: "/api-tokens", Access: Authenticated, Session: true, h: s.createAPIToken},
		{Method: "DELETE", Path: "/api-tokens/:id", Access: Authenticated, Session: true, h: s.revokeAPIToken},

		{Method: "GET", Path: "/settings", Access: Authenticated, h: s.getSettings},
		{Method: "GET", Path: "/settings/:key", Access: Authenticated, h: s.getSetting},
		{Method: "PUT", Path: "/settings/:key", Access: Permission, Perm: "settings.manage", h: s.putSetting},
	}
}
