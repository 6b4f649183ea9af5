package mitre

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
)

// The catalogue changes only on sync and reset, so reads are served from an
// immutable in-memory snapshot behind an atomic pointer: a request loads the
// pointer and never takes a lock. The snapshot is rebuilt when the stored
// sync stamp (the mitre_sync settings row) changes; the stamp is read at most
// once a second, by one request at a time while the others go on with the
// snapshot they have, so several instances on one PostgreSQL follow each
// other's syncs within about a second. Encoded API answers are cached in
// the snapshot they were computed from (pages.go), so a new catalogue
// starts with an empty cache and never serves an old answer.

// TacticRef names a tactic.
type TacticRef struct {
	ExternalID string `json:"external_id"`
	Shortname  string `json:"shortname"`
	Name       string `json:"name"`
}

// TacticView is a tactic as the API returns it.
type TacticView struct {
	ID             string `json:"id"`
	ExternalID     string `json:"external_id"`
	Shortname      string `json:"shortname"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	URL            string `json:"url"`
	Position       int    `json:"position"`
	State          string `json:"state"`
	TechniqueCount int    `json:"technique_count"`

	fold   string
	active bool
}

// SubRef is a subtechnique inside a technique listing.
type SubRef struct {
	ID         string `json:"id"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
	State      string `json:"state"`
}

// TechniqueView is a technique or subtechnique as the API returns it.
type TechniqueView struct {
	ID            string      `json:"id"`
	Kind          string      `json:"kind"` // technique or subtechnique
	ExternalID    string      `json:"external_id"`
	Name          string      `json:"name"`
	Description   string      `json:"description,omitempty"`
	URL           string      `json:"url"`
	Platforms     []string    `json:"platforms"`
	Tactics       []TacticRef `json:"tactics"`
	State         string      `json:"state"`
	ReplacedBy    *SubRef     `json:"replaced_by,omitempty"`
	Parent        *SubRef     `json:"parent,omitempty"`
	Subtechniques []SubRef    `json:"subtechniques,omitempty"`

	fold        string
	active      bool
	description string
	revokedBy   string
	parentID    string
	subs        []*TechniqueView
	tacticIDs   map[string]bool
}

type snapshot struct {
	stamp      string
	checked    atomic.Int64 // unix nanoseconds of the last stamp check (the service's clock)
	tactics    []*TacticView
	techniques []*TechniqueView // sorted by external id
	subs       []*TechniqueView
	byExt      map[string]*TechniqueView
	byStix     map[string]*TechniqueView
	byID       map[string]*TechniqueView // techniques and subtechniques by row id
	tacticByID map[string]*TacticView
	tacticKey  map[string]*TacticView // external id (folded) and shortname
	pages      pageCache              // encoded answers computed from this snapshot
}

// stampTTL is how long a snapshot is served before the stamp is read again.
const stampTTL = time.Second

func (c *snapshot) fresh(now time.Time) bool {
	d := now.UnixNano() - c.checked.Load()
	return d >= 0 && d < int64(stampTTL)
}

// Invalidate drops the snapshot (after sync or reset). It waits for a load
// in progress, so a snapshot read before a sync committed is never installed
// after it.
func (s *Service) Invalidate() {
	s.loadMu.Lock()
	s.cache.Store(nil)
	s.loadMu.Unlock()
}

// stamp identifies the stored catalogue: the time and the record of its last
// sync ("" when it was never synced or was reset).
func (s *Service) stamp(ctx context.Context, b dbx.Builder) (string, error) {
	var row struct {
		UpdatedAt string `db:"updated_at"`
		Value     string `db:"value"`
	}
	err := b.Select("updated_at", "value").From("settings").Where(dbx.HashExp{"key": "mitre_sync"}).WithContext(ctx).One(&row)
	if errors.Is(err, errNoRows) {
		return "", nil
	}
	return row.UpdatedAt + "\x00" + row.Value, err
}

// snapshot returns the current catalogue. The fast path is one atomic load
// and a clock read. When the stamp is due for a check, the request that gets
// loadMu checks it (and reloads when it changed); requests arriving
// meanwhile are served the snapshot they already have. Only the very first
// load makes requests wait.
func (s *Service) snapshot(ctx context.Context) (*snapshot, error) {
	now := s.now()
	c := s.cache.Load()
	if c != nil && c.fresh(now) {
		return c, nil
	}
	if c == nil {
		s.loadMu.Lock()
	} else if !s.loadMu.TryLock() {
		return c, nil
	}
	defer s.loadMu.Unlock()
	if c = s.cache.Load(); c != nil && c.fresh(now) {
		return c, nil
	}
	st, err := s.stamp(ctx, s.db.Read)
	if err != nil {
		return nil, fmt.Errorf("mitre: catalogue stamp: %w", err)
	}
	if c != nil && c.stamp == st {
		c.checked.Store(now.UnixNano())
		return c, nil
	}
	// The stamp and every table of the catalogue from one state of the
	// database: a sync committing meanwhile (another instance's, which
	// Invalidate does not wait for) must not give a snapshot with the new
	// techniques and the old tactic links, or a stamp that is not its own.
	var snap *snapshot
	if err := s.db.ReadSnapshot(ctx, func(tx *dbx.Tx) error {
		var err error
		if st, err = s.stamp(ctx, tx); err != nil {
			return fmt.Errorf("mitre: catalogue stamp: %w", err)
		}
		snap, err = s.load(ctx, tx)
		return err
	}); err != nil {
		return nil, err
	}
	snap.stamp = st
	snap.checked.Store(now.UnixNano())
	s.cache.Store(snap)
	return snap, nil
}

type catRow struct {
	ID          string  `db:"id"`
	StixID      string  `db:"stix_id"`
	ExternalID  string  `db:"external_id"`
	Shortname   string  `db:"shortname"`
	Name        string  `db:"name"`
	Description string  `db:"description"`
	URL         string  `db:"url"`
	Position    int     `db:"matrix_position"`
	Platforms   db.JSON `db:"platforms"`
	Revoked     bool    `db:"revoked"`
	Deprecated  bool    `db:"deprecated"`
	Removed     bool    `db:"removed"`
	RevokedBy   *string `db:"revoked_by_stix_id"`
	Parent      *string `db:"technique_id"`
	SearchFold  string  `db:"search_fold"`
}

func (s *Service) load(ctx context.Context, b dbx.Builder) (*snapshot, error) {
	snap := &snapshot{byExt: map[string]*TechniqueView{}, byStix: map[string]*TechniqueView{}, byID: map[string]*TechniqueView{},
		tacticByID: map[string]*TacticView{}, tacticKey: map[string]*TacticView{}}
	var tactics []catRow
	if err := b.Select("id", "stix_id", "external_id", "shortname", "name", "description", "url", "matrix_position",
		"revoked", "deprecated", "removed", "search_fold").From("mitre_tactics").Where(dbx.HashExp{"domain": EnterpriseDomain}).
		OrderBy("matrix_position", "external_id").WithContext(ctx).All(&tactics); err != nil {
		return nil, fmt.Errorf("mitre: load tactics: %w", err)
	}
	tacticByID := map[string]*TacticView{}
	for _, r := range tactics {
		t := &TacticView{ID: r.ID, ExternalID: r.ExternalID, Shortname: r.Shortname, Name: r.Name, Description: r.Description,
			URL: r.URL, Position: r.Position, State: State(r.Revoked, r.Deprecated, r.Removed), fold: r.SearchFold,
			active: !r.Revoked && !r.Deprecated && !r.Removed}
		snap.tactics = append(snap.tactics, t)
		tacticByID[r.ID] = t
		snap.tacticByID[r.ID] = t
		for _, k := range []string{db.Fold(r.ExternalID), db.Fold(r.Shortname)} {
			if prev, ok := snap.tacticKey[k]; !ok || !prev.active && t.active {
				snap.tacticKey[k] = t
			}
		}
	}
	load := func(table, kind string, cols ...string) ([]*TechniqueView, error) {
		var rows []catRow
		if err := b.Select(cols...).From(table).Where(dbx.HashExp{"domain": EnterpriseDomain}).
			OrderBy("external_id").WithContext(ctx).All(&rows); err != nil {
			return nil, fmt.Errorf("mitre: load %s: %w", table, err)
		}
		out := make([]*TechniqueView, 0, len(rows))
		for _, r := range rows {
			v := &TechniqueView{ID: r.ID, Kind: kind, ExternalID: r.ExternalID, Name: r.Name, URL: r.URL,
				State: State(r.Revoked, r.Deprecated, r.Removed), fold: r.SearchFold,
				active: !r.Revoked && !r.Deprecated && !r.Removed, description: r.Description, tacticIDs: map[string]bool{},
				Tactics: []TacticRef{}}
			v.Platforms = []string{}
			_ = jsonUnmarshal(r.Platforms, &v.Platforms)
			if r.RevokedBy != nil {
				v.revokedBy = *r.RevokedBy
			}
			if r.Parent != nil {
				v.parentID = *r.Parent
			}
			out = append(out, v)
			snap.byExt[db.Fold(r.ExternalID)] = v
			snap.byStix[r.StixID] = v
			snap.byID[r.ID] = v
		}
		return out, nil
	}
	base := []string{"id", "stix_id", "external_id", "name", "description", "url", "platforms", "revoked", "deprecated", "removed", "revoked_by_stix_id", "search_fold"}
	var err error
	if snap.techniques, err = load("mitre_techniques", "technique", base...); err != nil {
		return nil, err
	}
	if snap.subs, err = load("mitre_subtechniques", "subtechnique", append(base, "technique_id")...); err != nil {
		return nil, err
	}
	byID := map[string]*TechniqueView{}
	for _, t := range snap.techniques {
		byID[t.ID] = t
	}
	var links []struct {
		TechniqueID string `db:"technique_id"`
		TacticID    string `db:"tactic_id"`
	}
	if err := b.Select("technique_id", "tactic_id").From("mitre_technique_tactics").WithContext(ctx).All(&links); err != nil {
		return nil, fmt.Errorf("mitre: load links: %w", err)
	}
	for _, l := range links {
		t, tc := byID[l.TechniqueID], tacticByID[l.TacticID]
		if t == nil || tc == nil {
			continue
		}
		t.tacticIDs[tc.ID] = true
		if t.active {
			tc.TechniqueCount++
		}
	}
	pos := map[string]int{}
	for _, tc := range snap.tactics {
		pos[tc.ID] = tc.Position
	}
	for _, t := range snap.techniques {
		for id := range t.tacticIDs {
			tc := tacticByID[id]
			t.Tactics = append(t.Tactics, TacticRef{ExternalID: tc.ExternalID, Shortname: tc.Shortname, Name: tc.Name})
		}
		sort.Slice(t.Tactics, func(i, j int) bool {
			return pos[snap.tacticKey[db.Fold(t.Tactics[i].ExternalID)].ID] < pos[snap.tacticKey[db.Fold(t.Tactics[j].ExternalID)].ID]
		})
	}
	for _, sub := range snap.subs {
		if p := byID[sub.parentID]; p != nil {
			p.subs = append(p.subs, sub)
			sub.Tactics = p.Tactics
			sub.tacticIDs = p.tacticIDs
			sub.Parent = &SubRef{ID: p.ID, ExternalID: p.ExternalID, Name: p.Name, State: p.State}
		}
	}
	for _, t := range append(append([]*TechniqueView{}, snap.techniques...), snap.subs...) {
		if r := snap.byStix[t.revokedBy]; r != nil {
			t.ReplacedBy = &SubRef{ID: r.ID, ExternalID: r.ExternalID, Name: r.Name, State: r.State}
		}
	}
	return snap, nil
}

// ListParams filter technique and subtechnique lists.
type ListParams struct {
	Tactic            string // external id (TA0007) or shortname (discovery)
	Technique         string // subtechniques: parent external id
	Q                 string
	IncludeDeprecated bool
	db.PageParams
}

// View is one consistent state of the catalogue: every answer built from
// one View comes from the same snapshot.
type View struct{ snap *snapshot }

// View returns the current catalogue.
func (s *Service) View(ctx context.Context) (*View, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return &View{snap: snap}, nil
}

// Tactics lists tactics in matrix order.
func (s *Service) Tactics(ctx context.Context, includeDeprecated bool) ([]TacticView, error) {
	v, err := s.View(ctx)
	if err != nil {
		return nil, err
	}
	return v.Tactics(includeDeprecated), nil
}

// Entry is a catalogue object as a tag shows it.
type Entry struct {
	ExternalID string
	Name       string
	URL        string
	State      string
}

// Entry looks up a tactic, technique or subtechnique by kind and row id;
// false when this catalogue state does not hold it (a row synced by another
// instance in the last second).
func (v *View) Entry(kind, id string) (Entry, bool) {
	switch kind {
	case "tactic":
		if t := v.snap.tacticByID[id]; t != nil {
			return Entry{ExternalID: t.ExternalID, Name: t.Name, URL: t.URL, State: t.State}, true
		}
	case "technique", "subtechnique":
		if t := v.snap.byID[id]; t != nil && t.Kind == kind {
			return Entry{ExternalID: t.ExternalID, Name: t.Name, URL: t.URL, State: t.State}, true
		}
	}
	return Entry{}, false
}

// Tactics lists tactics in matrix order.
func (v *View) Tactics(includeDeprecated bool) []TacticView {
	snap := v.snap
	out := []TacticView{}
	for _, t := range snap.tactics {
		if t.active || includeDeprecated {
			out = append(out, *t)
		}
	}
	return out
}

func (snap *snapshot) tactic(key string) (*TacticView, error) {
	t, ok := snap.tacticKey[db.Fold(key)]
	if !ok {
		return nil, apperr.New(apperr.ErrUnprocessable, "unknown_tactic", "No tactic %q in the catalogue (use an id like TA0007 or a shortname like discovery).", text.Truncate(key, 60)).
			WithDetails(map[string]any{"tactic": "unknown"})
	}
	return t, nil
}

func listView(t *TechniqueView, includeDeprecated bool) TechniqueView {
	v := *t
	v.Subtechniques = nil
	for _, sub := range t.subs {
		if sub.active || includeDeprecated {
			v.Subtechniques = append(v.Subtechniques, SubRef{ID: sub.ID, ExternalID: sub.ExternalID, Name: sub.Name, State: sub.State})
		}
	}
	if t.Kind == "technique" && v.Subtechniques == nil {
		v.Subtechniques = []SubRef{}
	}
	return v
}

// Techniques lists techniques: a technique matches q when it or one of its
// subtechniques does (so "t1059" finds T1059 by its subtechniques' ids too).
func (s *Service) Techniques(ctx context.Context, p ListParams) (db.Page[TechniqueView], error) {
	v, err := s.View(ctx)
	if err != nil {
		return db.Page[TechniqueView]{}, err
	}
	return v.Techniques(p)
}

// Techniques lists techniques (see Service.Techniques).
func (v *View) Techniques(p ListParams) (db.Page[TechniqueView], error) {
	p.PageParams = p.PageParams.Normalize()
	snap := v.snap
	var tactic *TacticView
	var err error
	if p.Tactic != "" {
		if tactic, err = snap.tactic(p.Tactic); err != nil {
			return db.Page[TechniqueView]{}, err
		}
	}
	q := db.Fold(p.Q)
	var matched []*TechniqueView
	for _, t := range snap.techniques {
		if !t.active && !p.IncludeDeprecated {
			continue
		}
		if tactic != nil && !t.tacticIDs[tactic.ID] {
			continue
		}
		if q != "" && !strings.Contains(t.fold, q) {
			hit := false
			for _, sub := range t.subs {
				if (sub.active || p.IncludeDeprecated) && strings.Contains(sub.fold, q) {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
		}
		matched = append(matched, t)
	}
	return page(matched, p, func(t *TechniqueView) TechniqueView { return listView(t, p.IncludeDeprecated) }), nil
}

// Subtechniques lists subtechniques, optionally of one technique.
func (s *Service) Subtechniques(ctx context.Context, p ListParams) (db.Page[TechniqueView], error) {
	v, err := s.View(ctx)
	if err != nil {
		return db.Page[TechniqueView]{}, err
	}
	return v.Subtechniques(p)
}

// Subtechniques lists subtechniques (see Service.Subtechniques).
func (v *View) Subtechniques(p ListParams) (db.Page[TechniqueView], error) {
	p.PageParams = p.PageParams.Normalize()
	snap := v.snap
	var err error
	var parent *TechniqueView
	if p.Technique != "" {
		parent = snap.byExt[db.Fold(p.Technique)]
		if parent == nil || parent.Kind != "technique" {
			return db.Page[TechniqueView]{}, apperr.New(apperr.ErrUnprocessable, "unknown_technique",
				"No technique %q in the catalogue.", text.Truncate(p.Technique, 60)).WithDetails(map[string]any{"technique": "unknown"})
		}
	}
	var tactic *TacticView
	if p.Tactic != "" {
		if tactic, err = snap.tactic(p.Tactic); err != nil {
			return db.Page[TechniqueView]{}, err
		}
	}
	q := db.Fold(p.Q)
	var matched []*TechniqueView
	for _, t := range snap.subs {
		if !t.active && !p.IncludeDeprecated || parent != nil && t.parentID != parent.ID ||
			tactic != nil && !t.tacticIDs[tactic.ID] || q != "" && !strings.Contains(t.fold, q) {
			continue
		}
		matched = append(matched, t)
	}
	return page(matched, p, func(t *TechniqueView) TechniqueView { return listView(t, p.IncludeDeprecated) }), nil
}

func page(all []*TechniqueView, p ListParams, view func(*TechniqueView) TechniqueView) db.Page[TechniqueView] {
	start := int(p.Offset())
	items := []TechniqueView{}
	for i := start; i < len(all) && i < start+p.PerPage; i++ {
		items = append(items, view(all[i]))
	}
	return db.NewPage(items, len(all), p.PageParams)
}

// Technique returns one technique or subtechnique by external id, with its
// description, tactics and subtechniques (inactive ones included, flagged).
func (s *Service) Technique(ctx context.Context, externalID string) (TechniqueView, error) {
	v, err := s.View(ctx)
	if err != nil {
		return TechniqueView{}, err
	}
	return v.Technique(externalID)
}

// Technique returns one technique or subtechnique (see Service.Technique).
func (v *View) Technique(externalID string) (TechniqueView, error) {
	t := v.snap.byExt[db.Fold(externalID)]
	if t == nil {
		return TechniqueView{}, apperr.New(apperr.ErrNotFound, "not_found", "No technique %q in the catalogue.", text.Truncate(externalID, 60))
	}
	out := listView(t, true)
	out.Description = t.description
	return out, nil
}

// Resolve finds a catalogue entry by kind and external id, for tagging.
// It returns the row id and state; unknown ids are apperr.ErrNotFound.
func (s *Service) Resolve(ctx context.Context, kind, externalID string) (id, name, url, state string, err error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return "", "", "", "", err
	}
	switch kind {
	case "tactic":
		t, ok := snap.tacticKey[db.Fold(externalID)]
		if !ok || !strings.EqualFold(t.ExternalID, externalID) {
			return "", "", "", "", apperr.ErrNotFound
		}
		return t.ID, t.Name, t.URL, t.State, nil
	case "technique", "subtechnique":
		t := snap.byExt[db.Fold(externalID)]
		if t == nil || t.Kind != kind {
			return "", "", "", "", apperr.ErrNotFound
		}
		return t.ID, t.Name, t.URL, t.State, nil
	}
	return "", "", "", "", apperr.ErrNotFound
}

// Status is the answer of GET /mitre/status.
type Status struct {
	LastSync        *db.Time `json:"last_sync"`
	Version         string   `json:"version"`
	SourceURL       string   `json:"source_url"`
	SHA256          string   `json:"sha256"`
	FileSHA256      string   `json:"file_sha256"`
	CanonicalDigest string   `json:"canonical_digest"`
	Verified        bool     `json:"verified"`
	Verification    string   `json:"verification"`
	VerifiedAt      *db.Time `json:"verified_at"`
	SpecVersion     string   `json:"spec_version"`
	Counts          Counts   `json:"counts"`
	ChangeCount     int      `json:"change_count"`
	Pin
}

// Status reports the catalogue and the compiled-in pin.
func (s *Service) Status(ctx context.Context) (Status, error) {
	st := Status{Pin: s.pin}
	info, err := s.LastSync(ctx)
	if err != nil {
		return st, err
	}
	counts, err := countCatalogue(ctx, s.db.Read)
	if err != nil {
		return st, err
	}
	st.Counts = counts
	if info != nil {
		t := info.SyncedAt
		st.LastSync = &t
		st.Version, st.SourceURL, st.SHA256 = info.Version, info.SourceURL, info.SHA256
		st.FileSHA256, st.CanonicalDigest, st.VerifiedAt = info.FileSHA256, info.CanonicalDigest, info.VerifiedAt
		st.Verified, st.Verification, st.SpecVersion, st.ChangeCount = info.Verified, info.Verification, info.SpecVersion, info.ChangeCount
	}
	return st, nil
}

// Tactic names a tactic given by external id (TA0007) or shortname
// (discovery), inactive ones included: saved tags may point at them.
// Unknown tactics are a 422.
func (s *Service) Tactic(ctx context.Context, key string) (TacticRef, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return TacticRef{}, err
	}
	t, err := snap.tactic(key)
	if err != nil {
		return TacticRef{}, err
	}
	return TacticRef{ExternalID: t.ExternalID, Shortname: t.Shortname, Name: t.Name}, nil
}

// TacticExternalIDs returns the ATT&CK ids of a tactic (external id or
// shortname), of the techniques linked to it and of their subtechniques:
// what denormalised tags (mission tests keep copies, not row ids) are
// matched against. Inactive entries are included.
func (s *Service) TacticExternalIDs(ctx context.Context, key string) ([]string, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	t, err := snap.tactic(key)
	if err != nil {
		return nil, err
	}
	out := []string{t.ExternalID}
	for _, tech := range snap.techniques {
		if !tech.tacticIDs[t.ID] {
			continue
		}
		out = append(out, tech.ExternalID)
		for _, sub := range tech.subs {
			out = append(out, sub.ExternalID)
		}
	}
	return out, nil
}
