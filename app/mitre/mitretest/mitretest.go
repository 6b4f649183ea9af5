// Package mitretest makes changed copies of real ATT&CK bundles for tests
// that need a catalogue to change between two syncs (a technique moved to
// another tactic, renamed), the way a new ATT&CK release changes it.
package mitretest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Rewrite writes a copy of the (uncompressed) STIX bundle at src, with edit
// applied to its objects, into t's temp dir and returns the copy's path.
func Rewrite(t testing.TB, src string, edit func(objects []map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("mitretest: %v", err)
	}
	var bundle map[string]any
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatalf("mitretest: %s: %v", src, err)
	}
	list, _ := bundle["objects"].([]any)
	objs := make([]map[string]any, 0, len(list))
	for _, o := range list {
		if m, ok := o.(map[string]any); ok {
			objs = append(objs, m)
		}
	}
	edit(objs)
	out := make([]any, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	bundle["objects"] = out
	b, err := json.Marshal(bundle)
	if err != nil {
		t.Fatalf("mitretest: %v", err)
	}
	path := filepath.Join(t.TempDir(), "changed-"+filepath.Base(src))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("mitretest: %v", err)
	}
	return path
}

// ExternalID is an ATT&CK object's id (T1106, TA0003), "" if it has none.
func ExternalID(o map[string]any) string {
	refs, _ := o["external_references"].([]any)
	for _, r := range refs {
		if m, ok := r.(map[string]any); ok && m["source_name"] == "mitre-attack" {
			id, _ := m["external_id"].(string)
			return id
		}
	}
	return ""
}

// MoveTechnique is Rewrite that puts the technique ext in the single tactic
// with the given shortname (its kill chain phases) and renames it, when
// newName is not "". The subtechniques of ext follow it (their tactics are
// their parent's).
func MoveTechnique(t testing.TB, src, ext, toShortname, newName string) string {
	t.Helper()
	found := false
	path := Rewrite(t, src, func(objs []map[string]any) {
		for _, o := range objs {
			if o["type"] != "attack-pattern" || ExternalID(o) != ext {
				continue
			}
			found = true
			o["kill_chain_phases"] = []any{map[string]any{"kill_chain_name": "mitre-attack", "phase_name": toShortname}}
			if newName != "" {
				o["name"] = newName
			}
		}
	})
	if !found {
		t.Fatalf("mitretest: no technique %s in %s", ext, src)
	}
	return path
}
