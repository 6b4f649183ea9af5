package missionbundle

import (
	"bytes"
	"testing"

	"github.com/purplebook/purplebook/app/db"
)

// The per-control and tag values skip re-encoding because their structs
// list fields in JSON name order; this keeps that true.
func TestValueStructsEncodeCanonically(t *testing.T) {
	now := db.NewTime(db.Time{}.Time)
	by := "a@example.com"
	for _, v := range []any{
		outcomeValue{AlertName: "x<y>&", AlertedAt: &now, AssessedBy: &by, Expected: true, Level: "alerted", Notes: "\u2028"},
		[]tagValue{{ExternalID: "T1059", Kind: "technique", Name: "Command", URL: "https://attack.mitre.org/techniques/T1059"}},
	} {
		raw := mustMarshal(v)
		if !bytes.Equal(raw, canon(raw)) {
			t.Fatalf("%T encodes as %s, canonically %s", v, raw, canon(raw))
		}
	}
}
