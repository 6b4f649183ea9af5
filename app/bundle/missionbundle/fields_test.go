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

// obj.encode writes what value (decode, re-encode) writes, for the objects
// the merge makes: tests with awkward strings, JSON columns, outcomes of
// controls with odd names, a multi-column field's value.
func TestObjEncodeIsCanonical(t *testing.T) {
	now := db.NewTime(db.Time{}.Time)
	by, res := "a@example.com", "<b>ok</b> & \"done\""
	tst := Test{ID: db.NewID(), Name: "Ünïcode \u2028 <tag> & \"quotes\" \\ \x01", Output: "line\nline\t\u00e9",
		Prerequisites: canon([]byte(`[{"b":1,"a":[2.50,1e3]}]`)), InputArguments: canon([]byte(`{"z":"<>","a":null}`)),
		ArgumentValues: canon([]byte(`{}`)), Platforms: canon([]byte(`["windows","linux"]`)), ExecutionResult: &res, StartedAt: &now,
		Position: -3, Outcomes: []Outcome{{Control: "EDR \"main\"", Level: "alerted", AssessedBy: &by, LoggedAt: &now},
			{Control: "Web\tproxy é", Level: "none"}}, Tags: []Tag{{ExternalID: "T1059", Kind: "technique", Name: "Cmd & <Script>"}}}
	o := testObj(tst)
	o["timing"] = get(o, field{name: "timing", keys: []string{"started_at", "finished_at"}})
	for _, x := range []obj{o, toObj(Category{ID: db.NewID(), Name: "a/b", Color: "#fff"}), {}} {
		if got, want := x.encode(), value(x); !bytes.Equal(got, want) {
			t.Fatalf("encode:\n%s\nvalue:\n%s", got, want)
		}
	}
}
