package server

// accountRoutes: TOTP MFA, personal API tokens, settings.
func (s *Server) accountRoutes() []Route {
	return []Route{}
}
