// Package db opens the database, runs migrations and holds every dialect
// difference (SQLite and, behind the postgres build tag, PostgreSQL). No
// other package branches on the dialect.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
)

// Dialect names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// dialect is everything that differs between database engines.
type dialect struct {
	name       string // "sqlite" or "postgres"
	driver     string // database/sql driver name, also picks the dbx builder
	migrations func() fs.FS
	// open returns the read and write pools and a dedicated connection for
	// migrations (golang-migrate closes the *sql.DB it is given).
	open     func(ctx context.Context, dsn string) (read, write *sql.DB, err error)
	openMigr func(ctx context.Context, dsn string) (*sql.DB, error)
	migrator func(*sql.DB) (database.Driver, error)
	// afterMigrate checks integrity after migrations ran (SQLite: foreign_key_check).
	afterMigrate func(ctx context.Context, c *sql.DB) error
	catalog      func(ctx context.Context, c *sql.DB) (*Catalog, error)
	tableCount   string // SQL counting the application's tables
	sizeQuery    string // SQL giving the database's size in bytes
	// unique reports whether err is a unique (or primary key) violation
	// and the constraint's name when the driver gives it.
	unique func(err error) (constraint string, ok bool)
}

var dialects = map[string]dialect{}

func register(d dialect) { dialects[d.name] = d }

// Available lists the dialects compiled into this binary.
func Available() []string {
	names := make([]string, 0, len(dialects))
	for n := range dialects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DB is an open database: a read pool and a write handle. On SQLite the write
// handle is a single connection whose transactions start with BEGIN
// IMMEDIATE, so concurrent writers queue instead of failing with "database is
// locked". On PostgreSQL both are the same pool.
type DB struct {
	Read  *dbx.DB
	Write *dbx.DB

	dialect dialect
	dsn     string
	read    *sql.DB
	write   *sql.DB
	// writer, on SQLite, runs the write transactions first come, first
	// served on the single write connection, committing the ones that
	// queued together at once (writer.go). nil on PostgreSQL, whose
	// writers run side by side.
	writer *writer
}

// DialectOf returns the dialect name a DSN selects.
func DialectOf(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// ErrNoPostgres is returned when a postgres URL is given to a binary built
// without the postgres tag.
var ErrNoPostgres = errors.New("this purplebook binary was built without PostgreSQL support: rebuild with -tags postgres (make build-pg), or use a SQLite file")

// Open opens the database named by dsn (a SQLite file path or a postgres://
// URL). It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	name := DialectOf(dsn)
	d, ok := dialects[name]
	if !ok {
		if name == Postgres {
			return nil, ErrNoPostgres
		}
		return nil, fmt.Errorf("db: dialect %q not available", name)
	}
	read, write, err := d.open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	out := &DB{
		Read:    dbx.NewFromDB(read, d.driver),
		Write:   dbx.NewFromDB(write, d.driver),
		dialect: d,
		dsn:     dsn,
		read:    read,
		write:   write,
	}
	if name == SQLite {
		out.writer = newWriter(out.Write)
	}
	return out, nil
}

// Driver is the dialect name: "sqlite" or "postgres".
func (d *DB) Driver() string { return d.dialect.name }

// Close closes both pools.
func (d *DB) Close() error {
	if d.writer != nil {
		d.writer.close()
	}
	err := d.read.Close()
	if d.write != d.read {
		err = errors.Join(err, d.write.Close())
	}
	return err
}

// Ping checks that the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Tx runs fn in one write transaction: committed when fn returns nil, rolled
// back otherwise (also on panic, which is re-raised).
//
// A unique violation that escapes fn (two writers raced past the service's
// own "name taken" check: on PostgreSQL both transactions can run the check
// before either commits) becomes apperr.ErrConflict, so the client gets 409
// as it would have from the check, not a 500.
func (d *DB) Tx(ctx context.Context, fn func(tx *dbx.Tx) error) error {
	if d.writer != nil {
		return d.conflict(d.writer.do(ctx, fn, false))
	}
	return d.conflict(d.Write.TransactionalContext(ctx, nil, fn))
}

// TxAlone is Tx for a function that changes the transaction itself (a
// PRAGMA such as defer_foreign_keys lasts until the commit): on SQLite it
// is never committed together with other callers' transactions.
func (d *DB) TxAlone(ctx context.Context, fn func(tx *dbx.Tx) error) error {
	if d.writer != nil {
		return d.conflict(d.writer.do(ctx, fn, true))
	}
	return d.conflict(d.Write.TransactionalContext(ctx, nil, fn))
}

// QueuedWrites is how many write transactions wait for the running one to
// commit (SQLite; 0 on PostgreSQL).
func (d *DB) QueuedWrites() int {
	if d.writer == nil {
		return 0
	}
	return int(d.writer.waiting.Load())
}

// ReadSnapshot runs fn in a read-only transaction on the read pool whose
// statements all see one state of the database: REPEATABLE READ on
// PostgreSQL (one snapshot for the whole transaction, where READ COMMITTED
// takes one per statement), a deferred read transaction on SQLite (in WAL
// mode its first read fixes the snapshot). For readers that assemble one
// answer from several statements while writers may commit in between.
func (d *DB) ReadSnapshot(ctx context.Context, fn func(tx *dbx.Tx) error) error {
	return d.Read.TransactionalContext(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
}

// conflict classifies a unique violation in err as apperr.ErrConflict,
// keeping err as the cause for the log.
func (d *DB) conflict(err error) error {
	if err == nil || d.dialect.unique == nil {
		return err
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err // already classified by the service
	}
	name, ok := d.dialect.unique(err)
	if !ok {
		return err
	}
	details := map[string]any{}
	if name != "" {
		details["constraint"] = name
	}
	return &uniqueError{cause: err, app: apperr.New(apperr.ErrConflict, "conflict",
		"This conflicts with an existing record: a value that must be unique is already in use; reload and try again.").WithDetails(details)}
}

// uniqueError is an apperr.Error (409 conflict) that keeps the driver's
// error as its cause.
type uniqueError struct {
	app   *apperr.Error
	cause error
}

func (e *uniqueError) Error() string   { return e.app.Message + " (" + e.cause.Error() + ")" }
func (e *uniqueError) Unwrap() []error { return []error{e.app, e.cause} }

// SnapshotTx is Tx where every statement sees the same state of the
// database (exports, backups): on PostgreSQL the transaction runs at
// REPEATABLE READ; SQLite's write transactions are exclusive already.
func (d *DB) SnapshotTx(ctx context.Context, fn func(tx *dbx.Tx) error) error {
	return d.Tx(ctx, func(tx *dbx.Tx) error {
		if d.dialect.name == Postgres {
			if _, err := tx.NewQuery("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("db: snapshot: %w", err)
			}
		}
		return fn(tx)
	})
}

// Catalog introspects the schema: tables, columns, keys, checks, indexes.
func (d *DB) Catalog(ctx context.Context) (*Catalog, error) {
	return d.dialect.catalog(ctx, d.read)
}

// TableCount counts the application's tables (schema_migrations excluded)
// with one cheap query.
func (d *DB) TableCount(ctx context.Context) (int, error) {
	var n int
	err := d.read.QueryRowContext(ctx, d.dialect.tableCount).Scan(&n)
	return n, err
}

// Size is the database's size in bytes as the engine reports it (SQLite:
// pages in use; PostgreSQL: pg_database_size).
func (d *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	err := d.read.QueryRowContext(ctx, d.dialect.sizeQuery).Scan(&n)
	return n, err
}

// SQL gives the raw read pool, for tests and diagnostics.
func (d *DB) SQL() *sql.DB { return d.read }

// LockForUpdate takes a row lock on table.id inside tx, so concurrent
// transactions that derive values from that row (next position, version)
// queue. SQLite needs nothing: its write transactions are BEGIN IMMEDIATE
// and already exclusive.
func (d *DB) LockForUpdate(ctx context.Context, tx *dbx.Tx, table, id string) error {
	if d.dialect.name != Postgres {
		return nil
	}
	var one int
	return tx.NewQuery(`SELECT 1 FROM "` + table + `" WHERE id = {:id} FOR UPDATE`).Bind(dbx.Params{"id": id}).WithContext(ctx).Row(&one)
}
