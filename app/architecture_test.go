package app_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The dependency rules of docs/ARCHITECTURE.md, checked on the imports of
// every package of the module as go/build reads them, with and without the
// postgres tag. Packages are classified by what they import, not by a list
// of today's names, so a new package is covered the day it appears.

const module = "github.com/purplebook/purplebook"

// Database drivers (and golang-migrate's drivers): only app/db opens a
// database.
var driverPrefixes = []string{
	"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/lib/pq", "github.com/mattn/go-sqlite3",
	"github.com/golang-migrate/migrate/v4/database",
}

// netHTTPReasons are the capability packages allowed to import net/http,
// and why (docs/ARCHITECTURE.md says the same). None of them serves HTTP.
var netHTTPReasons = map[string]string{
	module + "/app/mitre":    "fetches ATT&CK bundles over HTTPS (an http.Client)",
	module + "/app/evidence": "sniffs content types with http.DetectContentType",
}

type goPackage struct {
	path    string
	dir     string
	imports []string // of the package's own files
	tests   []string // of its test files
	files   []string // its non-test Go files (absolute)
}

// modulePackages reads every package of the module under the build tags.
func modulePackages(t *testing.T, tags ...string) map[string]*goPackage {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	ctx := build.Default
	ctx.BuildTags = tags
	ctx.CgoEnabled = false
	pkgs := map[string]*goPackage{}
	err = filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if dir != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		bp, err := ctx.ImportDir(dir, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		rel, _ := filepath.Rel(root, dir)
		path := module
		if rel != "." {
			path += "/" + filepath.ToSlash(rel)
		}
		p := &goPackage{path: path, dir: dir, imports: bp.Imports, tests: append(slices.Clone(bp.TestImports), bp.XTestImports...)}
		for _, f := range bp.GoFiles {
			p.files = append(p.files, filepath.Join(dir, f))
		}
		pkgs[path] = p
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, pkgs, module+"/app/db", "the walk found the module")
	return pkgs
}

func under(path, pkg string) bool { return path == pkg || strings.HasPrefix(path, pkg+"/") }

// Layers, from the top: the composition root (main, app) and the benches
// use everything; app/server is the HTTP layer; app/services wires the
// capabilities; capabilities are the packages under app/ that keep state
// in the database (they import app/db); app/db sits below them all.
var (
	appRoot  = module + "/app"
	server   = module + "/app/server"
	services = module + "/app/services"
	dbPkg    = module + "/app/db"
)

func isCapability(p *goPackage) bool {
	if !under(p.path, appRoot) || p.path == appRoot || under(p.path, dbPkg) || p.path == server || p.path == services {
		return false
	}
	return slices.Contains(p.imports, dbPkg)
}

// violations lists every broken rule, one line each.
func violations(pkgs map[string]*goPackage) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, p := range pkgs {
		for _, imp := range p.imports {
			switch {
			case imp == server && under(p.path, appRoot) && p.path != appRoot:
				bad("%s imports app/server: only the composition root (app) may", p.path)
			case imp == services && under(p.path, appRoot) && p.path != appRoot && p.path != server:
				bad("%s imports app/services: only app and app/server may", p.path)
			case imp == "github.com/uptrace/bunrouter" && p.path != server:
				bad("%s imports the router: HTTP handling lives in app/server", p.path)
			case imp == "net/http" && isCapability(p) && netHTTPReasons[p.path] == "":
				bad("%s imports net/http: capabilities serve no HTTP (if it must, say why in docs/ARCHITECTURE.md and netHTTPReasons)", p.path)
			}
			if under(p.path, dbPkg) && strings.HasPrefix(imp, module+"/") &&
				!under(imp, dbPkg) && imp != module+"/schema" && imp != module+"/app/apperr" {
				bad("%s imports %s: app/db depends on no capability", p.path, imp)
			}
		}
		for _, imp := range append(slices.Clone(p.imports), p.tests...) {
			for _, drv := range driverPrefixes {
				if under(imp, drv) && !under(p.path, dbPkg) {
					bad("%s imports the database driver %s: only app/db opens databases", p.path, imp)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// clockCalls lists the calls of time.Now, time.Since and time.Until in the
// non-test files of capabilities: they take the time from Options.Now.
func clockCalls(t *testing.T, pkgs map[string]*goPackage) []string {
	t.Helper()
	var out []string
	fset := token.NewFileSet()
	for _, p := range pkgs {
		if !isCapability(p) {
			continue
		}
		for _, file := range p.files {
			f, err := parser.ParseFile(fset, file, nil, 0)
			require.NoError(t, err)
			timeName := ""
			for _, imp := range f.Imports {
				if imp.Path.Value == `"time"` {
					timeName = "time"
					if imp.Name != nil {
						timeName = imp.Name.Name
					}
				}
			}
			if timeName == "" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == timeName && (sel.Sel.Name == "Now" || sel.Sel.Name == "Since" || sel.Sel.Name == "Until") {
					out = append(out, fmt.Sprintf("%s: time.%s() in a capability: use the service's Now", fset.Position(call.Pos()), sel.Sel.Name))
				}
				return true
			})
		}
	}
	sort.Strings(out)
	return out
}

func TestArchitecture(t *testing.T) {
	t.Parallel()
	for _, tags := range [][]string{nil, {"postgres"}} {
		t.Run("tags="+strings.Join(tags, ","), func(t *testing.T) {
			pkgs := modulePackages(t, tags...)
			var caps []string
			for _, p := range pkgs {
				if isCapability(p) {
					caps = append(caps, p.path)
				}
			}
			// The classification is sane: the known capabilities are in, the
			// layers around them out.
			for _, c := range []string{"missions", "templates", "auth", "levels"} {
				assert.Contains(t, caps, module+"/app/"+c)
			}
			for _, c := range []string{"", "/server", "/services", "/db"} {
				assert.NotContains(t, caps, appRoot+c)
			}
			assert.Empty(t, violations(pkgs), "dependency rules (docs/ARCHITECTURE.md)")
			assert.Empty(t, clockCalls(t, pkgs), "the clock is an input")
			for path := range netHTTPReasons {
				if p := pkgs[path]; p != nil {
					assert.Contains(t, p.imports, "net/http", "%s no longer imports net/http: drop its exception here and in docs/ARCHITECTURE.md", path)
				}
			}
		})
	}
}

// The rules catch what they are for: bad imports added to a copy of the
// real package graph are reported.
func TestArchitectureRulesFire(t *testing.T) {
	t.Parallel()
	pkgs := modulePackages(t)
	require.Empty(t, violations(pkgs))
	add := func(pkg, imp string) func() {
		p := pkgs[module+"/"+pkg]
		require.NotNil(t, p, pkg)
		old := p.imports
		p.imports = append(slices.Clone(old), imp)
		return func() { p.imports = old }
	}
	for _, tc := range []struct{ pkg, imp, want string }{
		{"app/missions", server, "imports app/server"},
		{"app/templates", services, "imports app/services"},
		{"app/db", module + "/app/missions", "app/db depends on no capability"},
		{"app/db/dbtest", module + "/app/auth", "app/db depends on no capability"},
		{"app/notify", "modernc.org/sqlite", "only app/db opens databases"},
		{"app/server", "github.com/jackc/pgx/v5/stdlib", "only app/db opens databases"},
		{"app/levels", "github.com/golang-migrate/migrate/v4/database/pgx/v5", "only app/db opens databases"},
		{"app/levels", "net/http", "capabilities serve no HTTP"},
		{"app/auth", "github.com/uptrace/bunrouter", "HTTP handling lives in app/server"},
	} {
		undo := add(tc.pkg, tc.imp)
		v := violations(pkgs)
		undo()
		require.Len(t, v, 1, "%s + %s", tc.pkg, tc.imp)
		assert.Contains(t, v[0], tc.want)
	}
}

// The clock rule reads the source: a capability calling time.Now is found.
func TestClockRuleFires(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "x.go")
	require.NoError(t, os.WriteFile(file, []byte("package x\n\nimport clock \"time\"\n\nfunc f() { _ = clock.Now(); _ = clock.Since(clock.Time{}) }\n\nvar now = clock.Now // a default, not a call\n"), 0o600))
	pkgs := map[string]*goPackage{"x": {path: module + "/app/x", imports: []string{dbPkg, "time"}, files: []string{file}}}
	calls := clockCalls(t, pkgs)
	require.Len(t, calls, 2)
	assert.Contains(t, calls[0], "time.Now()")
	assert.Contains(t, calls[1], "time.Since()")
}
