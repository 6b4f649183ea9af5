package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/db"
	"github.com/uptrace/bunrouter"
)

// Query-string parsing for list endpoints. Every bad value is a 400
// "invalid_query" envelope whose details name the parameter; absent
// parameters take their defaults.

// maxQueryLen bounds free-text query parameters (in characters).
const maxQueryLen = 200

func badQuery(name, problem string) error {
	return apperr.BadRequest("invalid_query", "Query parameter %q %s.", name, problem).
		WithDetails(map[string]any{name: problem})
}

// queryValue returns the parameter's value and whether it was given (a
// repeated parameter is an error: it is ambiguous).
func queryValue(req bunrouter.Request, name string) (string, bool, error) {
	vs, ok := req.URL.Query()[name]
	if !ok {
		return "", false, nil
	}
	if len(vs) > 1 {
		return "", true, badQuery(name, "must be given once")
	}
	return vs[0], true, nil
}

// pageParams reads page (≥ 1, default 1) and per_page (1..200, default 50).
func pageParams(req bunrouter.Request) (db.PageParams, error) {
	page, err := queryInt(req, "page", 1, 1_000_000, 1)
	if err != nil {
		return db.PageParams{}, err
	}
	per, err := queryInt(req, "per_page", 1, db.MaxPerPage, db.DefaultPerPage)
	if err != nil {
		return db.PageParams{}, err
	}
	return db.PageParams{Page: page, PerPage: per}, nil
}

// queryInt reads an integer in [lo, hi], or def when absent.
func queryInt(req bunrouter.Request, name string, lo, hi, def int) (int, error) {
	v, ok, err := queryValue(req, name)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		return 0, badQuery(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
	}
	return n, nil
}

// queryBool reads true/false (also 1/0), or nil when absent.
func queryBool(req bunrouter.Request, name string) (*bool, error) {
	v, ok, err := queryValue(req, name)
	if err != nil || !ok {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		b := true
		return &b, nil
	case "false", "0":
		b := false
		return &b, nil
	}
	return nil, badQuery(name, "must be true or false")
}

// queryString reads free text of at most maxQueryLen characters ("" when
// absent).
func queryString(req bunrouter.Request, name string) (string, error) {
	v, _, err := queryValue(req, name)
	if err != nil {
		return "", err
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxQueryLen {
		return "", badQuery(name, fmt.Sprintf("must be text of at most %d characters", maxQueryLen))
	}
	return strings.TrimSpace(v), nil
}

// queryID reads a UUID ("" when absent).
func queryID(req bunrouter.Request, name string) (string, error) {
	v, _, err := queryValue(req, name)
	if err != nil || v == "" {
		return "", err
	}
	if !db.ValidID(v) {
		return "", badQuery(name, "must be an id (a UUID)")
	}
	return v, nil
}

// queryTime reads an RFC 3339 timestamp, or nil when absent.
func queryTime(req bunrouter.Request, name string) (*db.Time, error) {
	v, _, err := queryValue(req, name)
	if err != nil || v == "" {
		return nil, err
	}
	// An unencoded "+" of a zone offset arrives as a space.
	t, err := time.Parse(time.RFC3339Nano, strings.ReplaceAll(strings.TrimSpace(v), " ", "+"))
	if err != nil {
		return nil, badQuery(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	dt := db.NewTime(t)
	return &dt, nil
}
