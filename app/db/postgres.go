//go:build postgres

package db

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"

	"github.com/golang-migrate/migrate/v4/database"
	mpgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	"github.com/purplebook/purplebook/schema"
)

func init() {
	register(dialect{
		name:   Postgres,
		driver: "pgx", // also makes dbx pick its PostgreSQL builder
		migrations: func() fs.FS {
			sub, _ := fs.Sub(schema.Postgres, "postgres")
			return sub
		},
		open: func(ctx context.Context, dsn string) (*sql.DB, *sql.DB, error) {
			c, err := sql.Open("pgx", dsn)
			if err != nil {
				return nil, nil, err
			}
			c.SetMaxOpenConns(16)
			c.SetMaxIdleConns(8)
			if err := c.PingContext(ctx); err != nil {
				c.Close()
				return nil, nil, err
			}
			return c, c, nil
		},
		openMigr: func(ctx context.Context, dsn string) (*sql.DB, error) {
			c, err := sql.Open("pgx", dsn)
			if err != nil {
				return nil, err
			}
			return c, c.PingContext(ctx)
		},
		migrator: func(c *sql.DB) (database.Driver, error) {
			return mpgx.WithInstance(c, &mpgx.Config{})
		},
		catalog: pgCatalog,
		tableCount: `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()
			AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'`,
		sizeQuery: `SELECT pg_database_size(current_database())`,
		unique: func(err error) (string, bool) {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
				return pe.ConstraintName, true
			}
			return "", false
		},
	})
}

func pgCatalog(ctx context.Context, c *sql.DB) (*Catalog, error) {
	cat := newCatalog()
	err := eachRow(ctx, c, `SELECT table_name, column_name, is_nullable = 'YES', data_type
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'
		  AND table_name IN (SELECT table_name FROM information_schema.tables
		                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
		ORDER BY table_name, ordinal_position`, func(r *sql.Rows) error {
		var table, dataType string
		var col Column
		if err := r.Scan(&table, &col.Name, &col.Nullable, &dataType); err != nil {
			return err
		}
		col.Type = pgType(dataType)
		t := cat.table(table)
		t.Columns = append(t.Columns, col)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Constraints: p, u, c by name; f by column pair.
	err = eachRow(ctx, c, `SELECT cl.relname, c.conname, c.contype::text
		FROM pg_constraint c
		JOIN pg_class cl ON cl.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		WHERE n.nspname = current_schema() AND c.contype IN ('p','u','c') AND cl.relname <> 'schema_migrations'`,
		func(r *sql.Rows) error {
			var table, name, typ string
			if err := r.Scan(&table, &name, &typ); err != nil {
				return err
			}
			t := cat.table(table)
			switch typ {
			case "p":
				t.PrimaryKey = name
			case "u":
				t.Uniques = append(t.Uniques, name)
			case "c":
				t.Checks = append(t.Checks, name)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, c, `SELECT cl.relname, a.attname, rcl.relname, ra.attname,
		CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
		                   WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END
		FROM pg_constraint c
		JOIN pg_class cl ON cl.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		JOIN pg_class rcl ON rcl.oid = c.confrelid
		CROSS JOIN LATERAL unnest(c.conkey, c.confkey) AS k(col, rcol)
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
		JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.rcol
		WHERE c.contype = 'f' AND n.nspname = current_schema()`, func(r *sql.Rows) error {
		var table string
		var fk ForeignKey
		if err := r.Scan(&table, &fk.Column, &fk.RefTable, &fk.RefColumn, &fk.OnDelete); err != nil {
			return err
		}
		t := cat.table(table)
		t.ForeignKeys = append(t.ForeignKeys, fk)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachRow(ctx, c, `SELECT i.relname, t.relname, ix.indisunique, COALESCE(pg_get_expr(ix.indpred, ix.indrelid), '')
		FROM pg_index ix
		JOIN pg_class i ON i.oid = ix.indexrelid
		JOIN pg_class t ON t.oid = ix.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = current_schema() AND t.relname <> 'schema_migrations'
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)`, func(r *sql.Rows) error {
		var name string
		var idx Index
		if err := r.Scan(&name, &idx.Table, &idx.Unique, &idx.Predicate); err != nil {
			return err
		}
		idx.Predicate = NormalizePredicate(idx.Predicate)
		cat.Indexes[name] = idx
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Primary key columns.
	err = eachRow(ctx, c, `SELECT cl.relname, a.attname
		FROM pg_constraint c
		JOIN pg_class cl ON cl.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(col, ord)
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
		WHERE c.contype = 'p' AND n.nspname = current_schema() AND cl.relname <> 'schema_migrations'
		ORDER BY cl.relname, k.ord`, func(r *sql.Rows) error {
		var table, col string
		if err := r.Scan(&table, &col); err != nil {
			return err
		}
		t := cat.table(table)
		t.PKColumns = append(t.PKColumns, col)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range cat.Tables {
		t.sort()
	}
	return cat, nil
}

// pgType maps information_schema's data_type to a logical type.
func pgType(dataType string) string {
	switch dataType {
	case "boolean":
		return TypeBoolean
	case "smallint", "integer", "bigint":
		return TypeInteger
	case "json", "jsonb":
		return TypeJSON
	case "real", "double precision", "numeric":
		return TypeReal
	}
	return TypeText
}

func eachRow(ctx context.Context, c *sql.DB, q string, fn func(*sql.Rows) error) error {
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
