package librarybundle_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/auth"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/librarybundle"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var all = missions.Caller{Can: func(string) bool { return true }, Actor: audit.Actor{Label: "test"}}

type inst struct {
	set     *services.Set
	imports *bundle.Imports
}

func newInst(t *testing.T) *inst {
	t.Helper()
	d := dbtest.New(t)
	dir := t.TempDir()
	set, err := services.New(services.Options{DB: d, DataDir: dir, Key: []byte(strings.Repeat("k", 32)), Now: time.Now,
		Argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	require.NoError(t, err)
	t.Cleanup(func() { set.Close() })
	im, err := bundle.NewImports(context.Background(), bundle.ImportsOptions{Root: filepath.Join(dir, "bundles", "staging"), Now: time.Now})
	require.NoError(t, err)
	t.Cleanup(im.Close)
	return &inst{set: set, imports: im}
}

func (in *inst) count(t *testing.T, q string) int {
	t.Helper()
	var n int
	require.NoError(t, in.set.DB.Read.NewQuery(q).Row(&n))
	return n
}

// TestLibraryBundleRoundTrip: a library (templates, a scenario, a custom
// detection level, an extra security control) exported on A and imported
// on a fresh B: the dry run changes nothing and says what the apply does,
// the apply does it, a second import changes nothing, and an importer
// without settings.manage cannot add levels or controls.
func TestLibraryBundleRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newInst(t)
	var ids []string
	for _, n := range []string{"Dump LSASS", "Kerberoast"} {
		tpl, err := a.set.Templates.Create(ctx, all.Actor, templates.Input{Name: n, Description: "step " + n, Command: "run " + n,
			Executor: "powershell", Platforms: []string{"windows"}, OpsecLevel: "medium", Tags: []string{"creds"}})
		require.NoError(t, err)
		ids = append(ids, tpl.ID)
	}
	_, err := a.set.Templates.CreateScenario(ctx, all.Actor, templates.ScenarioInput{Name: "Credential access", TestTemplateIDs: ids})
	require.NoError(t, err)
	_, err = a.set.Levels.Create(ctx, all.Actor, levels.CreateParams{Key: "found_by_ir", Name: "Found by IR", Color: "#123456"})
	require.NoError(t, err)
	_, _, err = a.set.Settings.Put(ctx, all.Actor, "security_controls", json.RawMessage(`["EDR","SIEM","AV","Firewall","Mail gateway","Web proxy","DLP","NDR"]`))
	require.NoError(t, err)

	file := filepath.Join(t.TempDir(), "lib.pbz")
	f, err := os.Create(file)
	require.NoError(t, err)
	meta, err := a.set.Library.WriteTo(ctx, f, librarybundle.All)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, 2, meta.Templates)
	assert.Equal(t, 1, meta.Scenarios)
	// What the exporter may not read stays out.
	partial, err := a.set.Library.WriteTo(ctx, io.Discard, librarybundle.ExportOptions{Templates: true})
	require.NoError(t, err)
	assert.Equal(t, 2, partial.Templates)
	assert.Zero(t, partial.Scenarios)

	b := newInst(t)
	levelsBefore := b.count(t, "SELECT COUNT(*) FROM detection_levels")
	imp, err := b.imports.OpenFile(ctx, "", file)
	require.NoError(t, err)
	dry, err := b.set.Library.Plan(ctx, all, imp)
	require.NoError(t, err)
	assert.True(t, dry.DryRun)
	assert.Equal(t, 2, dry.Templates.Created)
	assert.Equal(t, 1, dry.Scenarios.Created)
	assert.Equal(t, []string{"found_by_ir"}, dry.NewLevels)
	assert.Equal(t, []string{"NDR"}, dry.NewControls)
	assert.ElementsMatch(t, []string{"test_template.create", "scenario_template.create", "settings.manage"}, dry.Needs)
	assert.False(t, dry.Source.Trusted)
	assert.Zero(t, b.count(t, "SELECT COUNT(*) FROM test_templates"), "the dry run wrote nothing")
	assert.Equal(t, levelsBefore, b.count(t, "SELECT COUNT(*) FROM detection_levels"))

	_, err = b.set.Library.Apply(ctx, all, imp, false)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "bundle_untrusted", ae.Code)

	limited := missions.Caller{Can: func(p string) bool { return p != "settings.manage" }, Actor: audit.Actor{Label: "lead"}}
	_, err = b.set.Library.Apply(ctx, limited, imp, true)
	assert.True(t, errors.Is(err, apperr.ErrForbidden), "%v", err)
	assert.Zero(t, b.count(t, "SELECT COUNT(*) FROM test_templates"), "a refused apply wrote nothing")

	done, err := b.set.Library.Apply(ctx, all, imp, true)
	require.NoError(t, err)
	assert.False(t, done.DryRun)
	assert.Equal(t, 2, done.Templates.Created)
	assert.Equal(t, 2, b.count(t, "SELECT COUNT(*) FROM test_templates WHERE deleted_at IS NULL"))
	assert.Equal(t, 1, b.count(t, "SELECT COUNT(*) FROM scenario_templates"))
	assert.Equal(t, levelsBefore+1, b.count(t, "SELECT COUNT(*) FROM detection_levels"))
	controls, err := b.set.Settings.SecurityControls(ctx)
	require.NoError(t, err)
	assert.Contains(t, controls, "NDR")
	b.imports.Discard(imp)

	// Importing the same bundle again changes nothing.
	imp, err = b.imports.OpenFile(ctx, "", file)
	require.NoError(t, err)
	again, err := b.set.Library.Apply(ctx, all, imp, true)
	require.NoError(t, err)
	assert.Zero(t, again.Changed)
	assert.Equal(t, 2, again.Templates.Unchanged)
	assert.Empty(t, again.NewLevels)
	assert.Empty(t, again.NewControls)
}

// TestLibraryBundleRefusesOtherKinds: a backup is not a library.
func TestLibraryBundleRefusesOtherKinds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := newInst(t)
	file := filepath.Join(t.TempDir(), "backup.pbz")
	f, err := os.Create(file)
	require.NoError(t, err)
	_, err = a.set.Backups.WriteTo(ctx, f, nil)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	imp, err := a.imports.OpenFile(ctx, "", file)
	require.NoError(t, err)
	_, err = a.set.Library.Plan(ctx, all, imp)
	var ae *apperr.Error
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "bundle_wrong_kind", ae.Details["reason"])
}
