// Package notify stores in-app notifications. Capabilities create them in
// the transaction of the change that caused them; the API lists them and
// marks them read.
package notify

import (
	"context"
	"fmt"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
)

// Create adds one notification per distinct user (never to skip, usually the
// actor: nobody is notified of their own change).
func Create(ctx context.Context, b dbx.Builder, userIDs []string, skip, kind string, payload map[string]any) error {
	if payload == nil {
		payload = map[string]any{}
	}
	body := string(db.MustJSON(payload))
	seen := map[string]bool{skip: true, "": true}
	now := db.Now()
	for _, u := range userIDs {
		if seen[u] {
			continue
		}
		seen[u] = true
		if _, err := b.Insert("notifications", dbx.Params{"id": db.NewID(), "user_id": u, "kind": kind,
			"payload": body, "created_at": now}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("notify: %s: %w", kind, err)
		}
	}
	return nil
}
