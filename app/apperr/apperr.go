// Package apperr defines the error vocabulary shared by every capability.
// The HTTP layer maps these to statuses and the JSON error envelope; domain
// packages never know about HTTP.
package apperr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Wrap them with fmt.Errorf("...: %w", apperr.ErrNotFound).
var (
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrUnauthenticated = errors.New("authentication required")
	ErrForbidden       = errors.New("permission denied")
	ErrGone            = errors.New("gone")
	ErrTooLarge        = errors.New("request body too large")
	ErrUnavailable     = errors.New("service unavailable")
	ErrTooManyRequests = errors.New("too many requests")
)

// RetryAfter is a throttling error: the client may try again after Seconds.
type RetryAfter struct {
	Seconds int
	Message string
}

func (e *RetryAfter) Error() string { return e.Message }
func (e *RetryAfter) Unwrap() error { return ErrTooManyRequests }

// Error is an error with an explicit machine code and a message that is safe
// to show to users. Kind is one of the sentinels above and decides the status.
type Error struct {
	Kind    error
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// New builds an *Error of the given kind.
func New(kind error, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns e with details attached.
func (e *Error) WithDetails(d map[string]any) *Error {
	e.Details = d
	return e
}

// Invalid collects field-level validation problems. An empty Invalid is not
// an error: use Err() to get nil when nothing was added.
type Invalid struct {
	Message string
	Fields  map[string]string
}

// ErrInvalid is the sentinel matched by errors.Is for every *Invalid.
var ErrInvalid = errors.New("invalid input")

// Add records a problem with one field. The first problem per field wins.
func (v *Invalid) Add(field, problem string) {
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if _, ok := v.Fields[field]; !ok {
		v.Fields[field] = problem
	}
}

// Err returns v as an error, or nil when no field was added.
func (v *Invalid) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

func (v *Invalid) Error() string {
	if v.Message != "" {
		return v.Message
	}
	keys := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+v.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

func (v *Invalid) Is(target error) bool { return target == ErrInvalid }

// BadRequest is malformed input that is not about one field (bad JSON, wrong
// content type). It maps to 400.
func BadRequest(code, format string, args ...any) *Error {
	return New(ErrBadRequest, code, format, args...)
}

// ErrBadRequest is the kind of BadRequest errors.
var ErrBadRequest = errors.New("bad request")

// Unprocessable is input that is well-formed but refers to things that do not
// exist or violates a rule; it maps to 422.
func Unprocessable(code, format string, args ...any) *Error {
	return New(ErrUnprocessable, code, format, args...)
}

// ErrUnprocessable is the kind of Unprocessable errors.
var ErrUnprocessable = errors.New("unprocessable")
