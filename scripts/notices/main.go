// Command notices writes THIRD_PARTY_NOTICES.md, the licence and notice
// texts of the third-party software in a Purplebook binary and its web app:
//
//	go run ./scripts/notices          (re)write THIRD_PARTY_NOTICES.md
//	go run ./scripts/notices -check   fail when the file differs from what it would write
//
// `make notices` and `make check-notices` run these; `make test` runs the
// check, so a dependency added (or upgraded) without its notice fails the
// tests. What is listed, and why, is written at the top of the file (intro).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// The file, relative to the repository root.
const noticesFile = "THIRD_PARTY_NOTICES.md"

// distPlatforms are the targets of `make dist` (packaging/dist.mk); a module
// is listed when any of them links it, with or without a build tag.
var (
	distPlatforms = []string{"linux/amd64", "linux/arm64", "windows/amd64", "darwin/arm64"}
	buildTags     = []string{"", "postgres"}
)

// buildHelpers are npm packages outside `dependencies` whose code the
// bundler adds to assets/dist: vite's module-preload helper, which the lazy
// routes' dynamic imports use. assets/vite.config.ts fails the build when
// the bundle holds code of a package that has no notice here.
var buildHelpers = []string{"vite"}

// licenceName matches the licence and notice files at a module's or
// package's root: LICENSE, LICENCE.md, COPYING, NOTICE, PATENTS,
// LICENSE-3RD-PARTY.md, license (any case).
var licenceName = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice|patents)([-._].*)?$`)

func main() {
	check := flag.Bool("check", false, "compare "+noticesFile+" with what would be written; exit 1 when it differs")
	flag.Parse()
	root, err := repoRoot()
	if err == nil {
		err = run(context.Background(), root, *check, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notices:", err)
		os.Exit(1)
	}
}

// run writes (or with check, compares) the notices file of the repository
// at root.
func run(ctx context.Context, root string, check bool, stdout io.Writer) error {
	doc, err := generate(ctx, root)
	if err != nil {
		return err
	}
	file := filepath.Join(root, noticesFile)
	if !check {
		if err := os.WriteFile(file, doc, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "notices: wrote %s (%d components)\n", noticesFile, len(headings(doc)))
		return nil
	}
	have, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if bytes.Equal(have, doc) {
		fmt.Fprintf(stdout, "notices: %s is current (%d components)\n", noticesFile, len(headings(doc)))
		return nil
	}
	added, removed := headingDiff(have, doc)
	var b strings.Builder
	fmt.Fprintf(&b, "%s is out of date: run make notices and commit it", noticesFile)
	for _, h := range added {
		fmt.Fprintf(&b, "\n  missing: %s", h)
	}
	for _, h := range removed {
		fmt.Fprintf(&b, "\n  no longer used: %s", h)
	}
	if len(added) == 0 && len(removed) == 0 {
		b.WriteString("\n  (same components, different texts)")
	}
	return errors.New(b.String())
}

// repoRoot is the directory of the go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "assets", "package-lock.json")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the purplebook repository (go.mod and assets/package-lock.json not found)")
		}
		dir = parent
	}
}

// component is one listed piece of software with its licence files.
type component struct {
	heading string // "github.com/x/y v1.2.3", "npm: svelte 5.1.0"
	name    string
	version string
	in      string // which builds contain it
	spdx    string // the licence the package declares (npm only)
	files   []licenceFile
}

type licenceFile struct {
	name string
	text string
}

func generate(ctx context.Context, root string) ([]byte, error) {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	std, err := goStdlib(ctx, goCmd, root)
	if err != nil {
		return nil, err
	}
	mods, err := goModules(ctx, goCmd, root)
	if err != nil {
		return nil, err
	}
	lock, err := os.ReadFile(filepath.Join(root, "assets", "package-lock.json"))
	if err != nil {
		return nil, err
	}
	pkgs, err := npmPackages(lock, filepath.Join(root, "assets"))
	if err != nil {
		return nil, err
	}
	return render(append(append([]component{std}, mods...), pkgs...)), nil
}

func goStdlib(ctx context.Context, goCmd, root string) (component, error) {
	out, err := goOutput(ctx, goCmd, root, nil, "env", "GOROOT")
	if err != nil {
		return component{}, err
	}
	files, err := licenceFiles(strings.TrimSpace(out))
	if err != nil {
		return component{}, err
	}
	if len(files) == 0 {
		return component{}, errors.New("no LICENSE in GOROOT")
	}
	return component{heading: "Go standard library and runtime", name: "Go standard library and runtime", in: "every build", files: files}, nil
}

// goModules lists the modules `go list -deps` reports for the main package
// on every dist platform, without and with each build tag.
func goModules(ctx context.Context, goCmd, root string) ([]component, error) {
	type mod struct {
		path, version, dir string
		seen               map[string][]string // tag → platforms
	}
	mods := map[string]*mod{}
	// A replaced module is listed under its own path with the replacement's
	// files and version (the required one for a local directory).
	const format = `{{with .Module}}{{if not .Main}}{{.Path}}{{"\t"}}{{with .Replace}}{{or .Version $.Module.Version}}{{"\t"}}{{.Dir}}{{else}}{{.Version}}{{"\t"}}{{.Dir}}{{end}}{{end}}{{end}}`
	for _, tag := range buildTags {
		for _, p := range distPlatforms {
			goos, goarch, _ := strings.Cut(p, "/")
			args := []string{"list", "-deps", "-f", format}
			if tag != "" {
				args = append(args, "-tags", tag)
			}
			out, err := goOutput(ctx, goCmd, root, []string{"GOOS=" + goos, "GOARCH=" + goarch, "CGO_ENABLED=0"}, append(args, ".")...)
			if err != nil {
				return nil, err
			}
			for line := range strings.SplitSeq(out, "\n") {
				f := strings.Split(line, "\t")
				if len(f) != 3 {
					continue
				}
				m := mods[f[0]]
				if m == nil {
					m = &mod{path: f[0], version: f[1], dir: f[2], seen: map[string][]string{}}
					mods[f[0]] = m
				}
				if !slices.Contains(m.seen[tag], p) {
					m.seen[tag] = append(m.seen[tag], p)
				}
			}
		}
	}
	var list []component
	for _, m := range mods {
		if m.dir == "" {
			return nil, fmt.Errorf("%s %s is not in the module cache: run go mod download", m.path, m.version)
		}
		files, err := licenceFiles(m.dir)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s %s has no licence file at its root (%s): add its notice by hand to scripts/notices", m.path, m.version, m.dir)
		}
		list = append(list, component{
			heading: strings.TrimSpace(m.path + " " + m.version), name: m.path, version: m.version,
			in: whereBuilt(m.seen), files: files,
		})
	}
	slices.SortFunc(list, func(a, b component) int { return strings.Compare(a.name, b.name) })
	return list, nil
}

// whereBuilt names the builds that link a module, from the platforms seen
// per build tag.
func whereBuilt(seen map[string][]string) string {
	describe := func(platforms []string) string {
		if len(platforms) == len(distPlatforms) {
			return ""
		}
		ordered := slices.DeleteFunc(slices.Clone(distPlatforms), func(p string) bool { return !slices.Contains(platforms, p) })
		return strings.Join(ordered, ", ")
	}
	plain, tagged := seen[""], seen["postgres"]
	switch {
	case len(plain) > 0 && describe(plain) == describe(tagged):
		if d := describe(plain); d != "" {
			return d
		}
		return "every build"
	case len(plain) > 0:
		return describe(plain) + "; with -tags postgres: " + or(describe(tagged), "all")
	default:
		return "-tags postgres" + prefixed(", ", describe(tagged))
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func goOutput(ctx context.Context, goCmd, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s %s: %w: %s", strings.Join(env, " "), goCmd, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// lockfile is the part of an npm lockfile (v2/v3) that is read.
type lockfile struct {
	Packages map[string]struct {
		Version      string            `json:"version"`
		License      string            `json:"license"`
		Dependencies map[string]string `json:"dependencies"`
	} `json:"packages"`
}

// npmPackages lists the packages reachable from the root's `dependencies`
// (with node's module resolution over the lockfile's node_modules paths:
// the packages npm does not mark "dev"), plus buildHelpers, with the licence
// files of their installed copies under dir.
func npmPackages(lock []byte, dir string) ([]component, error) {
	var lf lockfile
	if err := json.Unmarshal(lock, &lf); err != nil {
		return nil, fmt.Errorf("package-lock.json: %w", err)
	}
	rootPkg, ok := lf.Packages[""]
	if !ok {
		return nil, errors.New(`package-lock.json: no root package (lockfileVersion 2 or later expected)`)
	}
	// resolve finds name as node does from the package at from: its own
	// node_modules, then each enclosing one up to the root's.
	resolve := func(from, name string) (string, bool) {
		for {
			key := path.Join(from, "node_modules", name)
			if _, ok := lf.Packages[key]; ok {
				return key, true
			}
			if from == "" {
				return "", false
			}
			i := strings.LastIndex(from, "/node_modules/")
			if i < 0 {
				from = ""
			} else {
				from = from[:i]
			}
		}
	}
	seen := map[string]bool{}
	var walk func(key string) error
	walk = func(key string) error {
		if seen[key] {
			return nil
		}
		seen[key] = true
		for _, dep := range sortedKeys(lf.Packages[key].Dependencies) {
			k, ok := resolve(key, dep)
			if !ok {
				return fmt.Errorf("package-lock.json: %s needs %s, which is not in the lock file", or(key, "the root"), dep)
			}
			if err := walk(k); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range sortedKeys(rootPkg.Dependencies) {
		k, ok := resolve("", name)
		if !ok {
			return nil, fmt.Errorf("package-lock.json: %s is not in the lock file", name)
		}
		if err := walk(k); err != nil {
			return nil, err
		}
	}
	// A helper's own code is bundled, not its dependencies (the bundler's).
	for _, name := range buildHelpers {
		k, ok := resolve("", name)
		if !ok {
			return nil, fmt.Errorf("package-lock.json: %s is not in the lock file", name)
		}
		seen[k] = true
	}

	var list []component
	for key := range seen {
		p := lf.Packages[key]
		name := key[strings.LastIndex(key, "node_modules/")+len("node_modules/"):]
		installed := filepath.Join(dir, filepath.FromSlash(key))
		var meta struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(installed, "package.json"))
		if err == nil {
			err = json.Unmarshal(b, &meta)
		}
		if err != nil || meta.Version != p.Version {
			return nil, fmt.Errorf("%s %s is not installed in assets/%s: run make node-modules (npm ci)", name, p.Version, key)
		}
		files, err := licenceFiles(installed)
		if err != nil {
			return nil, err
		}
		in := "web app"
		if slices.Contains(buildHelpers, name) {
			in = "web app (its module-preload helper)"
		}
		list = append(list, component{
			heading: "npm: " + name + " " + p.Version, name: name, version: p.Version,
			in: in, spdx: p.License, files: files,
		})
	}
	slices.SortFunc(list, func(a, b component) int {
		return cmpOr(strings.Compare(a.name, b.name), strings.Compare(a.version, b.version))
	})
	return list, nil
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// licenceFiles reads the licence and notice files at the top of dir, by
// name, with line ends and trailing blank lines normalised.
func licenceFiles(dir string) ([]licenceFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []licenceFile
	for _, e := range entries {
		if !e.Type().IsRegular() || !licenceName.MatchString(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		text := strings.ReplaceAll(string(b), "\r\n", "\n")
		var lines []string
		for l := range strings.SplitSeq(text, "\n") {
			lines = append(lines, strings.TrimRight(l, " \t"))
		}
		files = append(files, licenceFile{name: e.Name(), text: strings.Trim(strings.Join(lines, "\n"), "\n")})
	}
	slices.SortFunc(files, func(a, b licenceFile) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

const intro = `# Third-party notices

Purplebook is licensed under the Apache License, Version 2.0 (LICENSE). Its binaries and the web
app they serve contain the third-party software listed below, each under its own licence; the
licence and notice files of each follow, verbatim.

This file is generated by ` + "`make notices`" + ` (` + "`go run ./scripts/notices`" + `) and checked by ` + "`make test`" + `,
which fails when a dependency is added or upgraded without its notice here. What is listed:

- **Go**: the Go standard library and runtime, and every module that ` + "`go list -deps`" + ` reports for
  the purplebook main package on each platform of ` + "`make dist`" + ` (linux/amd64, linux/arm64,
  windows/amd64, darwin/arm64), without and with ` + "`-tags postgres`" + `: the modules compiled into a
  binary (go.mod lists more: modules only tests and tools use are in no binary). The column "In"
  names the builds that contain a module. Texts: the LICENSE, LICENCE, COPYING, NOTICE and PATENTS
  files at the root of each module, from the Go module cache.
- **npm**: the packages whose code the web app bundle (assets/dist, embedded in the binary) may
  contain: the ` + "`dependencies`" + ` of assets/package.json (the Svelte runtime) and what they depend on,
  from assets/package-lock.json, and vite, whose module-preload helper the build adds. The build
  and test tools (` + "`devDependencies`" + `) are not shipped and not listed. Some of Svelte's dependencies
  serve only its compiler: they are listed although the bundle holds none of their code. The
  build (assets/vite.config.ts) fails when the bundle holds code of a package not listed here.
  Texts: the licence files of the installed package; "Declared" is the licence its package.json
  names.
`

func render(list []component) []byte {
	var b strings.Builder
	b.WriteString(intro)
	b.WriteString("\n## Contents\n\n| Component | Version | Declared | In | Files |\n|---|---|---|---|---|\n")
	for _, c := range list {
		names := make([]string, len(c.files))
		for i, f := range c.files {
			names[i] = f.name
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.name, or(c.version, "—"), or(c.spdx, "—"), c.in, or(strings.Join(names, ", "), "—"))
	}
	for _, c := range list {
		fmt.Fprintf(&b, "\n## %s\n", c.heading)
		if len(c.files) == 0 {
			fmt.Fprintf(&b, "\nThe package ships no licence file; its package.json declares the licence %s.\n", or(c.spdx, "(none)"))
		}
		for _, f := range c.files {
			fence := strings.Repeat("`", max(3, longestRun(f.text, '`')+1))
			fmt.Fprintf(&b, "\n### %s\n\n%stext\n%s\n%s\n", f.name, fence, f.text, fence)
		}
	}
	return []byte(b.String())
}

func longestRun(s string, c rune) int {
	longest, n := 0, 0
	for _, r := range s {
		if r == c {
			n++
			longest = max(longest, n)
		} else {
			n = 0
		}
	}
	return longest
}

// headings are a notices file's component headings ("## x" outside the
// fenced licence texts, which have headings of their own).
func headings(doc []byte) []string {
	var hs []string
	fence := ""
	for l := range strings.SplitSeq(string(doc), "\n") {
		switch {
		case fence != "":
			if l == fence {
				fence = ""
			}
		case strings.HasPrefix(l, "```"):
			fence = l[:len(l)-len(strings.TrimLeft(l, "`"))]
		default:
			if h, ok := strings.CutPrefix(l, "## "); ok && h != "Contents" {
				hs = append(hs, h)
			}
		}
	}
	return hs
}

// headingDiff names the components that want has and have lacks, and the
// other way round.
func headingDiff(have, want []byte) (added, removed []string) {
	h, w := headings(have), headings(want)
	for _, x := range w {
		if !slices.Contains(h, x) {
			added = append(added, x)
		}
	}
	for _, x := range h {
		if !slices.Contains(w, x) {
			removed = append(removed, x)
		}
	}
	return added, removed
}
