// Command cover summarises a Go coverage profile per package.
//
//	go test -coverpkg=./app/... -coverprofile=bin/cover.out ./...
//	go run ./scripts/cover -min 70 -exclude app/service bin/cover.out
//
// With -coverpkg every test binary instruments every listed package, so the
// profile holds the same block once per test binary: a block counts as
// covered when any binary ran it (API tests in app/server reach the
// capability packages too). It prints one row per package, lowest coverage
// first, then the packages under -min; it exits 1 when a package that is not
// excluded is under -min.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

type block struct {
	stmts   int
	covered bool
}

type pkgCover struct {
	name           string
	stmts, covered int
}

func (p pkgCover) percent() float64 {
	if p.stmts == 0 {
		return 100
	}
	return 100 * float64(p.covered) / float64(p.stmts)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	min := fs.Float64("min", 70, "minimum statement coverage per package, in percent")
	exclude := fs.String("exclude", "", "comma-separated package suffixes (e.g. app/service) exempt from -min")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: cover [-min 70] [-exclude pkg,...] profile")
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "cover:", err)
		return 2
	}
	defer f.Close()
	pkgs, err := summarise(f)
	if err != nil {
		fmt.Fprintln(stderr, "cover:", err)
		return 2
	}
	var excluded []string
	for _, e := range strings.Split(*exclude, ",") {
		if e = strings.TrimSpace(e); e != "" {
			excluded = append(excluded, e)
		}
	}
	isExcluded := func(name string) bool {
		for _, e := range excluded {
			if name == e || strings.HasSuffix(name, "/"+e) {
				return true
			}
		}
		return false
	}

	// Names relative to the module in the current directory, when there is one.
	if mod := modulePath("go.mod"); mod != "" {
		for i := range pkgs {
			if rel, ok := strings.CutPrefix(pkgs[i].name, mod+"/"); ok {
				pkgs[i].name = rel
			}
		}
	}

	var total pkgCover
	var under, exempt []string
	fmt.Fprintf(stdout, "%-32s %8s %8s %7s\n", "package", "stmts", "covered", "cover")
	for _, p := range pkgs {
		mark := ""
		if p.percent() < *min {
			if isExcluded(p.name) {
				mark = "  (under, exempt)"
				exempt = append(exempt, p.name)
			} else {
				mark = "  UNDER"
				under = append(under, p.name)
			}
		}
		fmt.Fprintf(stdout, "%-32s %8d %8d %6.1f%%%s\n", p.name, p.stmts, p.covered, p.percent(), mark)
		total.stmts += p.stmts
		total.covered += p.covered
	}
	fmt.Fprintf(stdout, "%-32s %8d %8d %6.1f%%\n", "total", total.stmts, total.covered, total.percent())
	if len(exempt) > 0 {
		fmt.Fprintf(stdout, "under %.0f%% but exempt: %s\n", *min, strings.Join(exempt, ", "))
	}
	if len(under) > 0 {
		fmt.Fprintf(stdout, "under %.0f%%: %s\n", *min, strings.Join(under, ", "))
		return 1
	}
	fmt.Fprintf(stdout, "every package reaches %.0f%%\n", *min)
	return 0
}

// summarise merges the profile's blocks (a block is covered when any line
// for it has a count > 0) and sums statements per package, lowest coverage
// first, ties by name.
func summarise(r io.Reader) ([]pkgCover, error) {
	blocks := map[string]*block{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "mode:") {
			continue
		}
		// file.go:12.3,15.4 2 1
		colon := strings.LastIndex(text, ":")
		fields := strings.Fields(text[colon+1:])
		if colon < 0 || len(fields) != 3 {
			return nil, fmt.Errorf("line %d: malformed: %q", line, text)
		}
		stmts, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: malformed counts: %q", line, text)
		}
		key := text[:colon] + ":" + fields[0]
		b := blocks[key]
		if b == nil {
			b = &block{stmts: stmts}
			blocks[key] = b
		}
		b.covered = b.covered || count > 0
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	byPkg := map[string]*pkgCover{}
	for key, b := range blocks {
		file := key[:strings.LastIndex(key, ":")]
		name := path.Dir(file)
		p := byPkg[name]
		if p == nil {
			p = &pkgCover{name: name}
			byPkg[name] = p
		}
		p.stmts += b.stmts
		if b.covered {
			p.covered += b.stmts
		}
	}
	out := make([]pkgCover, 0, len(byPkg))
	for _, p := range byPkg {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if pi, pj := out[i].percent(), out[j].percent(); pi != pj {
			return pi < pj
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// modulePath reads the module line of a go.mod file; "" when there is none.
func modulePath(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
