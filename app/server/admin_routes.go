package server

import (
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
)

// userQuery are the filters of user lists.
var userQuery = []string{"q: search text", "group: group id", "sort: sort key", "disabled: true|false", "include_deleted: true|false"}

// adminRoutes: users, groups, permissions, invitations, audit, and the
// self-service profile writes (password, name).
func (s *Server) adminRoutes() []Route {
	const (
		users       = "user.manage"
		groups      = "group.manage"
		invitations = "invitation.manage"
	)
	return []Route{
		{Method: "GET", Path: "/users", Access: Permission, Perm: users, h: s.listUsers, Summary: "List users", Query: paged(userQuery...), Out: db.Page[auth.User]{}},
		{Method: "POST", Path: "/users", Access: Permission, Perm: users, h: s.createUser, Summary: "Create a user", In: auth.CreateUserParams{}, Out: auth.UserDetail{}, Status: 201},
		{Method: "GET", Path: "/users/:id", Access: Permission, Perm: users, h: s.getUser, Summary: "A user with groups", Out: auth.UserDetail{}},
		{Method: "PATCH", Path: "/users/:id", Access: Permission, Perm: users, h: s.updateUser, Summary: "Change a user", In: auth.UpdateUserParams{}, Out: auth.UserDetail{}},
		{Method: "DELETE", Path: "/users/:id", Access: Permission, Perm: users, h: s.deleteUser, Summary: "Delete a user (soft)", Status: 204},
		{Method: "POST", Path: "/users/:id/password", Access: Permission, Perm: users, h: s.setUserPassword, Summary: "Set a user's password", In: setPasswordRequest{}, Status: 204},

		{Method: "POST", Path: "/users/:id/mfa/reset", Access: Permission, Perm: users, h: s.resetUserMFA, Summary: "Turn a user's MFA off", Status: 204},

		{Method: "POST", Path: "/auth/password", Access: Authenticated, Session: true, h: s.changePassword, Summary: "Change my password", In: auth.ChangePasswordParams{}, Status: 204},
		{Method: "PATCH", Path: "/auth/me", Access: Authenticated, Session: true, h: s.updateMe, Summary: "Change my profile", In: auth.UpdateMeParams{}, Out: auth.Me{}},

		{Method: "GET", Path: "/groups", Access: Permission, Perm: groups, h: s.listGroups, Summary: "List groups", Query: paged("q: search text", "include_deleted: true|false"), Out: db.Page[auth.Group]{}},
		{Method: "POST", Path: "/groups", Access: Permission, Perm: groups, h: s.createGroup, Summary: "Create a group", In: auth.CreateGroupParams{}, Out: auth.Group{}, Status: 201},
		{Method: "GET", Path: "/groups/:id", Access: Permission, Perm: groups, h: s.getGroup, Summary: "A group", Out: auth.Group{}},
		{Method: "PATCH", Path: "/groups/:id", Access: Permission, Perm: groups, h: s.updateGroup, Summary: "Change a group", In: auth.UpdateGroupParams{}, Out: auth.Group{}},
		{Method: "DELETE", Path: "/groups/:id", Access: Permission, Perm: groups, h: s.deleteGroup, Summary: "Delete a group (soft)", Status: 204},
		{Method: "GET", Path: "/groups/:id/members", Access: Permission, Perm: groups, h: s.listGroupMembers, Summary: "A group's members", Query: paged(userQuery...), Out: db.Page[auth.User]{}},
		{Method: "PUT", Path: "/groups/:id/members", Access: Permission, Perm: groups, h: s.setGroupMembers, Summary: "Replace a group's members", In: membersRequest{}, Out: auth.Group{}},
		{Method: "PUT", Path: "/groups/:id/permissions", Access: Permission, Perm: groups, h: s.setGroupPermissions, Summary: "Replace a group's permissions", In: permissionsRequest{}, Out: auth.Group{}},
		{Method: "GET", Path: "/permissions", Access: Authenticated, h: s.listPermissions, Summary: "Every permission", Out: db.Page[auth.Permission]{}},

		{Method: "GET", Path: "/invitations", Access: Permission, Perm: invitations, h: s.listInvitations, Summary: "List invitations", Query: paged("status: pending|accepted|revoked|expired", "q: search text"), Out: db.Page[auth.Invitation]{}},
		{Method: "POST", Path: "/invitations", Access: Permission, Perm: invitations, h: s.createInvitation, Summary: "Invite someone (token and link shown once)", In: auth.CreateInvitationParams{}, Out: createdInvitation{}, Status: 201},
		{Method: "DELETE", Path: "/invitations/:id", Access: Permission, Perm: invitations, h: s.revokeInvitation, Summary: "Revoke an invitation", Status: 204},
		{Method: "POST", Path: "/invitations/accept", Access: Public, h: s.acceptInvitation, Summary: "Accept an invitation: create the account and sign in", In: auth.AcceptInvitationParams{}, Out: auth.Session{}, Status: 201},
		{Method: "POST", Path: "/invitations/lookup", Access: Public, h: s.lookupInvitation, Summary: "Who is invited, by whom, into which groups (by token)", In: tokenRequest{}, Out: auth.InvitationPreview{}},

		{Method: "GET", Path: "/audit", Access: Permission, Perm: "audit.read", h: s.listAudit, Summary: "Audit log", Out: auditPage{},
			Query: paged("action: action name", "actor: user id", "object_type: type", "object_id: id", "since: RFC 3339 time", "until: RFC 3339 time")},
	}
}
