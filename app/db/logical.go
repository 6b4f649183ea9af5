package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
)

// The logical form of the data: every value of every table as one of a few
// types that mean the same on every engine. Instance backups are written
// in it and restored from it, which is how a SQLite instance moves to
// PostgreSQL and back.
//
// Logical types (Column.Type) and their Go values:
//
//	text     string
//	integer  int64
//	boolean  bool
//	json     string holding the JSON text (SQLite TEXT, PostgreSQL JSONB)
//	real     float64
//
// NULL is nil for every type.
const (
	TypeText    = "text"
	TypeInteger = "integer"
	TypeBoolean = "boolean"
	TypeJSON    = "json"
	TypeReal    = "real"
)

// SchemaVersionIn reads the applied migration version through b (inside a
// snapshot, the version of that snapshot). 0 when nothing is applied.
func SchemaVersionIn(ctx context.Context, b dbx.Builder) (uint, error) {
	var v int64
	err := b.NewQuery("SELECT version FROM schema_migrations LIMIT 1").WithContext(ctx).Row(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("db: schema version: %w", err)
	}
	return uint(max(v, 0)), nil
}

// ScanTable reads every row of t through b in primary-key order and gives
// fn its values in logical form, in the order of t.Columns. The slice is
// reused between calls.
func ScanTable(ctx context.Context, b dbx.Builder, t *Table, fn func(vals []any) error) error {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = "[[" + c.Name + "]]"
	}
	order := make([]string, len(t.PKColumns))
	for i, c := range t.PKColumns {
		order[i] = "[[" + c + "]]"
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM {{" + t.Name + "}}"
	if len(order) > 0 {
		q += " ORDER BY " + strings.Join(order, ", ")
	}
	rows, err := b.NewQuery(q).WithContext(ctx).Rows()
	if err != nil {
		return fmt.Errorf("db: read %s: %w", t.Name, err)
	}
	defer rows.Close()
	raw := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	vals := make([]any, len(t.Columns))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("db: read %s: %w", t.Name, err)
		}
		for i, c := range t.Columns {
			v, err := ToLogical(c.Type, raw[i])
			if err != nil {
				return fmt.Errorf("db: read %s.%s: %w", t.Name, c.Name, err)
			}
			vals[i] = v
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("db: read %s: %w", t.Name, err)
	}
	return nil
}

// ToLogical turns a value as a driver returns it into the logical value of
// a column of type typ. SQLite hands booleans over as integers and may
// give any column any storage class; PostgreSQL gives JSONB as bytes.
func ToLogical(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case TypeText, TypeJSON:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		case int64:
			s = strconv.FormatInt(x, 10)
		case float64:
			s = strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			s = strconv.FormatBool(x)
		default:
			return nil, fmt.Errorf("unexpected %T for a %s column", v, typ)
		}
		if !utf8.ValidString(s) {
			return nil, errors.New("the text is not valid UTF-8")
		}
		if typ == TypeJSON && !json.Valid([]byte(s)) {
			return nil, errors.New("the value is not valid JSON")
		}
		return s, nil
	case TypeInteger:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				return int64(x), nil
			}
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case string, []byte:
			n, err := strconv.ParseInt(asString(x), 10, 64)
			if err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("%v is not an integer", v)
	case TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case string, []byte:
			b, err := strconv.ParseBool(asString(x))
			if err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("%v is not a boolean", v)
	case TypeReal:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		case string, []byte:
			f, err := strconv.ParseFloat(asString(x), 64)
			if err == nil {
				return f, nil
			}
		}
		return nil, fmt.Errorf("%v is not a number", v)
	}
	return nil, fmt.Errorf("unknown column type %q", typ)
}

func asString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	s, _ := v.(string)
	return s
}

// FromJSON turns one JSON value of the logical form (as a backup stores it:
// text and json as JSON strings, integers and reals as numbers, booleans,
// null) into the value to bind for a column of type typ.
func FromJSON(typ string, raw json.RawMessage) (any, error) {
	s := strings.TrimSpace(string(raw))
	if s == "null" {
		return nil, nil
	}
	switch typ {
	case TypeText, TypeJSON:
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("not a string")
		}
		if typ == TypeJSON && !json.Valid([]byte(v)) {
			return nil, fmt.Errorf("not valid JSON text")
		}
		return v, nil
	case TypeInteger:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%.40s is not an integer", s)
		}
		return n, nil
	case TypeBoolean:
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%.40s is not a boolean", s)
	case TypeReal:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%.40s is not a number", s)
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown column type %q", typ)
}

// ForeignKeyCheck reports rows whose foreign keys point nowhere. PostgreSQL
// enforces every key on every write, so only SQLite (where a connection can
// switch enforcement off) is asked.
func (d *DB) ForeignKeyCheck(ctx context.Context) error {
	if d.dialect.name != SQLite {
		return nil
	}
	return sqliteForeignKeyCheck(ctx, d.read)
}
