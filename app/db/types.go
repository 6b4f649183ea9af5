package db

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// TimeLayout is the one representation of timestamps in every dialect: TEXT,
// UTC, millisecond precision, so lexical order is time order.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is a UTC timestamp stored as TEXT in TimeLayout. Use *Time for
// nullable columns.
type Time struct{ time.Time }

// NewTime wraps t (converted to UTC, truncated to milliseconds). There is
// no db.Now: the current time comes from the caller's clock (each service's
// Options.Now), so every timestamp can be tested on any date.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// TimePtr is the time of a nullable column: nil stays nil.
func TimePtr(t *Time) *time.Time {
	if t == nil {
		return nil
	}
	return &t.Time
}

// String formats t in TimeLayout.
func (t Time) String() string { return t.UTC().Format(TimeLayout) }

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) { return t.String(), nil }

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	case time.Time:
		t.Time = v.UTC()
		return nil
	case nil:
		t.Time = time.Time{}
		return nil
	default:
		return fmt.Errorf("db.Time: cannot scan %T", src)
	}
	parsed, err := time.Parse(TimeLayout, s)
	if err != nil {
		parsed, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("db.Time: %q: %w", s, err)
		}
	}
	t.Time = parsed.UTC()
	return nil
}

// MarshalJSON writes RFC 3339 with milliseconds in UTC.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON accepts RFC 3339.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time must be an RFC 3339 string")
	}
	p, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("time %q is not RFC 3339 (e.g. 2026-01-02T15:04:05Z)", s)
	}
	*t = NewTime(p)
	return nil
}

// JSON is a raw JSON document stored as TEXT (SQLite) or JSONB (PostgreSQL).
type JSON json.RawMessage

// Value implements driver.Valuer; an empty value is stored as JSON null.
func (j JSON) Value() (driver.Value, error) {
	if len(j) == 0 {
		return "null", nil
	}
	return string(j), nil
}

// Scan implements sql.Scanner.
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*j = JSON(v)
	case []byte:
		*j = append(JSON(nil), v...)
	case nil:
		*j = nil
	default:
		return fmt.Errorf("db.JSON: cannot scan %T", src)
	}
	return nil
}

// MarshalJSON embeds the document as is.
func (j JSON) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps the raw document.
func (j *JSON) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}

// MustJSON marshals v; it panics only on values json cannot encode, which is
// a programming error.
func MustJSON(v any) JSON {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("db.MustJSON: %v", err))
	}
	return JSON(b)
}

// NewID returns a new UUIDv7 string: time-ordered, so inserts append to indexes.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// ValidID reports whether s is a canonical UUID string, so malformed ids can
// be answered with 404 before reaching the database.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
