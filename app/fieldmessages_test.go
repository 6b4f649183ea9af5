package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The wording contract of field errors (the "details" of a 422/400), which
// the SPA relies on (assets/src/lib/forms.ts fieldSentence):
//
//   - a problem is a label-free predicate that starts with a lowercase
//     letter ("is required", "must not be before the start date"): the
//     screen puts the field's label in front ("End date must not be before
//     the start date.");
//   - or a whole sentence that starts with a capital letter and ends with a
//     full stop, shown as it is.
//
// Neither names another field in code terms (starts_on, started_at): a
// snake_case word may appear only inside parentheses or quotes (examples and
// quoted values). This test reads every literal problem given to
// Invalid.Add, text.Check's messages and Invalid{Fields: …} literals.

var (
	snakeWord = regexp.MustCompile(`\b[a-z]+_[a-z_]+\b`)
	quoted    = regexp.MustCompile(`"[^"]*"|'[^']*'|\([^)]*\)|%[a-z]`)
)

func checkProblem(msg string) string {
	if msg == "" {
		return "empty"
	}
	first := msg[0]
	switch {
	case first >= 'a' && first <= 'z':
		if strings.HasSuffix(msg, ".") {
			return "a predicate ends without a full stop (the screen adds it)"
		}
	case first >= 'A' && first <= 'Z':
		if !strings.HasSuffix(msg, ".") {
			return "a sentence ends with a full stop"
		}
	default:
		return "starts with neither a lowercase predicate nor a capitalised sentence"
	}
	if w := snakeWord.FindString(quoted.ReplaceAllString(msg, "")); w != "" {
		return "names " + w + " in code terms"
	}
	return ""
}

// literalPrefix returns the literal text of a problem expression: a string
// literal, the format of fmt.Sprintf, or the left-most literal of a "+".
func literalPrefix(e ast.Expr) (string, bool) {
	switch v := e.(type) {
	case *ast.BasicLit:
		if v.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(v.Value)
		return s, err == nil
	case *ast.CallExpr:
		if sel, ok := v.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(v.Args) > 0 {
			return literalPrefix(v.Args[0])
		}
	case *ast.BinaryExpr:
		if v.Op == token.ADD {
			return literalPrefix(v.X)
		}
	}
	return "", false
}

func TestFieldProblemsAreLabelFreeAndHuman(t *testing.T) {
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		require.NoError(t, err)
		report := func(e ast.Expr) {
			msg, ok := literalPrefix(e)
			if !ok {
				return
			}
			checked++
			if p := checkProblem(msg); p != "" {
				t.Errorf("%s: field problem %q: %s", fset.Position(e.Pos()), msg, p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch v := n.(type) {
			case *ast.CallExpr:
				// inv.Add(field, problem) on an apperr.Invalid.
				if sel, ok := v.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Add" && len(v.Args) == 2 {
					if id, ok := sel.X.(*ast.Ident); ok && (id.Name == "inv" || id.Name == "bad" || id.Name == "v") {
						report(v.Args[1])
					}
				}
			case *ast.CompositeLit:
				// apperr.Invalid{Fields: map[string]string{k: problem}}.
				if sel, ok := v.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Invalid" {
					for _, el := range v.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "Fields" {
							continue
						}
						if m, ok := kv.Value.(*ast.CompositeLit); ok {
							for _, me := range m.Elts {
								if mkv, ok := me.(*ast.KeyValueExpr); ok {
									report(mkv.Value)
								}
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	assert.Greater(t, checked, 100, "the walk found the problems of the capabilities")
}

func TestCheckProblem(t *testing.T) {
	for msg, want := range map[string]string{
		"is required":                         "",
		"must not be before the start date":   "",
		"must be a lowercase slug (e.g. a_b)": "",
		"Turn on MFA first.":                  "",
		"must not be before starts_on":        "names starts_on in code terms",
		"is required.":                        "a predicate ends without a full stop (the screen adds it)",
		"Attach a file":                       "a sentence ends with a full stop",
		`"x" is not a group id`:               "starts with neither a lowercase predicate nor a capitalised sentence",
		`must be user ids (%q is not a_b)`:    "",
		"include unknown ids: T1, T2":         "",
	} {
		assert.Equal(t, want, checkProblem(msg), msg)
	}
}
