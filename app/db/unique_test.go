package db_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A unique violation that escapes a transaction is a conflict (409) on
// both engines, with the driver's error kept as the cause; other errors
// stay what they were.
func TestTxUniqueViolationIsConflict(t *testing.T) {
	d := dbtest.New(t)
	ctx := t.Context()
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	group := func(name string) dbx.Params {
		return dbx.Params{"id": db.NewID(), "name": name, "name_fold": name, "description": "",
			"created_at": now, "updated_at": now}
	}
	require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
		_, err := tx.Insert("groups", group("dup")).WithContext(ctx).Execute()
		return err
	}))
	err := d.Tx(ctx, func(tx *dbx.Tx) error {
		_, err := tx.Insert("groups", group("dup")).WithContext(ctx).Execute()
		return err
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, apperr.ErrConflict)
	var ae *apperr.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "conflict", ae.Code)
	if d.Driver() == db.Postgres {
		assert.Equal(t, "ix_groups_active", ae.Details["constraint"])
	}
	// The other group is not there: the transaction rolled back.
	var n int
	require.NoError(t, d.Read.NewQuery("SELECT COUNT(*) FROM groups WHERE name_fold = 'dup'").WithContext(ctx).Row(&n))
	assert.Equal(t, 1, n)

	// A CHECK or NOT NULL failure is not a conflict.
	err = d.Tx(ctx, func(tx *dbx.Tx) error {
		p := group("other")
		p["name"] = nil
		_, err := tx.Insert("groups", p).WithContext(ctx).Execute()
		return err
	})
	require.Error(t, err)
	assert.False(t, errors.Is(err, apperr.ErrConflict), "%v", err)

	// An error the service classified itself is left alone.
	own := apperr.New(apperr.ErrConflict, "group_name_taken", "taken")
	err = d.Tx(ctx, func(tx *dbx.Tx) error { return own })
	assert.Same(t, own, err)
}
