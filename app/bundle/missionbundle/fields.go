package missionbundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/purplebook/purplebook/app/db"
)

// obj is a record as the merge sees it: its mergeable fields by name, each
// a canonical JSON value.
type obj map[string]json.RawMessage

// field is one unit of the three-way merge. Most are one column; a few
// are several columns that only make sense together (state and skip
// reason, start and finish), so a merge never pairs one side's state with
// the other side's reason.
type field struct {
	name    string
	keys    []string // record keys; default: the name
	blue    bool     // blue-team data (absent from bundles without blue data)
	deleted bool     // the soft-delete time, compared as deleted or not
}

func (f field) recordKeys() []string {
	if len(f.keys) > 0 {
		return f.keys
	}
	return []string{f.name}
}

func plain(names ...string) []field {
	out := make([]field, len(names))
	for i, n := range names {
		out[i] = field{name: n}
	}
	return out
}

var deletedField = field{name: "deleted", keys: []string{"deleted_at"}, deleted: true}

var (
	missionFields  = append(plain("name", "description", "status", "starts_on", "ends_on"), deletedField)
	categoryFields = append(plain("name", "color", "position"), deletedField)
	scenarioFields = append(plain("name", "description", "position"), deletedField)
	evidenceFields = append(plain("caption", "side"), deletedField)
	testFields     = append(append(append(
		// Planning.
		plain("name", "description", "objective", "executor", "command_template", "cleanup_command", "prerequisites_executor",
			"prerequisites", "input_arguments", "elevation_required", "platforms", "expected_detection", "opsec_level",
			"category_id", "mission_scenario_id", "position", "assigned_red", "assigned_blue", "mitre_tags"),
		// Red: the operator log.
		field{name: "state", keys: []string{"state", "skip_reason"}},
		field{name: "timing", keys: []string{"started_at", "finished_at"}}),
		plain("operator", "source_host", "source_ip", "target_host", "target_ip", "tool", "user_context", "command_run",
			"output", "execution_result", "red_notes", "executed_at", "argument_values")...),
		// Blue (per-control outcomes are the dynamic fields outcome:<control>).
		field{name: "blue_notes", blue: true},
		field{name: "assessed_at", blue: true},
		deletedField)
)

// outcomePrefix names the per-control outcome fields of a test.
const outcomePrefix = "outcome:"

// fieldsFor lists the fields of an object type; for tests, the outcome
// fields of every control any of the given objects has.
func fieldsFor(typ string, objs ...obj) []field {
	switch typ {
	case ObjMission:
		return missionFields
	case ObjCategory:
		return categoryFields
	case ObjScenario:
		return scenarioFields
	case ObjEvidence:
		return evidenceFields
	}
	out := append([]field(nil), testFields...)
	controls := map[string]bool{}
	for _, o := range objs {
		for k := range o {
			if strings.HasPrefix(k, outcomePrefix) {
				controls[k] = true
			}
		}
	}
	for _, k := range sortedKeys(controls) {
		out = append(out, field{name: k, blue: true})
	}
	return out
}

var null = json.RawMessage("null")

func isNull(v json.RawMessage) bool { return len(v) == 0 || bytes.Equal(v, null) }

// get is the field's value in o (null when absent).
func get(o obj, f field) json.RawMessage {
	keys := f.recordKeys()
	if len(keys) == 1 {
		if v, ok := o[keys[0]]; ok {
			return v
		}
		return null
	}
	m := make(map[string]json.RawMessage, len(keys))
	for _, k := range keys {
		v, ok := o[k]
		if !ok {
			v = null
		}
		m[k] = v
	}
	return mustMarshal(m)
}

// set puts a field's value into o.
func set(o obj, f field, v json.RawMessage) error {
	keys := f.recordKeys()
	if len(keys) == 1 {
		o[keys[0]] = v
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return fmt.Errorf("field %s: %w", f.name, err)
	}
	for _, k := range keys {
		x, ok := m[k]
		if !ok {
			x = null
		}
		o[k] = canon(x)
	}
	return nil
}

// same compares two values of a field.
func same(f field, a, b json.RawMessage) bool {
	if f.deleted {
		return isNull(a) == isNull(b)
	}
	return bytes.Equal(a, b)
}

// toObj turns a record into its fields (every JSON key, canonical).
func toObj(v any) obj { return toObjExcept(v) }

// toObjExcept is toObj without the keys skip (dropped before their values
// are canonicalized: a test's outcomes are most of its encoding, and
// testObj replaces them).
func toObjExcept(v any, skip ...string) obj {
	var o obj
	if err := json.Unmarshal(mustMarshal(v), &o); err != nil {
		panic("missionbundle: toObj: " + err.Error())
	}
	for _, k := range skip {
		delete(o, k)
	}
	// The encoder's scalars are canonical already; only structured values
	// (JSON columns, which load and normalize canonicalize too) are
	// re-encoded, so a value compares equal whichever engine it came from.
	for k, x := range o {
		if len(x) > 0 && (x[0] == '{' || x[0] == '[') {
			o[k] = canon(x)
		}
	}
	return o
}

// encode is the canonical JSON of an obj whose values are canonical (as
// toObj, get and the sync bases make them): its keys sorted, the values as
// they are. It is value(o) without decoding and re-encoding every value.
func (o obj) encode() json.RawMessage {
	keys := sortedKeys(o)
	n := 2
	for _, k := range keys {
		n += len(k) + len(o[k]) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, k)
		b = append(b, ':')
		if v := o[k]; len(v) > 0 {
			b = append(b, v...)
		} else {
			b = append(b, null...)
		}
	}
	return append(b, '}')
}

// appendKey appends k as a JSON string, as marshal would write it.
func appendKey(b []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			kb, _ := marshal(k)
			return append(b, kb...)
		}
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"')
}

// fromObj fills a record from its fields.
func fromObj(o obj, v any) error {
	b, err := json.Marshal(map[string]json.RawMessage(o))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// outcomeValue is a control's outcome as a field value: everything but its
// row identity and timestamps. Its fields are in the order of their JSON
// names, so its encoding is canonical as it is (no re-encoding per value).
type outcomeValue struct {
	AlertName   string   `json:"alert_name"`
	AlertedAt   *db.Time `json:"alerted_at"`
	AssessedBy  *string  `json:"assessed_by"`
	Expected    bool     `json:"expected"`
	Level       string   `json:"level"`
	LoggedAt    *db.Time `json:"logged_at"`
	Notes       string   `json:"notes"`
	PreventedAt *db.Time `json:"prevented_at"`
}

func (o Outcome) value() outcomeValue {
	return outcomeValue{Expected: o.Expected, Level: o.Level, LoggedAt: o.LoggedAt, AlertedAt: o.AlertedAt,
		PreventedAt: o.PreventedAt, AlertName: o.AlertName, Notes: o.Notes, AssessedBy: o.AssessedBy}
}

// tagValue is a tag as part of the mitre_tags field (fields in JSON name
// order: canonical as encoded).
type tagValue struct {
	ExternalID string `json:"external_id"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	URL        string `json:"url"`
}

// testNotFields are the test record's keys that are not merged: identity,
// bookkeeping, derived values, and the template link (a local reference).
var testNotFields = []string{"id", "version", "created_at", "updated_at", "outcome_level", "detected_at", "test_template_id", "outcomes"}

// testSkipKeys are the keys testObj does not take from the record's
// encoding: the fields that are not merged, and the tags (re-encoded as a
// set).
var testSkipKeys = append(append([]string(nil), testNotFields...), "mitre_tags")

// testObj turns a test into its fields: outcomes become one field per
// control, tags one set-valued field.
func testObj(t Test) obj {
	o := toObjExcept(t, testSkipKeys...)
	for _, oc := range t.Outcomes {
		o[outcomePrefix+oc.Control] = mustMarshal(oc.value())
	}
	o["mitre_tags"] = tagsValue(t.Tags)
	return o
}

func tagsValue(tags []Tag) json.RawMessage {
	vs := make([]tagValue, len(tags))
	for i, t := range tags {
		vs[i] = tagValue{Kind: t.Kind, ExternalID: t.ExternalID, Name: t.Name, URL: t.URL}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].ExternalID < vs[j].ExternalID })
	return mustMarshal(vs)
}

// value is the canonical JSON of v.
func value(v any) json.RawMessage { return canon(mustMarshal(v)) }

// testFromObj rebuilds a test from merged fields. Identity and bookkeeping
// come from base (the local test, or the incoming one when created);
// outcome and tag rows keep the ids and times of whichever side already
// has the same value, else get new ones.
func testFromObj(o obj, base Test, sides []Test, now db.Time) (Test, error) {
	plainObj := obj{}
	for k, v := range o {
		if !strings.HasPrefix(k, outcomePrefix) && k != "mitre_tags" {
			plainObj[k] = v
		}
	}
	t := base
	t.Outcomes, t.Tags = nil, nil
	if err := fromObj(plainObj, &t); err != nil {
		return Test{}, fmt.Errorf("missionbundle: test %s: %w", base.ID, err)
	}
	for _, k := range sortedKeys(o) {
		if !strings.HasPrefix(k, outcomePrefix) || isNull(o[k]) {
			continue
		}
		var v outcomeValue
		if err := json.Unmarshal(o[k], &v); err != nil {
			return Test{}, fmt.Errorf("missionbundle: test %s %s: %w", base.ID, k, err)
		}
		control := strings.TrimPrefix(k, outcomePrefix)
		oc := Outcome{Control: control, Expected: v.Expected, Level: v.Level, LoggedAt: v.LoggedAt, AlertedAt: v.AlertedAt,
			PreventedAt: v.PreventedAt, AlertName: v.AlertName, Notes: v.Notes, AssessedBy: v.AssessedBy}
		found := false
		for _, side := range sides {
			for _, have := range side.Outcomes {
				if have.Control != control {
					continue
				}
				if oc.ID == "" {
					oc.ID, oc.CreatedAt = have.ID, have.CreatedAt
				}
				if !found && bytes.Equal(mustMarshal(have.value()), o[k]) {
					oc.UpdatedAt, found = have.UpdatedAt, true
				}
			}
		}
		if oc.ID == "" {
			oc.ID, oc.CreatedAt = db.NewID(), now
		}
		if !found {
			oc.UpdatedAt = now
		}
		t.Outcomes = append(t.Outcomes, oc)
	}
	if t.Outcomes == nil {
		t.Outcomes = []Outcome{}
	}
	var tvs []tagValue
	if raw, ok := o["mitre_tags"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &tvs); err != nil {
			return Test{}, fmt.Errorf("missionbundle: test %s tags: %w", base.ID, err)
		}
	}
	t.Tags = []Tag{}
	for _, v := range tvs {
		tg := Tag{Kind: v.Kind, ExternalID: v.ExternalID, Name: v.Name, URL: v.URL}
		for _, side := range sides {
			for _, have := range side.Tags {
				if tg.ID == "" && have.ExternalID == v.ExternalID {
					tg.ID, tg.CreatedAt = have.ID, have.CreatedAt
				}
			}
		}
		if tg.ID == "" {
			tg.ID, tg.CreatedAt = db.NewID(), now
		}
		t.Tags = append(t.Tags, tg)
	}
	return t, nil
}
