package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func TestLicenceFilesPicksTheRootLicenceAndNoticeFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"LICENSE", "NOTICE", "PATENTS", "LICENSE-3RD-PARTY.md", "license.txt", "COPYING.LESSER", "README.md", "licensed.go"} {
		write(t, filepath.Join(dir, name), name+" text\n")
	}
	write(t, filepath.Join(dir, "LICENSE"), "Copyright 2020 A  \r\nline two\r\n\r\n\r\n")
	write(t, filepath.Join(dir, "sub", "LICENSE"), "nested: not the module's\n")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "LICENSES"), 0o755))

	files, err := licenceFiles(dir)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.name)
	}
	assert.Equal(t, []string{"COPYING.LESSER", "LICENSE", "LICENSE-3RD-PARTY.md", "NOTICE", "PATENTS", "license.txt"}, names)
	assert.Equal(t, "Copyright 2020 A\nline two", files[1].text, "line ends and trailing blanks normalised")
}

// npmRepo writes a lock file and the installed packages it names under dir.
func npmRepo(t *testing.T, dir string, packages map[string]map[string]any) []byte {
	t.Helper()
	for key, p := range packages {
		if key == "" {
			continue
		}
		write(t, filepath.Join(dir, key, "package.json"), `{"version":"`+p["version"].(string)+`"}`)
		write(t, filepath.Join(dir, key, "LICENSE"), "licence of "+key+"\n")
	}
	lock, err := json.Marshal(map[string]any{"lockfileVersion": 3, "packages": packages})
	require.NoError(t, err)
	return lock
}

func TestNpmPackagesAreTheRuntimeDependencyClosurePlusBuildHelpers(t *testing.T) {
	dir := t.TempDir()
	lock := npmRepo(t, dir, map[string]map[string]any{
		"": {
			"dependencies":    map[string]string{"app-runtime": "^1"},
			"devDependencies": map[string]string{"test-tool": "^1", "vite": "^8"},
		},
		"node_modules/app-runtime":                     {"version": "1.0.0", "license": "MIT", "dependencies": map[string]string{"shared": "^2", "helper": "^1"}},
		"node_modules/app-runtime/node_modules/shared": {"version": "2.0.0", "license": "ISC"},
		"node_modules/helper":                          {"version": "1.1.0", "license": "MIT", "dependencies": map[string]string{"shared": "^1"}},
		"node_modules/shared":                          {"version": "1.0.0", "license": "ISC"},
		"node_modules/test-tool":                       {"version": "1.0.0", "license": "MIT", "dev": true},
		"node_modules/vite":                            {"version": "8.0.0", "license": "MIT", "dev": true, "dependencies": map[string]string{"bundler": "^1"}},
		"node_modules/bundler":                         {"version": "1.0.0", "license": "MIT", "dev": true},
	})

	list, err := npmPackages(lock, dir)
	require.NoError(t, err)
	var got []string
	for _, c := range list {
		got = append(got, c.heading+" ["+c.spdx+"] "+c.in)
	}
	// shared twice: app-runtime resolves its nested 2.0.0, helper the hoisted 1.0.0.
	// vite's own code only, not its dependencies; dev tools not at all.
	assert.Equal(t, []string{
		"npm: app-runtime 1.0.0 [MIT] web app",
		"npm: helper 1.1.0 [MIT] web app",
		"npm: shared 1.0.0 [ISC] web app",
		"npm: shared 2.0.0 [ISC] web app",
		"npm: vite 8.0.0 [MIT] web app (its module-preload helper)",
	}, got)
	assert.Equal(t, "licence of node_modules/app-runtime/node_modules/shared", list[3].files[0].text)

	// An install older than the lock file is refused, not silently used.
	write(t, filepath.Join(dir, "node_modules", "helper", "package.json"), `{"version":"1.0.9"}`)
	_, err = npmPackages(lock, dir)
	require.ErrorContains(t, err, "helper 1.1.0 is not installed")
	require.ErrorContains(t, err, "npm ci")
}

func TestWhereBuilt(t *testing.T) {
	all := distPlatforms
	for _, tc := range []struct {
		seen map[string][]string
		want string
	}{
		{map[string][]string{"": all, "postgres": all}, "every build"},
		{map[string][]string{"postgres": all}, "-tags postgres"},
		{map[string][]string{"": {"windows/amd64", "darwin/arm64"}, "postgres": {"darwin/arm64", "windows/amd64"}}, "windows/amd64, darwin/arm64"},
		{map[string][]string{"postgres": {"linux/arm64"}}, "-tags postgres, linux/arm64"},
		{map[string][]string{"": {"linux/amd64"}, "postgres": all}, "linux/amd64; with -tags postgres: all"},
	} {
		assert.Equal(t, tc.want, whereBuilt(tc.seen))
	}
}

func TestRenderFencesTextsAndFindsOnlyComponentHeadings(t *testing.T) {
	text := "## Not a component\n```go\ncode\n```\nend"
	doc := render([]component{
		{heading: "example.com/a v1.0.0", name: "example.com/a", version: "v1.0.0", in: "every build", files: []licenceFile{{name: "LICENSE", text: text}}},
		{heading: "npm: bare 1.0.0", name: "bare", version: "1.0.0", in: "web app", spdx: "MIT"},
	})
	assert.Contains(t, string(doc), "\n````text\n"+text+"\n````\n", "a fence longer than any inside the text")
	assert.Contains(t, string(doc), "ships no licence file; its package.json declares the licence MIT")
	assert.Equal(t, []string{"example.com/a v1.0.0", "npm: bare 1.0.0"}, headings(doc))

	more := render([]component{{heading: "example.com/b v2.0.0", name: "example.com/b"}, {heading: "npm: bare 1.0.0", name: "bare"}})
	added, removed := headingDiff(doc, more)
	assert.Equal(t, []string{"example.com/b v2.0.0"}, added)
	assert.Equal(t, []string{"example.com/a v1.0.0"}, removed)
}

// A repository in a temp dir: a main package (importing example.com/dep,
// a module replaced by a local directory, when withDep) and an npm lock file
// with installed packages.
func fakeRepo(t *testing.T, withDep bool, npmDeps map[string]string) string {
	t.Helper()
	root := t.TempDir()
	write(t, filepath.Join(root, "go.mod"), "module example.com/product\n\ngo 1.24\n\nrequire example.com/dep v1.2.3\n\nreplace example.com/dep v1.2.3 => ./dep\n")
	write(t, filepath.Join(root, "dep", "go.mod"), "module example.com/dep\n\ngo 1.24\n")
	write(t, filepath.Join(root, "dep", "dep.go"), "package dep\n\nconst Name = \"dep\"\n")
	write(t, filepath.Join(root, "dep", "LICENSE"), "dep licence\n")
	main := "package main\n\nfunc main() {}\n"
	if withDep {
		main = "package main\n\nimport \"example.com/dep\"\n\nfunc main() { println(dep.Name) }\n"
	}
	write(t, filepath.Join(root, "main.go"), main)
	packages := map[string]map[string]any{
		"":                  {"dependencies": npmDeps, "devDependencies": map[string]string{"vite": "^8"}},
		"node_modules/vite": {"version": "8.0.0", "license": "MIT", "dev": true},
	}
	for name := range npmDeps {
		packages["node_modules/"+name] = map[string]any{"version": "1.0.0", "license": "MIT"}
	}
	write(t, filepath.Join(root, "assets", "package-lock.json"), string(npmRepo(t, filepath.Join(root, "assets"), packages)))
	return root
}

// The check that make test runs: it fails when a dependency, Go or npm, is
// added without regenerating the notices, and names it.
func TestCheckFailsWhenADependencyHasNoNotice(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list for every dist platform")
	}
	ctx := context.Background()
	var out bytes.Buffer

	root := fakeRepo(t, false, map[string]string{"runtime-lib": "^1"})
	require.NoError(t, run(ctx, root, false, &out))
	require.NoError(t, run(ctx, root, true, &out), "a freshly written file is current")
	doc, err := os.ReadFile(filepath.Join(root, noticesFile))
	require.NoError(t, err)
	assert.Contains(t, string(doc), "\n## Go standard library and runtime\n")
	assert.Contains(t, string(doc), "\n## npm: runtime-lib 1.0.0\n")
	assert.NotContains(t, string(doc), "example.com/dep", "not imported: not in the binary")

	// The main package now imports the module: the committed file lacks it.
	withDep := fakeRepo(t, true, map[string]string{"runtime-lib": "^1"})
	require.NoError(t, os.WriteFile(filepath.Join(withDep, noticesFile), doc, 0o644))
	err = run(ctx, withDep, true, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "out of date")
	assert.Contains(t, err.Error(), "missing: example.com/dep v1.2.3")
	require.NoError(t, run(ctx, withDep, false, &out))
	doc2, err := os.ReadFile(filepath.Join(withDep, noticesFile))
	require.NoError(t, err)
	assert.Contains(t, string(doc2), "\n## example.com/dep v1.2.3\n\n### LICENSE\n\n```text\ndep licence\n```\n")
	assert.Contains(t, string(doc2), "| example.com/dep | v1.2.3 | — | every build | LICENSE |")

	// A new runtime npm dependency.
	moreNpm := fakeRepo(t, false, map[string]string{"runtime-lib": "^1", "left-pad": "^1"})
	require.NoError(t, os.WriteFile(filepath.Join(moreNpm, noticesFile), doc, 0o644))
	err = run(ctx, moreNpm, true, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing: npm: left-pad 1.0.0")
	assert.False(t, strings.Contains(err.Error(), "no longer used"))
}
