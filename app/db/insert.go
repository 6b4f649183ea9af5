package db

import (
	"context"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
)

// InsertRows writes rows (values in the order of cols) with multi-row
// INSERTs of at most ~2,000 parameters each, well under SQLite's and
// PostgreSQL's limits: a bulk import is a handful of statements instead of
// one per row.
func InsertRows(ctx context.Context, b dbx.Builder, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	per := min(max(1, 2000/len(cols)), len(rows))
	names := make([][]string, per) // the placeholder names, row by column
	for i := range names {
		names[i] = make([]string, len(cols))
		for j := range cols {
			names[i][j] = "r" + strconv.Itoa(i) + "c" + strconv.Itoa(j)
		}
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "[[" + c + "]]"
	}
	head := "INSERT INTO {{" + table + "}} (" + strings.Join(quoted, ", ") + ") VALUES "
	statement := func(n int) *dbx.Query {
		var sb strings.Builder
		sb.WriteString(head)
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j, name := range names[i] {
				if j > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("{:" + name + "}")
			}
			sb.WriteByte(')')
		}
		return b.NewQuery(sb.String()).WithContext(ctx)
	}
	// Full chunks share one prepared statement: parsing thousands of
	// placeholders (dbx's and the database's) once, not once per chunk.
	var full *dbx.Query
	defer func() {
		if full != nil {
			_ = full.Close()
		}
	}()
	for lo := 0; lo < len(rows); lo += per {
		chunk := rows[lo:min(lo+per, len(rows))]
		var q *dbx.Query
		switch {
		case len(chunk) < per || len(rows) == per:
			q = statement(len(chunk))
		case full == nil:
			full = statement(per).Prepare()
			q = full
		default:
			q = full
		}
		params := make(dbx.Params, len(chunk)*len(cols))
		for i, r := range chunk {
			for j, v := range r {
				params[names[i][j]] = v
			}
		}
		if _, err := q.Bind(params).Execute(); err != nil {
			return err
		}
	}
	return nil
}
