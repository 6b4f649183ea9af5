package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4/database"
	msqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/purplebook/purplebook/schema"
	"modernc.org/sqlite" // registers driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func init() {
	register(dialect{
		name:   SQLite,
		driver: "sqlite",
		migrations: func() fs.FS {
			sub, _ := fs.Sub(schema.SQLite, "sqlite")
			return sub
		},
		open: openSQLite,
		unique: func(err error) (string, bool) {
			var se *sqlite.Error
			if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
				return "", true // SQLite names the columns, not the constraint
			}
			return "", false
		},
		openMigr: func(ctx context.Context, dsn string) (*sql.DB, error) {
			// foreign_keys is a no-op inside the migration's transaction and
			// table rebuilds need it off; integrity is checked afterwards.
			path, sync, err := SQLiteFile(dsn)
			if err != nil {
				return nil, err
			}
			c, err := sql.Open("sqlite", sqliteDSN(path, "foreign_keys(0)", "", sync))
			if err != nil {
				return nil, err
			}
			c.SetMaxOpenConns(1)
			return c, c.PingContext(ctx)
		},
		migrator: func(c *sql.DB) (database.Driver, error) {
			return msqlite.WithInstance(c, &msqlite.Config{})
		},
		afterMigrate: sqliteForeignKeyCheck,
		catalog:      sqliteCatalog,
		tableCount: `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'
			AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'`,
		sizeQuery: `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`,
	})
}

// sqliteDSN builds the modernc DSN with the pragmas every connection needs:
// busy_timeout first (so the others wait rather than fail), WAL, FULL
// synchronous, foreign keys, and reads through a memory map of the database
// file (mmapMaxBytes). In WAL mode NORMAL survives application crashes but a
// power cut or OS crash may lose the last acknowledged commits; FULL syncs
// the WAL at every commit, so an acknowledged write survives what a laptop
// does (a dying battery). bench/missionload -sync prints the cost.
func sqliteDSN(path, foreignKeys, txlock, synchronous string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", foreignKeys)
	q.Add("_pragma", "mmap_size("+strconv.Itoa(mmapMaxBytes)+")")
	if txlock != "" {
		q.Set("_txlock", txlock)
	}
	return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
}

// mmapMaxBytes is how much of the database file reads map instead of
// copying pages into each connection's 2 MB page cache with a read system
// call per page: list scans larger than that cache (the library's list
// indexes at 10,000 templates) spent a third of their time in those calls.
// The mapping shares the operating system's page cache between connections,
// so memory does not grow with the read pool.
const mmapMaxBytes = 256 << 20

// DefaultSynchronous is the SQLite synchronous level: FULL.
const DefaultSynchronous = "FULL"

// SQLiteFile is the database file a SQLite DSN names, and its synchronous
// level: a DSN may end in ?synchronous=NORMAL (or OFF, EXTRA) to trade the
// durability of the last commits for speed.
func SQLiteFile(dsn string) (path, synchronous string, err error) {
	path = strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	synchronous = DefaultSynchronous
	if i := strings.LastIndex(path, "?"); i >= 0 {
		q, perr := url.ParseQuery(path[i+1:])
		path = path[:i]
		if perr != nil {
			return "", "", fmt.Errorf("db: %q: invalid options", dsn)
		}
		for k, v := range q {
			if k != "synchronous" || len(v) != 1 {
				return "", "", fmt.Errorf("db: unknown SQLite option %q (only synchronous=FULL|NORMAL|EXTRA|OFF)", k)
			}
			switch up := strings.ToUpper(v[0]); up {
			case "FULL", "NORMAL", "EXTRA", "OFF":
				synchronous = up
			default:
				return "", "", fmt.Errorf("db: synchronous=%q: use FULL, NORMAL, EXTRA or OFF", v[0])
			}
		}
	}
	return path, synchronous, nil
}

func openSQLite(ctx context.Context, dsn string) (read, write *sql.DB, err error) {
	path, sync, err := SQLiteFile(dsn)
	if err != nil {
		return nil, nil, err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("db: create directory for %s: %w", path, err)
		}
	}
	write = openCaching(sqliteDSN(path, "foreign_keys(1)", "immediate", sync), true)
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	read = openCaching(sqliteDSN(path, "foreign_keys(1)", "", sync), false)
	n := max(4, runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return read, write, nil
}

// openCaching opens a pool of connections that keep their prepared
// statements (stmtcache.go), with the driver registered as "sqlite".
func openCaching(dsn string, detach bool) *sql.DB {
	return sql.OpenDB(cachingConnector{dsn: dsn, base: sqliteDriver, detach: detach})
}

// sqliteDriver is the driver modernc registered as "sqlite".
var sqliteDriver = func() *sqlite.Driver {
	d, _ := sql.Open("sqlite", "")
	defer d.Close()
	return d.Driver().(*sqlite.Driver)
}()

func sqliteForeignKeyCheck(ctx context.Context, c *sql.DB) error {
	rows, err := c.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var bad []string
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		bad = append(bad, fmt.Sprintf("%s row %d → %s", table, rowid.Int64, parent))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("db: foreign key check failed after migration: %s", strings.Join(bad, ", "))
	}
	return nil
}

var (
	reCheck  = regexp.MustCompile(`(?i)CONSTRAINT\s+(\w+)\s+CHECK`)
	reUnique = regexp.MustCompile(`(?i)CONSTRAINT\s+(\w+)\s+UNIQUE`)
	rePK     = regexp.MustCompile(`(?i)CONSTRAINT\s+(\w+)\s+PRIMARY\s+KEY`)
	reWhere  = regexp.MustCompile(`(?is)\sWHERE\s+(.*)$`)
)

func sqliteCatalog(ctx context.Context, c *sql.DB) (*Catalog, error) {
	cat := newCatalog()
	type obj struct{ typ, name, table, sql string }
	rows, err := c.QueryContext(ctx, `SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master
		WHERE type IN ('table','index') AND name NOT LIKE 'sqlite_%' AND tbl_name <> 'schema_migrations'
		ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var objs []obj
	for rows.Next() {
		var o obj
		if err := rows.Scan(&o.typ, &o.name, &o.table, &o.sql); err != nil {
			rows.Close()
			return nil, err
		}
		objs = append(objs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, o := range objs {
		if o.typ == "index" {
			if o.sql == "" {
				continue
			}
			pred := ""
			if m := reWhere.FindStringSubmatch(o.sql); m != nil {
				pred = NormalizePredicate(m[1])
			}
			cat.Indexes[o.name] = Index{Table: o.table, Predicate: pred,
				Unique: strings.HasPrefix(strings.ToUpper(strings.TrimSpace(o.sql)), "CREATE UNIQUE")}
			continue
		}
		t := cat.table(o.name)
		for _, m := range reCheck.FindAllStringSubmatch(o.sql, -1) {
			t.Checks = append(t.Checks, m[1])
		}
		for _, m := range reUnique.FindAllStringSubmatch(o.sql, -1) {
			t.Uniques = append(t.Uniques, m[1])
		}
		if m := rePK.FindStringSubmatch(o.sql); m != nil {
			t.PrimaryKey = m[1]
		}
		if err := sqliteColumns(ctx, c, t, jsonColumns(o.sql)); err != nil {
			return nil, err
		}
		if err := sqliteForeignKeys(ctx, c, t); err != nil {
			return nil, err
		}
		t.sort()
	}
	return cat, nil
}

// reJSONValid finds the columns a SQLite table guards with json_valid: its
// JSON columns (JSONB on PostgreSQL).
var reJSONValid = regexp.MustCompile(`(?i)json_valid\(\s*"?(\w+)"?\s*\)`)

func jsonColumns(tableSQL string) map[string]bool {
	out := map[string]bool{}
	for _, m := range reJSONValid.FindAllStringSubmatch(tableSQL, -1) {
		out[m[1]] = true
	}
	return out
}

// sqliteType maps a declared column type (SQLite's type affinity rules) to
// a logical type.
func sqliteType(declared string, isJSON bool) string {
	d := strings.ToUpper(declared)
	switch {
	case isJSON:
		return TypeJSON
	case strings.Contains(d, "BOOL"):
		return TypeBoolean
	case strings.Contains(d, "INT"):
		return TypeInteger
	case strings.Contains(d, "REAL"), strings.Contains(d, "FLOA"), strings.Contains(d, "DOUB"), strings.Contains(d, "NUMERIC"):
		return TypeReal
	}
	return TypeText
}

func sqliteColumns(ctx context.Context, c *sql.DB, t *Table, jsonCols map[string]bool) error {
	rows, err := c.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, t.Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var col Column
		var declared string
		var notnull, pk int
		if err := rows.Scan(&col.Name, &declared, &notnull, &pk); err != nil {
			return err
		}
		col.Nullable = notnull == 0
		col.Type = sqliteType(declared, jsonCols[col.Name])
		if pk > 0 {
			t.PKColumns = append(t.PKColumns, col.Name)
		}
		t.Columns = append(t.Columns, col)
	}
	return rows.Err()
}

func sqliteForeignKeys(ctx context.Context, c *sql.DB, t *Table) error {
	rows, err := c.QueryContext(ctx, `SELECT "table", "from", "to", on_delete FROM pragma_foreign_key_list(?)`, t.Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var fk ForeignKey
		var to sql.NullString
		if err := rows.Scan(&fk.RefTable, &fk.Column, &to, &fk.OnDelete); err != nil {
			return err
		}
		fk.RefColumn = to.String
		fk.OnDelete = strings.ToUpper(fk.OnDelete)
		t.ForeignKeys = append(t.ForeignKeys, fk)
	}
	return rows.Err()
}
