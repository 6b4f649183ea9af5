package server

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/db"
	"github.com/uptrace/bunrouter"
)

// Handlers of users, groups, permissions, invitations and audit
// (admin_routes.go). Ids in paths are checked by the auth service: a
// malformed one is a 404 like an unknown one.

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---------------------------------------------------------------------------
// Users

// userFilter reads q, group, include_deleted, disabled, sort, page, per_page.
func userFilter(req bunrouter.Request) (auth.UserFilter, error) {
	var f auth.UserFilter
	var err error
	if f.PageParams, err = pageParams(req); err != nil {
		return f, err
	}
	if f.Q, err = queryString(req, "q"); err != nil {
		return f, err
	}
	if f.GroupID, err = queryID(req, "group"); err != nil {
		return f, err
	}
	if f.Sort, err = queryString(req, "sort"); err != nil {
		return f, err
	}
	if f.Disabled, err = queryBool(req, "disabled"); err != nil {
		return f, err
	}
	del, err := queryBool(req, "include_deleted")
	if err != nil {
		return f, err
	}
	f.IncludeDeleted = del != nil && *del
	return f, nil
}

func (s *Server) listUsers(w http.ResponseWriter, req bunrouter.Request) error {
	f, err := userFilter(req)
	if err != nil {
		return err
	}
	page, err := s.opts.Auth.ListUsers(req.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) getUser(w http.ResponseWriter, req bunrouter.Request) error {
	u, err := s.opts.Auth.GetUser(req.Context(), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) createUser(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.CreateUserParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	u, err := s.opts.Auth.CreateUserDetail(req.Context(), principal(req), in, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, u)
}

func (s *Server) updateUser(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.UpdateUserParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	u, err := s.opts.Auth.UpdateUser(req.Context(), principal(req), req.Param("id"), in, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Auth.DeleteUser(req.Context(), principal(req), req.Param("id"), meta(req)); err != nil {
		return err
	}
	return noContent(w)
}

type setPasswordRequest struct {
	Password string `json:"password"`
}

func (s *Server) setUserPassword(w http.ResponseWriter, req bunrouter.Request) error {
	var in setPasswordRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	if err := s.opts.Auth.SetUserPassword(req.Context(), principal(req), req.Param("id"), in.Password, meta(req)); err != nil {
		return err
	}
	return noContent(w)
}

// resetUserMFA turns MFA off for an account whose owner lost the
// authenticator and the recovery codes: their sessions and API tokens end.
func (s *Server) resetUserMFA(w http.ResponseWriter, req bunrouter.Request) error {
	var in struct{}
	if err := decodeOptionalJSON(req, &in); err != nil {
		return err
	}
	if err := s.opts.Auth.ResetMFA(req.Context(), principal(req), req.Param("id"), meta(req)); err != nil {
		return err
	}
	return noContent(w)
}

// changePassword: the caller's other sessions end and their API tokens are
// revoked; this session stays valid.
func (s *Server) changePassword(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.ChangePasswordParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	if err := s.opts.Auth.ChangePassword(req.Context(), principal(req), in, meta(req)); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) updateMe(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.UpdateMeParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	m, err := s.opts.Auth.UpdateMe(req.Context(), principal(req), in, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

// ---------------------------------------------------------------------------
// Groups and permissions

func (s *Server) listGroups(w http.ResponseWriter, req bunrouter.Request) error {
	var f auth.GroupFilter
	var err error
	if f.PageParams, err = pageParams(req); err != nil {
		return err
	}
	if f.Q, err = queryString(req, "q"); err != nil {
		return err
	}
	del, err := queryBool(req, "include_deleted")
	if err != nil {
		return err
	}
	f.IncludeDeleted = del != nil && *del
	page, err := s.opts.Auth.ListGroups(req.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

func (s *Server) getGroup(w http.ResponseWriter, req bunrouter.Request) error {
	g, err := s.opts.Auth.GetGroup(req.Context(), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}

func (s *Server) createGroup(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.CreateGroupParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	g, err := s.opts.Auth.CreateGroup(req.Context(), principal(req), in, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, g)
}

func (s *Server) updateGroup(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.UpdateGroupParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	g, err := s.opts.Auth.UpdateGroup(req.Context(), principal(req), req.Param("id"), in, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Auth.DeleteGroup(req.Context(), principal(req), req.Param("id"), meta(req)); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) listGroupMembers(w http.ResponseWriter, req bunrouter.Request) error {
	f, err := userFilter(req)
	if err != nil {
		return err
	}
	page, err := s.opts.Auth.ListGroupMembers(req.Context(), req.Param("id"), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

type membersRequest struct {
	UserIDs []string `json:"user_ids"`
}

func (s *Server) setGroupMembers(w http.ResponseWriter, req bunrouter.Request) error {
	var in membersRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	g, err := s.opts.Auth.SetGroupMembers(req.Context(), principal(req), req.Param("id"), in.UserIDs, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}

type permissionsRequest struct {
	Permissions []string `json:"permissions"`
}

func (s *Server) setGroupPermissions(w http.ResponseWriter, req bunrouter.Request) error {
	var in permissionsRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	g, err := s.opts.Auth.SetGroupPermissions(req.Context(), principal(req), req.Param("id"), in.Permissions, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, g)
}

func (s *Server) listPermissions(w http.ResponseWriter, req bunrouter.Request) error {
	perms, err := s.opts.Auth.ListPermissions(req.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, db.NewPage(perms, len(perms), db.PageParams{Page: 1, PerPage: max(len(perms), 1)}))
}

// ---------------------------------------------------------------------------
// Invitations

func (s *Server) listInvitations(w http.ResponseWriter, req bunrouter.Request) error {
	var f auth.InvitationFilter
	var err error
	if f.PageParams, err = pageParams(req); err != nil {
		return err
	}
	if f.Status, err = queryString(req, "status"); err != nil {
		return err
	}
	if f.Q, err = queryString(req, "q"); err != nil {
		return err
	}
	page, err := s.opts.Auth.ListInvitations(req.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, page)
}

// createdInvitation adds the link to hand over: the SPA's accept page at
// the origin the administrator used.
type createdInvitation struct {
	auth.NewInvitation
	URL string `json:"url"`
}

func (s *Server) createInvitation(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.CreateInvitationParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	inv, err := s.opts.Auth.CreateInvitation(req.Context(), principal(req), in, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, createdInvitation{NewInvitation: inv, URL: requestOrigin(req) + "/invite/" + inv.Token})
}

// requestOrigin is scheme://host of the request (https when served over
// TLS), or "" when the Host header is missing or odd, which makes the link
// relative.
func requestOrigin(req bunrouter.Request) string {
	host := req.Host
	if host == "" || len(host) > 255 || strings.ContainsAny(host, "/\\@?# \t\r\n\"'<>") {
		return ""
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + host
}

func (s *Server) revokeInvitation(w http.ResponseWriter, req bunrouter.Request) error {
	if err := s.opts.Auth.RevokeInvitation(req.Context(), principal(req), req.Param("id"), meta(req)); err != nil {
		return err
	}
	return noContent(w)
}

// lookupInvitation previews a pending invitation for the acceptance page:
// address, inviter, groups, expiry. Public; the token travels in the body
// (never in a URL that logs or referrers would keep); throttled like login.
type tokenRequest struct {
	Token string `json:"token"`
}

func (s *Server) lookupInvitation(w http.ResponseWriter, req bunrouter.Request) error {
	var in tokenRequest
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	p, err := s.opts.Auth.LookupInvitation(req.Context(), in.Token, meta(req))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// acceptInvitation creates the invited account and signs it in like login.
func (s *Server) acceptInvitation(w http.ResponseWriter, req bunrouter.Request) error {
	var in auth.AcceptInvitationParams
	if err := decodeJSON(req, &in); err != nil {
		return err
	}
	sess, err := s.opts.Auth.AcceptInvitation(req.Context(), in, meta(req))
	if err != nil {
		return err
	}
	s.setRefreshCookie(w, req, sess.RefreshToken, sess.RefreshExpires)
	return writeJSON(w, http.StatusCreated, sess)
}

// ---------------------------------------------------------------------------
// Audit

// auditEntry is an audit event with its actor's name.
type auditEntry struct {
	audit.Entry
	ActorName string `json:"actor_name"`
}

// auditPage is a page of audit events and the users they name.
type auditPage struct {
	db.Page[auditEntry]
	Users map[string]auth.UserRef `json:"users"`
}

func (s *Server) listAudit(w http.ResponseWriter, req bunrouter.Request) error {
	var f audit.Filter
	var err error
	if f.PageParams, err = pageParams(req); err != nil {
		return err
	}
	if f.Action, err = queryString(req, "action"); err != nil {
		return err
	}
	if f.ActorID, err = queryID(req, "actor"); err != nil {
		return err
	}
	if f.ObjectType, err = queryString(req, "object_type"); err != nil {
		return err
	}
	if f.ObjectID, err = queryString(req, "object_id"); err != nil {
		return err
	}
	if f.Since, err = queryTime(req, "since"); err != nil {
		return err
	}
	if f.Until, err = queryTime(req, "until"); err != nil {
		return err
	}
	page, err := audit.List(req.Context(), s.opts.DB, f)
	if err != nil {
		return err
	}
	// Names, not e-mails: the actors and the users the details mention
	// (user_id, assigned_red_user_id …, also as before/after) are named
	// in "users"; each entry carries its actor's current name.
	var ids []string
	for _, e := range page.Items {
		if e.ActorUserID != nil {
			ids = append(ids, *e.ActorUserID)
		}
		ids = append(ids, detailUserIDs(e.Details)...)
	}
	refs, err := s.opts.Auth.UserRefs(req.Context(), ids)
	if err != nil {
		return err
	}
	items := make([]auditEntry, len(page.Items))
	for i, e := range page.Items {
		items[i] = auditEntry{Entry: e}
		if e.ActorUserID != nil {
			items[i].ActorName = refs[*e.ActorUserID].Name
		}
	}
	if refs == nil {
		refs = map[string]auth.UserRef{}
	}
	return writeJSON(w, http.StatusOK, auditPage{Page: db.Page[auditEntry]{Items: items, Total: page.Total, Page: page.Page,
		PerPage: page.PerPage}, Users: refs})
}

// detailUserIDs finds user ids in audit details: values of keys named
// user_id or ending in _user_id (or user_ids), plain or as before/after.
func detailUserIDs(raw []byte) []string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	var add func(v any)
	add = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, y := range x {
				add(y)
			}
		case map[string]any:
			add(x["before"])
			add(x["after"])
		}
	}
	for k, v := range m {
		if k == "user_id" || strings.HasSuffix(k, "_user_id") || strings.HasSuffix(k, "user_ids") {
			add(v)
		}
	}
	return out
}
