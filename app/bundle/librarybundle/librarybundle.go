// Package librarybundle is the library kind of bundle: the template
// library (test templates, scenario templates), the detection levels and
// the security controls of an instance, so a fresh air-gapped laptop is
// ready for work from one colleague's file. The templates travel as the
// library exchange document (app/templates, exchange.go), whose import is
// idempotent. docs/BUNDLES.md, "The library kind", describes it.
package librarybundle

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/levels"
	"github.com/purplebook/purplebook/app/missions"
	"github.com/purplebook/purplebook/app/settings"
	"github.com/purplebook/purplebook/app/templates"
)

// Documents of a library bundle.
const (
	DocLibrary  = "library.json"
	DocLevels   = "detection_levels.json"
	DocControls = "controls.json"
)

// Meta is the library kind's manifest header.
type Meta struct {
	Templates       int `json:"templates"`
	Scenarios       int `json:"scenarios"`
	DetectionLevels int `json:"detection_levels"`
	Controls        int `json:"controls"`
}

// Level is a detection level as it travels: by key.
type Level struct {
	Key              string `json:"key"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	Rank             int    `json:"rank"`
	Color            string `json:"color"`
	CountsAsDetected bool   `json:"counts_as_detected"`
}

// Options are the service's dependencies.
type Options struct {
	DB         *db.DB
	Templates  *templates.Service
	Levels     *levels.Service
	Settings   *settings.Service
	Identity   *bundle.Identity
	AppVersion string
	Now        func() time.Time
}

// Service exports and imports library bundles.
type Service struct{ o Options }

// New builds the service.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Templates == nil || o.Levels == nil || o.Settings == nil || o.Identity == nil || o.Now == nil {
		return nil, errors.New("librarybundle: missing dependency")
	}
	return &Service{o: o}, nil
}

// Filename is the name a library bundle is offered under.
func (s *Service) Filename() string {
	return "purplebook-library-" + s.o.Now().UTC().Format("20060102") + ".pbz"
}

// ExportOptions say what of the library goes in (what the exporter may
// read): test templates, and scenario templates (which carry the templates
// they use). Detection levels and security controls always go in.
type ExportOptions struct {
	Templates bool
	Scenarios bool
}

// All is the whole library.
var All = ExportOptions{Templates: true, Scenarios: true}

// WriteTo writes a library bundle to w.
func (s *Service) WriteTo(ctx context.Context, w io.Writer, opts ExportOptions) (Meta, error) {
	var meta Meta
	tpl, sc, err := s.o.Templates.LiveIDs(ctx)
	if err != nil {
		return meta, err
	}
	if !opts.Templates {
		tpl = nil
	}
	if !opts.Templates || !opts.Scenarios {
		sc = nil
	}
	lib := &templates.Library{Format: templates.LibraryFormat, FormatVersion: templates.LibraryFormatVersion,
		ExportedAt: db.NewTime(s.o.Now()).String(), AppVersion: s.o.AppVersion,
		Templates: []templates.LibraryTemplate{}, Scenarios: []templates.LibraryScenario{}}
	if len(tpl)+len(sc) > 0 {
		if lib, err = s.o.Templates.ExportLibrary(ctx, templates.ExportParams{TemplateIDs: tpl, ScenarioIDs: sc, AppVersion: s.o.AppVersion}); err != nil {
			return meta, err
		}
	}
	lv, err := s.o.Levels.List(ctx)
	if err != nil {
		return meta, err
	}
	out := make([]Level, len(lv))
	for i, l := range lv {
		out[i] = Level{Key: l.Key, Name: l.Name, Description: l.Description, Rank: l.Rank, Color: l.Color, CountsAsDetected: l.CountsAsDetected}
	}
	controls, err := s.o.Settings.SecurityControls(ctx)
	if err != nil {
		return meta, err
	}
	meta = Meta{Templates: len(lib.Templates), Scenarios: len(lib.Scenarios), DetectionLevels: len(out), Controls: len(controls)}
	bw := bundle.NewWriter(w, s.o.Identity, bundle.Header{Kind: bundle.KindLibrary, AppVersion: s.o.AppVersion,
		CreatedAt: s.o.Now(), Meta: meta}, nil)
	if err := bw.WriteJSON(DocLibrary, lib); err != nil {
		return meta, err
	}
	if err := bw.WriteJSON(DocLevels, out); err != nil {
		return meta, err
	}
	if err := bw.WriteJSON(DocControls, controls); err != nil {
		return meta, err
	}
	return meta, bw.Close()
}

// Counts say what an import does to one kind of object.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// Report is the dry-run and apply report of a library bundle.
type Report struct {
	ImportID        string                     `json:"import_id"`
	Kind            string                     `json:"kind"`
	DryRun          bool                       `json:"dry_run"`
	ExpiresAt       *time.Time                 `json:"expires_at,omitempty"`
	Source          bundle.SourceInfo          `json:"source"`
	Meta            Meta                       `json:"meta"`
	Templates       templates.OutcomeCounts    `json:"templates"`
	Scenarios       templates.OutcomeCounts    `json:"scenarios"`
	DetectionLevels Counts                     `json:"detection_levels"`
	NewLevels       []string                   `json:"new_levels"`
	NewControls     []string                   `json:"new_controls"`
	Warnings        []templates.LibraryWarning `json:"warnings"`
	// Needs lists the permissions the apply needs beyond bundle.import.
	Needs   []string `json:"needs"`
	Changed int      `json:"changed"`
}

type state struct {
	lib      *templates.Library
	levels   []Level
	controls []string
	meta     Meta
}

var (
	reKey   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	reColor = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
)

func invalid(entry, format string, args ...any) error {
	return bundle.Invalid("bundle_bad_document", entry, format, args...)
}

// prepare verifies the whole bundle and reads its documents, once per import.
func (s *Service) prepare(ctx context.Context, imp *bundle.Import) (*state, error) {
	if st, ok := imp.State.(*state); ok {
		return st, nil
	}
	r := imp.Reader()
	m := r.Manifest()
	if m.Kind != bundle.KindLibrary {
		return nil, bundle.Invalid("bundle_wrong_kind", "", "This is a %s bundle, not a library bundle.", m.Kind)
	}
	st := &state{}
	dec := json.NewDecoder(bytes.NewReader(m.Meta))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st.meta); err != nil {
		return nil, bundle.Invalid("bundle_bad_manifest", bundle.ManifestPath, "The manifest's library header is malformed: %v.", err)
	}
	for _, e := range m.Entries {
		if e.Path != DocLibrary && e.Path != DocLevels && e.Path != DocControls {
			return nil, bundle.Invalid("bundle_unlisted_entry", e.Path, "A library bundle has no entry %s.", e.Path)
		}
	}
	if !r.Verified() {
		if err := imp.Stage(ctx, nil, nil); err != nil {
			return nil, err
		}
	}
	if err := r.ReadJSON(DocLibrary, &st.lib); err != nil {
		return nil, err
	}
	if err := r.ReadJSON(DocLevels, &st.levels); err != nil {
		return nil, err
	}
	if err := r.ReadJSON(DocControls, &st.controls); err != nil {
		return nil, err
	}
	if st.lib == nil {
		return nil, invalid(DocLibrary, "The library document is empty.")
	}
	if len(st.levels) > 100 {
		return nil, invalid(DocLevels, "The bundle has more than 100 detection levels.")
	}
	seen := map[string]bool{}
	for _, l := range st.levels {
		switch {
		case !reKey.MatchString(l.Key) || seen[l.Key]:
			return nil, invalid(DocLevels, "The detection level key %.40q is invalid or repeated.", l.Key)
		case strings.TrimSpace(l.Name) == "" || len([]rune(l.Name)) > 60 || len([]rune(l.Description)) > 500:
			return nil, invalid(DocLevels, "The detection level %s has an empty or too long name or description.", l.Key)
		case !reColor.MatchString(l.Color):
			return nil, invalid(DocLevels, "The detection level %s has an invalid colour.", l.Key)
		}
		seen[l.Key] = true
	}
	if _, err := settings.Parse(settings.SecurityControls, json.RawMessage(db.MustJSON(st.controls))); err != nil {
		return nil, invalid(DocControls, "The security controls are invalid: %v.", err)
	}
	imp.State = st
	return st, nil
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// Plan verifies the bundle and reports what an apply would do: the whole
// import runs in a transaction that is rolled back.
func (s *Service) Plan(ctx context.Context, c missions.Caller, imp *bundle.Import) (*Report, error) {
	return s.run(ctx, c, imp, true, false)
}

// Apply imports the bundle in one transaction.
func (s *Service) Apply(ctx context.Context, c missions.Caller, imp *bundle.Import, acceptUntrusted bool) (*Report, error) {
	return s.run(ctx, c, imp, false, acceptUntrusted)
}

func (s *Service) run(ctx context.Context, c missions.Caller, imp *bundle.Import, dryRun, acceptUntrusted bool) (*Report, error) {
	if err := imp.Lock(); err != nil {
		return nil, err
	}
	defer imp.Unlock()
	st, err := s.prepare(ctx, imp)
	if err != nil {
		return nil, err
	}
	src, err := bundle.Describe(ctx, s.o.DB.Read, imp.Reader(), s.o.Identity)
	if err != nil {
		return nil, err
	}
	rep := &Report{ImportID: imp.ID, Kind: bundle.KindLibrary, DryRun: dryRun, Source: src, Meta: st.meta,
		NewLevels: []string{}, NewControls: []string{}, Needs: []string{}}
	if dryRun {
		exp := imp.ExpiresAt
		rep.ExpiresAt = &exp
	} else {
		if !src.Trusted && !acceptUntrusted {
			return nil, apperr.Unprocessable("bundle_untrusted",
				"The bundle is signed by %q with the key %s, which this instance does not trust. Check the fingerprint with the sender, then confirm the import.",
				src.InstanceName, src.Fingerprint).WithDetails(map[string]any{"reason": "bundle_untrusted", "fingerprint": src.Fingerprint,
				"instance_name": src.InstanceName})
		}
	}
	err = s.o.DB.Tx(ctx, func(tx *dbx.Tx) error {
		if err := s.write(ctx, tx, c, st, rep); err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		for _, p := range rep.Needs {
			if !c.Can(p) {
				return apperr.New(apperr.ErrForbidden, "forbidden", "This import needs the %q permission.", p)
			}
		}
		return audit.Record(ctx, tx, db.NewTime(s.o.Now()), c.Actor, audit.Event{Action: "bundle.import", ObjectType: "library",
			ObjectID: src.InstanceID, Details: map[string]any{"kind": bundle.KindLibrary, "fingerprint": src.Fingerprint,
				"templates": rep.Templates, "scenarios": rep.Scenarios, "new_levels": rep.NewLevels, "new_controls": rep.NewControls}})
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	return rep, nil
}

// write imports everything into tx and fills rep.
func (s *Service) write(ctx context.Context, tx *dbx.Tx, c missions.Caller, st *state, rep *Report) error {
	now := db.NewTime(s.o.Now())
	need := func(p string) {
		if !slices.Contains(rep.Needs, p) {
			rep.Needs = append(rep.Needs, p)
		}
	}
	if len(st.lib.Templates) > 0 {
		need("test_template.create")
	}
	if len(st.lib.Scenarios) > 0 {
		need("scenario_template.create")
	}
	rep.Warnings = []templates.LibraryWarning{}
	if len(st.lib.Templates)+len(st.lib.Scenarios) > 0 { // an empty library is a valid bundle, not a valid document
		lr, err := s.o.Templates.ImportLibraryTx(ctx, tx, c.Actor, st.lib)
		if err != nil {
			return err
		}
		rep.Templates, rep.Scenarios, rep.Warnings = lr.Templates, lr.Scenarios, lr.Warnings
		rep.Changed = lr.Templates.Created + lr.Templates.Updated + lr.Scenarios.Created + lr.Scenarios.Updated
	}

	// Detection levels: by key; missing ones are added after the local
	// ones (in the bundle's order), local ones are never changed.
	var local []struct {
		Key  string `db:"key"`
		Rank int    `db:"rank"`
	}
	if err := tx.NewQuery("SELECT key, rank FROM detection_levels").WithContext(ctx).All(&local); err != nil {
		return fmt.Errorf("librarybundle: read levels: %w", err)
	}
	have, maxRank := map[string]bool{}, 0
	for _, l := range local {
		have[l.Key] = true
		maxRank = max(maxRank, l.Rank)
	}
	incoming := slices.Clone(st.levels)
	slices.SortStableFunc(incoming, func(a, b Level) int { return a.Rank - b.Rank })
	for _, l := range incoming {
		if have[l.Key] {
			rep.DetectionLevels.Unchanged++
			continue
		}
		need("settings.manage")
		maxRank++
		id := db.NewID()
		if _, err := tx.Insert("detection_levels", dbx.Params{"id": id, "key": l.Key, "name": strings.TrimSpace(l.Name),
			"description": l.Description, "rank": maxRank, "color": strings.ToLower(l.Color), "counts_as_detected": l.CountsAsDetected,
			"is_system": false, "created_at": now, "updated_at": now}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("librarybundle: create detection level %s: %w", l.Key, err)
		}
		if err := audit.Record(ctx, tx, now, c.Actor, audit.Event{Action: "detection_level.create", ObjectType: "detection_level",
			ObjectID: id, Details: map[string]any{"key": l.Key, "name": l.Name, "via": "library bundle"}}); err != nil {
			return err
		}
		rep.DetectionLevels.Created++
		rep.NewLevels = append(rep.NewLevels, l.Key)
		rep.Changed++
	}

	// Security controls: the union, local ones first.
	var raw sql.NullString
	if err := tx.NewQuery("SELECT value FROM settings WHERE key = {:k}").Bind(dbx.Params{"k": settings.SecurityControls}).
		WithContext(ctx).Row(&raw); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("librarybundle: read controls: %w", err)
	}
	controls := settings.DefaultSecurityControls()
	if raw.Valid {
		if err := json.Unmarshal([]byte(raw.String), &controls); err != nil {
			return fmt.Errorf("librarybundle: read controls: %w", err)
		}
	}
	merged := slices.Clone(controls)
	for _, ctl := range st.controls {
		if !slices.ContainsFunc(merged, func(x string) bool { return db.Fold(x) == db.Fold(ctl) }) {
			merged = append(merged, strings.TrimSpace(ctl))
			rep.NewControls = append(rep.NewControls, strings.TrimSpace(ctl))
		}
	}
	if len(rep.NewControls) > 0 {
		need("settings.manage")
		if len(merged) > settings.MaxSecurityControls {
			return apperr.New(apperr.ErrConflict, "too_many_controls",
				"Adding the bundle's security controls would make %d; at most %d are allowed.", len(merged), settings.MaxSecurityControls)
		}
		if _, _, err := s.o.Settings.PutTx(ctx, tx, c.Actor, settings.SecurityControls, json.RawMessage(db.MustJSON(merged))); err != nil {
			return err
		}
		rep.Changed += len(rep.NewControls)
	}
	return nil
}
