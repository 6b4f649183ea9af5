package settings

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidation(t *testing.T) {
	t.Parallel()
	ok := map[string][]string{
		SecurityControls: {`["EDR"]`, `[" EDR ","SIEM"]`, `["x"]`},
		RequireMFA:       {`true`, `false`},
		EvidenceMaxBytes: {`1048576`, `8589934592`, `536870912`},
	}
	bad := map[string][]string{
		SecurityControls: {`[]`, `null`, `"EDR"`, `[1]`, `[""]`, `["a","A"]`, `["a"] x`},
		RequireMFA:       {`null`, `"true"`, `0`},
		EvidenceMaxBytes: {`1048575`, `8589934593`, `1e6`, `1.0`, `"1"`, `null`},
	}
	for key, vals := range ok {
		for _, v := range vals {
			_, err := Parse(key, json.RawMessage(v))
			assert.NoError(t, err, "%s = %s", key, v)
		}
	}
	for key, vals := range bad {
		for _, v := range vals {
			_, err := Parse(key, json.RawMessage(v))
			assert.ErrorIs(t, err, apperr.ErrInvalid, "%s = %s", key, v)
		}
	}
	_, err := Parse("nope", json.RawMessage(`1`))
	assert.ErrorIs(t, err, apperr.ErrNotFound)
	v, err := Parse(SecurityControls, json.RawMessage(`[" EDR ","SIEM"]`))
	require.NoError(t, err)
	assert.Equal(t, []string{"EDR", "SIEM"}, v)
	for _, k := range Keys() {
		_, err := Parse(k, json.RawMessage(db.MustJSON(specs[k].def())))
		assert.NoError(t, err, "the default of %s is valid", k)
	}
}

// A missing row is the default; a stored value wins; an invalid stored
// value and a database failure are errors, never a silent default.
func TestSecurityControlsReadsOrFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	now := time.Date(2032, 2, 3, 4, 5, 6, 0, time.UTC)
	s := New(Options{DB: d, Now: func() time.Time { return now }})

	cs, err := s.SecurityControls(ctx)
	require.NoError(t, err)
	assert.Equal(t, DefaultSecurityControls(), cs, "a fresh instance has no row: the default")
	st, err := s.Get(ctx, SecurityControls)
	require.NoError(t, err)
	assert.True(t, st.IsDefault)

	admin := audit.Actor{Label: "admin"}
	st, changed, err := s.Put(ctx, admin, SecurityControls, json.RawMessage(`[" EDR ","Deception"]`))
	require.NoError(t, err)
	assert.True(t, changed)
	assert.False(t, st.IsDefault)
	assert.Equal(t, now, st.UpdatedAt.Time, "written on the service's clock")
	cs, err = s.SecurityControls(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"EDR", "Deception"}, cs)
	_, changed, err = s.Put(ctx, admin, SecurityControls, json.RawMessage(`["EDR","Deception"]`))
	require.NoError(t, err)
	assert.False(t, changed, "the same value writes nothing")
	assert.Equal(t, 1, dbtest.Count(t, d, "audit_events"))

	_, err = d.Write.NewQuery(`UPDATE settings SET value = '[]' WHERE key = 'security_controls'`).Execute()
	require.NoError(t, err)
	_, err = s.SecurityControls(ctx)
	assert.ErrorContains(t, err, "invalid", "a stored value that no longer validates is an error")

	_, err = d.Write.NewQuery(`DROP TABLE settings`).Execute()
	require.NoError(t, err)
	_, err = s.SecurityControls(ctx)
	assert.Error(t, err, "a database error is returned, not the default list")
	_, err = s.All(ctx)
	assert.Error(t, err)
}
