package mitre

import (
	"context"
	"sort"

	"github.com/purplebook/purplebook/app/db"
)

// Matrix is the whole catalogue arranged as the ATT&CK matrix, for views
// that place many techniques at once (heatmaps, reports, layers): active
// tactics in matrix order, each with its active techniques (by name) and
// their active subtechniques; Lookup finds any entry, inactive ones included.
type Matrix struct {
	Version string         `json:"version"` // ATT&CK version of the last sync ("" when unknown)
	Tactics []MatrixTactic `json:"tactics"`
	entries map[string]*MatrixEntry
}

// MatrixTactic is a matrix column.
type MatrixTactic struct {
	ExternalID string         `json:"external_id"`
	Shortname  string         `json:"shortname"`
	Name       string         `json:"name"`
	Techniques []*MatrixEntry `json:"techniques"`
}

// MatrixEntry is a technique or subtechnique.
type MatrixEntry struct {
	ExternalID    string         `json:"external_id"`
	Kind          string         `json:"kind"` // technique or subtechnique
	Name          string         `json:"name"`
	URL           string         `json:"url"`
	State         string         `json:"state"` // active, revoked, deprecated, removed
	Platforms     []string       `json:"platforms"`
	Tactics       []string       `json:"tactics"`               // shortnames, matrix order
	Parent        string         `json:"parent,omitempty"`      // subtechniques: the parent's external id
	ReplacedBy    string         `json:"replaced_by,omitempty"` // revoked: the replacement's external id
	Subtechniques []*MatrixEntry `json:"subtechniques,omitempty"`
}

// Lookup returns the entry of an external id (any case), active or not.
func (m *Matrix) Lookup(externalID string) (*MatrixEntry, bool) {
	e, ok := m.entries[db.Fold(externalID)]
	return e, ok
}

// TacticByShortname returns an active tactic by shortname or external id.
func (m *Matrix) TacticByShortname(key string) (*MatrixTactic, bool) {
	f := db.Fold(key)
	for i := range m.Tactics {
		if db.Fold(m.Tactics[i].Shortname) == f || db.Fold(m.Tactics[i].ExternalID) == f {
			return &m.Tactics[i], true
		}
	}
	return nil, false
}

// Matrix returns the catalogue as a matrix (built from the in-memory
// snapshot; cheap).
func (s *Service) Matrix(ctx context.Context) (*Matrix, error) {
	snap, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := &Matrix{entries: map[string]*MatrixEntry{}}
	if info, err := s.LastSync(ctx); err != nil {
		return nil, err
	} else if info != nil {
		out.Version = info.Version
	}
	shortByID := map[string]string{}
	pos := map[string]int{}
	for i, t := range snap.tactics {
		shortByID[t.ID] = t.Shortname
		pos[t.Shortname] = i
	}
	entry := func(t *TechniqueView) *MatrixEntry {
		e := &MatrixEntry{ExternalID: t.ExternalID, Kind: t.Kind, Name: t.Name, URL: t.URL, State: t.State,
			Platforms: t.Platforms, Tactics: []string{}}
		for id := range t.tacticIDs {
			if sn := shortByID[id]; sn != "" {
				e.Tactics = append(e.Tactics, sn)
			}
		}
		sort.Slice(e.Tactics, func(i, j int) bool { return pos[e.Tactics[i]] < pos[e.Tactics[j]] })
		if t.ReplacedBy != nil {
			e.ReplacedBy = t.ReplacedBy.ExternalID
		}
		if t.Parent != nil {
			e.Parent = t.Parent.ExternalID
		}
		out.entries[db.Fold(t.ExternalID)] = e
		return e
	}
	techs := make([]*MatrixEntry, 0, len(snap.techniques))
	for _, t := range snap.techniques {
		e := entry(t)
		for _, sub := range t.subs {
			se := entry(sub)
			if sub.active {
				e.Subtechniques = append(e.Subtechniques, se)
			}
		}
		sort.Slice(e.Subtechniques, func(i, j int) bool { return e.Subtechniques[i].ExternalID < e.Subtechniques[j].ExternalID })
		if t.active {
			techs = append(techs, e)
		}
	}
	for _, sub := range snap.subs { // orphans (parent missing from the bundle)
		if _, ok := out.entries[db.Fold(sub.ExternalID)]; !ok {
			entry(sub)
		}
	}
	sort.Slice(techs, func(i, j int) bool {
		if techs[i].Name != techs[j].Name {
			return techs[i].Name < techs[j].Name
		}
		return techs[i].ExternalID < techs[j].ExternalID
	})
	for _, t := range snap.tactics {
		if !t.active {
			continue
		}
		col := MatrixTactic{ExternalID: t.ExternalID, Shortname: t.Shortname, Name: t.Name, Techniques: []*MatrixEntry{}}
		for _, e := range techs {
			for _, sn := range e.Tactics {
				if sn == t.Shortname {
					col.Techniques = append(col.Techniques, e)
					break
				}
			}
		}
		out.Tactics = append(out.Tactics, col)
	}
	if out.Tactics == nil {
		out.Tactics = []MatrixTactic{}
	}
	return out, nil
}
