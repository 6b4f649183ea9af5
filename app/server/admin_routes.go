package server

// adminRoutes: users, groups, permissions, invitations, audit.
func (s *Server) adminRoutes() []Route {
	return []Route{}
}
