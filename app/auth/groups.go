package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/text"
)

// Group is an RBAC group with its permissions.
type Group struct {
	ID          string   `json:"id" db:"id"`
	Name        string   `json:"name" db:"name"`
	Description string   `json:"description" db:"description"`
	IsSystem    bool     `json:"is_system" db:"is_system"`
	Permissions []string `json:"permissions" db:"-"`
	MemberCount int      `json:"member_count" db:"member_count"`
	CreatedAt   db.Time  `json:"created_at" db:"created_at"`
	UpdatedAt   db.Time  `json:"updated_at" db:"updated_at"`
	DeletedAt   *db.Time `json:"deleted_at" db:"deleted_at"`
}

// Permission is one entry of the permission catalogue.
type Permission struct {
	Key         string `json:"key" db:"key"`
	Description string `json:"description" db:"description"`
}

// MaxDescriptionLen bounds free-text descriptions (in characters).
const MaxDescriptionLen = 2000

var errGroupNotFound = apperr.New(apperr.ErrNotFound, "group_not_found", "No such group.")

// ListPermissions returns the permission catalogue, sorted by key.
func (s *Service) ListPermissions(ctx context.Context) ([]Permission, error) {
	var out []Permission
	err := s.db.Read.Select("key", "description").From("permissions").OrderBy("key").WithContext(ctx).All(&out)
	if err != nil {
		return nil, fmt.Errorf("auth: list permissions: %w", err)
	}
	if out == nil {
		out = []Permission{}
	}
	slices.SortFunc(out, func(a, b Permission) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// checkPermissions returns the deduplicated, sorted keys, or a validation
// error naming every unknown key.
func (s *Service) checkPermissions(ctx context.Context, b dbx.Builder, keys []string) ([]string, error) {
	var known []string
	if err := b.Select("key").From("permissions").WithContext(ctx).Column(&known); err != nil {
		return nil, fmt.Errorf("auth: permissions: %w", err)
	}
	var unknown []string
	out := []string{}
	for _, k := range dedupe(keys) {
		if !slices.Contains(known, k) {
			unknown = append(unknown, fmt.Sprintf("%q", text.Truncate(k, 64)))
			continue
		}
		out = append(out, k)
	}
	if len(unknown) > 0 {
		if len(unknown) > 10 {
			unknown = append(unknown[:10], "…")
		}
		return nil, &apperr.Invalid{Fields: map[string]string{"permissions": "include unknown permissions: " + strings.Join(unknown, ", ")}}
	}
	slices.Sort(out)
	return out, nil
}

// ValidateDescription returns a problem or "".
func ValidateDescription(d string) string {
	switch {
	case utf8.RuneCountInString(d) > MaxDescriptionLen:
		return fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)
	case !utf8.ValidString(d):
		return "must be valid text"
	case strings.ContainsFunc(d, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\t' && r != '\r') || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

// GroupFilter narrows ListGroups.
type GroupFilter struct {
	Q              string // substring of the name, case-insensitive
	IncludeDeleted bool
	db.PageParams
}

const groupColumns = `g.id, g.name, g.description, g.is_system, g.created_at, g.updated_at, g.deleted_at,
	(SELECT COUNT(*) FROM user_groups ug JOIN users u ON u.id = ug.user_id
	 WHERE ug.group_id = g.id AND u.deleted_at IS NULL) AS member_count`

// ListGroups returns a page of groups, by name.
func (s *Service) ListGroups(ctx context.Context, f GroupFilter) (db.Page[Group], error) {
	f.PageParams = f.PageParams.Normalize()
	conds, params := []string{"1 = 1"}, dbx.Params{}
	if !f.IncludeDeleted {
		conds = append(conds, "g.deleted_at IS NULL")
	}
	if q := db.Fold(f.Q); q != "" {
		conds = append(conds, `g.name_fold LIKE {:q} ESCAPE '\'`)
		params["q"] = db.LikeContains(q)
	}
	where := strings.Join(conds, " AND ")
	var total int
	if err := s.db.Read.NewQuery("SELECT COUNT(*) FROM groups g WHERE " + where).Bind(params).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Group]{}, fmt.Errorf("auth: count groups: %w", err)
	}
	var groups []Group
	q := fmt.Sprintf("SELECT %s FROM groups g WHERE %s ORDER BY g.name_fold, g.id LIMIT %d OFFSET %d",
		groupColumns, where, f.PerPage, f.Offset())
	if err := s.db.Read.NewQuery(q).Bind(params).WithContext(ctx).All(&groups); err != nil {
		return db.Page[Group]{}, fmt.Errorf("auth: list groups: %w", err)
	}
	if err := s.attachPermissions(ctx, s.db.Read, groups); err != nil {
		return db.Page[Group]{}, err
	}
	return db.NewPage(groups, total, f.PageParams), nil
}

func (s *Service) attachPermissions(ctx context.Context, b dbx.Builder, groups []Group) error {
	if len(groups) == 0 {
		return nil
	}
	ids := make([]any, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	var rows []struct {
		GroupID string `db:"group_id"`
		Key     string `db:"permission_key"`
	}
	err := b.Select("group_id", "permission_key").From("group_permissions").Where(dbx.In("group_id", ids...)).
		OrderBy("permission_key").WithContext(ctx).All(&rows)
	if err != nil {
		return fmt.Errorf("auth: group permissions: %w", err)
	}
	by := map[string][]string{}
	for _, r := range rows {
		by[r.GroupID] = append(by[r.GroupID], r.Key)
	}
	for i := range groups {
		groups[i].Permissions = by[groups[i].ID]
		if groups[i].Permissions == nil {
			groups[i].Permissions = []string{}
		}
		slices.Sort(groups[i].Permissions) // byte order on every engine (collations differ)
	}
	return nil
}

// GetGroup returns one group (soft-deleted ones too).
func (s *Service) GetGroup(ctx context.Context, id string) (Group, error) {
	return s.getGroup(ctx, s.db.Read, id, false)
}

func (s *Service) getGroup(ctx context.Context, b dbx.Builder, id string, liveOnly bool) (Group, error) {
	if !db.ValidID(id) {
		return Group{}, errGroupNotFound
	}
	q := "SELECT " + groupColumns + " FROM groups g WHERE g.id = {:id}"
	if liveOnly {
		q += " AND g.deleted_at IS NULL"
	}
	var g Group
	err := b.NewQuery(q).Bind(dbx.Params{"id": id}).WithContext(ctx).One(&g)
	if isNoRows(err) {
		return Group{}, errGroupNotFound
	}
	if err != nil {
		return Group{}, fmt.Errorf("auth: get group: %w", err)
	}
	gs := []Group{g}
	if err := s.attachPermissions(ctx, b, gs); err != nil {
		return Group{}, err
	}
	return gs[0], nil
}

// CreateGroupParams create a group.
type CreateGroupParams struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

// CreateGroup creates a group with the given permissions.
func (s *Service) CreateGroup(ctx context.Context, actor *Principal, in CreateGroupParams, m Meta) (Group, error) {
	var inv apperr.Invalid
	if p := ValidateName(in.Name); p != "" {
		inv.Add("name", p)
	}
	if p := ValidateDescription(in.Description); p != "" {
		inv.Add("description", p)
	}
	var id string
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		perms, err := s.checkPermissions(ctx, tx, in.Permissions)
		if err != nil {
			if !mergeInvalid(&inv, err) {
				return err
			}
		}
		if err := inv.Err(); err != nil {
			return err
		}
		name := strings.TrimSpace(in.Name)
		if err := s.checkGroupName(ctx, tx, name, ""); err != nil {
			return err
		}
		id = db.NewID()
		now := s.nowTime()
		if _, err := tx.Insert("groups", dbx.Params{"id": id, "name": name, "name_fold": db.Fold(name),
			"description": in.Description, "is_system": false, "created_at": now, "updated_at": now}).
			WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: insert group: %w", err)
		}
		if err := s.replaceGroupPermissions(ctx, tx, id, perms); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, actor.Actor(m), audit.Event{Action: "group.create", ObjectType: "group", ObjectID: id,
			Details: map[string]any{"name": name, "description": in.Description, "permissions": perms}})
	})
	if err != nil {
		return Group{}, err
	}
	s.Invalidate()
	return s.GetGroup(ctx, id)
}

// mergeInvalid adds the fields of a validation error to inv and reports
// whether err was one.
func mergeInvalid(inv *apperr.Invalid, err error) bool {
	gi, ok := err.(*apperr.Invalid)
	if !ok {
		return false
	}
	for k, v := range gi.Fields {
		inv.Add(k, v)
	}
	return true
}

func (s *Service) checkGroupName(ctx context.Context, b dbx.Builder, name, exceptID string) error {
	where := dbx.And(dbx.HashExp{"name_fold": db.Fold(name), "deleted_at": nil})
	if exceptID != "" {
		where = dbx.And(where, dbx.Not(dbx.HashExp{"id": exceptID}))
	}
	var n int
	if err := b.Select("COUNT(*)").From("groups").Where(where).WithContext(ctx).Row(&n); err != nil {
		return err
	}
	if n > 0 {
		return apperr.New(apperr.ErrConflict, "group_name_taken", "A group with this name already exists.").
			WithDetails(map[string]any{"name": "is already in use"})
	}
	return nil
}

func (s *Service) replaceGroupPermissions(ctx context.Context, tx *dbx.Tx, groupID string, keys []string) error {
	if _, err := tx.Delete("group_permissions", dbx.HashExp{"group_id": groupID}).WithContext(ctx).Execute(); err != nil {
		return fmt.Errorf("auth: clear group permissions: %w", err)
	}
	for _, k := range keys {
		if _, err := tx.Insert("group_permissions", dbx.Params{"group_id": groupID, "permission_key": k}).
			WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: add group permission: %w", err)
		}
	}
	return nil
}

// UpdateGroupParams change a group. Absent fields stay; a null description
// clears it; permissions replaces the set (null clears it).
type UpdateGroupParams struct {
	Name        patch.Field[string]   `json:"name"`
	Description patch.Field[string]   `json:"description"`
	Permissions patch.Field[[]string] `json:"permissions"`
}

var (
	errSystemGroupRename = apperr.New(apperr.ErrConflict, "system_group", "The seeded groups cannot be renamed.")
	errSystemGroupDelete = apperr.New(apperr.ErrConflict, "system_group", "The seeded groups cannot be deleted.")
	errAdminsPermissions = apperr.New(apperr.ErrConflict, "admins_permissions",
		"The Admins group keeps every permission; create another group for narrower rights.")
)

// UpdateGroup applies a PATCH to a group. Seeded groups cannot be renamed
// and the Admins group cannot lose permissions.
func (s *Service) UpdateGroup(ctx context.Context, actor *Principal, id string, in UpdateGroupParams, m Meta) (Group, error) {
	return s.updateGroup(ctx, actor, id, in, m, "group.update")
}

// SetGroupPermissions replaces a group's permission set.
func (s *Service) SetGroupPermissions(ctx context.Context, actor *Principal, id string, keys []string, m Meta) (Group, error) {
	if keys == nil {
		keys = []string{}
	}
	return s.updateGroup(ctx, actor, id, UpdateGroupParams{Permissions: patch.Value(keys)}, m, "group.permissions_set")
}

func (s *Service) updateGroup(ctx context.Context, actor *Principal, id string, in UpdateGroupParams, m Meta, action string) (Group, error) {
	var changed bool
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		g, err := s.getGroup(ctx, tx, id, true)
		if err != nil {
			return err
		}
		var inv apperr.Invalid
		name, desc, perms := g.Name, g.Description, g.Permissions
		if in.Name.Set {
			if in.Name.Null {
				inv.Add("name", "is required")
			} else if p := ValidateName(in.Name.Value); p != "" {
				inv.Add("name", p)
			} else {
				name = strings.TrimSpace(in.Name.Value)
			}
		}
		if in.Description.Set {
			desc = in.Description.Value // "" when null
			if p := ValidateDescription(desc); p != "" {
				inv.Add("description", p)
			}
		}
		if in.Permissions.Set {
			p, err := s.checkPermissions(ctx, tx, in.Permissions.Value)
			if err != nil && !mergeInvalid(&inv, err) {
				return err
			}
			perms = p
		}
		if err := inv.Err(); err != nil {
			return err
		}
		if name != g.Name {
			if g.IsSystem {
				return errSystemGroupRename
			}
			if err := s.checkGroupName(ctx, tx, name, g.ID); err != nil {
				return err
			}
		}
		if g.ID == AdminsGroupID {
			for _, k := range g.Permissions {
				if !slices.Contains(perms, k) {
					return errAdminsPermissions
				}
			}
		}
		ch := newChanges()
		set := dbx.Params{}
		if name != g.Name {
			set["name"], set["name_fold"] = name, db.Fold(name)
			ch.add("name", g.Name, name)
		}
		if desc != g.Description {
			set["description"] = desc
			ch.add("description", g.Description, desc)
		}
		if !slices.Equal(perms, g.Permissions) {
			if err := s.replaceGroupPermissions(ctx, tx, g.ID, perms); err != nil {
				return err
			}
			ch.add("permissions", g.Permissions, perms)
		}
		if ch.empty() {
			return nil
		}
		changed = true
		set["updated_at"] = s.nowTime()
		if _, err := tx.Update("groups", set, dbx.HashExp{"id": g.ID}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: update group: %w", err)
		}
		return audit.Record(ctx, tx, s.nowTime(), actor.Actor(m), audit.Event{Action: action, ObjectType: "group", ObjectID: g.ID,
			Details: ch.details()})
	})
	if err != nil {
		return Group{}, err
	}
	if changed {
		s.Invalidate()
	}
	return s.GetGroup(ctx, id)
}

// DeleteGroup soft-deletes a group: its members lose its permissions at
// their next request. Seeded groups cannot be deleted.
func (s *Service) DeleteGroup(ctx context.Context, actor *Principal, id string, m Meta) error {
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		g, err := s.getGroup(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if g.IsSystem {
			return errSystemGroupDelete
		}
		now := s.nowTime()
		if _, err := tx.Update("groups", dbx.Params{"deleted_at": now, "updated_at": now}, dbx.HashExp{"id": g.ID}).
			WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: delete group: %w", err)
		}
		return audit.Record(ctx, tx, now, actor.Actor(m), audit.Event{Action: "group.delete", ObjectType: "group", ObjectID: g.ID,
			Details: map[string]any{"name": g.Name, "member_count": g.MemberCount, "permissions": g.Permissions}})
	})
	if err != nil {
		return err
	}
	s.Invalidate()
	return nil
}

// ListGroupMembers returns a page of the group's accounts (filters as in
// ListUsers).
func (s *Service) ListGroupMembers(ctx context.Context, id string, f UserFilter) (db.Page[User], error) {
	if _, err := s.GetGroup(ctx, id); err != nil {
		return db.Page[User]{}, err
	}
	f.GroupID = id
	return s.ListUsers(ctx, f)
}

// SetGroupMembers replaces the group's live members with userIDs in one
// transaction. Emptying Admins of its last active member is refused.
func (s *Service) SetGroupMembers(ctx context.Context, actor *Principal, id string, userIDs []string, m Meta) (Group, error) {
	var changed bool
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		g, err := s.getGroup(ctx, tx, id, true)
		if err != nil {
			return err
		}
		ids := dedupe(userIDs)
		var inv apperr.Invalid
		for _, uid := range ids {
			if !db.ValidID(uid) {
				inv.Add("user_ids", fmt.Sprintf("must be user ids (%q is not)", text.Truncate(uid, 64)))
				continue
			}
			var n int
			if err := tx.Select("COUNT(*)").From("users").Where(dbx.HashExp{"id": uid, "deleted_at": nil}).
				WithContext(ctx).Row(&n); err != nil {
				return err
			}
			if n == 0 {
				inv.Add("user_ids", fmt.Sprintf("include a user that does not exist (%s)", uid))
			}
		}
		if err := inv.Err(); err != nil {
			return err
		}
		var old []string
		if err := tx.NewQuery(`SELECT ug.user_id FROM user_groups ug JOIN users u ON u.id = ug.user_id
			WHERE ug.group_id = {:gid} AND u.deleted_at IS NULL ORDER BY ug.user_id`).
			Bind(dbx.Params{"gid": g.ID}).WithContext(ctx).Column(&old); err != nil {
			return fmt.Errorf("auth: group members: %w", err)
		}
		if old == nil {
			old = []string{}
		}
		slices.Sort(old)
		cur := slices.Clone(ids)
		slices.Sort(cur)
		if slices.Equal(old, cur) {
			return nil
		}
		before, err := s.lockAdmins(ctx, tx)
		if err != nil {
			return err
		}
		// Memberships of soft-deleted users stay, as they do for groups.
		if _, err := tx.NewQuery(`DELETE FROM user_groups WHERE group_id = {:gid}
			AND user_id IN (SELECT id FROM users WHERE deleted_at IS NULL)`).
			Bind(dbx.Params{"gid": g.ID}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("auth: clear members: %w", err)
		}
		for _, uid := range cur {
			if _, err := tx.Insert("user_groups", dbx.Params{"user_id": uid, "group_id": g.ID}).WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("auth: add member: %w", err)
			}
		}
		if g.ID == AdminsGroupID {
			if err := s.checkAdminsLeft(ctx, tx, before); err != nil {
				return err
			}
		}
		changed = true
		return audit.Record(ctx, tx, s.nowTime(), actor.Actor(m), audit.Event{Action: "group.members_set", ObjectType: "group", ObjectID: g.ID,
			Details: map[string]any{"before": map[string]any{"user_ids": old}, "after": map[string]any{"user_ids": cur},
				"added": minus(cur, old), "removed": minus(old, cur)}})
	})
	if err != nil {
		return Group{}, err
	}
	if changed {
		s.Invalidate()
	}
	return s.GetGroup(ctx, id)
}

// minus returns the elements of a that are not in b.
func minus(a, b []string) []string {
	out := []string{}
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
