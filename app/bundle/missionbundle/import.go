package missionbundle

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/evidence"
	"github.com/purplebook/purplebook/app/missions"
)

// importState is what an import keeps between its dry run and its apply:
// the verified documents (read once).
type importState struct {
	docs *docs
	meta Meta
}

// prepare verifies the whole bundle (every entry's size and sha256; the
// structure and signature were checked when it was opened), extracts the
// evidence this instance does not have, and reads and checks the
// documents. It runs once per import.
func (s *Service) prepare(ctx context.Context, imp *bundle.Import, progress func(int64)) (*importState, error) {
	if st, ok := imp.State.(*importState); ok {
		return st, nil
	}
	r := imp.Reader()
	m := r.Manifest()
	if m.Kind != bundle.KindMission {
		return nil, bundle.Invalid("bundle_wrong_kind", "", "This is a %s bundle, not a mission bundle.", m.Kind)
	}
	var meta Meta
	dec := json.NewDecoder(bytes.NewReader(m.Meta))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, bundle.Invalid("bundle_bad_manifest", bundle.ManifestPath, "The manifest's mission header is malformed: %v.", err)
	}
	for _, e := range m.Entries {
		if strings.HasPrefix(e.Path, BlobDir) && strings.TrimPrefix(e.Path, BlobDir) != e.SHA256 {
			return nil, bundle.Invalid("bundle_bad_manifest", e.Path, "The evidence entry %s is not named by its sha256.", e.Path)
		}
		switch {
		case strings.HasPrefix(e.Path, BlobDir), e.Path == DocMission, e.Path == DocTests, e.Path == DocAudit, e.Path == DocSync,
			e.Path == DocEvidence && meta.Options.Evidence:
		default:
			return nil, bundle.Invalid("bundle_unlisted_entry", e.Path, "A mission bundle has no entry %s.", e.Path)
		}
	}
	if !r.Verified() {
		err := imp.Stage(ctx, func(e bundle.Entry) bool {
			return strings.HasPrefix(e.Path, BlobDir) && !s.o.Evidence.HasContent(e.SHA256, e.Size)
		}, progress)
		if err != nil {
			return nil, err
		}
	}
	d := &docs{}
	if err := r.ReadJSON(DocMission, &d.Mission); err != nil {
		return nil, err
	}
	if err := r.ReadJSON(DocTests, &d.Tests); err != nil {
		return nil, err
	}
	if meta.Options.Evidence {
		if err := r.ReadJSON(DocEvidence, &d.Evidence); err != nil {
			return nil, err
		}
	}
	if err := r.ReadJSON(DocAudit, &d.Audit); err != nil {
		return nil, err
	}
	if err := r.ReadJSON(DocSync, &d.Sync); err != nil {
		return nil, err
	}
	if err := validate(d, meta); err != nil {
		return nil, err
	}
	normalize(d)
	st := &importState{docs: d, meta: meta}
	imp.State = st
	return st, nil
}

// normalize gives incoming documents the canonical form load gives local
// ones, so equal values compare equal.
func normalize(d *docs) {
	for i := range d.Tests {
		t := &d.Tests[i]
		t.Prerequisites, t.InputArguments, t.Platforms = canon(t.Prerequisites), canon(t.InputArguments), canon(t.Platforms)
		if t.ArgumentValues = canon(t.ArgumentValues); string(t.ArgumentValues) == "null" {
			t.ArgumentValues = json.RawMessage("{}") // a bundle made before argument values travelled
		}
		if t.Outcomes == nil {
			t.Outcomes = []Outcome{}
		}
		if t.Tags == nil {
			t.Tags = []Tag{}
		}
	}
	for i := range d.Audit {
		d.Audit[i].Details = canon(d.Audit[i].Details)
	}
	for i := range d.Sync {
		for k, v := range d.Sync[i].Base {
			d.Sync[i].Base[k] = canon(v)
		}
	}
}

func (s *Service) report(imp *bundle.Import, p *plan, st *importState, src bundle.SourceInfo, dryRun bool) *Report {
	r := p.report
	r.ImportID, r.Kind, r.DryRun, r.Source = imp.ID, bundle.KindMission, dryRun, src
	if dryRun {
		exp := imp.ExpiresAt
		r.ExpiresAt = &exp
	}
	br := imp.Reader()
	r.Bundle = BundleInfo{Size: br.Size(), Entries: len(br.Manifest().Entries), Options: st.meta.Options, Counts: st.meta.Counts,
		SchemaVersion: br.Manifest().SchemaVersion}
	if !st.meta.Options.Blue {
		r.Warnings = append(r.Warnings, "The bundle carries no blue-team data: blue notes, outcomes and blue evidence here stay as they are.")
	}
	if !st.meta.Options.Evidence {
		r.Warnings = append(r.Warnings, "The bundle carries no evidence: evidence here stays as it is.")
	}
	if !src.Trusted {
		r.Warnings = append(r.Warnings, "The bundle is signed by a key this instance does not trust: check the fingerprint with its sender before importing.")
	}
	return r
}

// Plan is the dry run: it verifies the bundle (first call only) and reports
// what applying it would change, for the caller. progress, when not nil,
// gets the bytes verified so far.
func (s *Service) Plan(ctx context.Context, c missions.Caller, imp *bundle.Import, choices []UserChoice, progress func(int64)) (*Report, error) {
	if !c.Can("bundle.import") {
		return nil, forbidden("bundle.import")
	}
	if err := imp.Lock(); err != nil {
		return nil, err
	}
	defer imp.Unlock()
	st, err := s.prepare(ctx, imp, progress)
	if err != nil {
		return nil, err
	}
	src, err := bundle.Describe(ctx, s.o.DB.Read, imp.Reader(), s.o.Identity)
	if err != nil {
		return nil, err
	}
	p, err := s.buildPlan(ctx, s.o.DB.Read, c, st.docs, st.meta, src, choices, s.o.Evidence.HasContent, stagedFn(imp))
	if err != nil {
		return nil, err
	}
	if err := p.checkBlobs(imp.Reader()); err != nil {
		return nil, err
	}
	return s.report(imp, p, st, src, true), nil
}

func stagedFn(imp *bundle.Import) func(string) bool {
	return func(sum string) bool { _, ok := imp.Staged(sum); return ok }
}

// Apply imports the bundle in one transaction: the evidence it adds is
// moved into the content store just before the commit (journaled, so a
// crash leaves nothing behind), everything else is written by the
// transaction. An untrusted signer needs AcceptUntrusted.
func (s *Service) Apply(ctx context.Context, c missions.Caller, imp *bundle.Import, params ApplyParams) (*Report, error) {
	if !c.Can("bundle.import") {
		return nil, forbidden("bundle.import")
	}
	if err := imp.Lock(); err != nil {
		return nil, err
	}
	defer imp.Unlock()
	st, err := s.prepare(ctx, imp, nil)
	if err != nil {
		return nil, err
	}
	r := imp.Reader()
	src, err := bundle.Describe(ctx, s.o.DB.Read, r, s.o.Identity)
	if err != nil {
		return nil, err
	}
	if !src.Trusted && !params.AcceptUntrusted {
		return nil, apperr.Unprocessable("bundle_untrusted",
			"The bundle is signed by %q with the key %s, which this instance does not trust. Check the fingerprint with the sender, then confirm the import.",
			src.InstanceName, src.Fingerprint).WithDetails(map[string]any{"reason": "bundle_untrusted", "fingerprint": src.Fingerprint,
			"instance_name": src.InstanceName})
	}
	staged := stagedFn(imp)
	// The blobs Stage extracted are exactly the contents missing here; they
	// move in before the transaction, journaled. Any the plan ends up not
	// using are removed after the commit.
	var files []evidence.Staged
	var sums []string
	for _, e := range r.Manifest().Entries {
		if !strings.HasPrefix(e.Path, BlobDir) {
			continue
		}
		if path, ok := imp.Staged(e.SHA256); ok && !s.o.Evidence.HasContent(e.SHA256, e.Size) {
			files = append(files, evidence.Staged{Path: path, SHA256: e.SHA256, Size: e.Size})
			sums = append(sums, e.SHA256)
		}
	}
	if err := imp.BeginAdopt(sums); err != nil {
		return nil, err
	}
	defer imp.EndAdopt()
	var final *plan
	err = s.o.Evidence.Adopt(ctx, files, func() error {
		return s.o.DB.Tx(ctx, func(tx *dbx.Tx) error {
			p, err := s.buildPlan(ctx, tx, c, st.docs, st.meta, src, params.Users, s.o.Evidence.HasContent, staged)
			if err != nil {
				return err
			}
			if err := p.checkBlobs(r); err != nil {
				return err
			}
			if err := p.write(ctx, tx, src, r.Fingerprint()); err != nil {
				return err
			}
			if s.o.BeforeCommit != nil {
				if err := s.o.BeforeCommit(ctx); err != nil {
					return err
				}
			}
			final = p
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, op := range final.evidence {
		if op.action == "create" {
			used[op.rec.SHA256] = true
		}
	}
	var unused []string
	for _, sum := range sums {
		if !used[sum] {
			unused = append(unused, sum)
		}
	}
	if len(unused) > 0 {
		s.o.Evidence.DropUnreferenced(ctx, unused)
	}
	return s.report(imp, final, st, src, false), nil
}
