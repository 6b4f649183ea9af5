package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mitreFixture inserts one tactic, technique and subtechnique and a test
// template, returning their ids.
func mitreFixture(t *testing.T, d *db.DB) (tactic, technique, sub, tpl string) {
	t.Helper()
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) // rows whose time nothing compares
	tactic, technique, sub, tpl = db.NewID(), db.NewID(), db.NewID(), db.NewID()
	ins := func(table string, p dbx.Params) {
		t.Helper()
		_, err := d.Write.Insert(table, p).Execute()
		require.NoError(t, err, table)
	}
	ins("mitre_tactics", dbx.Params{"id": tactic, "stix_id": "x-mitre-tactic--1", "external_id": "TA0007", "domain": "enterprise-attack",
		"shortname": "discovery", "name": "Discovery", "search_fold": "ta0007 discovery", "matrix_position": 1,
		"created_at": now, "updated_at": now})
	ins("mitre_techniques", dbx.Params{"id": technique, "stix_id": "attack-pattern--1", "external_id": "T1087", "domain": "enterprise-attack",
		"name": "Account Discovery", "search_fold": "t1087 account discovery", "created_at": now, "updated_at": now})
	ins("mitre_subtechniques", dbx.Params{"id": sub, "stix_id": "attack-pattern--2", "external_id": "T1087.001", "domain": "enterprise-attack",
		"technique_id": technique, "name": "Local Account", "search_fold": "t1087.001 local account",
		"created_at": now, "updated_at": now})
	ins("test_templates", dbx.Params{"id": tpl, "name": "Enumerate users", "name_fold": "enumerate users", "search_fold": "enumerate users",
		"created_at": now, "updated_at": now})
	return
}

func TestExactlyOneMitreFK(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	tactic, technique, sub, tpl := mitreFixture(t, d)
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) // rows whose time nothing compares
	try := func(kind string, ta, te, su any) error {
		_, err := d.Write.Insert("test_template_mitre_tags", dbx.Params{
			"id": db.NewID(), "test_template_id": tpl, "kind": kind,
			"tactic_id": ta, "technique_id": te, "subtechnique_id": su, "created_at": now,
		}).Execute()
		return err
	}
	// Zero FKs and two FKs both fail, whatever the kind says.
	assert.Error(t, try("technique", nil, nil, nil), "zero FKs")
	assert.Error(t, try("technique", tactic, technique, nil), "two FKs")
	assert.Error(t, try("subtechnique", nil, technique, sub), "two FKs")
	assert.Error(t, try("tactic", tactic, technique, sub), "three FKs")
	// The FK must match the kind.
	assert.Error(t, try("tactic", nil, technique, nil), "kind mismatch")
	assert.Error(t, try("bogus", nil, technique, nil), "unknown kind")
	require.Zero(t, dbtest.Count(t, d, "test_template_mitre_tags"))
	// Exactly one, matching the kind: fine.
	require.NoError(t, try("tactic", tactic, nil, nil))
	require.NoError(t, try("technique", nil, technique, nil))
	require.NoError(t, try("subtechnique", nil, nil, sub))
	assert.Equal(t, 3, dbtest.Count(t, d, "test_template_mitre_tags"))
	// A dangling FK is refused (foreign keys are on).
	assert.Error(t, try("technique", nil, db.NewID(), nil), "unknown technique")
}

func TestJSONColumnRejectsInvalidJSON(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) // rows whose time nothing compares
	insert := func(details any) error {
		_, err := d.Write.Insert("audit_events", dbx.Params{
			"id": db.NewID(), "at": now, "action": "test", "details": details,
		}).Execute()
		return err
	}
	assert.Error(t, insert("{not json"))
	assert.Error(t, insert(`["an array, not an object"]`))
	require.NoError(t, insert(`{"ok":true}`))
	assert.Equal(t, 1, dbtest.Count(t, d, "audit_events"))

	_, err := d.Write.Insert("test_templates", dbx.Params{"id": db.NewID(), "name": "x", "name_fold": "x", "search_fold": "x",
		"tags": `{"not":"an array"}`, "created_at": now, "updated_at": now}).Execute()
	assert.Error(t, err, "tags must be an array")
}

func TestCheckConstraintsFire(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) // rows whose time nothing compares
	_, err := d.Write.Insert("missions", dbx.Params{"id": db.NewID(), "name": "M", "name_fold": "m",
		"status": "paused", "created_at": now, "updated_at": now}).Execute()
	assert.Error(t, err, "status outside planned/active/completed/archived")
	_, err = d.Write.Insert("test_templates", dbx.Params{"id": db.NewID(), "name": "x", "name_fold": "x", "search_fold": "x",
		"opsec_level": "extreme", "created_at": now, "updated_at": now}).Execute()
	assert.Error(t, err, "opsec_level outside low/medium/high")
	_ = context.Background()
}
