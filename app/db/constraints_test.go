package db_test

import (
	"strings"
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

// assertRefusedBy checks that err is the database refusing a row because of
// one of the named constraints: SQLite says "CHECK constraint failed: <name>",
// PostgreSQL `violates check constraint "<name>"`. Any other error (a NOT NULL,
// a typo in the test's column list) fails the test.
func assertRefusedBy(t *testing.T, err error, names ...string) {
	t.Helper()
	if !assert.Error(t, err, "want a violation of %v", names) {
		return
	}
	for _, n := range names {
		if strings.Contains(err.Error(), n) {
			return
		}
	}
	assert.Failf(t, "refused by another error", "want a violation of %v, got: %v", names, err)
}

// assertRefusedByFK checks a foreign-key refusal: PostgreSQL names the
// constraint, SQLite only says "FOREIGN KEY constraint failed".
func assertRefusedByFK(t *testing.T, d *db.DB, err error, name string) {
	t.Helper()
	if d.Driver() == db.Postgres {
		assertRefusedBy(t, err, name)
		return
	}
	assertRefusedBy(t, err, "FOREIGN KEY constraint failed")
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
	const exactlyOne = "ck_test_template_mitre_tags_exactly_one_mitre_fk"
	// Zero FKs and two FKs both fail, whatever the kind says.
	assertRefusedBy(t, try("technique", nil, nil, nil), exactlyOne)
	assertRefusedBy(t, try("technique", tactic, technique, nil), exactlyOne)
	assertRefusedBy(t, try("subtechnique", nil, technique, sub), exactlyOne)
	assertRefusedBy(t, try("tactic", tactic, technique, sub), exactlyOne)
	// The FK must match the kind.
	assertRefusedBy(t, try("tactic", nil, technique, nil), exactlyOne)
	// An unknown kind breaks both CHECKs; SQLite reports the first declared,
	// PostgreSQL the first by name.
	assertRefusedBy(t, try("bogus", nil, technique, nil), "ck_test_template_mitre_tags_mitre_kind", exactlyOne)
	require.Zero(t, dbtest.Count(t, d, "test_template_mitre_tags"))
	// Exactly one, matching the kind: fine.
	require.NoError(t, try("tactic", tactic, nil, nil))
	require.NoError(t, try("technique", nil, technique, nil))
	require.NoError(t, try("subtechnique", nil, nil, sub))
	assert.Equal(t, 3, dbtest.Count(t, d, "test_template_mitre_tags"))
	// A dangling FK is refused (foreign keys are on).
	assertRefusedByFK(t, d, try("technique", nil, db.NewID(), nil), "fk_test_template_mitre_tags_technique_id_mitre_techniques")
	assert.Equal(t, 3, dbtest.Count(t, d, "test_template_mitre_tags"))
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
	// Text that is not JSON: SQLite's CHECK refuses it, PostgreSQL's jsonb
	// type does before any CHECK runs.
	if d.Driver() == db.Postgres {
		assertRefusedBy(t, insert("{not json"), "invalid input syntax for type json")
	} else {
		assertRefusedBy(t, insert("{not json"), "ck_audit_events_details_json")
	}
	assertRefusedBy(t, insert(`["an array, not an object"]`), "ck_audit_events_details_json")
	require.NoError(t, insert(`{"ok":true}`))
	assert.Equal(t, 1, dbtest.Count(t, d, "audit_events"))

	tpl := func(tags string) error {
		_, err := d.Write.Insert("test_templates", dbx.Params{"id": db.NewID(), "name": "x", "name_fold": "x", "search_fold": "x",
			"tags": tags, "created_at": now, "updated_at": now}).Execute()
		return err
	}
	assertRefusedBy(t, tpl(`{"not":"an array"}`), "ck_test_templates_tags_json")
	require.NoError(t, tpl(`["an","array"]`))
}

// TestCheckConstraintsFire inserts rows that are valid but for one column and
// checks that the CHECK named for that column refuses them, on both engines;
// the same row with a valid value goes in (so the refusal is the CHECK's,
// not a missing column's).
func TestCheckConstraintsFire(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	now := db.NewTime(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) // rows whose time nothing compares
	mission := func(p dbx.Params) error {
		row := dbx.Params{"id": db.NewID(), "name": "M", "name_fold": "m", "created_at": now, "updated_at": now}
		for k, v := range p {
			row[k] = v
		}
		_, err := d.Write.Insert("missions", row).Execute()
		return err
	}
	template := func(p dbx.Params) error {
		row := dbx.Params{"id": db.NewID(), "name": "x", "name_fold": "x", "search_fold": "x", "created_at": now, "updated_at": now}
		for k, v := range p {
			row[k] = v
		}
		_, err := d.Write.Insert("test_templates", row).Execute()
		return err
	}
	for _, c := range []struct {
		name       string
		insert     func(dbx.Params) error
		bad, good  dbx.Params
		constraint string
	}{
		{"mission status outside planned/active/completed/archived", mission,
			dbx.Params{"status": "paused"}, dbx.Params{"status": "active"}, "ck_missions_status"},
		{"mission ending before it starts", mission,
			dbx.Params{"starts_on": "2030-02-01", "ends_on": "2030-01-31"}, dbx.Params{"starts_on": "2030-02-01", "ends_on": "2030-02-01"}, "ck_missions_dates"},
		{"mission version below 1", mission,
			dbx.Params{"version": 0}, dbx.Params{"version": 1}, "ck_missions_version"},
		{"opsec_level outside low/medium/high", template,
			dbx.Params{"opsec_level": "extreme"}, dbx.Params{"opsec_level": "high"}, "ck_test_templates_opsec_level"},
	} {
		t.Run(c.name, func(t *testing.T) {
			assertRefusedBy(t, c.insert(c.bad), c.constraint)
			assert.NoError(t, c.insert(c.good))
		})
	}
	assert.Equal(t, 3, dbtest.Count(t, d, "missions"))
	assert.Equal(t, 1, dbtest.Count(t, d, "test_templates"))
}
