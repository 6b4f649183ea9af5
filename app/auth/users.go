package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/text"
)

// User is an account as administrators see it.
type User struct {
	ID          string     `json:"id" db:"id"`
	Email       string     `json:"email" db:"email"`
	Name        string     `json:"name" db:"name"`
	Disabled    bool       `json:"disabled" db:"disabled"`
	MFAEnabled  bool       `json:"mfa_enabled" db:"mfa_enabled"`
	Groups      []GroupRef `json:"groups" db:"-"`
	CreatedAt   db.Time    `json:"created_at" db:"created_at"`
	UpdatedAt   db.Time    `json:"updated_at" db:"updated_at"`
	LastLoginAt *db.Time   `json:"last_login_at" db:"last_login_at"`
	DeletedAt   *db.Time   `json:"deleted_at" db:"deleted_at"`
}

// UserDetail is one account with its effective permissions (the union of
// its live groups' permissions).
type UserDetail struct {
	User
	Permissions []string `json:"permissions"`
}

// Errors of the user administration.
var (
	errUserNotFound = apperr.New(apperr.ErrNotFound, "user_not_found", "No such user.")
	errLastAdmin    = apperr.New(apperr.ErrConflict, "last_admin",
		"This would leave no active administrator: another active member of Admins is needed first.")
)

// errEmailTaken is made per call: WithDetails would mutate a shared value.
func errEmailTaken() error {
	return apperr.New(apperr.ErrConflict, "email_taken", "An account with this email already exists.").
		WithDetails(map[string]any{"email": "is already in use"})
}

// UserFilter narrows ListUsers.
type UserFilter struct {
	Q              string // substring of name or email, case-insensitive
	GroupID        string // member of this group
	IncludeDeleted bool
	Disabled       *bool
	Sort           string // name, email, created_at, last_login_at; "-" prefix = descending
	db.PageParams
}

// userSorts maps the sort keys of ListUsers to ORDER BY terms, each ending
// in the id (UUIDv7, so creation order) for a stable order. Accounts that
// never logged in sort last in both directions (NULL ordering differs
// between SQLite and PostgreSQL, so it is made explicit).
var userSorts = map[string][2]string{
	"name":          {"u.name_fold ASC, u.email_fold ASC, u.id ASC", "u.name_fold DESC, u.email_fold DESC, u.id DESC"},
	"email":         {"u.email_fold ASC, u.id ASC", "u.email_fold DESC, u.id DESC"},
	"created_at":    {"u.created_at ASC, u.id ASC", "u.created_at DESC, u.id DESC"},
	"last_login_at": {"(u.last_login_at IS NULL) ASC, u.last_login_at ASC, u.id ASC", "(u.last_login_at IS NULL) ASC, u.last_login_at DESC, u.id DESC"},
}

// UserSortKeys lists the accepted values of UserFilter.Sort (without "-").
func UserSortKeys() []string {
	keys := make([]string, 0, len(userSorts))
	for k := range userSorts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func orderBy(sorts map[string][2]string, sort, def string) (string, error) {
	if sort == "" {
		sort = def
	}
	key, desc := strings.CutPrefix(sort, "-")
	terms, ok := sorts[key]
	if !ok {
		keys := make([]string, 0, len(sorts))
		for k := range sorts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return "", apperr.BadRequest("invalid_query", "Cannot sort by %q: use one of %s, optionally with a leading \"-\".",
			text.Truncate(sort, 64), strings.Join(keys, ", ")).WithDetails(map[string]any{"sort": "unknown sort key"})
	}
	if desc {
		return terms[1], nil
	}
	return terms[0], nil
}

const userListColumns = "u.id, u.email, u.name, u.disabled, u.mfa_enabled, u.created_at, u.updated_at, u.last_login_at, u.deleted_at"

// ListUsers returns a page of accounts with their groups.
func (s *Service) ListUsers(ctx context.Context, f UserFilter) (db.Page[User], error) {
	f.PageParams = f.PageParams.Normalize()
	order, err := orderBy(userSorts, f.Sort, "name")
	if err != nil {
		return db.Page[User]{}, err
	}
	conds, params := []string{"1 = 1"}, dbx.Params{}
	if !f.IncludeDeleted {
		conds = append(conds, "u.deleted_at IS NULL")
	}
	if q := db.Fold(f.Q); q != "" {
		conds = append(conds, `(u.name_fold LIKE {:q} ESCAPE '\' OR u.email_fold LIKE {:q} ESCAPE '\')`)
		params["q"] = db.LikeContains(q)
	}
	if f.GroupID != "" {
		conds = append(conds, "EXISTS (SELECT 1 FROM user_groups ug WHERE ug.user_id = u.id AND ug.group_id = {:gid})")
		params["gid"] = f.GroupID
	}
	if f.Disabled != nil {
		conds = append(conds, "u.disabled = {:disabled}")
		params["disabled"] = *f.Disabled
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.Read.NewQuery("SELECT COUNT(*) FROM users u WHERE " + where).Bind(params).WithContext(ctx).Row(&total); err != nil {
		return db.Page[User]{}, fmt.Errorf("auth: count users: %w", err)
	}
	var users []User
	q := fmt.Sprintf("SELECT %s FROM users u WHERE %s ORDER BY %s LIMIT %d OFFSET %d",
		userListColumns, where, order, f.PerPage, f.Offset())
	if err := s.db.Read.NewQuery(q).Bind(params).WithContext(ctx).All(&users); err != nil {
		return db.Page[User]{}, fmt.Errorf("auth: list users: %w", err)
	}
	if err := s.attachGroups(ctx, s.db.Read, users); err != nil {
		return db.Page[User]{}, err
	}
	return db.NewPage(users, total, f.PageParams), nil
}

// attachGroups fills the live groups of every user in one query.
func (s *Service) attachGroups(ctx context.Context, b dbx.Builder, users []User) error {
	if len(users) == 0 {
		return nil
	}
	ids := make([]any, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	var rows []struct {
		UserID string `db:"user_id"`
		ID     string `db:"id"`
		Name   string `db:"name"`
	}
	err := b.Select("ug.user_id", "g.id", "g.name").From("user_groups ug").
		InnerJoin("groups g", dbx.NewExp("g.id = ug.group_id AND g.deleted_at IS NULL")).
		Where(dbx.In("ug.user_id", ids...)).OrderBy("g.name_fold", "g.id").WithContext(ctx).All(&rows)
	if err != nil {
		return fmt.Errorf("auth: user groups: %w", err)
	}
	byUser := map[string][]GroupRef{}
	for _, r := range rows {
		byUser[r.UserID] = append(byUser[r.UserID], GroupRef{ID: r.ID, Name: r.Name})
	}
	for i := range users {
		users[i].Groups = byUser[users[i].ID]
		if users[i].Groups == nil {
			users[i].Groups = []GroupRef{}
		}
	}
	return nil
}

// GetUser returns one account (soft-deleted ones too) with its groups and
// effective permissions. A malformed id is "not found".
func (s *Service) GetUser(ctx context.Context, id string) (UserDetail, error) {
	return s.getUserDetail(ctx, s.db.Read, id)
}

func (s *Service) getUserDetail(ctx context.Context, b dbx.Builder, id string) (UserDetail, error) {
	if !db.ValidID(id) {
		return UserDetail{}, errUserNotFound
	}
	var u User
	err := b.NewQuery("SELECT " + userListColumns + " FROM users u WHERE u.id = {:id}").
		Bind(dbx.Params{"id": id}).WithContext(ctx).One(&u)
	if isNoRows(err) {
		return UserDetail{}, errUserNotFound
	}
	if err != nil {
		return UserDetail{}, fmt.Errorf("auth: get user: %w", err)
	}
	users := []User{u}
	if err := s.attachGroups(ctx, b, users); err != nil {
		return UserDetail{}, err
	}
	perms := []string{}
	if u.DeletedAt == nil {
		p, err := s.userPermissions(ctx, b, id)
		if err != nil {
			return UserDetail{}, err
		}
		if p != nil {
			perms = p
		}
	}
	return UserDetail{User: users[0], Permissions: perms}, nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// liveUser reads an account that is not deleted, or errUserNotFound.
func (s *Service) liveUser(ctx context.Context, b dbx.Builder, id string) (userRow, error) {
	if !db.ValidID(id) {
		return userRow{}, errUserNotFound
	}
	u, err := s.getUser(ctx, b, dbx.HashExp{"id": id, "deleted_at": nil})
	if errors.Is(err, apperr.ErrNotFound) {
		return userRow{}, errUserNotFound
	}
	if err != nil {
		return userRow{}, fmt.Errorf("auth: get user: %w", err)
	}
	return u, nil
}

// CreateUserDetail creates an account (see CreateUser) and returns it.
func (s *Service) CreateUserDetail(ctx context.Context, actor *Principal, in CreateUserParams, m Meta) (UserDetail, error) {
	if in.GroupIDs == nil {
		in.GroupIDs = []string{}
	}
	id, err := s.CreateUser(ctx, actor, in, m)
	if err != nil {
		return UserDetail{}, err
	}
	return s.GetUser(ctx, id)
}

// UpdateUserParams change an account. Absent fields stay as they are;
// group_ids replaces the whole set (null clears it).
type UpdateUserParams struct {
	Name     patch.Field[string]   `json:"name"`
	Email    patch.Field[string]   `json:"email"`
	Disabled patch.Field[bool]     `json:"disabled"`
	GroupIDs patch.Field[[]string] `json:"group_ids"`
}

// changes collects the before and after values of changed fields for the
// audit record.
type changes struct{ before, after map[string]any }

func newChanges() *changes { return &changes{before: map[string]any{}, after: map[string]any{}} }

func (c *changes) add(field string, before, after any) {
	c.before[field], c.after[field] = before, after
}

func (c *changes) empty() bool { return len(c.after) == 0 }

func (c *changes) details() map[string]any {
	return map[string]any{"before": c.before, "after": c.after}
}

// UpdateUser applies a PATCH to an account. Disabling ends the user's
// sessions at once. The last active administrator cannot be disabled or
// removed from Admins, and nobody can disable their own account.
func (s *Service) UpdateUser(ctx context.Context, actor *Principal, id string, in UpdateUserParams, m Meta) (UserDetail, error) {
	var changed bool
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		u, err := s.liveUser(ctx, tx, id)
		if err != nil {
			return err
		}
		var inv apperr.Invalid
		name, email := u.Name, u.Email
		if in.Name.Set {
			if in.Name.Null {
				inv.Add("name", "is required")
			} else if p := ValidateName(in.Name.Value); p != "" {
				inv.Add("name", p)
			} else {
				name = strings.TrimSpace(in.Name.Value)
			}
		}
		if in.Email.Set {
			if in.Email.Null {
				inv.Add("email", "is required")
			} else if p := ValidateEmail(in.Email.Value); p != "" {
				inv.Add("email", p)
			} else {
				email = strings.TrimSpace(in.Email.Value)
			}
		}
		if in.Disabled.Null {
			inv.Add("disabled", "must be true or false")
		}
		groupIDs := in.GroupIDs.Value
		if in.GroupIDs.Set && groupIDs == nil {
			groupIDs = []string{} // null clears the set
		}
		if in.GroupIDs.Set {
			if err := s.checkGroups(ctx, tx, groupIDs); err != nil {
				var gi *apperr.Invalid
				if !errors.As(err, &gi) {
					return err
				}
				for k, v := range gi.Fields {
					inv.Add(k, v)
				}
			}
		}
		if err := inv.Err(); err != nil {
			return err
		}
		disable := in.Disabled.HasValue() && in.Disabled.Value && !u.Disabled
		if disable && actor != nil && actor.UserID == u.ID {
			return apperr.New(apperr.ErrConflict, "cannot_disable_self", "You cannot disable your own account.")
		}
		if db.Fold(email) != u.EmailFold {
			var taken int
			if err := tx.Select("COUNT(*)").From("users").Where(dbx.And(
				dbx.HashExp{"email_fold": db.Fold(email), "deleted_at": nil}, dbx.Not(dbx.HashExp{"id": u.ID}))).
				WithContext(ctx).Row(&taken); err != nil {
				return err
			}
			if taken > 0 {
				return errEmailTaken()
			}
		}
		before, err := s.lockAdmins(ctx, tx)
		if err != nil {
			return err
		}
		ch := newChanges()
		now := s.nowTime()
		set := dbx.Params{}
		if name != u.Name {
			set["name"], set["name_fold"] = name, db.Fold(name)
			ch.add("name", u.Name, name)
		}
		if email != u.Email {
			set["email"], set["email_fold"] = email, db.Fold(email)
			ch.add("email", u.Email, email)
		}
		if in.Disabled.HasValue() && in.Disabled.Value != u.Disabled {
			set["disabled"] = in.Disabled.Value
			ch.add("disabled", u.Disabled, in.Disabled.Value)
		}
		if in.GroupIDs.Set {
			old, err := s.userGroups(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if err := s.replaceUserGroups(ctx, tx, u.ID, groupIDs); err != nil {
				return err
			}
			cur, err := s.userGroups(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if !sameGroups(old, cur) {
				ch.add("groups", old, cur)
			}
		}
		if ch.empty() {
			return nil
		}
		changed = true
		set["updated_at"] = now
		if _, err := tx.Update("users", set, dbx.HashExp{"id": u.ID}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: update user: %w", err)
		}
		if err := s.checkAdminsLeft(ctx, tx, before); err != nil {
			return err
		}
		details := ch.details()
		if disable {
			if err := s.revokeWhere(ctx, tx, dbx.HashExp{"user_id": u.ID}, "user_disabled"); err != nil {
				return err
			}
			n, err := s.revokeAPITokens(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			details["api_tokens_revoked"] = n
		}
		return audit.Record(ctx, tx, now, actor.Actor(m), audit.Event{Action: "user.update", ObjectType: "user", ObjectID: u.ID,
			Details: details})
	})
	if err != nil {
		return UserDetail{}, err
	}
	if changed {
		s.Invalidate()
	}
	return s.GetUser(ctx, id)
}

func sameGroups(a, b []GroupRef) bool {
	return slices.EqualFunc(a, b, func(x, y GroupRef) bool { return x.ID == y.ID })
}

// replaceUserGroups sets the user's memberships of live groups to ids
// (already checked). Memberships of soft-deleted groups are kept, so
// restoring a group would restore them.
func (s *Service) replaceUserGroups(ctx context.Context, tx *dbx.Tx, userID string, ids []string) error {
	_, err := tx.NewQuery(`DELETE FROM user_groups WHERE user_id = {:uid}
		AND group_id IN (SELECT id FROM groups WHERE deleted_at IS NULL)`).
		Bind(dbx.Params{"uid": userID}).WithContext(ctx).Execute()
	if err != nil {
		return fmt.Errorf("auth: clear user groups: %w", err)
	}
	for _, g := range dedupe(ids) {
		if _, err := tx.Insert("user_groups", dbx.Params{"user_id": userID, "group_id": g}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: add user group: %w", err)
		}
	}
	return nil
}

// lockAdmins serialises every transaction that can reduce the number of
// active administrators and returns that number. The no-op UPDATE takes a
// row lock on PostgreSQL (a concurrent transaction waits for this one to
// commit); SQLite serialises writers anyway. Without it, two admins
// disabling each other at the same moment could both succeed.
func (s *Service) lockAdmins(ctx context.Context, tx *dbx.Tx) (int, error) {
	if _, err := tx.NewQuery("UPDATE groups SET updated_at = updated_at WHERE id = {:id}").
		Bind(dbx.Params{"id": AdminsGroupID}).WithContext(ctx).Execute(); err != nil {
		return 0, fmt.Errorf("auth: lock admins: %w", err)
	}
	return s.activeAdmins(ctx, tx)
}

// activeAdmins counts members of Admins who are neither disabled nor deleted.
func (s *Service) activeAdmins(ctx context.Context, b dbx.Builder) (int, error) {
	var n int
	err := b.NewQuery(`SELECT COUNT(*) FROM users u JOIN user_groups ug ON ug.user_id = u.id
		WHERE ug.group_id = {:gid} AND u.deleted_at IS NULL AND u.disabled = FALSE`).
		Bind(dbx.Params{"gid": AdminsGroupID}).WithContext(ctx).Row(&n)
	if err != nil {
		return 0, fmt.Errorf("auth: count admins: %w", err)
	}
	return n, nil
}

// checkAdminsLeft fails with last_admin when a change inside the
// transaction took the number of active administrators from some to none.
func (s *Service) checkAdminsLeft(ctx context.Context, tx *dbx.Tx, before int) error {
	if before == 0 {
		return nil
	}
	after, err := s.activeAdmins(ctx, tx)
	if err != nil {
		return err
	}
	if after == 0 {
		return errLastAdmin
	}
	return nil
}

// DeleteUser soft-deletes an account and revokes its refresh and API
// tokens. Nobody can delete their own account, and the last active
// administrator cannot be deleted.
func (s *Service) DeleteUser(ctx context.Context, actor *Principal, id string, m Meta) error {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		u, err := s.liveUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if actor != nil && actor.UserID == u.ID {
			return apperr.New(apperr.ErrConflict, "cannot_delete_self", "You cannot delete your own account.")
		}
		before, err := s.lockAdmins(ctx, tx)
		if err != nil {
			return err
		}
		now := s.nowTime()
		if _, err := tx.Update("users", dbx.Params{"deleted_at": now, "updated_at": now}, dbx.HashExp{"id": u.ID}).
			WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: delete user: %w", err)
		}
		if err := s.checkAdminsLeft(ctx, tx, before); err != nil {
			return err
		}
		if err := s.revokeUserTokens(ctx, tx, u.ID, "user_deleted"); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor.Actor(m), audit.Event{Action: "user.delete", ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"email": u.Email, "name": u.Name}})
	})
	if err != nil {
		return err
	}
	s.Invalidate()
	return nil
}

// revokeUserTokens ends every session and API token of a user.
func (s *Service) revokeUserTokens(ctx context.Context, tx *dbx.Tx, userID, reason string) error {
	if err := s.revokeWhere(ctx, tx, dbx.HashExp{"user_id": userID}, reason); err != nil {
		return fmt.Errorf("auth: revoke sessions: %w", err)
	}
	_, err := s.revokeAPITokens(ctx, tx, userID)
	return err
}

// SetUserPassword sets a new password for an account on behalf of an
// administrator and ends every session and API token of that account.
func (s *Service) SetUserPassword(ctx context.Context, actor *Principal, id, password string, m Meta) error {
	u, err := s.liveUser(ctx, s.db.Read, id)
	if err != nil {
		return err
	}
	if p := CheckPassword(password, u.Email, u.Name); p != "" {
		return &apperr.Invalid{Fields: map[string]string{"password": p}}
	}
	return s.setPassword(ctx, u.ID, password, actor.Actor(m), "admin")
}

// ChangePasswordParams are the body of POST /auth/password.
type ChangePasswordParams struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// ChangePassword lets a user change their own password. The current
// password must be given (wrong guesses count as failed logins for the
// throttle). Every other session of the user ends and every API token is
// revoked (minted under the old password, they could outlive a leak); the
// calling session stays signed in. Only a login session may do this.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, in ChangePasswordParams, m Meta) error {
	if p.TokenID != "" {
		return ErrSessionRequired
	}
	u, err := s.liveUser(ctx, s.db.Read, p.UserID)
	if err != nil {
		return errSessionEnded
	}
	var inv apperr.Invalid
	if in.CurrentPassword == "" {
		inv.Add("current_password", "is required")
	}
	if pr := CheckPassword(in.NewPassword, u.Email, u.Name); pr != "" {
		inv.Add("new_password", pr)
	} else if in.NewPassword == in.CurrentPassword {
		inv.Add("new_password", "must differ from the current password")
	}
	if err := inv.Err(); err != nil {
		return err
	}
	if wait := s.throttle.wait(u.EmailFold, m.IP); wait > 0 {
		secs := max(int(wait.Round(time.Second)/time.Second), 1)
		return &apperr.RetryAfter{Seconds: secs, Message: fmt.Sprintf("Too many wrong passwords. Try again in %d seconds.", secs)}
	}
	if len(in.CurrentPassword) > 4*MaxPasswordLen {
		in.CurrentPassword = in.CurrentPassword[:4*MaxPasswordLen]
	}
	if ok, _ := VerifyPassword(u.PasswordHash, in.CurrentPassword, s.argon); !ok {
		s.throttle.fail(u.EmailFold, m.IP)
		_ = audit.Record(ctx, s.db.Write, s.nowTime(), p.Actor(m), audit.Event{Action: "user.password_change_failed", ObjectType: "user", ObjectID: u.ID})
		return &apperr.Invalid{Fields: map[string]string{"current_password": "is incorrect"}}
	}
	s.throttle.succeed(u.EmailFold, m.IP)
	hash, err := HashPassword(in.NewPassword, s.argon)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if _, err := tx.Update("users", dbx.Params{"password_hash": hash, "password_changed_at": now, "updated_at": now},
			dbx.HashExp{"id": u.ID}).WithContext(ctx).Execute(); err != nil {
			return err
		}
		others := dbx.And(dbx.HashExp{"user_id": u.ID, "revoked_at": nil}, dbx.Not(dbx.HashExp{"session_id": p.SessionID}))
		if _, err := tx.Update("refresh_tokens", dbx.Params{"revoked_at": now, "revoked_reason": "password_changed", "updated_at": now},
			others).WithContext(ctx).Execute(); err != nil {
			return err
		}
		n, err := s.revokeAPITokens(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, p.Actor(m), audit.Event{Action: "user.password_changed", ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"via": "self", "kept_session": p.SessionID != "", "api_tokens_revoked": n}})
	})
	if err != nil {
		return fmt.Errorf("auth: change password: %w", err)
	}
	s.Invalidate()
	return nil
}

// UpdateMeParams are the body of PATCH /auth/me.
type UpdateMeParams struct {
	Name patch.Field[string] `json:"name"`
}

// UpdateMe changes the caller's own profile (their name). Only a login
// session may do this.
func (s *Service) UpdateMe(ctx context.Context, p *Principal, in UpdateMeParams, m Meta) (Me, error) {
	if p.TokenID != "" {
		return Me{}, ErrSessionRequired
	}
	if in.Name.Set {
		name := strings.TrimSpace(in.Name.Value)
		if in.Name.Null {
			return Me{}, &apperr.Invalid{Fields: map[string]string{"name": "is required"}}
		}
		if pr := ValidateName(name); pr != "" {
			return Me{}, &apperr.Invalid{Fields: map[string]string{"name": pr}}
		}
		var changed bool
		err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
			u, err := s.liveUser(ctx, tx, p.UserID)
			if err != nil {
				return errSessionEnded
			}
			if u.Name == name {
				return nil
			}
			changed = true
			if _, err := tx.Update("users", dbx.Params{"name": name, "name_fold": db.Fold(name), "updated_at": s.nowTime()},
				dbx.HashExp{"id": u.ID}).WithContext(ctx).Execute(); err != nil {
				return err
			}
			ch := newChanges()
			ch.add("name", u.Name, name)
			d := ch.details()
			d["via"] = "self"
			return audit.Record(ctx, tx, s.nowTime(), p.Actor(m), audit.Event{Action: "user.update", ObjectType: "user", ObjectID: u.ID, Details: d})
		})
		if err != nil {
			return Me{}, err
		}
		if changed {
			s.Invalidate()
		}
	}
	return s.Me(ctx, p)
}

// CreateUserParams create an account.
type CreateUserParams struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Password string   `json:"password"`
	GroupIDs []string `json:"group_ids"`
}

// ValidateEmail returns a problem or "".
func ValidateEmail(e string) string {
	e = strings.TrimSpace(e)
	local, domain, ok := strings.Cut(e, "@")
	switch {
	case e == "":
		return "is required"
	case len(e) > 254:
		return "must be at most 254 characters"
	case !ok || local == "" || domain == "" || strings.ContainsAny(e, " \t\r\n<>\"(),;:\\[]") || strings.Count(e, "@") != 1:
		return "must be an email address like name@example.com"
	}
	return ""
}

// ValidateName returns a problem or "".
func ValidateName(n string) string {
	n = strings.TrimSpace(n)
	switch {
	case n == "":
		return "is required"
	case len([]rune(n)) > 200:
		return "must be at most 200 characters"
	case strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// UserRef is how an account is named where it appears (audit log, lists):
// the display name, with the e-mail kept for a tooltip.
type UserRef struct {
	ID      string `json:"id" db:"id"`
	Name    string `json:"name" db:"name"`
	Email   string `json:"email" db:"email"`
	Deleted bool   `json:"deleted" db:"-"`

	DeletedAt *db.Time `json:"-" db:"deleted_at"`
}

// UserRefs names the given accounts (deleted ones included, flagged);
// unknown or malformed ids are left out.
func (s *Service) UserRefs(ctx context.Context, ids []string) (map[string]UserRef, error) {
	out := map[string]UserRef{}
	valid := make([]any, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if db.ValidID(id) && !seen[id] {
			seen[id] = true
			valid = append(valid, id)
		}
	}
	for len(valid) > 0 {
		n := min(len(valid), 500)
		var rows []UserRef
		if err := s.db.Read.Select("id", "name", "email", "deleted_at").From("users").Where(dbx.In("id", valid[:n]...)).
			WithContext(ctx).All(&rows); err != nil {
			return nil, fmt.Errorf("auth: user refs: %w", err)
		}
		for _, r := range rows {
			r.Deleted = r.DeletedAt != nil
			out[r.ID] = r
		}
		valid = valid[n:]
	}
	return out, nil
}
