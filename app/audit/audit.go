// Package audit records who did what to which object, in the same
// transaction as the change, and lists the record for administrators. The
// record is a hash chain (chain.go): editing, removing or inserting a row
// behind the application's back is found by Verify.
package audit

import (
	"context"
	"fmt"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

// Actor is who acted: a user, or the system/console with a label.
type Actor struct {
	UserID    string // empty for anonymous or console actions
	Label     string // email, "console", "anonymous" (stored as actor_label)
	Name      string // display name, for notifications; not stored (the log resolves names when listing)
	IP        string
	RequestID string
}

// Event is one auditable action.
type Event struct {
	Action     string // dotted, e.g. "auth.login_failed", "user.update"
	ObjectType string
	ObjectID   string
	Details    map[string]any // never secrets
}

// Record writes ev, which happened at at (the caller's clock: audit has
// none of its own, so an event carries the same time as the change it
// records). Pass the transaction of the change so both commit together;
// given a pool instead, Record runs its own transaction. The event is
// appended to the hash chain (chain.go): on PostgreSQL the chain's head row
// stays locked until the transaction ends, so record last in it.
func Record(ctx context.Context, b dbx.Builder, at db.Time, a Actor, ev Event) error {
	if at.IsZero() {
		return fmt.Errorf("audit: record %s: no time given", ev.Action)
	}
	if err := appendRows(ctx, b, []dbx.Params{params(at, a, ev)}); err != nil {
		return fmt.Errorf("audit: record %s: %w", ev.Action, err)
	}
	return nil
}

// RecordMany writes several events of one actor at one time, chained in
// order, with multi-row INSERTs (bulk imports record one event per created
// object).
func RecordMany(ctx context.Context, b dbx.Builder, at db.Time, a Actor, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	if at.IsZero() {
		return fmt.Errorf("audit: record %s: no time given", evs[0].Action)
	}
	rows := make([]dbx.Params, len(evs))
	for i, ev := range evs {
		rows[i] = params(at, a, ev)
	}
	if err := appendRows(ctx, b, rows); err != nil {
		return fmt.Errorf("audit: record %s: %w", evs[0].Action, err)
	}
	return nil
}

// Copy appends events that were recorded elsewhere (another instance's, in
// a bundle) with their own ids, times and actors, chained here in the order
// given. Details must be a JSON object.
func Copy(ctx context.Context, b dbx.Builder, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([]dbx.Params, len(entries))
	for i, e := range entries {
		var actor any
		if e.ActorUserID != nil {
			actor = *e.ActorUserID
		}
		details := string(e.Details)
		if details == "" {
			details = "{}"
		}
		rows[i] = dbx.Params{"id": e.ID, "at": e.At, "actor_user_id": actor, "actor_label": e.ActorLabel,
			"action": e.Action, "object_type": e.ObjectType, "object_id": e.ObjectID, "details": details,
			"ip": e.IP, "request_id": e.RequestID}
	}
	if err := appendRows(ctx, b, rows); err != nil {
		return fmt.Errorf("audit: copy events: %w", err)
	}
	return nil
}

// columns are the audit_events columns params fills.
var columns = []string{"id", "at", "actor_user_id", "actor_label", "action", "object_type", "object_id", "details", "ip", "request_id"}

// params is the one place an event becomes a row.
func params(at db.Time, a Actor, ev Event) dbx.Params {
	details := ev.Details
	if details == nil {
		details = map[string]any{}
	}
	var actor any
	if a.UserID != "" {
		actor = a.UserID
	}
	return dbx.Params{
		"id": db.NewID(), "at": at, "actor_user_id": actor, "actor_label": text.Truncate(a.Label, 320),
		"action": ev.Action, "object_type": ev.ObjectType, "object_id": ev.ObjectID,
		"details": string(db.MustJSON(details)), "ip": text.Truncate(a.IP, 64), "request_id": text.Truncate(a.RequestID, 64),
	}
}

// Entry is one audit event as listed.
type Entry struct {
	ID          string  `db:"id" json:"id"`
	At          db.Time `db:"at" json:"at"`
	ActorUserID *string `db:"actor_user_id" json:"actor_user_id"`
	ActorLabel  string  `db:"actor_label" json:"actor_label"`
	Action      string  `db:"action" json:"action"`
	ObjectType  string  `db:"object_type" json:"object_type"`
	ObjectID    string  `db:"object_id" json:"object_id"`
	Details     db.JSON `db:"details" json:"details"`
	IP          string  `db:"ip" json:"ip"`
	RequestID   string  `db:"request_id" json:"request_id"`
	// Seq is the event's position in the hash chain and Hash its link
	// (chain.go); both are set by the chain, never by callers.
	Seq      *int64  `db:"seq" json:"seq"`
	PrevHash *string `db:"prev_hash" json:"-"`
	Hash     *string `db:"hash" json:"hash"`
}

// Filter narrows List. Action matches exactly or, ending in ".", by prefix.
type Filter struct {
	Action     string
	ActorID    string
	ObjectType string
	ObjectID   string
	Since      *db.Time
	Until      *db.Time
	db.PageParams
}

// List returns matching events, newest first.
func List(ctx context.Context, d *db.DB, f Filter) (db.Page[Entry], error) {
	f.PageParams = f.PageParams.Normalize()
	conds := []dbx.Expression{}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			conds = append(conds, dbx.Like("action", f.Action).Match(false, true))
		} else {
			conds = append(conds, dbx.HashExp{"action": f.Action})
		}
	}
	if f.ActorID != "" {
		conds = append(conds, dbx.HashExp{"actor_user_id": f.ActorID})
	}
	if f.ObjectType != "" {
		conds = append(conds, dbx.HashExp{"object_type": f.ObjectType})
	}
	if f.ObjectID != "" {
		conds = append(conds, dbx.HashExp{"object_id": f.ObjectID})
	}
	if f.Since != nil {
		conds = append(conds, dbx.NewExp("at >= {:since}", dbx.Params{"since": *f.Since}))
	}
	if f.Until != nil {
		conds = append(conds, dbx.NewExp("at < {:until}", dbx.Params{"until": *f.Until}))
	}
	where := dbx.And(conds...)
	var total int
	if err := d.Read.Select("COUNT(*)").From("audit_events").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Entry]{}, fmt.Errorf("audit: count: %w", err)
	}
	var items []Entry
	err := d.Read.Select("*").From("audit_events").Where(where).OrderBy("at DESC", "id DESC").
		Limit(int64(f.PerPage)).Offset(f.Offset()).WithContext(ctx).All(&items)
	if err != nil {
		return db.Page[Entry]{}, fmt.Errorf("audit: list: %w", err)
	}
	return db.NewPage(items, total, f.PageParams), nil
}
