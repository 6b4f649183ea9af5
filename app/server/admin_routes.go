package server

// adminRoutes: users, groups, permissions, invitations, audit, and the
// self-service profile writes (password, name).
func (s *Server) adminRoutes() []Route {
	const (
		users       = "user.manage"
		groups      = "group.manage"
		invitations = "invitation.manage"
	)
	return []Route{
		{Method: "GET", Path: "/users", Access: Permission, Perm: users, h: s.listUsers},
		{Method: "POST", Path: "/users", Access: Permission, Perm: users, h: s.createUser},
		{Method: "GET", Path: "/users/:id", Access: Permission, Perm: users, h: s.getUser},
		{Method: "PATCH", Path: "/users/:id", Access: Permission, Perm: users, h: s.updateUser},
		{Method: "DELETE", Path: "/users/:id", Access: Permission, Perm: users, h: s.deleteUser},
		{Method: "POST", Path: "/users/:id/password", Access: Permission, Perm: users, h: s.setUserPassword},

		{Method: "POST", Path: "/users/:id/mfa/reset", Access: Permission, Perm: users, h: s.resetUserMFA},

		{Method: "POST", Path: "/auth/password", Access: Authenticated, Session: true, h: s.changePassword},
		{Method: "PATCH", Path: "/auth/me", Access: Authenticated, Session: true, h: s.updateMe},

		{Method: "GET", Path: "/groups", Access: Permission, Perm: groups, h: s.listGroups},
		{Method: "POST", Path: "/groups", Access: Permission, Perm: groups, h: s.createGroup},
		{Method: "GET", Path: "/groups/:id", Access: Permission, Perm: groups, h: s.getGroup},
		{Method: "PATCH", Path: "/groups/:id", Access: Permission, Perm: groups, h: s.updateGroup},
		{Method: "DELETE", Path: "/groups/:id", Access: Permission, Perm: groups, h: s.deleteGroup},
		{Method: "GET", Path: "/groups/:id/members", Access: Permission, Perm: groups, h: s.listGroupMembers},
		{Method: "PUT", Path: "/groups/:id/members", Access: Permission, Perm: groups, h: s.setGroupMembers},
		{Method: "PUT", Path: "/groups/:id/permissions", Access: Permission, Perm: groups, h: s.setGroupPermissions},
		{Method: "GET", Path: "/permissions", Access: Authenticated, h: s.listPermissions},

		{Method: "GET", Path: "/invitations", Access: Permission, Perm: invitations, h: s.listInvitations},
		{Method: "POST", Path: "/invitations", Access: Permission, Perm: invitations, h: s.createInvitation},
		{Method: "DELETE", Path: "/invitations/:id", Access: Permission, Perm: invitations, h: s.revokeInvitation},
		{Method: "POST", Path: "/invitations/accept", Access: Public, h: s.acceptInvitation},
		{Method: "POST", Path: "/invitations/lookup", Access: Public, h: s.lookupInvitation},

		{Method: "GET", Path: "/audit", Access: Permission, Perm: "audit.read", h: s.listAudit},
	}
}
