package missionbundle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/missions"
)

// Export is a mission export ready to be written: the documents were read
// in one snapshot, every evidence file it includes was found on disk.
type Export struct {
	s     *Service
	d     *docs
	meta  Meta
	blobs []Evidence // one per distinct content
	at    time.Time
	// Filename is a suggested file name: the mission's name and the date.
	Filename string
	// Estimate is the bundle's expected size in bytes (evidence plus
	// documents; deflate makes the real size smaller), for progress bars.
	Estimate int64
}

// Prepare reads a mission for export: the caller must see the mission and
// hold bundle.export (and evidence.read to include evidence). The export
// advances the instance's sync clock and is audited.
func (s *Service) Prepare(ctx context.Context, c missions.Caller, missionID string, opts ExportOptions) (*Export, error) {
	if !c.Can("bundle.export") {
		return nil, forbidden("bundle.export")
	}
	if _, _, err := s.o.Missions.Access(ctx, s.o.DB.Read, c, missionID); err != nil {
		return nil, err
	}
	if opts.Evidence && !c.Can("evidence.read") {
		return nil, apperr.New(apperr.ErrForbidden, "forbidden",
			"Exporting evidence needs the %q permission; export without evidence instead.", "evidence.read").
			WithDetails(map[string]any{"permission": "evidence.read"})
	}
	var d *docs
	var seq int64
	at := s.o.Now()
	err := s.o.DB.SnapshotTx(ctx, func(tx *dbx.Tx) error {
		var err error
		if seq, err = s.o.Identity.NextSeq(ctx, tx, s.now()); err != nil {
			return err
		}
		if d, err = load(ctx, tx, missionID); err != nil {
			return err
		}
		if d == nil {
			return apperr.New(apperr.ErrNotFound, "not_found", "No such mission.")
		}
		controls, err := s.o.Settings.SecurityControls(ctx)
		if err != nil {
			return err
		}
		d.Mission.SecurityControls = controls
		return audit.Record(ctx, tx, s.now(), c.Actor, audit.Event{Action: "bundle.export", ObjectType: "mission", ObjectID: missionID,
			Details: map[string]any{"evidence": opts.Evidence, "blue": opts.Blue, "sync_seq": seq, "instance_id": s.o.Identity.ID()}})
	})
	if err != nil {
		return nil, err
	}
	if !opts.Blue {
		stripBlue(d)
	}
	if !opts.Evidence {
		d.Evidence = nil
	}
	x := &Export{s: s, d: d, at: at}
	seen := map[string]bool{}
	for _, e := range d.Evidence {
		if e.DeletedAt != nil || seen[e.SHA256] {
			continue
		}
		seen[e.SHA256] = true
		f, err := s.o.Evidence.OpenContent(e.SHA256, e.Size)
		if err != nil {
			return nil, apperr.New(apperr.ErrConflict, "evidence_missing",
				"The stored file of evidence %q (test %s) is missing or damaged: restore it from a backup, or export without evidence.",
				e.OriginalFilename, e.TestID).WithDetails(map[string]any{"evidence_id": e.ID, "sha256": e.SHA256})
		}
		f.Close()
		x.blobs = append(x.blobs, e)
		x.Estimate += e.Size
	}
	outcomes := 0
	for _, t := range d.Tests {
		outcomes += len(t.Outcomes)
		x.Estimate += int64(len(t.Output) + len(t.Description) + len(t.CommandRun) + 2048)
	}
	x.meta = Meta{MissionID: d.Mission.Mission.ID, MissionName: d.Mission.Mission.Name, Options: opts, SyncSeq: seq,
		Counts: Counts{Tests: len(d.Tests), Outcomes: outcomes, EvidenceFiles: len(d.Evidence), AuditEvents: len(d.Audit)}}
	for _, b := range x.blobs {
		x.meta.Counts.EvidenceBytes += b.Size
	}
	x.Filename = filename(d.Mission.Mission.Name, at)
	return x, nil
}

var reUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

func filename(name string, at time.Time) string {
	slug := strings.Trim(reUnsafe.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(slug) > 60 {
		slug = strings.Trim(slug[:60], "-")
	}
	if slug == "" {
		slug = "mission"
	}
	return slug + "-" + at.UTC().Format("2006-01-02") + ".pbz"
}

// blueFields are the test fields an export without blue data leaves out.
var blueAuditKeys = []string{"blue_notes", "outcomes", "outcome_level_id", "detected_at", "assessed_at"}

// stripBlue removes blue-team data: notes, outcomes, derived outcome,
// assessment time, blue evidence, and the audit details recording them. A
// test blue assessed goes as executed.
func stripBlue(d *docs) {
	for i := range d.Tests {
		t := &d.Tests[i]
		t.BlueNotes, t.AssessedAt, t.OutcomeLevel, t.DetectedAt = "", nil, nil, nil
		t.Outcomes = []Outcome{}
		if t.State == "assessed" {
			t.State = "executed"
		}
	}
	d.Mission.DetectionLevels = []Level{}
	keep := d.Evidence[:0]
	blueEvidence := map[string]bool{}
	for _, e := range d.Evidence {
		if e.Side == "blue" {
			blueEvidence[e.ID] = true
			continue
		}
		keep = append(keep, e)
	}
	d.Evidence = keep
	audits := d.Audit[:0]
	for _, a := range d.Audit {
		if a.ObjectType == "evidence_file" && blueEvidence[a.ObjectID] {
			continue
		}
		if a.Action == "mission_test.update" {
			var det map[string]json.RawMessage
			if json.Unmarshal(a.Details, &det) == nil {
				for _, k := range blueAuditKeys {
					delete(det, k)
				}
				if _, ok := det["state"]; ok && strings.Contains(string(det["state"]), `"assessed"`) {
					delete(det, "state")
				}
				if len(det) == 0 {
					continue
				}
				a.Details = mustMarshal(det)
			}
		}
		audits = append(audits, a)
	}
	d.Audit = audits
	for i := range d.Sync {
		if d.Sync[i].ObjectType != ObjTest {
			continue
		}
		for _, f := range testFields {
			if f.blue {
				delete(d.Sync[i].Base, f.name)
			}
		}
		for k := range d.Sync[i].Base {
			if strings.HasPrefix(k, outcomePrefix) {
				delete(d.Sync[i].Base, k)
			}
		}
	}
}

// WriteTo writes the bundle to w, signed by the instance; progress gets
// the bytes written so far.
func (x *Export) WriteTo(ctx context.Context, w io.Writer, progress func(int64)) error {
	s := x.s
	schema := 0
	if st, err := s.o.DB.State(ctx); err == nil {
		schema = int(st.Version)
	}
	bw := bundle.NewWriter(w, s.o.Identity, bundle.Header{Kind: bundle.KindMission, AppVersion: s.o.AppVersion,
		SchemaVersion: schema, CreatedAt: x.at, Meta: x.meta}, progress)
	if err := bw.WriteJSON(DocMission, x.d.Mission); err != nil {
		return err
	}
	if err := bw.WriteJSON(DocTests, x.d.Tests); err != nil {
		return err
	}
	if x.meta.Options.Evidence {
		ev := x.d.Evidence
		if ev == nil {
			ev = []Evidence{}
		}
		if err := bw.WriteJSON(DocEvidence, ev); err != nil {
			return err
		}
	}
	if err := bw.WriteJSON(DocAudit, x.d.Audit); err != nil {
		return err
	}
	if err := bw.WriteJSON(DocSync, x.d.Sync); err != nil {
		return err
	}
	// The evidence files, hashed and deflated on several goroutines while
	// the zip is written (see bundle.Writer.WriteFiles).
	files := make([]bundle.FileSource, len(x.blobs))
	for i, e := range x.blobs {
		files[i] = bundle.FileSource{Path: BlobDir + e.SHA256, Open: func() (io.ReadCloser, error) {
			f, err := s.o.Evidence.OpenContent(e.SHA256, e.Size)
			if err != nil {
				return nil, fmt.Errorf("missionbundle: evidence %s vanished during the export: %w", e.SHA256, err)
			}
			return f, nil
		}}
	}
	err := bw.WriteFiles(ctx, files, func(i int, got bundle.Entry) error {
		if e := x.blobs[i]; got.Size != e.Size || got.SHA256 != e.SHA256 {
			// The file on disk is not the content its name promises.
			return fmt.Errorf("missionbundle: the stored file of evidence %s is damaged (its content no longer hashes to its name)", e.SHA256)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Close()
}
