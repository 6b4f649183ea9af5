// Package notify stores in-app notifications. Capabilities create them in
// the transaction of the change that caused them; the API lists them and
// marks them read. A small in-process hub (hub.go), owned by the service,
// tells live streams that a user's unread count may have changed.
package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
)

// Options are the service's dependencies.
type Options struct {
	DB  *db.DB
	Now func() time.Time // nil = time.Now
	Hub *Hub             // nil = a new hub with MaxStreamsPerUser
}

// Service is the notifications capability. Build one per process (the
// service set does): its hub is what links a change to the live streams.
type Service struct {
	db  *db.DB
	now func() time.Time
	hub *Hub
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hub == nil {
		o.Hub = NewHub(MaxStreamsPerUser)
	}
	return &Service{db: o.DB, now: o.Now, hub: o.Hub}
}

// Hub is the service's hub (tests count its streams).
func (s *Service) Hub() *Hub { return s.hub }

// Subscribe listens for signals about userID.
func (s *Service) Subscribe(userID string) (*Subscription, error) { return s.hub.Subscribe(userID) }

// Publish sends a mission event to the live streams of the given users
// (hub.Publish); call it after the change committed.
func (s *Service) Publish(userIDs []string, ev Event) { s.hub.Publish(userIDs, ev) }

// Listening reports whether any user holds a live stream.
func (s *Service) Listening() bool { return s.hub.Listening() }

// Create adds one notification per distinct user (never to skip, usually the
// actor: nobody is notified of their own change), created at at: the time
// of the change, on the caller's clock.
//
// It runs inside the caller's transaction, so it cannot know when (or
// whether) the rows commit. It signals the hub anyway: the hub waits a moment
// and signals again a second later, and listeners re-read the count from the
// database each time, so a signal that arrives before the commit costs one
// extra query and a rolled-back change none at all.
func (s *Service) Create(ctx context.Context, b dbx.Builder, at db.Time, userIDs []string, skip, kind string, payload map[string]any) error {
	if at.IsZero() {
		return fmt.Errorf("notify: %s: no time given", kind)
	}
	if payload == nil {
		payload = map[string]any{}
	}
	body := string(db.MustJSON(payload))
	seen := map[string]bool{skip: true, "": true}
	now := at
	var notified []string
	for _, u := range userIDs {
		if seen[u] {
			continue
		}
		seen[u] = true
		if _, err := b.Insert("notifications", dbx.Params{"id": db.NewID(), "user_id": u, "kind": kind,
			"payload": body, "created_at": now}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("notify: %s: %w", kind, err)
		}
		notified = append(notified, u)
	}
	s.hub.Signal(notified...)
	return nil
}

// Notification is one notification as the API shows it.
type Notification struct {
	ID        string   `db:"id" json:"id"`
	Kind      string   `db:"kind" json:"kind"`
	Payload   db.JSON  `db:"payload" json:"payload"`
	ReadAt    *db.Time `db:"read_at" json:"read_at"`
	CreatedAt db.Time  `db:"created_at" json:"created_at"`
}

var columns = []string{"id", "kind", "payload", "read_at", "created_at"}

// ListParams narrows List. Unread nil lists all; true only unread ones;
// false only read ones.
type ListParams struct {
	Unread *bool
	db.PageParams
}

func errNotFound() error {
	return apperr.New(apperr.ErrNotFound, "not_found", "No such notification.")
}

// List returns one user's notifications, newest first.
func (s *Service) List(ctx context.Context, userID string, p ListParams) (db.Page[Notification], error) {
	d := s.db
	p.PageParams = p.PageParams.Normalize()
	where := dbx.And(dbx.HashExp{"user_id": userID})
	if p.Unread != nil {
		if *p.Unread {
			where = dbx.And(where, dbx.NewExp("read_at IS NULL"))
		} else {
			where = dbx.And(where, dbx.NewExp("read_at IS NOT NULL"))
		}
	}
	var total int
	if err := d.Read.Select("COUNT(*)").From("notifications").Where(where).WithContext(ctx).Row(&total); err != nil {
		return db.Page[Notification]{}, fmt.Errorf("notify: count: %w", err)
	}
	var items []Notification
	if err := d.Read.Select(columns...).From("notifications").Where(where).OrderBy("created_at DESC", "id DESC").
		Limit(int64(p.PerPage)).Offset(p.Offset()).WithContext(ctx).All(&items); err != nil {
		return db.Page[Notification]{}, fmt.Errorf("notify: list: %w", err)
	}
	return db.NewPage(items, total, p.PageParams), nil
}

// UnreadCount is the number of unread notifications of one user (the
// partial index ix_notifications_unread answers it).
func (s *Service) UnreadCount(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.db.Read.Select("COUNT(*)").From("notifications").
		Where(dbx.And(dbx.HashExp{"user_id": userID}, dbx.NewExp("read_at IS NULL"))).WithContext(ctx).Row(&n); err != nil {
		return 0, fmt.Errorf("notify: unread count: %w", err)
	}
	return n, nil
}

func get(ctx context.Context, b dbx.Builder, userID, id string) (Notification, error) {
	var n Notification
	err := b.Select(columns...).From("notifications").Where(dbx.HashExp{"id": id, "user_id": userID}).
		WithContext(ctx).One(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return n, errNotFound()
	}
	if err != nil {
		return n, fmt.Errorf("notify: get: %w", err)
	}
	return n, nil
}

// MarkRead marks one of the user's notifications read and returns it. It is
// idempotent: a notification read before keeps its first read_at. Another
// user's notification, like an unknown or malformed id, is not found.
func (s *Service) MarkRead(ctx context.Context, userID, id string) (Notification, error) {
	d := s.db
	if !db.ValidID(id) {
		return Notification{}, errNotFound()
	}
	n, err := get(ctx, d.Read, userID, id)
	if err != nil || n.ReadAt != nil {
		return n, err
	}
	now := db.NewTime(s.now())
	res, err := d.Write.Update("notifications", dbx.Params{"read_at": now},
		dbx.And(dbx.HashExp{"id": id, "user_id": userID}, dbx.NewExp("read_at IS NULL"))).WithContext(ctx).Execute()
	if err != nil {
		return n, fmt.Errorf("notify: mark read: %w", err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		// Marked by a concurrent request (another tab): show its time.
		return get(ctx, d.Write, userID, id)
	}
	s.hub.Signal(userID)
	n.ReadAt = &now
	return n, nil
}

// MarkAllRead marks every unread notification of the user read and returns
// how many it marked.
func (s *Service) MarkAllRead(ctx context.Context, userID string) (int, error) {
	res, err := s.db.Write.Update("notifications", dbx.Params{"read_at": db.NewTime(s.now())},
		dbx.And(dbx.HashExp{"user_id": userID}, dbx.NewExp("read_at IS NULL"))).WithContext(ctx).Execute()
	if err != nil {
		return 0, fmt.Errorf("notify: mark all read: %w", err)
	}
	k, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("notify: mark all read: %w", err)
	}
	if k > 0 {
		s.hub.Signal(userID)
	}
	return int(k), nil
}
