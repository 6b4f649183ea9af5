package instancebundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/datadir"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/evidence"
	"github.com/purplebook/purplebook/app/tally"
)

// Limits are the reader limits of a backup: an instance holds many more
// files than one engagement.
var Limits = bundle.Limits{
	MaxEntries:       2_000_000,
	MaxEntryBytes:    bundle.DefaultLimits.MaxEntryBytes,
	MaxTotalBytes:    4 << 40,
	MaxManifestBytes: 512 << 20,
	MaxDocumentBytes: bundle.DefaultLimits.MaxDocumentBytes,
}

// maxLine bounds one row of a table document.
const maxLine = 64 << 20

// RestoreOptions say where to restore.
type RestoreOptions struct {
	DataDir string // the instance's data dir: evidence, the signing key, the lock
	DBURL   string // SQLite file or postgres:// URL
	// Force replaces an instance that already has accounts.
	Force bool
	Now   func() time.Time
	// Progress, when set, hears what the restore is doing.
	Progress func(step string)
	// BeforeCommit, when set, runs inside the restore transaction just
	// before the commit (tests).
	BeforeCommit func(ctx context.Context) error
}

// Report says what a restore did.
type Report struct {
	Signer        bundle.Source `json:"signer"`
	Fingerprint   string        `json:"fingerprint"`
	CreatedAt     string        `json:"created_at"`
	AppVersion    string        `json:"app_version"`
	SchemaVersion int           `json:"schema_version"`
	SourceEngine  string        `json:"source_engine"`
	Engine        string        `json:"engine"`
	Tables        []TableMeta   `json:"tables"`
	Evidence      Counts        `json:"evidence"`
	AuditChain    audit.Report  `json:"audit_chain"`
}

// ErrLocked is refused restores of a data dir a server runs on.
var ErrLocked = errors.New("a Purplebook server is running on this data directory (or another restore is): stop it first")

func invalid(format string, args ...any) error {
	return bundle.Invalid("backup_invalid", "", format, args...)
}

// Restore puts the backup in file into the instance at o.DataDir/o.DBURL:
//
//  1. it takes the data dir's lock exclusively (refused while a server runs
//     there);
//  2. it opens the backup and verifies all of it — structure, signature,
//     every entry's size and sha256, the schema version (a newer one is
//     refused), the table list — extracting the evidence into the data
//     dir's temporary area; a refused backup writes nothing;
//  3. it brings the database's schema to the backup's version (an instance
//     that already has accounts is replaced only with Force), then in one
//     transaction deletes every row, loads every table, checks the row
//     counts against the manifest and rebuilds the results aggregates;
//     the evidence moves into the content store with that commit;
//  4. it migrates the schema to this binary's version, installs the
//     backup's signing key, checks the evidence hashes and the foreign keys,
//     records the restore in the audit trail and verifies the audit chain.
func Restore(ctx context.Context, file string, o RestoreOptions) (Report, error) {
	var rep Report
	if o.Now == nil {
		return rep, errors.New("instancebundle: no clock")
	}
	step := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	lock, err := datadir.LockExclusive(o.DataDir)
	if errors.Is(err, datadir.ErrLocked) {
		return rep, ErrLocked
	}
	if err != nil {
		return rep, err
	}
	defer lock.Close()

	step("checking the backup")
	r, err := bundle.Open(file, Limits)
	if err != nil {
		return rep, err
	}
	defer r.Close()
	m := r.Manifest()
	meta, err := checkManifest(r)
	if err != nil {
		return rep, err
	}
	rep = Report{Signer: m.Source, Fingerprint: r.Fingerprint(), CreatedAt: m.CreatedAt, AppVersion: m.AppVersion,
		SchemaVersion: m.SchemaVersion, SourceEngine: meta.Engine, Tables: meta.Tables, Evidence: meta.Evidence}
	if err := checkSchemaVersion(m); err != nil {
		return rep, err
	}
	tmp, _, err := datadir.OpenTemp(o.DataDir)
	if err != nil {
		return rep, err
	}
	defer tmp.Close()
	staged, keyPEM, err := stage(ctx, r, tmp.Dir())
	if err != nil {
		return rep, err
	}

	step("preparing the database")
	if err := prepareDataDir(o); err != nil {
		return rep, err
	}
	d, err := db.Open(ctx, o.DBURL)
	if err != nil {
		return rep, err
	}
	defer d.Close()
	rep.Engine = d.Driver()
	if err := prepareSchema(ctx, d, uint(m.SchemaVersion), o.Force); err != nil {
		return rep, err
	}
	cat, err := d.Catalog(ctx)
	if err != nil {
		return rep, fmt.Errorf("instancebundle: catalog: %w", err)
	}
	if err := matchCatalog(cat, meta); err != nil {
		return rep, err
	}
	ev, err := evidence.New(evidence.Options{DB: d, DataDir: o.DataDir, TempDir: tmp.Dir(), Now: o.Now})
	if err != nil {
		return rep, err
	}

	step("loading the tables")
	err = ev.Adopt(ctx, staged, func() error {
		return d.TxAlone(ctx, func(tx *dbx.Tx) error {
			if err := load(ctx, d, tx, r, cat, meta); err != nil {
				return err
			}
			if o.BeforeCommit != nil {
				return o.BeforeCommit(ctx)
			}
			return nil
		})
	})
	if err != nil {
		return rep, err
	}

	step("finishing")
	if err := d.Migrate(ctx); err != nil {
		return rep, fmt.Errorf("instancebundle: migrate the restored instance: %w", err)
	}
	if keyPEM != nil {
		if err := installKey(o.DataDir, keyPEM); err != nil {
			return rep, err
		}
	}
	if err := d.ForeignKeyCheck(ctx); err != nil {
		return rep, fmt.Errorf("instancebundle: the restored data breaks a foreign key: %w", err)
	}
	for _, f := range staged {
		if err := checkContent(ev, f); err != nil {
			return rep, err
		}
	}
	now := db.NewTime(o.Now())
	if err := audit.Record(ctx, d.Write, now, audit.Actor{Label: "console"}, audit.Event{Action: "instance.restore",
		ObjectType: "instance", ObjectID: m.Source.InstanceID, Details: map[string]any{
			"backup_created_at": m.CreatedAt, "source_instance": m.Source.InstanceName, "fingerprint": rep.Fingerprint,
			"source_engine": meta.Engine, "engine": d.Driver(), "schema_version": m.SchemaVersion,
			"evidence_files": meta.Evidence.Files}}); err != nil {
		return rep, err
	}
	if rep.AuditChain, err = audit.Verify(ctx, d, o.Now(), nil); err != nil {
		return rep, err
	}
	if rep.AuditChain.Break != nil {
		return rep, fmt.Errorf("instancebundle: the restored audit chain does not verify: %s", rep.AuditChain.Break.Reason)
	}
	return rep, nil
}

// checkManifest checks the kind, decodes meta and checks that the entries
// are exactly the tables, the evidence blobs and the key it announces.
func checkManifest(r *bundle.Reader) (Meta, error) {
	m := r.Manifest()
	var meta Meta
	if m.Kind != bundle.KindInstance {
		return meta, bundle.Invalid("bundle_wrong_kind", "", "This is a %s bundle, not an instance backup.", m.Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(m.Meta))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return meta, invalid("The backup's manifest meta is malformed: %v.", err)
	}
	want := map[string]bool{}
	for _, t := range meta.Tables {
		p := tablesDir + t.Name + tableExt
		if !bundle.ValidPath(p) || want[p] || t.Rows < 0 {
			return meta, invalid("The backup lists the table %.60q twice or with an invalid name or row count.", t.Name)
		}
		if !r.Has(p) {
			return meta, invalid("The backup lacks the table %s.", t.Name)
		}
		want[p] = true
		for _, c := range t.Columns {
			if !slices.Contains([]string{db.TypeText, db.TypeInteger, db.TypeBoolean, db.TypeJSON, db.TypeReal}, c.Type) {
				return meta, invalid("The backup's column %s.%.60s has an unknown type.", t.Name, c.Name)
			}
		}
	}
	var files int
	var size int64
	for _, e := range m.Entries {
		switch {
		case want[e.Path]:
		case e.Path == keyEntry && meta.InstanceKey:
		case strings.HasPrefix(e.Path, evidenceDir) && e.Path[len(evidenceDir):] == e.SHA256:
			files++
			size += e.Size
		default:
			return meta, invalid("The backup holds %s, which an instance backup does not have.", e.Path)
		}
	}
	if meta.InstanceKey && !r.Has(keyEntry) {
		return meta, invalid("The backup lacks the instance key it announces.")
	}
	if files != meta.Evidence.Files || size != meta.Evidence.Bytes {
		return meta, invalid("The backup's evidence differs from its manifest's counts.")
	}
	return meta, nil
}

// checkSchemaVersion refuses a backup of a newer schema than this binary's.
func checkSchemaVersion(m bundle.Manifest) error {
	vs, err := db.SchemaVersions()
	if err != nil {
		return err
	}
	if m.SchemaVersion < 1 || !slices.Contains(vs, uint(m.SchemaVersion)) {
		if m.SchemaVersion > int(vs[len(vs)-1]) {
			return bundle.Invalid("backup_too_new", "",
				"This backup was made by Purplebook %s (schema version %d); this Purplebook knows schema versions up to %d: upgrade Purplebook to restore it.",
				m.AppVersion, m.SchemaVersion, vs[len(vs)-1])
		}
		return invalid("The backup's schema version %d is not one this Purplebook knows.", m.SchemaVersion)
	}
	return nil
}

// stage verifies every entry and extracts the evidence blobs and the key.
func stage(ctx context.Context, r *bundle.Reader, dir string) ([]evidence.Staged, []byte, error) {
	var staged []evidence.Staged
	var open []*os.File
	var key bytes.Buffer
	defer func() {
		for _, f := range open {
			f.Close()
		}
	}()
	err := r.Verify(ctx, func(e bundle.Entry) (io.Writer, error) {
		switch {
		case e.Path == keyEntry:
			if e.Size > 64<<10 {
				return nil, invalid("The backup's instance key is too large.")
			}
			return &key, nil
		case strings.HasPrefix(e.Path, evidenceDir):
			f, err := os.CreateTemp(dir, "restore-*")
			if err != nil {
				return nil, fmt.Errorf("instancebundle: stage evidence: %w", err)
			}
			open = append(open, f)
			staged = append(staged, evidence.Staged{Path: f.Name(), SHA256: e.SHA256, Size: e.Size})
			return f, nil
		}
		return nil, nil
	}, nil)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range open {
		if err := f.Sync(); err != nil {
			return nil, nil, fmt.Errorf("instancebundle: stage evidence: %w", err)
		}
	}
	var keyPEM []byte
	if key.Len() > 0 {
		keyPEM = key.Bytes()
	}
	return staged, keyPEM, nil
}

func prepareDataDir(o RestoreOptions) error {
	dbFile := ""
	if !strings.HasPrefix(o.DBURL, "postgres://") && !strings.HasPrefix(o.DBURL, "postgresql://") {
		f, _, err := db.SQLiteFile(o.DBURL)
		if err != nil {
			return err
		}
		dbFile = f
	}
	return datadir.Prepare(o.DataDir, dbFile)
}

// prepareSchema brings the database to exactly version v. A database that
// already has accounts is an instance: replaced only with force.
func prepareSchema(ctx context.Context, d *db.DB, v uint, force bool) error {
	st, err := d.State(ctx)
	if err != nil {
		return err
	}
	if err := st.Check(); err != nil {
		return err
	}
	if st.Version > 0 {
		var users int64
		if err := d.Read.NewQuery("SELECT COUNT(*) FROM users").WithContext(ctx).Row(&users); err != nil {
			return fmt.Errorf("instancebundle: count users: %w", err)
		}
		if users > 0 && !force {
			return apperr.New(apperr.ErrConflict, "instance_not_empty",
				"The target database already holds an instance (%d accounts): pass --force to replace it with the backup.", users)
		}
	}
	if st.Version > v {
		if err := d.MigrateDownAll(ctx); err != nil {
			return err
		}
	}
	return d.MigrateTo(ctx, v)
}

// matchCatalog demands that the backup's tables and columns are exactly
// those of the schema it is loaded into (same version, so they are unless
// the backup was tampered with or the schema was changed by hand).
func matchCatalog(cat *db.Catalog, meta Meta) error {
	names := cat.TableNames()
	if len(names) != len(meta.Tables) {
		return invalid("The backup has %d tables; this schema version has %d.", len(meta.Tables), len(names))
	}
	for _, t := range meta.Tables {
		ct, ok := cat.Tables[t.Name]
		if !ok {
			return invalid("The backup has a table %.60q this schema version does not have.", t.Name)
		}
		if len(ct.Columns) != len(t.Columns) {
			return invalid("The backup's table %s has other columns than this schema's.", t.Name)
		}
		for i, c := range ct.Columns {
			if t.Columns[i].Name != c.Name || t.Columns[i].Type != c.Type {
				return invalid("The backup's column %s.%.60s differs from this schema's %s (%s).", t.Name, t.Columns[i].Name, c.Name, c.Type)
			}
		}
	}
	return nil
}

// load replaces every row of every table with the backup's, in tx.
func load(ctx context.Context, d *db.DB, tx *dbx.Tx, r *bundle.Reader, cat *db.Catalog, meta Meta) error {
	if d.Driver() == db.SQLite {
		// Foreign keys are checked at the commit: rows may arrive in any order.
		if _, err := tx.NewQuery("PRAGMA defer_foreign_keys = ON").WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("instancebundle: defer foreign keys: %w", err)
		}
	}
	order := cat.DeleteOrder()
	for _, name := range order {
		if _, err := tx.NewQuery("DELETE FROM {{" + name + "}}").WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("instancebundle: clear %s: %w", name, err)
		}
	}
	byName := map[string]TableMeta{}
	for _, t := range meta.Tables {
		byName[t.Name] = t
	}
	for i := len(order) - 1; i >= 0; i-- {
		if err := loadTable(ctx, tx, r, cat.Tables[order[i]], byName[order[i]]); err != nil {
			return err
		}
	}
	if err := tally.RebuildAll(ctx, tx); err != nil {
		return err
	}
	return nil
}

// loadTable inserts one table's rows in batches. A column that references
// its own table (refresh_tokens.replaced_by) is inserted empty and set once
// every row is in, since PostgreSQL checks each statement.
func loadTable(ctx context.Context, tx *dbx.Tx, r *bundle.Reader, t *db.Table, tm TableMeta) error {
	cols := make([]string, len(t.Columns))
	self := map[int]bool{}
	for i, c := range t.Columns {
		cols[i] = c.Name
		for _, fk := range t.ForeignKeys {
			if fk.RefTable == t.Name && fk.Column == c.Name && c.Nullable {
				self[i] = true
			}
		}
	}
	pk := -1
	if len(t.PKColumns) == 1 {
		pk = slices.Index(cols, t.PKColumns[0])
	}
	if len(self) > 0 && pk < 0 {
		return fmt.Errorf("instancebundle: %s references itself without a one-column primary key", t.Name)
	}
	type later struct {
		col int
		id  any
		v   any
	}
	var fixups []later
	rc, err := r.OpenEntry(tablesDir + t.Name + tableExt)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	var batch [][]any
	var n int64
	flush := func() error {
		if err := db.InsertRows(ctx, tx, t.Name, cols, batch); err != nil {
			return fmt.Errorf("instancebundle: load %s: %w", t.Name, err)
		}
		batch = batch[:0]
		return nil
	}
	for sc.Scan() {
		n++
		var raw []json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil || len(raw) != len(cols) {
			return invalid("Row %d of the table %s is malformed.", n, t.Name)
		}
		row := make([]any, len(cols))
		var selfVals []later
		for i, c := range t.Columns {
			v, err := db.FromJSON(c.Type, raw[i])
			if err != nil {
				return invalid("Row %d of the table %s: %s: %v.", n, t.Name, c.Name, err)
			}
			if v == nil && !c.Nullable {
				return invalid("Row %d of the table %s: %s is empty.", n, t.Name, c.Name)
			}
			if self[i] && v != nil {
				selfVals = append(selfVals, later{col: i, v: v})
				v = nil
			}
			row[i] = v
		}
		for _, f := range selfVals {
			f.id = row[pk]
			fixups = append(fixups, f)
		}
		batch = append(batch, row)
		if len(batch) >= 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return err
		}
		return invalid("The table %s cannot be read: %v.", t.Name, err)
	}
	if err := flush(); err != nil {
		return err
	}
	if n != tm.Rows {
		return invalid("The table %s has %d rows; the manifest says %d.", t.Name, n, tm.Rows)
	}
	for _, f := range fixups {
		if _, err := tx.Update(t.Name, dbx.Params{cols[f.col]: f.v}, dbx.HashExp{cols[pk]: f.id}).WithContext(ctx).Execute(); err != nil {
			return fmt.Errorf("instancebundle: load %s.%s: %w", t.Name, cols[f.col], err)
		}
	}
	var count int64
	if err := tx.NewQuery("SELECT COUNT(*) FROM {{" + t.Name + "}}").WithContext(ctx).Row(&count); err != nil {
		return fmt.Errorf("instancebundle: count %s: %w", t.Name, err)
	}
	if count != tm.Rows {
		return fmt.Errorf("instancebundle: %s holds %d rows after the load, the manifest says %d", t.Name, count, tm.Rows)
	}
	return nil
}

// installKey writes the backup's signing key as the data dir's key file
// (complete temporary file, then rename).
func installKey(dataDir string, pem []byte) error {
	tmp, err := os.CreateTemp(dataDir, ".instance-key-*")
	if err != nil {
		return fmt.Errorf("instancebundle: install key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_ = tmp.Chmod(0o600)
	_, err = tmp.Write(pem)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dataDir, bundle.KeyFile))
	}
	if err != nil {
		return fmt.Errorf("instancebundle: install key: %w", err)
	}
	if _, err := bundle.LoadKey(filepath.Join(dataDir, bundle.KeyFile)); err != nil {
		return err
	}
	return nil
}

// checkContent re-reads a restored evidence file: size and sha256 must be
// the manifest's.
func checkContent(ev *evidence.Service, f evidence.Staged) error {
	rc, err := ev.OpenContent(f.SHA256, f.Size)
	if err != nil {
		return fmt.Errorf("instancebundle: restored evidence %s is missing: %w", f.SHA256, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return fmt.Errorf("instancebundle: read restored evidence %s: %w", f.SHA256, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("instancebundle: restored evidence %s does not hash to its name", f.SHA256)
	}
	return nil
}
