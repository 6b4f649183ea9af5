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
	per := max(1, 2000/len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "[[" + c + "]]"
	}
	head := "INSERT INTO {{" + table + "}} (" + strings.Join(quoted, ", ") + ") VALUES "
	for lo := 0; lo < len(rows); lo += per {
		chunk := rows[lo:min(lo+per, len(rows))]
		var sb strings.Builder
		sb.WriteString(head)
		params := dbx.Params{}
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j, v := range r {
				if j > 0 {
					sb.WriteString(", ")
				}
				name := "r" + strconv.Itoa(i) + "c" + strconv.Itoa(j)
				sb.WriteString("{:" + name + "}")
				params[name] = v
			}
			sb.WriteByte(')')
		}
		if _, err := b.NewQuery(sb.String()).Bind(params).WithContext(ctx).Execute(); err != nil {
			return err
		}
	}
	return nil
}
