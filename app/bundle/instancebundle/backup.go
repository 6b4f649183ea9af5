// Package instancebundle is the instance kind of bundle: a backup of a
// whole Purplebook instance — every table in the dialect-neutral logical
// form of app/db, every evidence file, the instance's signing key — and
// its restore, into SQLite or PostgreSQL whichever the backup came from.
// docs/BUNDLES.md, "The instance kind", describes it.
package instancebundle

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/evidence"
)

// Entry names.
const (
	tablesDir   = "tables/"
	tableExt    = ".jsonl"
	evidenceDir = "evidence/"
	keyEntry    = "keys/instance.key"
)

// Meta is the instance kind's manifest header.
type Meta struct {
	Engine   string      `json:"engine"` // the source's database: sqlite or postgres
	Tables   []TableMeta `json:"tables"`
	Evidence Counts      `json:"evidence"`
	// InstanceKey says whether keys/instance.key (the source's private
	// signing key) is in the bundle.
	InstanceKey bool `json:"instance_key"`
}

// TableMeta describes one table's document: its columns (the order of the
// values on every line) and how many rows it holds.
type TableMeta struct {
	Name    string       `json:"name"`
	Columns []ColumnMeta `json:"columns"`
	Rows    int64        `json:"rows"`
}

// ColumnMeta is a column and its logical type (db.Type*).
type ColumnMeta struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Counts are the evidence files and bytes a backup holds.
type Counts struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Options are the backup service's dependencies.
type Options struct {
	DB         *db.DB
	Evidence   *evidence.Service
	Identity   *bundle.Identity
	DataDir    string
	AppVersion string
	Now        func() time.Time
}

// Service takes backups of the instance.
type Service struct{ o Options }

// New builds the service.
func New(o Options) (*Service, error) {
	if o.DB == nil || o.Evidence == nil || o.Identity == nil || o.DataDir == "" {
		return nil, errors.New("instancebundle: missing dependency")
	}
	if o.Now == nil {
		return nil, errors.New("instancebundle: no clock")
	}
	return &Service{o: o}, nil
}

// Dir is where backups taken by the schedule or "back up now" are kept:
// <data-dir>/backups.
func (s *Service) Dir() string { return filepath.Join(s.o.DataDir, "backups") }

type blob struct {
	SHA256 string `db:"sha256"`
	Size   int64  `db:"size"`
	Live   bool   `db:"live"`
}

// WriteTo writes a backup of the whole instance to w: every table, read in
// one read-only snapshot transaction (the server goes on serving and
// writing; the backup is the state at the snapshot's first read), then the
// evidence content the rows name, then the signing key. It streams: the
// memory it needs does not grow with the instance. progress (may be nil)
// gets the bytes written so far.
func (s *Service) WriteTo(ctx context.Context, w io.Writer, progress func(int64)) (Meta, error) {
	meta := Meta{Engine: s.o.DB.Driver(), Tables: []TableMeta{}}
	cat, err := s.o.DB.Catalog(ctx)
	if err != nil {
		return meta, fmt.Errorf("instancebundle: catalog: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(s.o.DataDir, bundle.KeyFile))
	if err != nil {
		return meta, fmt.Errorf("instancebundle: read the signing key: %w", err)
	}
	err = s.o.DB.ReadSnapshot(ctx, func(tx *dbx.Tx) error {
		ver, err := db.SchemaVersionIn(ctx, tx) // the snapshot starts here
		if err != nil {
			return err
		}
		bw := bundle.NewWriter(w, s.o.Identity, bundle.Header{Kind: bundle.KindInstance, AppVersion: s.o.AppVersion,
			SchemaVersion: int(ver), CreatedAt: s.o.Now(), Meta: &meta}, progress)
		for _, name := range cat.TableNames() {
			tm, err := writeTable(ctx, tx, bw, cat.Tables[name])
			if err != nil {
				return err
			}
			meta.Tables = append(meta.Tables, tm)
		}
		// Evidence: the content of every row, live or deleted, that is
		// still stored (deleted rows' content may have been collected).
		var blobs []blob
		if err := tx.NewQuery(`SELECT sha256, MAX(size) AS size,
				MAX(CASE WHEN deleted_at IS NULL THEN 1 ELSE 0 END) = 1 AS live
			FROM evidence_files GROUP BY sha256 ORDER BY sha256`).WithContext(ctx).All(&blobs); err != nil {
			return fmt.Errorf("instancebundle: list evidence: %w", err)
		}
		for _, b := range blobs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !bundle.ValidSHA256(b.SHA256) {
				return fmt.Errorf("instancebundle: evidence row with an invalid sha256 %.70q", b.SHA256)
			}
			f, err := s.o.Evidence.OpenContent(b.SHA256, b.Size)
			if err != nil {
				if !b.Live {
					continue
				}
				return fmt.Errorf("instancebundle: evidence %s: %w", b.SHA256, err)
			}
			e, err := bw.WriteFile(evidenceDir+b.SHA256, f)
			f.Close()
			if err != nil {
				return err
			}
			if e.SHA256 != b.SHA256 {
				return fmt.Errorf("instancebundle: the stored evidence %s no longer has that content", b.SHA256)
			}
			meta.Evidence.Files++
			meta.Evidence.Bytes += e.Size
		}
		kw, err := bw.Create(keyEntry, true)
		if err != nil {
			return err
		}
		if _, err := kw.Write(keyPEM); err != nil {
			return fmt.Errorf("instancebundle: write key: %w", err)
		}
		meta.InstanceKey = true
		return bw.Close()
	})
	return meta, err
}

func writeTable(ctx context.Context, tx *dbx.Tx, bw *bundle.Writer, t *db.Table) (TableMeta, error) {
	tm := TableMeta{Name: t.Name, Columns: make([]ColumnMeta, len(t.Columns))}
	for i, c := range t.Columns {
		tm.Columns[i] = ColumnMeta{Name: c.Name, Type: c.Type}
	}
	ew, err := bw.Create(tablesDir+t.Name+tableExt, true)
	if err != nil {
		return tm, err
	}
	buf := bufio.NewWriterSize(ew, 256<<10)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	err = db.ScanTable(ctx, tx, t, func(vals []any) error {
		tm.Rows++
		return enc.Encode(vals)
	})
	if err == nil {
		err = buf.Flush()
	}
	if err != nil {
		return tm, fmt.Errorf("instancebundle: back up %s: %w", t.Name, err)
	}
	return tm, nil
}
