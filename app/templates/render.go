package templates

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/apperr"
)

// Atomic commands name their input arguments as #{name}. Render substitutes
// them — the one definition of the rule (the SPA's live preview,
// assets/src/lib/missions/atomic.ts, follows it and is tested on the same
// cases):
//
//   - #{name} of a declared argument becomes values[name] when that is not
//     empty, else the argument's default (numbers and booleans written as
//     YAML wrote them), else it stays #{name} and the name is "unfilled";
//   - a #{name} that names no declared argument stays as it is (and is not
//     reported: it may be part of the command's own syntax);
//   - names match exactly (case-sensitive); substitution is one pass, so a
//     value that itself contains #{…} is not substituted again.

var rePlaceholder = regexp.MustCompile(`#\{([^{}\s]+)\}`)

// DefaultText is an argument default as text ("" for null).
func DefaultText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}

// Render substitutes the arguments in text and returns it with the names of
// the declared arguments it left unfilled (in order of appearance, once).
func Render(text string, args []InputArgument, values map[string]string) (string, []string) {
	byName := make(map[string]InputArgument, len(args))
	for _, a := range args {
		byName[a.Name] = a
	}
	var unfilled []string
	seen := map[string]bool{}
	out := rePlaceholder.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		a, ok := byName[name]
		if !ok {
			return m
		}
		if v := values[name]; v != "" {
			return v
		}
		if d := DefaultText(a.Default); d != "" {
			return d
		}
		if !seen[name] {
			seen[name] = true
			unfilled = append(unfilled, name)
		}
		return m
	})
	return out, unfilled
}

// MaxArgumentValue bounds one argument value (characters).
const MaxArgumentValue = 4000

// CheckArgumentValues validates values red filled in for args: every name
// must be a declared argument; a value must fit its type (integer, float,
// url, bool; path and string take any text) and be at most
// MaxArgumentValue characters of valid UTF-8 without NUL. Problems are
// added to inv as argument_values.<name>. Empty values are allowed (they
// mean "use the default").
func CheckArgumentValues(inv *apperr.Invalid, args []InputArgument, values map[string]string) {
	byName := make(map[string]InputArgument, len(args))
	for _, a := range args {
		byName[a.Name] = a
	}
	for name, v := range values {
		field := "argument_values." + name
		a, ok := byName[name]
		if !ok {
			inv.Add(field, "is not an input argument of this test")
			continue
		}
		if v == "" {
			continue
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			inv.Add(field, "must be text without NUL characters")
			continue
		}
		if utf8.RuneCountInString(v) > MaxArgumentValue {
			inv.Add(field, fmt.Sprintf("must be at most %d characters", MaxArgumentValue))
			continue
		}
		t := strings.TrimSpace(v)
		switch strings.ToLower(a.Type) {
		case "integer", "int":
			if _, err := strconv.ParseInt(t, 10, 64); err != nil {
				inv.Add(field, "must be a whole number")
			}
		case "float", "number":
			if _, err := strconv.ParseFloat(t, 64); err != nil {
				inv.Add(field, "must be a number")
			}
		case "bool", "boolean":
			if _, err := strconv.ParseBool(t); err != nil {
				inv.Add(field, "must be true or false")
			}
		case "url":
			if u, err := url.Parse(t); err != nil || u.Scheme == "" || u.Host == "" && u.Opaque == "" {
				inv.Add(field, "must be a URL like https://example.com/file")
			}
		}
	}
}
