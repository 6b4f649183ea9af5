package db

import (
	"context"
	"database/sql"
	"fmt"
)

var errNoRows = sql.ErrNoRows

// Reset deletes every row of every table except those in keep, children
// first, then replays the seed blocks of the migrations, all in one
// transaction: either everything is reset or nothing is.
func (d *DB) Reset(ctx context.Context, keep ...string) error {
	cat, err := d.Catalog(ctx)
	if err != nil {
		return fmt.Errorf("db: reset: %w", err)
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	seeds, err := d.seedBlocks()
	if err != nil {
		return fmt.Errorf("db: reset: %w", err)
	}
	// Raw SQL on the write connection: seed blocks are multi-statement and
	// may contain characters dbx would treat as its quoting syntax.
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: reset: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, t := range cat.DeleteOrder() {
		if kept[t] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM "`+t+`"`); err != nil {
			return fmt.Errorf("db: reset %s: %w", t, err)
		}
	}
	for _, s := range seeds {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("db: reset: reseed: %w", err)
		}
	}
	return tx.Commit()
}
