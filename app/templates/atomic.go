package templates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/audit"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/text"
	"go.yaml.in/yaml/v3"
)

// Atomic Red Team reader.
//
// Upstream files drift: keys change case, numbers and booleans appear where
// text is expected, a single string where a list is expected, fields go
// missing. The reader therefore decodes into yaml.Node and normalises by
// hand instead of unmarshalling into a struct: keys are matched
// case-insensitively (also "-" or " " for "_"), scalars are coerced to the
// type the field needs, a scalar stands for a one-element list, and anything
// it cannot use is dropped with a warning rather than failing the file.
// Only invalid YAML is an error (naming the file and the line).

// AtomicFile is one parsed Atomic Red Team file.
type AtomicFile struct {
	File            string
	AttackTechnique string
	DisplayName     string
	Found           int          // atomic tests in the file
	Tests           []AtomicTest // importable ones, in file order
	Skipped         []AtomicIssue
	Warnings        []AtomicIssue

	keys map[*yaml.Node]map[string]*yaml.Node // folded keys per mapping
}

// AtomicTest is one importable atomic test.
type AtomicTest struct {
	Index int // 1-based position in the file
	GUID  string
	Input Input
}

// AtomicIssue is a skipped test (Test may be empty for the whole file) or a
// warning.
type AtomicIssue struct {
	Test    string
	Message string
}

// AtomicTag is the free tag every imported test gets.
const AtomicTag = "atomic"

// reGUID accepts what auto_generated_guid holds upstream (a UUID) and close
// variants; braces are stripped first.
var reGUID = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$`)

// ParseAtomic reads one Atomic Red Team YAML document.
func ParseAtomic(file string, data []byte) (*AtomicFile, error) {
	f := &AtomicFile{File: file}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not UTF-8 text", file)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yamlMessage(err))
	}
	root := deref(&doc)
	if root == nil || root.Kind == 0 || isNull(root) {
		f.warn("", "the file is empty")
		return f, nil
	}
	var tests *yaml.Node
	switch root.Kind {
	case yaml.MappingNode:
		f.AttackTechnique = strings.ToUpper(f.text(nil, "attack_technique", f.get(root, "attack_technique")))
		if f.AttackTechnique == "" {
			// A drifted spelling seen in forks.
			f.AttackTechnique = strings.ToUpper(f.text(nil, "technique", f.get(root, "technique")))
		}
		f.DisplayName = f.text(nil, "display_name", f.get(root, "display_name"))
		tests = f.get(root, "atomic_tests")
		if tests == nil {
			tests = f.get(root, "tests")
		}
	case yaml.SequenceNode:
		tests = root // a bare list of tests
	}
	if tests == nil {
		f.warn("", "not an Atomic Red Team file (no atomic_tests)")
		return f, nil
	}
	if f.AttackTechnique != "" && InferKind(f.AttackTechnique) == "" {
		f.warn("", fmt.Sprintf("attack_technique %q is not an ATT&CK technique id (not tagged)", text.Truncate(f.AttackTechnique, 40)))
	}
	items := list(tests)
	f.Found = len(items)
	for i, n := range items {
		f.test(i+1, n)
	}
	return f, nil
}

// yamlMessage makes yaml.v3 errors read "line N: problem".
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func (f *AtomicFile) warn(test, msg string) {
	f.Warnings = append(f.Warnings, AtomicIssue{Test: test, Message: msg})
}

func (f *AtomicFile) skip(test, msg string) {
	f.Skipped = append(f.Skipped, AtomicIssue{Test: test, Message: msg})
}

// test converts the i-th atomic test.
func (f *AtomicFile) test(i int, n *yaml.Node) {
	n = deref(n)
	label := fmt.Sprintf("#%d", i)
	if n == nil || n.Kind != yaml.MappingNode {
		f.skip(label, fmt.Sprintf("line %d: an atomic test must be a mapping", line(n)))
		return
	}
	name := strings.TrimSpace(f.text(nil, "name", f.get(n, "name")))
	if name != "" {
		label = fmt.Sprintf("#%d %s", i, text.Truncate(name, 120))
	}
	w := func(msg string) { f.warn(label, msg) }

	guid := strings.TrimSpace(f.text(w, "auto_generated_guid", f.get(n, "auto_generated_guid")))
	if guid == "" {
		guid = strings.TrimSpace(f.text(w, "guid", f.get(n, "guid")))
	}
	guid = strings.ToLower(strings.Trim(guid, "{}"))
	switch {
	case guid == "":
		f.skip(label, "no auto_generated_guid: without a stable key a re-import would duplicate it")
		return
	case !reGUID.MatchString(guid):
		f.skip(label, fmt.Sprintf("auto_generated_guid %q is not a GUID", text.Truncate(guid, 70)))
		return
	}
	if name == "" {
		name = strings.TrimSpace(f.AttackTechnique + " atomic test " + strconv.Itoa(i))
		w("no name; named " + strconv.Quote(name))
	}
	if utf8.RuneCountInString(name) > maxName {
		name = string([]rune(name)[:maxName-1]) + "…"
		w(fmt.Sprintf("name shortened to %d characters", maxName))
	}

	in := Input{Name: name, Source: "atomic", SourceRef: guid, Tags: []string{AtomicTag}}
	in.Description = f.text(w, "description", f.get(n, "description"))
	in.Platforms = f.textList(w, "supported_platforms", f.get(n, "supported_platforms"))
	if in.Platforms == nil {
		in.Platforms = f.textList(w, "platforms", f.get(n, "platforms"))
	}
	for j, p := range in.Platforms {
		in.Platforms[j] = strings.ToLower(p)
	}
	in.InputArguments = f.arguments(w, f.get(n, "input_arguments"))
	in.PrerequisitesExecutor = strings.ToLower(strings.TrimSpace(f.text(w, "dependency_executor_name", f.get(n, "dependency_executor_name"))))
	in.Prerequisites = f.dependencies(w, f.get(n, "dependencies"))

	ex := deref(f.get(n, "executor"))
	elevation := f.get(n, "elevation_required")
	switch {
	case ex == nil || isNull(ex):
		w("no executor")
	case ex.Kind == yaml.ScalarNode: // "executor: sh"
		in.Executor = strings.ToLower(strings.TrimSpace(ex.Value))
	case ex.Kind == yaml.MappingNode:
		in.Executor = strings.ToLower(strings.TrimSpace(f.text(w, "executor.name", f.get(ex, "name"))))
		cmd := f.text(w, "executor.command", f.get(ex, "command"))
		steps := f.text(w, "executor.steps", f.get(ex, "steps"))
		if in.Executor == "manual" || strings.TrimSpace(cmd) == "" {
			if strings.TrimSpace(steps) != "" {
				cmd = steps
			}
		}
		in.Command = cmd
		in.CleanupCommand = f.text(w, "executor.cleanup_command", f.get(ex, "cleanup_command"))
		if e := f.get(ex, "elevation_required"); e != nil {
			elevation = e
		}
	default:
		w(fmt.Sprintf("line %d: executor must be a mapping; ignored", line(ex)))
	}
	in.ElevationRequired = f.boolean(w, "elevation_required", elevation)

	if kind := InferKind(f.AttackTechnique); kind == "technique" || kind == "subtechnique" {
		in.MitreTags = []TagRef{{Kind: kind, ExternalID: f.AttackTechnique}}
	}
	f.Tests = append(f.Tests, AtomicTest{Index: i, GUID: guid, Input: in})
}

// arguments reads input_arguments: a mapping name → {description, type,
// default} in file order (or, drifted, a list of mappings with a name, or
// name → bare default).
func (f *AtomicFile) arguments(w func(string), n *yaml.Node) []InputArgument {
	n = deref(n)
	out := []InputArgument{}
	if n == nil || isNull(n) {
		return out
	}
	seen := map[string]bool{}
	add := func(name string, v *yaml.Node) {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			if name != "" {
				w(fmt.Sprintf("input argument %q appears twice; the first is kept", text.Truncate(name, 60)))
			}
			return
		}
		seen[name] = true
		a := InputArgument{Name: name}
		v = deref(v)
		switch {
		case v == nil || isNull(v):
		case v.Kind == yaml.MappingNode:
			a.Description = f.text(w, "input_arguments."+name+".description", f.get(v, "description"))
			a.Type = strings.ToLower(strings.TrimSpace(f.text(w, "input_arguments."+name+".type", f.get(v, "type"))))
			a.Default = f.value(w, "input_arguments."+name+".default", f.get(v, "default"))
		default:
			a.Default = f.value(w, "input_arguments."+name, v)
		}
		out = append(out, a)
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, kv := range pairs(n) {
			add(scalarText(kv[0]), kv[1])
		}
	case yaml.SequenceNode:
		for _, it := range n.Content {
			it = deref(it)
			if it != nil && it.Kind == yaml.MappingNode {
				add(f.text(w, "input_arguments.name", f.get(it, "name")), it)
			}
		}
	default:
		w(fmt.Sprintf("line %d: input_arguments must be a mapping; ignored", line(n)))
	}
	return out
}

func (f *AtomicFile) dependencies(w func(string), n *yaml.Node) []Prerequisite {
	out := []Prerequisite{}
	for _, it := range list(n) {
		it = deref(it)
		if it == nil || isNull(it) {
			continue
		}
		if it.Kind != yaml.MappingNode {
			w(fmt.Sprintf("line %d: a dependency must be a mapping; ignored", line(it)))
			continue
		}
		out = append(out, Prerequisite{
			Description:      f.text(w, "dependencies.description", f.get(it, "description")),
			PrereqCommand:    f.text(w, "dependencies.prereq_command", f.get(it, "prereq_command")),
			GetPrereqCommand: f.text(w, "dependencies.get_prereq_command", f.get(it, "get_prereq_command")),
		})
	}
	return out
}

// ---------------------------------------------------------------------------
// Node helpers

// deref follows the document node and aliases (a bounded number of times:
// yaml.v3 lets an alias point at an enclosing anchor).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 8; i++ {
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	if n != nil && (n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode) {
		return nil
	}
	return n
}

func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// normKey folds a key: case-insensitive, "-" and " " count as "_".
func normKey(k string) string {
	return keyReplacer.Replace(strings.ToLower(strings.TrimSpace(k)))
}

var keyReplacer = strings.NewReplacer("-", "_", " ", "_")

// pairs lists a mapping's key/value pairs, merge keys (<<) expanded after
// the mapping's own keys (own keys win). Each merged mapping is expanded
// once, to a bounded depth, so hostile merge chains stay linear.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	return pairsInto(n, 0, map[*yaml.Node]bool{}, nil)
}

func pairsInto(n *yaml.Node, depth int, visited map[*yaml.Node]bool, out [][2]*yaml.Node) [][2]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > 3 || visited[n] {
		return out
	}
	visited[n] = true
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	for _, v := range merges {
		src := deref(v)
		if src != nil && src.Kind == yaml.SequenceNode {
			for _, m := range src.Content {
				out = pairsInto(m, depth+1, visited, out)
			}
		} else {
			out = pairsInto(src, depth+1, visited, out)
		}
	}
	return out
}

// get returns the value of key in mapping n (nil when absent or n is not a
// mapping). The first matching key wins. Each mapping's keys are folded
// once per file.
func (f *AtomicFile) get(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if f.keys == nil {
		f.keys = map[*yaml.Node]map[string]*yaml.Node{}
	}
	m, ok := f.keys[n]
	if !ok {
		m = map[string]*yaml.Node{}
		for _, kv := range pairs(n) {
			k := normKey(scalarText(kv[0]))
			if _, dup := m[k]; !dup {
				m[k] = kv[1]
			}
		}
		f.keys[n] = m
	}
	return m[key]
}

// scalarText is a scalar's text ("" for null and non-scalars).
func scalarText(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return ""
	}
	return n.Value
}

// list returns the items of a sequence; a single non-null node is a list of
// one; null or absent is empty.
func list(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	switch {
	case n == nil || isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		return n.Content
	}
	return []*yaml.Node{n}
}

// text coerces a node to text: scalars as written (null is ""), a list of
// scalars joined by newlines; anything else is dropped with a warning.
func (f *AtomicFile) text(w func(string), field string, n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return ""
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return scalarText(n)
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			c = deref(c)
			if c != nil && c.Kind == yaml.ScalarNode {
				if s := scalarText(c); s != "" {
					parts = append(parts, s)
				}
			}
		}
		return strings.Join(parts, "\n")
	}
	if w != nil {
		w(fmt.Sprintf("line %d: %s should be text; ignored", n.Line, field))
	}
	return ""
}

// strings coerces a node to a list of text (a single scalar is a list of
// one). nil when the field is absent.
func (f *AtomicFile) textList(w func(string), field string, n *yaml.Node) []string {
	n = deref(n)
	if n == nil {
		return nil
	}
	out := []string{}
	for _, it := range list(n) {
		it = deref(it)
		if it == nil || it.Kind != yaml.ScalarNode {
			w(fmt.Sprintf("line %d: %s entries should be text; one ignored", line(it), field))
			continue
		}
		if s := strings.TrimSpace(scalarText(it)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// boolean reads true/false, also as text ("true", "yes", "1").
func (f *AtomicFile) boolean(w func(string), field string, n *yaml.Node) bool {
	n = deref(n)
	if n == nil || isNull(n) {
		return false
	}
	if n.Kind != yaml.ScalarNode {
		w(fmt.Sprintf("line %d: %s should be true or false; taken as false", n.Line, field))
		return false
	}
	switch strings.ToLower(strings.TrimSpace(n.Value)) {
	case "true", "yes", "y", "on", "1":
		return true
	case "false", "no", "n", "off", "0", "":
		return false
	}
	w(fmt.Sprintf("line %d: %s %q is not true or false; taken as false", n.Line, field, text.Truncate(n.Value, 30)))
	return false
}

// maxExactInt is the largest integer a float64 (and so a JSON number read
// back) holds exactly.
const maxExactInt = 1 << 53

// significantDigits counts the mantissa digits of a decimal number, leading
// zeros excluded: beyond 15 a float64 may not keep them all.
func significantDigits(s string) int {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	n, leading := 0, true
	for _, r := range s {
		switch {
		case r == '0' && leading:
		case r >= '0' && r <= '9':
			leading = false
			n++
		}
	}
	return n
}

// value keeps a default as its YAML type: string, number, boolean or null.
// Numbers that JSON cannot carry exactly (huge integers, NaN, infinities,
// hex and octal spellings) stay text, so a re-import compares equal.
func (f *AtomicFile) value(w func(string), field string, n *yaml.Node) any {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		s := f.text(nil, field, n)
		if n.Kind == yaml.MappingNode {
			w(fmt.Sprintf("line %d: %s should be a single value; ignored", n.Line, field))
		}
		return s
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 10, 64)
		if err == nil && i > -maxExactInt && i < maxExactInt {
			return i
		}
	case "!!float":
		fl, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil && !math.IsInf(fl, 0) && !math.IsNaN(fl) && significantDigits(n.Value) <= 15 {
			return fl
		}
	}
	return n.Value
}

// ---------------------------------------------------------------------------
// Import

// NamedReader is one Atomic source: a YAML file, a zip or a tar(.gz).
type NamedReader struct {
	Name string
	R    io.Reader
}

// ImportReport is the answer of an import (Atomic or library).
type ImportReport struct {
	Files      int             `json:"files"`
	Tests      int             `json:"tests"` // atomic tests found
	Created    int             `json:"created"`
	Updated    int             `json:"updated"`
	Unchanged  int             `json:"unchanged"`
	Skipped    []SkippedTest   `json:"skipped"`
	Warnings   []ImportWarning `json:"warnings"`
	PerFile    []FileReport    `json:"per_file"`
	DurationMS int64           `json:"duration_ms"`
}

// SkippedTest is a test that was not imported, and why.
type SkippedTest struct {
	File   string `json:"file"`
	Test   string `json:"test"`
	Reason string `json:"reason"`
}

// ImportWarning is something the import did not take as given (an unknown
// ATT&CK id, a field of an unexpected type…).
type ImportWarning struct {
	File    string `json:"file"`
	Test    string `json:"test"`
	Message string `json:"message"`
}

// FileReport sums up one file.
type FileReport struct {
	File            string `json:"file"`
	AttackTechnique string `json:"attack_technique"`
	Tests           int    `json:"tests"`
	Created         int    `json:"created"`
	Updated         int    `json:"updated"`
	Unchanged       int    `json:"unchanged"`
	Skipped         int    `json:"skipped"`
}

// ImportAtomics reads the sources and imports every atomic test in one
// transaction (see ImportAtomicFiles).
func (s *Service) ImportAtomics(ctx context.Context, actor audit.Actor, srcs []NamedReader) (*ImportReport, error) {
	c := s.NewAtomicCollector()
	for _, src := range srcs {
		if err := c.Add(src.Name, src.R); err != nil {
			return nil, err
		}
	}
	return s.ImportAtomicFiles(ctx, actor, c)
}

// ImportAtomicFiles imports the collected tests, keyed by
// auto_generated_guid, in one transaction: a test seen before is updated
// through UpsertBySourceRef (or reported unchanged), a new one created. What
// Atomic files do not carry and the team curates — objective, expected
// detection, opsec level, free tags, extra ATT&CK tags — survives a
// re-import. Unknown ATT&CK ids are warnings; tests without a guid,
// repeated guids and tests that fail validation are skipped with the
// reason. The current state is loaded and the new templates written in
// batches, so the statements do not grow with the number of tests.
func (s *Service) ImportAtomicFiles(ctx context.Context, actor audit.Actor, c *AtomicCollector) (*ImportReport, error) {
	start := s.now()
	files := c.Files()
	if len(files) == 0 {
		return nil, apperr.Unprocessable("no_atomics", "No Atomic Red Team YAML file was found; send .yaml files or a zip/tar.gz of an atomics/ folder.")
	}
	rep := &ImportReport{Files: len(files), Skipped: []SkippedTest{}, Warnings: []ImportWarning{}, PerFile: make([]FileReport, len(files))}
	if st, err := s.mitre.Status(ctx); err == nil && st.LastSync == nil {
		rep.Warnings = append(rep.Warnings, ImportWarning{Message: "The ATT&CK catalogue is empty, so no test could be tagged: sync it (Settings → ATT&CK, or purplebook mitre sync) and import again."})
	}
	type job struct {
		file int
		test AtomicTest
	}
	var jobs []job
	seen := map[string]string{}
	for i, f := range files {
		pf := &rep.PerFile[i]
		pf.File, pf.AttackTechnique, pf.Tests = f.File, f.AttackTechnique, f.Found
		rep.Tests += f.Found
		for _, w := range f.Warnings {
			rep.Warnings = append(rep.Warnings, ImportWarning{File: f.File, Test: w.Test, Message: w.Message})
		}
		skip := func(test, reason string) {
			pf.Skipped++
			rep.Skipped = append(rep.Skipped, SkippedTest{File: f.File, Test: test, Reason: reason})
		}
		for _, sk := range f.Skipped {
			skip(sk.Test, sk.Message)
		}
		for _, t := range f.Tests {
			label := fmt.Sprintf("#%d %s", t.Index, t.Input.Name)
			if prev, dup := seen[t.GUID]; dup {
				skip(label, fmt.Sprintf("auto_generated_guid %s is also used by %s", t.GUID, prev))
				continue
			}
			check := t.Input
			if err := check.normalize(); err != nil {
				skip(label, "invalid: "+err.Error())
				continue
			}
			seen[t.GUID] = f.File + " " + label
			jobs = append(jobs, job{i, t})
		}
	}
	err := s.db.Tx(ctx, func(tx *dbx.Tx) error {
		refs := make([]string, len(jobs))
		for i, j := range jobs {
			refs[i] = j.test.GUID
		}
		cur, err := s.atomicCurrent(ctx, tx, refs)
		if err != nil {
			return err
		}
		var fresh []freshTemplate
		for _, j := range jobs {
			f, pf := files[j.file], &rep.PerFile[j.file]
			label := fmt.Sprintf("#%d %s", j.test.Index, j.test.Input.Name)
			in := j.test.Input
			c, exists := cur[j.test.GUID]
			if exists {
				in.Objective, in.ExpectedDetection, in.OpsecLevel = c.in.Objective, c.in.ExpectedDetection, c.in.OpsecLevel
				in.Tags = c.in.Tags
				in.MitreTags = append(in.MitreTags, c.in.MitreTags...)
			}
			if err := in.normalize(); err != nil { // validated above; curated fields were valid
				return fmt.Errorf("%s: test %d: %w", f.File, j.test.Index, err)
			}
			resolved, warnings, err := s.resolveTags(ctx, in.MitreTags, true)
			if err != nil {
				return err
			}
			for _, w := range warnings {
				rep.Warnings = append(rep.Warnings, ImportWarning{File: f.File, Test: label, Message: w})
			}
			if !exists {
				fresh = append(fresh, freshTemplate{in: in, tags: resolved})
				pf.Created++
				rep.Created++
				continue
			}
			want := in
			want.MitreTags = nil
			for _, t := range resolved {
				want.MitreTags = append(want.MitreTags, TagRef{Kind: t.kind, ExternalID: t.ext})
			}
			if sameInput(c.in, want) {
				pf.Unchanged++
				rep.Unchanged++
				continue
			}
			if _, _, _, err := s.UpsertBySourceRef(ctx, tx, actor, in); err != nil {
				return fmt.Errorf("%s: test %d (%s): %w", f.File, j.test.Index, j.test.GUID, err)
			}
			pf.Updated++
			rep.Updated++
		}
		if err := s.createMany(ctx, tx, actor, fresh); err != nil {
			return err
		}
		return audit.Record(ctx, tx, s.nowTime(), actor, audit.Event{Action: "test_template.import_atomics", ObjectType: "test_template",
			Details: map[string]any{"files": rep.Files, "tests": rep.Tests, "created": rep.Created, "updated": rep.Updated,
				"unchanged": rep.Unchanged, "skipped": len(rep.Skipped)}})
	})
	if err != nil {
		return nil, err
	}
	rep.DurationMS = s.now().Sub(start).Milliseconds()
	return rep, nil
}

// currentAtomic is an already imported test as its desired-state input.
type currentAtomic struct {
	id string
	in Input
}

// atomicCurrent loads the already imported tests among refs, with their
// ATT&CK tags, in a few batched queries.
func (s *Service) atomicCurrent(ctx context.Context, tx *dbx.Tx, refs []string) (map[string]*currentAtomic, error) {
	out := map[string]*currentAtomic{}
	const batch = 500
	for lo := 0; lo < len(refs); lo += batch {
		hi := min(lo+batch, len(refs))
		var rows []row
		if err := tx.Select(rowColumns...).From("test_templates").Where(dbx.In("source_ref", anys(refs[lo:hi])...)).
			WithContext(ctx).All(&rows); err != nil {
			return nil, fmt.Errorf("templates: atomics: current: %w", err)
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		tags, err := s.tagsFor(ctx, tx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			t := r.template()
			t.MitreTags = tags[r.ID]
			in := t.input()
			in.normalize() //nolint:errcheck // stored data was valid
			out[*r.SourceRef] = &currentAtomic{id: r.ID, in: in}
		}
	}
	return out, nil
}

// freshTemplate is a new template, validated and with resolved tags.
type freshTemplate struct {
	in   Input
	tags []resolvedTag
}

// createMany inserts new templates, their tags and one audit event each
// ("test_template.import", as UpsertBySourceRef records) with multi-row
// INSERTs: a first import of a few hundred tests is a handful of statements
// instead of several per test.
func (s *Service) createMany(ctx context.Context, tx *dbx.Tx, actor audit.Actor, fresh []freshTemplate) error {
	if len(fresh) == 0 {
		return nil
	}
	now := s.nowTime()
	var createdBy any
	if actor.UserID != "" {
		createdBy = actor.UserID
	}
	var tplCols []string
	var tplRows, tagRows [][]any
	var events []audit.Event
	tagCols := []string{"id", "test_template_id", "kind", "created_at", "tactic_id", "technique_id", "subtechnique_id"}
	ids := make([]string, 0, len(fresh))
	for _, f := range fresh {
		id := db.NewID()
		ids = append(ids, id)
		p := f.in.params()
		p["id"], p["source"], p["source_ref"], p["created_by"] = id, orDefault(f.in.Source, "atomic"), f.in.SourceRef, createdBy
		p["created_at"], p["updated_at"], p["version"] = now, now, 1
		if tplCols == nil {
			for k := range p {
				tplCols = append(tplCols, k)
			}
			sort.Strings(tplCols)
		}
		vals := make([]any, len(tplCols))
		for i, c := range tplCols {
			vals[i] = p[c]
		}
		tplRows = append(tplRows, vals)
		for _, t := range f.tags {
			r := []any{db.NewID(), id, t.kind, now, nil, nil, nil}
			r[map[string]int{"tactic": 4, "technique": 5, "subtechnique": 6}[t.kind]] = t.id
			tagRows = append(tagRows, r)
		}
		events = append(events, audit.Event{Action: "test_template.import", ObjectType: "test_template", ObjectID: id,
			Details: map[string]any{"name": f.in.Name, "source": f.in.Source, "source_ref": f.in.SourceRef, "outcome": "created"}})
	}
	if err := db.InsertRows(ctx, tx, "test_templates", tplCols, tplRows); err != nil {
		return fmt.Errorf("templates: atomics: insert: %w", err)
	}
	if err := db.InsertRows(ctx, tx, "test_template_mitre_tags", tagCols, tagRows); err != nil {
		return fmt.Errorf("templates: atomics: tags: %w", err)
	}
	if err := refreshFilterColumns(ctx, tx, ids); err != nil {
		return err
	}
	if err := audit.RecordMany(ctx, tx, now, actor, events); err != nil {
		return fmt.Errorf("templates: atomics: %w", err)
	}
	return nil
}
