package db

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

// MigrationState is where the schema stands.
type MigrationState struct {
	Version uint // 0 = nothing applied
	Dirty   bool
	Latest  uint // newest migration this binary embeds
}

// ErrDirty is returned when a previous migration failed half-way.
var ErrDirty = errors.New("database migration state is dirty")

// ErrTooNew is returned when the database was written by a newer binary.
var ErrTooNew = errors.New("database schema is newer than this binary")

// LatestVersion is the newest migration embedded for this dialect.
func (d *DB) LatestVersion() (uint, error) {
	versions, err := migrationVersions(d.dialect.migrations())
	if err != nil || len(versions) == 0 {
		return 0, err
	}
	return versions[len(versions)-1], nil
}

func migrationVersions(fsys fs.FS) ([]uint, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	seen := map[uint]bool{}
	var out []uint
	for _, e := range entries {
		var v uint
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err != nil || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// withMigrate runs fn with a golang-migrate instance on its own connection
// (m.Close closes the *sql.DB it was given, so it never gets the pools).
func (d *DB) withMigrate(ctx context.Context, fn func(m *migrate.Migrate) error) error {
	conn, err := d.dialect.openMigr(ctx, d.dsn)
	if err != nil {
		return fmt.Errorf("db: migration connection: %w", err)
	}
	drv, err := d.dialect.migrator(conn)
	if err != nil {
		conn.Close()
		return fmt.Errorf("db: migration driver: %w", err)
	}
	src, err := iofs.New(d.dialect.migrations(), ".")
	if err != nil {
		conn.Close()
		return fmt.Errorf("db: migration source: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, d.dialect.name, drv)
	if err != nil {
		conn.Close()
		return fmt.Errorf("db: migrate: %w", err)
	}
	defer m.Close()
	if err := fn(m); err != nil {
		return err
	}
	if d.dialect.afterMigrate != nil {
		return d.dialect.afterMigrate(ctx, d.read)
	}
	return nil
}

// State reports the applied version and dirty flag.
func (d *DB) State(ctx context.Context) (MigrationState, error) {
	latest, err := d.LatestVersion()
	if err != nil {
		return MigrationState{}, err
	}
	st := MigrationState{Latest: latest}
	// Read schema_migrations directly: cheap, and works with no migrate instance.
	var exists int
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
	if d.dialect.name == Postgres {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
	}
	if err := d.read.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return st, err
	}
	if exists == 0 {
		return st, nil
	}
	var v int64
	var dirty bool
	err = d.read.QueryRowContext(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&v, &dirty)
	if err != nil && !errors.Is(err, errNoRows) {
		return st, err
	}
	if v > 0 {
		st.Version = uint(v)
	}
	st.Dirty = dirty
	return st, nil
}

// CheckState refuses a dirty database and one newer than this binary, with
// messages that say what to do.
func (st MigrationState) Check() error {
	if st.Dirty {
		return fmt.Errorf("%w at version %d: a previous migration failed half-way. Restore the database from a backup (purplebook restore), or repair it by hand and run `purplebook migrate force %d`", ErrDirty, st.Version, st.Version)
	}
	if st.Version > st.Latest {
		return fmt.Errorf("%w: the database is at schema version %d but this purplebook knows only up to %d. Install the newer purplebook that wrote it, or restore a backup made with this version", ErrTooNew, st.Version, st.Latest)
	}
	return nil
}

// Migrate brings the schema to the newest embedded version. It refuses a
// dirty or too-new database.
func (d *DB) Migrate(ctx context.Context) error {
	st, err := d.State(ctx)
	if err != nil {
		return fmt.Errorf("db: read migration state: %w", err)
	}
	if err := st.Check(); err != nil {
		return err
	}
	if st.Version == st.Latest {
		return nil
	}
	return d.withMigrate(ctx, func(m *migrate.Migrate) error {
		if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("db: migrate up: %w", err)
		}
		return nil
	})
}

// MigrateDown reverts n migrations (n > 0).
func (d *DB) MigrateDown(ctx context.Context, n int) error {
	if n <= 0 {
		return errors.New("db: migrate down needs a positive count")
	}
	st, err := d.State(ctx)
	if err != nil {
		return err
	}
	if err := st.Check(); err != nil {
		return err
	}
	return d.withMigrate(ctx, func(m *migrate.Migrate) error {
		if err := m.Steps(-n); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("db: cannot go down %d steps from version %d", n, st.Version)
			}
			return fmt.Errorf("db: migrate down: %w", err)
		}
		return nil
	})
}

// MigrateForce sets the version without running anything and clears the dirty
// flag: for an operator who repaired a failed migration by hand. Version 0
// means "no migration applied" (an empty database: up then runs them all);
// any other version must be one this binary embeds, or up could never find
// where to go on from (golang-migrate would record it and then fail on
// every start with "file does not exist").
func (d *DB) MigrateForce(ctx context.Context, version int) error {
	target := version
	if version == 0 {
		target = database.NilVersion
	} else {
		versions, err := migrationVersions(d.dialect.migrations())
		if err != nil {
			return err
		}
		if !slices.Contains(versions, uint(version)) {
			names := make([]string, len(versions))
			for i, v := range versions {
				names[i] = strconv.Itoa(int(v))
			}
			return fmt.Errorf("db: %d is not a schema version of this purplebook (its versions: %s; 0 means none applied)",
				version, strings.Join(names, ", "))
		}
	}
	return d.withMigrate(ctx, func(m *migrate.Migrate) error {
		return m.Force(target)
	})
}

// seedBlocks returns the statements between "-- seed:begin" and "-- seed:end"
// markers of every up migration, in version order. Reset replays them, so the
// seeds have a single source: the migrations. Seed statements must be
// idempotent (ON CONFLICT DO NOTHING).
func (d *DB) seedBlocks() ([]string, error) {
	fsys := d.dialect.migrations()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".up.sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var blocks []string
	for _, n := range names {
		f, err := fsys.Open(n)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
		var cur strings.Builder
		in := false
		for sc.Scan() {
			line := sc.Text()
			switch strings.TrimSpace(line) {
			case "-- seed:begin":
				in = true
				cur.Reset()
				continue
			case "-- seed:end":
				if in {
					blocks = append(blocks, cur.String())
				}
				in = false
				continue
			}
			if in {
				cur.WriteString(line)
				cur.WriteByte('\n')
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

// Versions lists the migration versions this binary embeds, oldest first.
func (d *DB) Versions() ([]uint, error) { return migrationVersions(d.dialect.migrations()) }

// MigrateTo brings an empty or older schema to exactly version v (a
// restore loads a backup into the schema it was taken from, then migrates
// up). v must be one of Versions.
func (d *DB) MigrateTo(ctx context.Context, v uint) error {
	st, err := d.State(ctx)
	if err != nil {
		return fmt.Errorf("db: read migration state: %w", err)
	}
	if err := st.Check(); err != nil {
		return err
	}
	if st.Version == v {
		return nil
	}
	return d.withMigrate(ctx, func(m *migrate.Migrate) error {
		if err := m.Migrate(v); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("db: migrate to %d: %w", v, err)
		}
		return nil
	})
}

// MigrateDownAll reverts every migration: the application's tables are
// gone afterwards (what a forced restore into PostgreSQL starts from).
func (d *DB) MigrateDownAll(ctx context.Context) error {
	st, err := d.State(ctx)
	if err != nil {
		return fmt.Errorf("db: read migration state: %w", err)
	}
	if err := st.Check(); err != nil {
		return err
	}
	if st.Version == 0 {
		return nil
	}
	return d.withMigrate(ctx, func(m *migrate.Migrate) error {
		if err := m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
			return fmt.Errorf("db: migrate down: %w", err)
		}
		return nil
	})
}

// SchemaVersions lists the migration versions this binary embeds, oldest
// first, without a database (both dialects' trees list the same versions:
// TestBothTreesListIdenticalVersions).
func SchemaVersions() ([]uint, error) {
	vs, err := migrationVersions(dialects[SQLite].migrations())
	if err == nil && len(vs) == 0 {
		err = errors.New("db: no migrations embedded")
	}
	return vs, err
}
