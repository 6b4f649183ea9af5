package db

import (
	"strings"

	"golang.org/x/text/cases"
)

// Fold is the one case-insensitive form used for every *_fold column and for
// search input: Unicode full case folding (so "STRASSE" matches "straße"),
// trimmed. SQLite's lower() and LIKE are ASCII-only, so folding happens in Go.
func Fold(s string) string {
	return cases.Fold().String(strings.TrimSpace(s))
}

// LikeContains escapes q for `LIKE {:q} ESCAPE '\'` and wraps it in %…%.
func LikeContains(q string) string {
	return "%" + EscapeLike(q) + "%"
}

// LikePrefix escapes q and appends %.
func LikePrefix(q string) string { return EscapeLike(q) + "%" }

// EscapeLike escapes LIKE wildcards with a backslash.
func EscapeLike(q string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(q)
}
