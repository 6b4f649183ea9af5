// Package dbtest gives each test its own migrated database on a real engine:
// a SQLite file in t.TempDir() (copied from a once-migrated template), or,
// when the binary is built with -tags postgres and PURPLEBOOK_TEST_PG_DSN is
// set, a fresh schema on that PostgreSQL server. The same tests therefore run
// on both backends: `go test ./...` and `go test -tags postgres ./...`.
package dbtest

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/purplebook/purplebook/app/db"
)

// EnvPostgresDSN names the variable holding the test server's URL.
const EnvPostgresDSN = "PURPLEBOOK_TEST_PG_DSN"

// Backend is the dialect New uses in this test binary.
func Backend() string {
	if PostgresDSN() != "" {
		return db.Postgres
	}
	return db.SQLite
}

// PostgresDSN returns the test server URL when this binary can use it.
func PostgresDSN() string {
	if !slices.Contains(db.Available(), db.Postgres) {
		return ""
	}
	return os.Getenv(EnvPostgresDSN)
}

// New returns a migrated database of the backend chosen for this run.
func New(t testing.TB) *db.DB {
	t.Helper()
	if Backend() == db.Postgres {
		return NewPostgres(t)
	}
	return NewSQLite(t)
}

// DSN is like New but returns the location, for tests that start the whole
// binary or open the database themselves. The database is migrated.
func DSN(t testing.TB) string {
	t.Helper()
	if Backend() == db.Postgres {
		return newPostgresDSN(t, true)
	}
	return newSQLiteFile(t)
}

var (
	templateOnce sync.Once
	templatePath string
	templateErr  error
)

func sqliteTemplate() (string, error) {
	templateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "purplebook-dbtest-")
		if err != nil {
			templateErr = err
			return
		}
		templatePath = filepath.Join(dir, "template.db")
		ctx := context.Background()
		d, err := db.Open(ctx, templatePath)
		if err != nil {
			templateErr = err
			return
		}
		if err := d.Migrate(ctx); err != nil {
			d.Close()
			templateErr = err
			return
		}
		// Move everything from the WAL into the main file before copying.
		if _, err := d.SQL().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			templateErr = err
		}
		d.Close()
	})
	return templatePath, templateErr
}

func newSQLiteFile(t testing.TB) string {
	t.Helper()
	tpl, err := sqliteTemplate()
	if err != nil {
		t.Fatalf("dbtest: template database: %v", err)
	}
	path := filepath.Join(t.TempDir(), "purplebook.db")
	if err := copyFile(tpl, path); err != nil {
		t.Fatalf("dbtest: copy template: %v", err)
	}
	return path
}

// NewSQLite returns a migrated SQLite database in a temp file.
func NewSQLite(t testing.TB) *db.DB {
	t.Helper()
	return open(t, newSQLiteFile(t))
}

// NewEmptySQLite returns an unmigrated SQLite database in a temp file.
func NewEmptySQLite(t testing.TB) *db.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "purplebook.db"))
}

// NewPostgres returns a migrated database in a fresh schema; it skips the
// test when no server is configured.
func NewPostgres(t testing.TB) *db.DB {
	t.Helper()
	return open(t, newPostgresDSN(t, true))
}

// NewEmptyPostgres returns an unmigrated fresh schema.
func NewEmptyPostgres(t testing.TB) *db.DB {
	t.Helper()
	return open(t, newPostgresDSN(t, false))
}

func newPostgresDSN(t testing.TB, migrate bool) string {
	t.Helper()
	base := PostgresDSN()
	if base == "" {
		t.Skipf("dbtest: PostgreSQL not configured (build with -tags postgres and set %s)", EnvPostgresDSN)
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	if err != nil {
		t.Fatalf("dbtest: connect to %s: %v", EnvPostgresDSN, err)
	}
	defer admin.Close()
	schema := "t_" + strings.ReplaceAll(db.NewID(), "-", "")
	if _, err := admin.SQL().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("dbtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := db.Open(context.Background(), base)
		if err != nil {
			t.Logf("dbtest: cleanup: %v", err)
			return
		}
		defer a.Close()
		if _, err := a.SQL().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("dbtest: drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("dbtest: %s is not a URL: %v", EnvPostgresDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	if migrate {
		d, err := db.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("dbtest: open: %v", err)
		}
		defer d.Close()
		if err := d.Migrate(ctx); err != nil {
			t.Fatalf("dbtest: migrate: %v", err)
		}
	}
	return dsn
}

func open(t testing.TB, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Count returns the number of rows in table.
func Count(t testing.TB, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.SQL().QueryRow(fmt.Sprintf(`SELECT COUNT(*) FROM %q`, table)).Scan(&n); err != nil {
		t.Fatalf("dbtest: count %s: %v", table, err)
	}
	return n
}

// EmptyPostgresDSN returns the URL of a fresh, unmigrated schema (a restore
// target); it skips the test when no server is configured.
func EmptyPostgresDSN(t testing.TB) string {
	t.Helper()
	return newPostgresDSN(t, false)
}
