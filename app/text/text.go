// Package text holds the small text rules every capability shares: cutting
// a string to a number of characters (never inside a UTF-8 sequence) and
// checking a user-entered text field. Lengths are in characters (runes), as
// the API documents them and as both databases count them.
package text

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/apperr"
)

// Truncate returns s cut to at most n characters. It never splits a
// multi-byte character, so the result is valid UTF-8 whenever s is.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n { // n bytes hold at most n characters
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// Ellipsis is Truncate with "…" appended when something was cut: for
// messages and audit details that quote user input.
func Ellipsis(s string, n int) string {
	if t := Truncate(s, n); t != s {
		return t + "…"
	}
	return s
}

// Check validates a text field: present when required (not only spaces),
// at most max characters, valid UTF-8 without NUL bytes. A problem is added
// to inv under field.
func Check(inv *apperr.Invalid, field, v string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(v) == "":
		inv.Add(field, "is required")
	case utf8.RuneCountInString(v) > max:
		inv.Add(field, fmt.Sprintf("must be at most %d characters", max))
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		inv.Add(field, "must be valid text")
	}
}
