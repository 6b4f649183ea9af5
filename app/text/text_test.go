package text

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/stretchr/testify/assert"
)

func TestTruncateCutsByCharacters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		{"héllo", 2, "hé"}, // é is two bytes: a byte cut at 2 would split it
		{"日本語テキスト", 3, "日本語"}, // three bytes each
		{"日本語", 3, "日本語"},
		{"日本語", 5, "日本語"},
		{"a😀b", 2, "a😀"}, // four bytes
		{"😀😀", 1, "😀"},
	} {
		got := Truncate(tc.in, tc.n)
		assert.Equal(t, tc.want, got, "Truncate(%q, %d)", tc.in, tc.n)
		assert.True(t, utf8.ValidString(got), "valid UTF-8: %q", got)
		assert.LessOrEqual(t, utf8.RuneCountInString(got), max(tc.n, 0))
	}
	// Every prefix length of a mixed string stays valid and a prefix.
	s := "aé日😀" + strings.Repeat("ü", 10)
	for n := 0; n <= utf8.RuneCountInString(s)+1; n++ {
		got := Truncate(s, n)
		assert.True(t, utf8.ValidString(got), n)
		assert.True(t, strings.HasPrefix(s, got), n)
		assert.Equal(t, min(n, utf8.RuneCountInString(s)), utf8.RuneCountInString(got), n)
	}
}

func TestEllipsis(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "abc", Ellipsis("abc", 3))
	assert.Equal(t, "ab…", Ellipsis("abc", 2))
	assert.Equal(t, "日…", Ellipsis("日本", 1))
}

func TestCheck(t *testing.T) {
	t.Parallel()
	problem := func(v string, max int, required bool) string {
		var inv apperr.Invalid
		Check(&inv, "f", v, max, required)
		return inv.Fields["f"]
	}
	assert.Empty(t, problem("ok", 2, true))
	assert.Empty(t, problem("", 2, false))
	assert.Equal(t, "is required", problem("   ", 2, true))
	assert.Equal(t, "must be at most 2 characters", problem("abc", 2, false))
	assert.Empty(t, problem("日本", 2, false), "characters, not bytes")
	assert.Equal(t, "must be valid text", problem("a\x00", 5, false))
	assert.Equal(t, "must be valid text", problem("a\xff", 5, false))
}
