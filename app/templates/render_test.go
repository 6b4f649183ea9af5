package templates

import (
	"strings"
	"testing"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/stretchr/testify/assert"
)

// renderCases are shared in spirit with assets/src/lib/missions/atomic.test.ts.
func TestRender(t *testing.T) {
	t.Parallel()
	args := []InputArgument{
		{Name: "procdump_exe", Type: "path", Default: `PathToAtomicsFolder\..\ExternalPayloads\procdump.exe`},
		{Name: "output_file", Type: "path", Default: `C:\Windows\Temp\lsass_dump.dmp`},
		{Name: "count", Type: "integer", Default: float64(5)},
		{Name: "ratio", Type: "float", Default: 0.5},
		{Name: "enabled", Type: "bool", Default: true},
		{Name: "target", Type: "string", Default: nil},
	}
	for _, c := range []struct {
		name, in string
		values   map[string]string
		out      string
		unfilled []string
	}{
		{"defaults", `#{procdump_exe} -accepteula -ma lsass.exe #{output_file}`, nil,
			`PathToAtomicsFolder\..\ExternalPayloads\procdump.exe -accepteula -ma lsass.exe C:\Windows\Temp\lsass_dump.dmp`, nil},
		{"values win", `#{procdump_exe} #{output_file}`, map[string]string{"output_file": `D:\x.dmp`},
			`PathToAtomicsFolder\..\ExternalPayloads\procdump.exe D:\x.dmp`, nil},
		{"empty value means default", `#{count}`, map[string]string{"count": ""}, `5`, nil},
		{"numbers and booleans as written", `#{count} #{ratio} #{enabled}`, nil, `5 0.5 true`, nil},
		{"no value, no default", `ping #{target} && ping #{target}`, nil, `ping #{target} && ping #{target}`, []string{"target"}},
		{"unknown names stay", `echo #{nope} #{target}`, map[string]string{"target": "10.0.0.1"}, `echo #{nope} 10.0.0.1`, nil},
		{"case-sensitive", `#{Count}`, nil, `#{Count}`, nil},
		{"one pass", `#{target}`, map[string]string{"target": "#{count}"}, `#{count}`, nil},
		{"no placeholders", `whoami /all`, nil, `whoami /all`, nil},
	} {
		out, unfilled := Render(c.in, args, c.values)
		assert.Equal(t, c.out, out, c.name)
		assert.Equal(t, c.unfilled, unfilled, c.name)
	}
}

func TestCheckArgumentValues(t *testing.T) {
	t.Parallel()
	args := []InputArgument{{Name: "n", Type: "integer"}, {Name: "f", Type: "Float"}, {Name: "u", Type: "url"},
		{Name: "b", Type: "bool"}, {Name: "p", Type: "path"}, {Name: "s", Type: "string"}}
	var ok apperr.Invalid
	CheckArgumentValues(&ok, args, map[string]string{"n": " 42 ", "f": "-1.5e3", "u": "https://example.com/a.exe", "b": "false",
		"p": `C:\Temp\x y.txt`, "s": "anything at all; even | pipes", "": ""})
	assert.Equal(t, map[string]string{"argument_values.": "is not an input argument of this test"}, ok.Fields)

	var bad apperr.Invalid
	CheckArgumentValues(&bad, args, map[string]string{"n": "4.2", "f": "abc", "u": "not a url", "b": "maybe", "zz": "1",
		"s": strings.Repeat("é", MaxArgumentValue+1), "p": "a\x00b"})
	assert.Equal(t, "must be a whole number", bad.Fields["argument_values.n"])
	assert.Equal(t, "must be a number", bad.Fields["argument_values.f"])
	assert.Contains(t, bad.Fields["argument_values.u"], "must be a URL")
	assert.Equal(t, "must be true or false", bad.Fields["argument_values.b"])
	assert.Equal(t, "is not an input argument of this test", bad.Fields["argument_values.zz"])
	assert.Contains(t, bad.Fields["argument_values.s"], "at most")
	assert.Contains(t, bad.Fields["argument_values.p"], "NUL")
}
