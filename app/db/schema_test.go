package db_test

import (
	"context"
	"errors"
	"io/fs"
	"sort"
	"testing"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allTables = []string{
	"api_tokens", "audit_chain", "audit_events", "bundle_conflicts", "bundle_instance", "bundle_sync_states", "detection_levels", "evidence_files", "group_permissions", "groups",
	"invitation_groups", "invitations", "mission_categories", "mission_members", "mission_scenarios",
	"mission_test_mitre_tags", "mission_test_outcomes", "mission_tests", "missions", "mitre_subtechniques",
	"mitre_tactics", "mitre_technique_tactics", "mitre_techniques", "notifications", "permissions",
	"refresh_tokens", "result_month_counts", "result_org_counts", "result_technique_counts", "scenario_template_tests", "scenario_templates", "settings", "test_template_mitre_tags",
	"test_templates", "user_groups", "users",
}

var softDeleteTables = []string{"users", "groups", "test_templates", "scenario_templates", "missions",
	"mission_scenarios", "mission_tests", "mission_categories", "evidence_files"}

func catalog(t *testing.T, d *db.DB) *db.Catalog {
	t.Helper()
	c, err := d.Catalog(context.Background())
	require.NoError(t, err)
	return c
}

func TestEveryTablePresent(t *testing.T) {
	t.Parallel()
	c := catalog(t, dbtest.New(t))
	require.Len(t, allTables, 36)
	assert.Equal(t, allTables, c.TableNames())
}

func TestNamingConvention(t *testing.T) {
	t.Parallel()
	c := catalog(t, dbtest.New(t))
	for _, tb := range c.Tables {
		assert.Equal(t, "pk_"+tb.Name, tb.PrimaryKey, "primary key constraint of %s", tb.Name)
		assert.NotEmpty(t, tb.PKColumns, tb.Name)
		for _, col := range tb.Columns {
			for _, pk := range tb.PKColumns {
				if col.Name == pk {
					assert.False(t, col.Nullable, "%s.%s is a primary key column and must be NOT NULL", tb.Name, col.Name)
				}
			}
		}
		for _, ck := range tb.Checks {
			assert.Regexp(t, "^ck_"+tb.Name+"_", ck)
		}
		for _, uq := range tb.Uniques {
			assert.Regexp(t, "^uq_"+tb.Name+"_", uq)
		}
	}
	for name, ix := range c.Indexes {
		if ix.Unique {
			assert.Regexp(t, "^(uq|ix)_"+ix.Table+"_", name)
		} else {
			assert.Regexp(t, "^ix_"+ix.Table+"_", name)
		}
	}
}

func TestRequiredChecks(t *testing.T) {
	t.Parallel()
	c := catalog(t, dbtest.New(t))
	has := func(table, check string) {
		t.Helper()
		require.Contains(t, c.Tables, table)
		assert.Contains(t, c.Tables[table].Checks, check, table)
	}
	has("missions", "ck_missions_status")
	has("mission_tests", "ck_mission_tests_state")
	has("mission_members", "ck_mission_members_role")
	has("test_templates", "ck_test_templates_opsec_level")
	has("test_template_mitre_tags", "ck_test_template_mitre_tags_mitre_kind")
	has("test_template_mitre_tags", "ck_test_template_mitre_tags_exactly_one_mitre_fk")
	has("mission_test_mitre_tags", "ck_mission_test_mitre_tags_mitre_kind")
	has("evidence_files", "ck_evidence_files_side")
	// Every JSON column carries a json check.
	for _, tc := range []struct{ table, col string }{
		{"test_templates", "tags"}, {"test_templates", "platforms"}, {"notifications", "payload"},
		{"audit_events", "details"}, {"settings", "value"},
	} {
		has(tc.table, "ck_"+tc.table+"_"+tc.col+"_json")
	}
}

func TestPartialIndexes(t *testing.T) {
	t.Parallel()
	c := catalog(t, dbtest.New(t))
	partial := map[string]db.Index{}
	for name, ix := range c.Indexes {
		if ix.Predicate != "" {
			partial[name] = ix
		}
	}
	var names []string
	for _, tb := range softDeleteTables {
		name := "ix_" + tb + "_active"
		names = append(names, name)
		require.Contains(t, partial, name)
		assert.Equal(t, tb, partial[name].Table)
		assert.Equal(t, "deleted_at is null", partial[name].Predicate, name)
	}
	require.Contains(t, partial, "ix_notifications_unread")
	assert.Equal(t, "read_at is null", partial["ix_notifications_unread"].Predicate)
	names = append(names, "ix_notifications_unread")
	require.Contains(t, partial, "ix_bundle_conflicts_open")
	assert.Equal(t, "resolved_at is null", partial["ix_bundle_conflicts_open"].Predicate)
	names = append(names, "ix_bundle_conflicts_open")
	var got []string
	for n := range partial {
		got = append(got, n)
	}
	sort.Strings(got)
	sort.Strings(names)
	assert.Equal(t, names, got, "exactly the eleven partial indexes")
}

func TestMigrationAtHead(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	st, err := d.State(context.Background())
	require.NoError(t, err)
	assert.Equal(t, st.Latest, st.Version)
	assert.False(t, st.Dirty)
	assert.NoError(t, d.Migrate(context.Background()), "migrating again is a no-op")
}

func emptyDB(t *testing.T) *db.DB {
	if dbtest.Backend() == db.Postgres {
		return dbtest.NewEmptyPostgres(t)
	}
	return dbtest.NewEmptySQLite(t)
}

func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := emptyDB(t)
	require.NoError(t, d.Migrate(ctx))
	first := catalog(t, d)
	st, err := d.State(ctx)
	require.NoError(t, err)
	// Down by the number of migrations (versions may have gaps: the
	// numbers are reserved per branch of work).
	ups, err := fs.Glob(schema.SQLite, "sqlite/*.up.sql")
	require.NoError(t, err)
	require.NotZero(t, st.Version)
	require.NoError(t, d.MigrateDown(ctx, len(ups)))
	st, err = d.State(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Version)
	assert.Empty(t, catalog(t, d).Tables, "down removes every table")
	require.NoError(t, d.Migrate(ctx))
	assert.Equal(t, first, catalog(t, d))
	assert.Equal(t, 4, dbtest.Count(t, d, "groups"), "seeds come back")
}

func TestSeeds(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	var perms []string
	require.NoError(t, d.Read.NewQuery("SELECT key FROM permissions ORDER BY key").Column(&perms))
	assert.ElementsMatch(t, []string{
		"mitre.sync",
		"test_template.read", "test_template.create", "test_template.update", "test_template.delete",
		"scenario_template.read", "scenario_template.create", "scenario_template.update", "scenario_template.delete",
		"mission.read", "mission.read_all", "mission.create", "mission.update", "mission.delete", "mission.manage_members",
		"mission_test.execute", "mission_test.assess",
		"evidence.read", "evidence.upload", "evidence.delete",
		"bundle.export", "bundle.import",
		"user.manage", "group.manage", "invitation.manage", "settings.manage", "audit.read", "diag.reset", "backup.manage",
	}, perms)
	var groups []string
	require.NoError(t, d.Read.NewQuery("SELECT name FROM groups ORDER BY name").Column(&groups))
	assert.Equal(t, []string{"Admins", "Blue team", "Red team", "Viewers"}, groups)
	var adminPerms int
	require.NoError(t, d.Read.NewQuery(`SELECT COUNT(*) FROM group_permissions gp JOIN groups g ON g.id = gp.group_id WHERE g.name = 'Admins'`).Row(&adminPerms))
	assert.Equal(t, len(perms), adminPerms, "Admins hold every permission")
	var levels []string
	require.NoError(t, d.Read.NewQuery("SELECT key FROM detection_levels ORDER BY rank").Column(&levels))
	assert.Equal(t, []string{"blocked", "alerted", "logged", "none", "not_applicable", "tbd"}, levels)
}

func TestTooNewDatabaseRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	_, err := d.SQL().ExecContext(ctx, "UPDATE schema_migrations SET version = 9999")
	require.NoError(t, err)
	err = d.Migrate(ctx)
	require.ErrorIs(t, err, db.ErrTooNew)
	assert.Contains(t, err.Error(), "9999")
	assert.Contains(t, err.Error(), "newer purplebook")
}

func TestDirtyDatabaseRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	_, err := d.SQL().ExecContext(ctx, "UPDATE schema_migrations SET dirty = TRUE")
	require.NoError(t, err)
	err = d.Migrate(ctx)
	require.ErrorIs(t, err, db.ErrDirty)
	assert.Contains(t, err.Error(), "migrate force")
	st, err := d.State(ctx)
	require.NoError(t, err)
	assert.ErrorIs(t, st.Check(), db.ErrDirty)
	require.NoError(t, d.MigrateForce(ctx, int(st.Version)))
	assert.NoError(t, d.Migrate(ctx))
}

func TestBothTreesListIdenticalVersions(t *testing.T) {
	t.Parallel()
	list := func(fsys fs.FS, dir string) []string {
		entries, err := fs.ReadDir(fsys, dir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	s, p := list(schema.SQLite, "sqlite"), list(schema.Postgres, "postgres")
	assert.Equal(t, s, p)
	for _, n := range s {
		if len(n) > 7 && n[len(n)-7:] == ".up.sql" {
			assert.Contains(t, s, n[:len(n)-7]+".down.sql", "every up has a down")
		}
	}
}

func TestDeleteOrderRespectsForeignKeys(t *testing.T) {
	t.Parallel()
	c := catalog(t, dbtest.New(t))
	pos := map[string]int{}
	for i, n := range c.DeleteOrder() {
		pos[n] = i
	}
	require.Len(t, pos, len(allTables))
	for _, tb := range c.Tables {
		for _, fk := range tb.ForeignKeys {
			if fk.RefTable != tb.Name {
				assert.Less(t, pos[tb.Name], pos[fk.RefTable], "%s references %s", tb.Name, fk.RefTable)
			}
		}
	}
}

var _ = errors.Is
