// Package schema embeds the SQL migrations of both database dialects.
//
// Each tree holds golang-migrate files NNNN_name.up.sql / NNNN_name.down.sql,
// always paired and numbered identically in both trees. app/db serves them to
// golang-migrate's iofs source via fs.Sub(SQLite, "sqlite") or
// fs.Sub(Postgres, "postgres"). docs/SCHEMA.md describes the tables.
package schema

import "embed"

// SQLite holds the migrations for modernc.org/sqlite under "sqlite/".
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Postgres holds the migrations for PostgreSQL (pgx) under "postgres/".
//
//go:embed postgres/*.sql
var Postgres embed.FS
