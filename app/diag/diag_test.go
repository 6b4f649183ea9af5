package diag

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionOf(t *testing.T) {
	rev := "0123456789abcdef0123456789abcdef01234567"
	settings := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, c := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "dev"},
		{"module version", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.2"}, Settings: settings("vcs.revision", rev)}, true, "v1.4.2"},
		{"devel, clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.revision", rev, "vcs.modified", "false")}, true, "dev-0123456789ab"},
		{"devel, modified", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: settings("vcs.modified", "true", "vcs.revision", rev)}, true, "dev-0123456789ab-dirty"},
		{"short revision", &debug.BuildInfo{Settings: settings("vcs.revision", "abc")}, true, "dev"},
		{"nothing recorded", &debug.BuildInfo{}, true, "dev"},
	} {
		assert.Equal(t, c.want, versionOf(c.info, c.ok), c.name)
	}
}

// The ldflags version wins over anything the toolchain recorded, and is
// computed once.
func TestBuildVersionPrefersLdflags(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9-test"
	assert.Equal(t, "v9.9.9-test", BuildVersion())
	Version = "changed later"
	assert.Equal(t, "changed later", BuildVersion(), "BuildVersion reads the variable; it does not reset it")
}

func TestDatabaseStatus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	cat, err := d.Catalog(ctx)
	require.NoError(t, err)
	latest, err := d.LatestVersion()
	require.NoError(t, err)
	st := Database(ctx, d)
	assert.Equal(t, DBStatus{Reachable: true, Driver: d.Driver(), MigrationVersion: latest, LatestVersion: latest,
		TableCount: len(cat.Tables)}, st)
	require.NotZero(t, st.TableCount)

	// A closed database is reported, not returned as an error.
	closed := dbtest.New(t)
	require.NoError(t, closed.Close())
	st = Database(ctx, closed)
	assert.False(t, st.Reachable)
	assert.Equal(t, "the database does not answer", st.Error)
	assert.Equal(t, closed.Driver(), st.Driver)
}

func TestDatabaseStatusUnmigrated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var d *db.DB
	if dbtest.Backend() == db.Postgres {
		d = dbtest.NewEmptyPostgres(t)
	} else {
		d = dbtest.NewEmptySQLite(t)
	}
	latest, err := d.LatestVersion()
	require.NoError(t, err)
	st := Database(ctx, d)
	assert.Equal(t, DBStatus{Reachable: true, Driver: d.Driver(), LatestVersion: latest}, st)
}
