// Package patch gives PATCH request bodies the three states DESIGN §3 asks
// for: a key that is absent (leave unchanged), null (clear) or a value (set).
//
//	type UpdateParams struct {
//		Name     patch.Field[string]   `json:"name"`
//		GroupIDs patch.Field[[]string] `json:"group_ids"`
//	}
//
// encoding/json calls UnmarshalJSON only for keys present in the body, and
// also for an explicit null, which is what makes the distinction possible.
package patch

import (
	"bytes"
	"encoding/json"
)

// Field is one optional member of a PATCH body. The zero value is "absent".
type Field[T any] struct {
	Set   bool // the key was present (as null or as a value)
	Null  bool // the key was present as null
	Value T    // the value when Set && !Null
}

// Value makes a field holding v (for tests and internal callers).
func Value[T any](v T) Field[T] { return Field[T]{Set: true, Value: v} }

// Null makes a field that is present as null.
func Null[T any]() Field[T] { return Field[T]{Set: true, Null: true} }

// Absent is the zero field: the key was not sent.
func Absent[T any]() Field[T] { return Field[T]{} }

// HasValue reports whether a non-null value was sent.
func (f Field[T]) HasValue() bool { return f.Set && !f.Null }

// Get returns the value and whether a non-null value was sent.
func (f Field[T]) Get() (T, bool) { return f.Value, f.HasValue() }

// Or returns the sent value, or def when the key was absent or null.
func (f Field[T]) Or(def T) T {
	if f.HasValue() {
		return f.Value
	}
	return def
}

// UnmarshalJSON records presence; null is kept apart from a value. Type
// errors come from encoding/json and name the field.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	var zero T
	f.Set, f.Null, f.Value = true, false, zero
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		f.Null = true
		return nil
	}
	return json.Unmarshal(b, &f.Value)
}

// MarshalJSON writes the value, or null when absent or null. Use it with
// the omitzero tag option to leave absent fields out.
func (f Field[T]) MarshalJSON() ([]byte, error) {
	if !f.HasValue() {
		return []byte("null"), nil
	}
	return json.Marshal(f.Value)
}

// IsZero reports absence, so `json:",omitzero"` omits absent fields.
func (f Field[T]) IsZero() bool { return !f.Set }
