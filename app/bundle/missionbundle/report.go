package missionbundle

import (
	"encoding/json"
	"time"

	"github.com/purplebook/purplebook/app/bundle"
)

// Report is the result of a dry run or an apply: what the bundle is, who
// signed it, and what importing it changes (or changed).
type Report struct {
	ImportID  string            `json:"import_id"`
	Kind      string            `json:"kind"`
	DryRun    bool              `json:"dry_run"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	Source    bundle.SourceInfo `json:"source"`
	Bundle    BundleInfo        `json:"bundle"`
	Mission   MissionInfo       `json:"mission"`
	Objects   map[string]*Tally `json:"objects"`
	// Changed counts the objects of the engagement created or updated
	// (audit events copied are counted in Objects only).
	Changed     int            `json:"changed"`
	Conflicts   []ConflictItem `json:"conflicts"`
	Changes     []Change       `json:"changes"`
	MoreChanges int            `json:"more_changes"` // changes beyond the listed ones
	Users       []UserMapping  `json:"users"`
	Warnings    []string       `json:"warnings"`
}

// BundleInfo describes the file.
type BundleInfo struct {
	Size          int64         `json:"size"`
	Entries       int           `json:"entries"`
	Options       ExportOptions `json:"options"`
	Counts        Counts        `json:"counts"`
	SchemaVersion int           `json:"schema_version"`
}

// MissionInfo says which mission the bundle carries and what happens to it.
type MissionInfo struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Exists bool   `json:"exists"`
	Action string `json:"action"` // create | merge
}

// Tally counts the objects of one kind.
type Tally struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Conflicts int `json:"conflicts"`
}

// Change is one object the import creates or updates.
type Change struct {
	ObjectType string   `json:"object_type"`
	ObjectID   string   `json:"object_id"`
	Name       string   `json:"name"`
	Action     string   `json:"action"` // create | update
	Fields     []string `json:"fields,omitempty"`
}

// ConflictItem is a field changed differently on both sides: the local
// value is kept, the incoming one waits for a lead.
type ConflictItem struct {
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Name       string          `json:"name"`
	Field      string          `json:"field"`
	Local      json.RawMessage `json:"local"`
	Incoming   json.RawMessage `json:"incoming"`
}

// UserMapping is what happens to a user the bundle names.
type UserMapping struct {
	Email  string `json:"email"`
	Name   string `json:"name"`
	Role   string `json:"role,omitempty"` // mission role, when a member
	Status string `json:"status"`         // matched | unknown
	// Action for unknown users: create (an inactive account an
	// administrator can invite), map (to UserID), skip (references become
	// empty). Matched users are always mapped to their account.
	Action string `json:"action"`
	UserID string `json:"user_id,omitempty"`
}

// UserChoice is the importer's decision for an unknown user.
type UserChoice struct {
	Email  string `json:"email"`
	Action string `json:"action"` // create | map | skip
	UserID string `json:"user_id"`
}

// ApplyParams is the body of an apply.
type ApplyParams struct {
	// AcceptUntrusted confirms importing a bundle signed by a key that is
	// not on the trusted list.
	AcceptUntrusted bool         `json:"accept_untrusted"`
	Users           []UserChoice `json:"users"`
}

// maxListedChanges bounds Report.Changes.
const maxListedChanges = 500

func newReport() *Report {
	r := &Report{Objects: map[string]*Tally{}, Conflicts: []ConflictItem{}, Changes: []Change{}, Users: []UserMapping{}, Warnings: []string{}}
	for _, k := range []string{"mission", "categories", "scenarios", "tests", "evidence", "audit_events", "members", "detection_levels", "users"} {
		r.Objects[k] = &Tally{}
	}
	return r
}

func (r *Report) change(group string, c Change) {
	t := r.Objects[group]
	if c.Action == "create" {
		t.Created++
	} else {
		t.Updated++
	}
	r.Changed++
	if len(r.Changes) < maxListedChanges {
		r.Changes = append(r.Changes, c)
	} else {
		r.MoreChanges++
	}
}
