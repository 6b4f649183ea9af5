// Package levels manages the detection-level vocabulary: the outcomes blue
// records per security control (blocked, alerted, logged, none, …), their
// names, colours and rank. Rank 1 is the best; a mission test's outcome is
// the best-ranked level among its controls. Ranks are kept contiguous (1..n):
// every write that moves a level renumbers the others in the same
// transaction.
package levels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/app/text"
)

// Field limits.
const (
	MaxKeyLen         = 40
	MaxNameLen        = 60
	MaxDescriptionLen = 1000
)

// anchorID is the seeded "blocked" level. Every write locks its row first
// (PostgreSQL; SQLite write transactions are exclusive already), so two
// concurrent renumberings queue instead of colliding on uq_detection_levels_rank.
// System levels cannot be deleted, so the row stays.
const anchorID = "00000000-0000-7000-8000-000000000101"

// Level is one detection level as the API shows it.
type Level struct {
	ID               string  `db:"id" json:"id"`
	Key              string  `db:"key" json:"key"`
	Name             string  `db:"name" json:"name"`
	Description      string  `db:"description" json:"description"`
	Rank             int     `db:"rank" json:"rank"`
	Color            string  `db:"color" json:"color"`
	CountsAsDetected bool    `db:"counts_as_detected" json:"counts_as_detected"`
	IsSystem         bool    `db:"is_system" json:"is_system"`
	InUse            int     `db:"in_use" json:"in_use"` // outcomes recorded with this level
	CreatedAt        db.Time `db:"created_at" json:"created_at"`
	UpdatedAt        db.Time `db:"updated_at" json:"updated_at"`
}

// CreateParams is the body of a create. Rank is the position to insert at
// (1..n+1, the others move down); absent, the level goes last.
type CreateParams struct {
	Key              string `json:"key"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	Rank             *int   `json:"rank"`
	Color            string `json:"color"`
	CountsAsDetected bool   `json:"counts_as_detected"`
}

// UpdateParams is the body of a PATCH: absent fields stay, a null
// description clears it, other fields cannot be null. A new rank moves the
// level to that position (1..n).
type UpdateParams struct {
	Key              patch.Field[string] `json:"key"`
	Name             patch.Field[string] `json:"name"`
	Description      patch.Field[string] `json:"description"`
	Rank             patch.Field[int]    `json:"rank"`
	Color            patch.Field[string] `json:"color"`
	CountsAsDetected patch.Field[bool]   `json:"counts_as_detected"`
}

// Options are the service's dependencies.
type Options struct {
	DB  *db.DB
	Now func() time.Time // nil = time.Now
}

// Service is the detection-levels capability.
type Service struct {
	db  *db.DB
	now func() time.Time
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{db: o.DB, now: o.Now}
}

// nowTime is the service clock's current time as the database keeps it.
func (s *Service) nowTime() db.Time { return db.NewTime(s.now()) }

func errNotFound() error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such detection level.")
}

const selectLevels = `SELECT l.id, l.key, l.name, l.description, l.rank, l.color, l.counts_as_detected, l.is_system,
	l.created_at, l.updated_at,
	(SELECT COUNT(*) FROM mission_test_outcomes o WHERE o.detection_level_id = l.id) AS in_use
	FROM detection_levels l`

func list(ctx context.Context, b dbx.Builder) ([]Level, error) {
	var ls []Level
	if err := b.NewQuery(selectLevels + " ORDER BY l.rank").WithContext(ctx).All(&ls); err != nil {
		return nil, fmt.Errorf("levels: list: %w", err)
	}
	if ls == nil {
		ls = []Level{}
	}
	return ls, nil
}

// List returns every level in rank order (best first).
func (s *Service) List(ctx context.Context) ([]Level, error) { return list(ctx, s.db.Read) }

// Ranked returns every level in rank order without the usage counts
// (InUse is 0), read through b: the caller's transaction when it derives
// outcomes from the ranks it then stores, else a pool. It is the cheap
// read that boards and outcome writes use.
func (s *Service) Ranked(ctx context.Context, b dbx.Builder) ([]Level, error) {
	var ls []Level
	if err := b.NewQuery(`SELECT l.id, l.key, l.name, l.description, l.rank, l.color, l.counts_as_detected, l.is_system,
		l.created_at, l.updated_at, 0 AS in_use FROM detection_levels l ORDER BY l.rank`).WithContext(ctx).All(&ls); err != nil {
		return nil, fmt.Errorf("levels: ranked: %w", err)
	}
	return ls, nil
}

// Get returns one level; a malformed id is not found.
func (s *Service) Get(ctx context.Context, id string) (Level, error) { return get(ctx, s.db.Read, id) }

func get(ctx context.Context, b dbx.Builder, id string) (Level, error) {
	var l Level
	if !db.ValidID(id) {
		return l, errNotFound()
	}
	err := b.NewQuery(selectLevels + " WHERE l.id = {:id}").Bind(dbx.Params{"id": id}).WithContext(ctx).One(&l)
	if errors.Is(err, sql.ErrNoRows) {
		return l, errNotFound()
	}
	if err != nil {
		return l, fmt.Errorf("levels: get: %w", err)
	}
	return l, nil
}

// lock serialises level writes on PostgreSQL (see anchorID).
func (s *Service) lock(ctx context.Context, tx *dbx.Tx) error {
	if err := s.db.LockForUpdate(ctx, tx, "detection_levels", anchorID); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("levels: lock: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Validation

var (
	reKey   = regexp.MustCompile(`^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$`)
	reColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
)

func checkKey(inv *apperr.Invalid, key string) {
	switch {
	case key == "":
		inv.Add("key", "is required")
	case len(key) > MaxKeyLen:
		inv.Add("key", fmt.Sprintf("must be at most %d characters", MaxKeyLen))
	case !reKey.MatchString(key) || db.ValidID(key):
		inv.Add("key", "must be a lowercase slug: letters a-z and digits, words joined by _ or -, starting with a letter (e.g. found_by_ir)")
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) })
}

func checkName(inv *apperr.Invalid, name string) {
	switch {
	case name == "":
		inv.Add("name", "is required")
	case utf8.RuneCountInString(name) > MaxNameLen:
		inv.Add("name", fmt.Sprintf("must be at most %d characters", MaxNameLen))
	case !utf8.ValidString(name) || hasControl(name):
		inv.Add("name", "must be text without control characters")
	}
}

func checkDescription(inv *apperr.Invalid, d string) {
	switch {
	case utf8.RuneCountInString(d) > MaxDescriptionLen:
		inv.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescriptionLen))
	case !utf8.ValidString(d) || strings.ContainsRune(d, 0):
		inv.Add("description", "must be valid text")
	}
}

func checkColor(inv *apperr.Invalid, c string) {
	if !reColor.MatchString(c) {
		inv.Add("color", "must be a colour in the form #rrggbb (e.g. #4CAF50)")
	}
}

func checkRank(inv *apperr.Invalid, rank, max int) {
	if rank < 1 || rank > max {
		inv.Add("rank", fmt.Sprintf("must be a whole number from 1 to %d", max))
	}
}

// conflicts refuses a key or a name (case-insensitively) another level has.
func conflicts(ls []Level, selfID, key, name string) error {
	for _, l := range ls {
		if l.ID == selfID {
			continue
		}
		if key != "" && l.Key == key {
			return apperr.New(apperr.ErrConflict, "level_key_taken", "A detection level with the key %q exists already.", key).
				WithDetails(map[string]any{"key": key, "id": l.ID})
		}
		if name != "" && db.Fold(l.Name) == db.Fold(name) {
			return apperr.New(apperr.ErrConflict, "level_name_taken", "A detection level named %q exists already.", l.Name).
				WithDetails(map[string]any{"name": l.Name, "id": l.ID})
		}
	}
	return nil
}

func snapshot(l Level) map[string]any {
	return map[string]any{"key": l.Key, "name": l.Name, "description": l.Description, "rank": l.Rank, "color": l.Color,
		"counts_as_detected": l.CountsAsDetected, "is_system": l.IsSystem}
}

func ids(ls []Level) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

func keys(ls []Level) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Key
	}
	return out
}

// ---------------------------------------------------------------------------
// Writes

// Create adds a level at the requested rank (or last).
func (s *Service) Create(ctx context.Context, a audit.Actor, in CreateParams) (Level, error) {
	in.Name = strings.TrimSpace(in.Name)
	var inv apperr.Invalid
	checkKey(&inv, in.Key)
	checkName(&inv, in.Name)
	checkDescription(&inv, in.Description)
	checkColor(&inv, in.Color)
	if in.Rank != nil && *in.Rank < 1 {
		checkRank(&inv, *in.Rank, 1<<30)
	}
	if err := inv.Err(); err != nil {
		return Level{}, err
	}
	var out Level
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		cur, err := list(ctx, tx)
		if err != nil {
			return err
		}
		rank := len(cur) + 1
		if in.Rank != nil {
			var inv apperr.Invalid
			if checkRank(&inv, *in.Rank, len(cur)+1); inv.Err() != nil {
				return inv.Err()
			}
			rank = *in.Rank
		}
		if err := conflicts(cur, "", in.Key, in.Name); err != nil {
			return err
		}
		// Insert after the current last rank, then move into place.
		last := 0
		for _, l := range cur {
			last = max(last, l.Rank)
		}
		id := db.NewID()
		if _, err := tx.Insert("detection_levels", dbx.Params{"id": id, "key": in.Key, "name": in.Name,
			"description": in.Description, "rank": last + 1, "color": strings.ToUpper(in.Color),
			"counts_as_detected": in.CountsAsDetected, "is_system": false, "created_at": now, "updated_at": now,
		}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("levels: create: %w", err)
		}
		added := append(slices.Clone(cur), Level{ID: id, Rank: last + 1})
		order := slices.Insert(ids(cur), rank-1, id)
		if _, err := renumber(ctx, tx, now, added, order); err != nil {
			return err
		}
		if out, err = get(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, a, audit.Event{Action: "detection_level.create", ObjectType: "detection_level",
			ObjectID: id, Details: map[string]any{"after": snapshot(out)}})
	})
	return out, err
}

// Update changes a level. System levels keep their key; everything else
// about them may change.
func (s *Service) Update(ctx context.Context, a audit.Actor, id string, in UpdateParams) (Level, error) {
	if !db.ValidID(id) {
		return Level{}, errNotFound()
	}
	var inv apperr.Invalid
	notNull := func(field string, f interface{ HasValue() bool }, set bool) {
		if set && !f.HasValue() {
			inv.Add(field, "cannot be null")
		}
	}
	notNull("key", in.Key, in.Key.Set)
	notNull("name", in.Name, in.Name.Set)
	notNull("rank", in.Rank, in.Rank.Set)
	notNull("color", in.Color, in.Color.Set)
	notNull("counts_as_detected", in.CountsAsDetected, in.CountsAsDetected.Set)
	if v, ok := in.Key.Get(); ok {
		checkKey(&inv, v)
	}
	if v, ok := in.Name.Get(); ok {
		in.Name.Value = strings.TrimSpace(v)
		checkName(&inv, in.Name.Value)
	}
	if v, ok := in.Description.Get(); ok {
		checkDescription(&inv, v)
	}
	if v, ok := in.Color.Get(); ok {
		checkColor(&inv, v)
	}
	if v, ok := in.Rank.Get(); ok && v < 1 {
		checkRank(&inv, v, 1<<30)
	}
	if err := inv.Err(); err != nil {
		return Level{}, err
	}
	var out Level
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		cur, err := list(ctx, tx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(cur, func(l Level) bool { return l.ID == id })
		if i < 0 {
			return errNotFound()
		}
		before := cur[i]
		after := before
		after.Key = in.Key.Or(before.Key)
		after.Name = in.Name.Or(before.Name)
		after.Description = in.Description.Or("")
		if !in.Description.Set {
			after.Description = before.Description
		}
		after.Color = strings.ToUpper(in.Color.Or(before.Color))
		after.CountsAsDetected = in.CountsAsDetected.Or(before.CountsAsDetected)
		newRank := before.Rank
		if v, ok := in.Rank.Get(); ok {
			var inv apperr.Invalid
			if checkRank(&inv, v, len(cur)); inv.Err() != nil {
				return inv.Err()
			}
			newRank = v
		}
		if before.IsSystem && after.Key != before.Key {
			return apperr.New(apperr.ErrConflict, "system_level_key",
				"%q is a built-in detection level: its key cannot change. Rename it (name) instead.", before.Key).
				WithDetails(map[string]any{"key": before.Key})
		}
		if err := conflicts(cur, id, ifChanged(after.Key, before.Key), ifChanged(after.Name, before.Name)); err != nil {
			return err
		}
		p := dbx.Params{}
		changes := map[string]any{}
		set := func(col string, b, a any) {
			if b != a {
				p[col] = a
				changes[col] = map[string]any{"before": b, "after": a}
			}
		}
		set("key", before.Key, after.Key)
		set("name", before.Name, after.Name)
		set("description", before.Description, after.Description)
		set("color", before.Color, after.Color)
		set("counts_as_detected", before.CountsAsDetected, after.CountsAsDetected)
		if len(p) > 0 {
			p["updated_at"] = now
			if _, err := tx.Update("detection_levels", p, dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("levels: update: %w", err)
			}
		}
		moved := false
		if newRank != before.Rank {
			order := slices.Delete(ids(cur), i, i+1)
			order = slices.Insert(order, newRank-1, id)
			if moved, err = renumber(ctx, tx, now, cur, order); err != nil {
				return err
			}
			if moved {
				changes["rank"] = map[string]any{"before": before.Rank, "after": newRank}
			}
		}
		if moved || after.CountsAsDetected != before.CountsAsDetected {
			n, err := refreshOutcomes(ctx, tx)
			if err != nil {
				return err
			}
			if n > 0 {
				changes["tests_rederived"] = n
			}
		}
		if out, err = get(ctx, tx, id); err != nil {
			return err
		}
		if len(changes) == 0 {
			return nil
		}
		return audit.Record(ctx, tx, now, a, audit.Event{Action: "detection_level.update", ObjectType: "detection_level",
			ObjectID: id, Details: changes})
	})
	return out, err
}

func ifChanged(after, before string) string {
	if after == before {
		return ""
	}
	return after
}

// Delete removes a level no outcome uses. System levels stay; a level in use
// should be renamed instead.
func (s *Service) Delete(ctx context.Context, a audit.Actor, id string) error {
	if !db.ValidID(id) {
		return errNotFound()
	}
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		cur, err := list(ctx, tx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(cur, func(l Level) bool { return l.ID == id })
		if i < 0 {
			return errNotFound()
		}
		l := cur[i]
		if l.IsSystem {
			return apperr.New(apperr.ErrConflict, "system_level",
				"%q is a built-in detection level and cannot be deleted; rename it or change its colour instead.", l.Key).
				WithDetails(map[string]any{"key": l.Key})
		}
		if l.InUse > 0 {
			return errInUse(l)
		}
		if _, err := tx.Delete("detection_levels", dbx.HashExp{"id": id}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("levels: delete: %w", err)
		}
		rest := slices.Delete(slices.Clone(cur), i, i+1)
		if _, err := renumber(ctx, tx, now, rest, ids(rest)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, now, a, audit.Event{Action: "detection_level.delete", ObjectType: "detection_level",
			ObjectID: id, Details: map[string]any{"before": snapshot(l)}})
	})
	if err != nil && !errors.Is(err, apperr.ErrConflict) && !errors.Is(err, apperr.ErrNotFound) {
		// An outcome recorded between the check and the delete makes the
		// foreign key refuse (RESTRICT): say so rather than fail with 500.
		if l, gerr := get(ctx, s.db.Read, id); gerr == nil && l.InUse > 0 {
			return errInUse(l)
		}
	}
	return err
}

func errInUse(l Level) error {
	return apperr.New(apperr.ErrConflict, "level_in_use",
		"%q is used by %d recorded outcome(s) and cannot be deleted; rename it instead.", l.Name, l.InUse).
		WithDetails(map[string]any{"in_use": l.InUse, "key": l.Key})
}

// Reorder sets the rank order: ids must list every level exactly once, best
// first. It returns the levels in their new order.
func (s *Service) Reorder(ctx context.Context, a audit.Actor, order []string) ([]Level, error) {
	var out []Level
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		now := s.nowTime()
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		cur, err := list(ctx, tx)
		if err != nil {
			return err
		}
		if err := checkOrder(cur, order); err != nil {
			return err
		}
		moved, err := renumber(ctx, tx, now, cur, order)
		if err != nil {
			return err
		}
		if out, err = list(ctx, tx); err != nil || !moved {
			return err
		}
		details := map[string]any{"before": keys(cur), "after": keys(out)}
		n, err := refreshOutcomes(ctx, tx)
		if err != nil {
			return err
		}
		if n > 0 {
			details["tests_rederived"] = n
		}
		return audit.Record(ctx, tx, now, a, audit.Event{Action: "detection_level.reorder", ObjectType: "detection_level",
			Details: details})
	})
	return out, err
}

func checkOrder(cur []Level, order []string) error {
	known := map[string]string{}
	for _, l := range cur {
		known[l.ID] = l.Key
	}
	seen := map[string]bool{}
	var unknown, dup []string
	for _, id := range order {
		switch {
		case known[id] == "":
			unknown = append(unknown, id)
		case seen[id]:
			dup = append(dup, id)
		}
		seen[id] = true
	}
	var missing []string
	for _, l := range cur {
		if !seen[l.ID] {
			missing = append(missing, l.Key)
		}
	}
	var inv apperr.Invalid
	inv.Message = "The order must list every detection level exactly once."
	switch {
	case order == nil:
		inv.Add("ids", "is required: every detection level id, best first")
	case len(unknown) > 0:
		inv.Add("ids", "must not hold unknown ids: "+strings.Join(truncateList(unknown), ", "))
	case len(dup) > 0:
		inv.Add("ids", "must not list ids more than once: "+strings.Join(truncateList(dup), ", "))
	case len(missing) > 0:
		inv.Add("ids", "must list every level; missing: "+strings.Join(missing, ", "))
	}
	return inv.Err()
}

// truncateList quotes at most five ids of at most 40 characters each.
func truncateList(xs []string) []string {
	out := make([]string, 0, min(len(xs), 6))
	for i, x := range xs {
		if i == 5 {
			return append(out, "…")
		}
		out = append(out, text.Ellipsis(x, 40))
	}
	return out
}

// renumber gives the levels of order the ranks 1..n. uq_detection_levels_rank
// is checked per row on PostgreSQL, so the rows that move go to negative
// ranks first and to their final ones in a second pass. cur holds the
// current ranks; it reports whether any rank changed.
func renumber(ctx context.Context, tx *dbx.Tx, now db.Time, cur []Level, order []string) (bool, error) {
	rankOf := make(map[string]int, len(cur))
	for _, l := range cur {
		rankOf[l.ID] = l.Rank
	}
	var moved []int
	for i, id := range order {
		if rankOf[id] != i+1 {
			moved = append(moved, i)
		}
	}
	for _, i := range moved {
		if _, err := tx.Update("detection_levels", dbx.Params{"rank": -(i + 1)}, dbx.HashExp{"id": order[i]}).
			WithContext(ctx).Execute(); err != nil {
			return false, fmt.Errorf("levels: renumber: %w", err)
		}
	}
	for _, i := range moved {
		if _, err := tx.Update("detection_levels", dbx.Params{"rank": i + 1, "updated_at": now}, dbx.HashExp{"id": order[i]}).
			WithContext(ctx).Execute(); err != nil {
			return false, fmt.Errorf("levels: renumber: %w", err)
		}
	}
	return len(moved) > 0, nil
}
