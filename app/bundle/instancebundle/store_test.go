package instancebundle_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle/instancebundle"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/settings"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScheduledBackups drives the schedule with a test clock: a backup
// when none exists, none while the newest is younger than the interval,
// then the oldest pruned beyond keep; stored backups restore.
func TestScheduledBackups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Now().UTC()
	now := start
	clock := func() time.Time { return now }
	d := dbtest.New(t)
	dir := t.TempDir()
	set, err := services.New(services.Options{DB: d, DataDir: dir, Key: []byte(strings.Repeat("k", 32)), Now: clock,
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	defer set.Close()
	s, err := instancebundle.New(instancebundle.Options{DB: d, Evidence: set.Evidence, Identity: set.Identity, DataDir: dir, Now: clock})
	require.NoError(t, err)
	sch := settings.Schedule{IntervalHours: 1, Keep: 2}

	b, err := s.RunDue(ctx, settings.Schedule{Keep: 2})
	require.NoError(t, err)
	assert.Nil(t, b, "interval 0 = no scheduled backups")

	var names []string
	for _, step := range []struct {
		after time.Duration
		taken bool
	}{{0, true}, {30 * time.Minute, false}, {61 * time.Minute, true}, {122 * time.Minute, true}, {150 * time.Minute, false}} {
		now = start.Add(step.after)
		b, err := s.RunDue(ctx, sch)
		require.NoError(t, err)
		assert.Equal(t, step.taken, b != nil, "at +%s", step.after)
		if b != nil {
			names = append(names, b.Name)
		}
	}
	list, err := s.List()
	require.NoError(t, err)
	require.Len(t, list, 2, "keep 2")
	assert.Equal(t, names[2], list[0].Name, "newest first")
	assert.Equal(t, names[1], list[1].Name)
	_, err = os.Stat(filepath.Join(s.Dir(), names[0]))
	assert.True(t, os.IsNotExist(err), "the oldest was pruned")

	// A stored backup is a complete, restorable backup.
	target := t.TempDir()
	_, err = instancebundle.Restore(ctx, filepath.Join(s.Dir(), list[0].Name), instancebundle.RestoreOptions{DataDir: target,
		DBURL: filepath.Join(target, "purplebook.db"), Now: clock})
	require.NoError(t, err)

	// Names outside the pattern are never opened or deleted.
	for _, bad := range []string{"../purplebook.db", "x.pbz", list[0].Name + "/.."} {
		_, _, err := s.Open(bad)
		assert.Error(t, err)
		assert.Error(t, s.Delete(bad))
	}
	require.NoError(t, s.Delete(list[1].Name))
	list, err = s.List()
	require.NoError(t, err)
	assert.Len(t, list, 1)
}
