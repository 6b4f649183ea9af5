package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/services"
	"github.com/purplebook/purplebook/app/templates"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func smallBundle(t *testing.T) string {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "testdata", "attack", "enterprise-attack-small.json")
	_, err := os.Stat(p)
	require.NoError(t, err)
	return p
}

// editedBundle writes the small bundle with edit applied to its objects.
func editedBundle(t *testing.T, edit func(o map[string]any) bool) string {
	t.Helper()
	raw, err := os.ReadFile(smallBundle(t))
	require.NoError(t, err)
	var b map[string]any
	require.NoError(t, json.Unmarshal(raw, &b))
	kept := []any{}
	for _, o := range b["objects"].([]any) {
		if edit(o.(map[string]any)) {
			kept = append(kept, o)
		}
	}
	b["objects"] = kept
	out, err := json.Marshal(b)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "edited.json")
	require.NoError(t, os.WriteFile(p, out, 0o600))
	return p
}

func TestMitreSyncCommand(t *testing.T) {
	dir := t.TempDir()
	src := smallBundle(t)

	// Usage and mistakes.
	code, _, errOut := run(t, "mitre")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "Usage: purplebook mitre sync")
	code, _, _ = run(t, "mitre", "--help")
	assert.Equal(t, 0, code)
	code, _, errOut = run(t, "mitre", "pull")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown mitre action "pull"`)
	code, _, errOut = run(t, "mitre", "sync", "--data-dir", dir, src)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "unexpected argument")
	code, _, errOut = run(t, "mitre", "sync", "--data-dir", dir, "--source", filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "cannot open")
	code, _, errOut = run(t, "mitre", "sync", "--data-dir", dir, "--source", src)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not the pinned ATT&CK", "neither pinned nor hashed nor allowed")
	code, _, _ = run(t, "mitre", "sync", "--data-dir", dir, "--bogus")
	assert.Equal(t, 2, code)

	// A first, unverified import.
	code, out, errOut := run(t, "mitre", "sync", "--data-dir", dir, "--source", src, "--allow-unverified", "--version", "18.1")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^ATT&CK 18\.1 synced from \S+ in \d+ ms: NOT verified\n`, out)
	m := regexp.MustCompile(`catalogue: (\d+) tactics, (\d+) techniques \((\d+) active\), (\d+) subtechniques`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	assert.NotEqual(t, "0", m[2])
	assert.Regexp(t, `changes: [1-9]\d* added, 0 renamed, 0 revoked, 0 deprecated, 0 removed, 0 restored`, out)
	sha := regexp.MustCompile(`sha256 ([0-9a-f]{64})`).FindStringSubmatch(out)
	require.NotNil(t, sha, out)

	// A template tagged with a technique the next bundle drops.
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(dir, "purplebook.db"))
	require.NoError(t, err)
	set, err := services.New(services.Options{DB: d, DataDir: dir, Now: time.Now})
	require.NoError(t, err)
	_, err = set.Templates.Create(ctx, audit.Actor{Label: "test"}, templates.Input{Name: "Schedule a task",
		MitreTags: []templates.TagRef{{ExternalID: "T1053"}}})
	require.NoError(t, err)
	require.NoError(t, d.Close())

	// The same file verified by its hash: nothing changes.
	code, out, errOut = run(t, "mitre", "sync", "--data-dir", dir, "--source", src, "--sha256", sha[1])
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, ": verified (sha256)")
	assert.Contains(t, out, "changes: 0 added, 0 renamed, 0 revoked, 0 deprecated, 0 removed, 0 restored")

	// A rename and a removal are listed, and so is the template tag they hit.
	edited := editedBundle(t, func(o map[string]any) bool {
		switch o["name"] {
		case "PowerShell":
			o["name"] = "PowerShell Core"
		case "Scheduled Task/Job":
			return false
		}
		return true
	})
	code, out, errOut = run(t, "mitre", "sync", "--data-dir", dir, "--source", edited, "--allow-unverified")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "changes: 0 added, 1 renamed, 0 revoked, 0 deprecated, 1 removed, 0 restored")
	assert.Contains(t, out, "    renamed T1059.001 PowerShell Core (was PowerShell)\n")
	assert.Contains(t, out, "    removed T1053 Scheduled Task/Job\n")
	assert.Contains(t, out, "  1 template tags now point at inactive entries:\n    Schedule a task: T1053 Scheduled Task/Job (removed)\n")
	assert.False(t, strings.Contains(out, "…"), "short lists are not cut")
}
