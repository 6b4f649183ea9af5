package templates

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/purplebook/purplebook/app/mitre"
	"github.com/purplebook/purplebook/app/mitre/mitretest"
	"github.com/purplebook/purplebook/app/patch"
	"github.com/purplebook/purplebook/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The derived filter columns (filtercols.go) and the list built on them are
// checked against an independent model: every template's tags read back
// through Get, tactics and parents taken from the catalogue's own view, the
// filters and orders applied in Go.

const smallBundle = "enterprise-attack-small.json"

func bundlePath(name string) string {
	return filepath.Join("..", "..", "..", "shared", "testdata", "attack", name)
}

// clockLib is newLib with a clock that moves one second per reading, so
// updated_at orders are not all ties.
func clockLib(t *testing.T) (*Service, *mitre.Service, *db.DB) {
	t.Helper()
	d := dbtest.New(t)
	var tick atomic.Int64
	start := time.Now().Add(-time.Hour)
	now := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }
	m := mitre.New(mitre.Options{DB: d, Now: now})
	syncFile(t, m, bundlePath(smallBundle))
	return New(Options{DB: d, Mitre: m, Now: now}), m, d
}

func syncFile(t *testing.T, m *mitre.Service, path string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = m.Sync(context.Background(), mitre.SyncParams{Upload: f, AllowUnverified: true}, actor)
	require.NoError(t, err)
}

// model is what a template is, for the filters: from Get and the catalogue.
type model struct {
	t          Template
	deleted    bool
	tactics    map[string]bool // folded external ids
	techniques map[string]bool
	shortnames []string // of the tactics
}

func buildModel(t *testing.T, s *Service, m *mitre.Service, d *db.DB) []model {
	t.Helper()
	ctx := context.Background()
	var ids []string
	require.NoError(t, d.Read.Select("id").From("test_templates").Column(&ids))
	var deleted []string
	require.NoError(t, d.Read.Select("id").From("test_templates").Where(dbx.NewExp("deleted_at IS NOT NULL")).Column(&deleted))
	v, err := m.View(ctx)
	require.NoError(t, err)
	shortname := map[string]string{}
	for _, ta := range v.Tactics(true) {
		shortname[db.Fold(ta.ExternalID)] = db.Fold(ta.Shortname)
	}
	var out []model
	for _, id := range ids {
		var tpl Template
		if slices.Contains(deleted, id) {
			var r row
			require.NoError(t, d.Read.Select(rowColumns...).From("test_templates").Where(dbx.HashExp{"id": id}).One(&r))
			tpl = r.template()
			tags, err := s.tagsFor(ctx, d.Read, []string{id})
			require.NoError(t, err)
			tpl.MitreTags = tags[id]
		} else {
			tpl, err = s.Get(ctx, id)
			require.NoError(t, err)
		}
		md := model{t: tpl, deleted: slices.Contains(deleted, id), tactics: map[string]bool{}, techniques: map[string]bool{}}
		for _, tag := range tpl.MitreTags {
			ext := db.Fold(tag.ExternalID)
			switch tag.Kind {
			case "tactic":
				md.tactics[ext] = true
			case "technique", "subtechnique":
				md.techniques[ext] = true
				tv, err := v.Technique(tag.ExternalID)
				require.NoError(t, err)
				if tv.Parent != nil {
					md.techniques[db.Fold(tv.Parent.ExternalID)] = true
				}
				for _, ta := range tv.Tactics {
					md.tactics[db.Fold(ta.ExternalID)] = true
				}
			}
		}
		for ext := range md.tactics {
			md.shortnames = append(md.shortnames, shortname[ext])
		}
		out = append(out, md)
	}
	return out
}

// storedFolds reads the derived columns of every template.
func storedFolds(t *testing.T, d *db.DB) map[string][2]string {
	t.Helper()
	var rows []struct {
		ID         string `db:"id"`
		Tactics    string `db:"tactics_fold"`
		Techniques string `db:"techniques_fold"`
		Bits       int64  `db:"filter_bits"`
		Platforms  string `db:"platforms_fold"`
		Tags       string `db:"tags_fold"`
	}
	require.NoError(t, d.Read.Select("id", "tactics_fold", "techniques_fold", "filter_bits", "platforms_fold", "tags_fold").
		From("test_templates").All(&rows))
	out := map[string][2]string{}
	for _, r := range rows {
		assert.Equal(t, filterBits(r.Platforms, r.Tags, r.Tactics, r.Techniques), r.Bits, "filter_bits of %s", r.ID)
		out[r.ID] = [2]string{r.Tactics, r.Techniques}
	}
	return out
}

func setFold(m map[string]bool) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return foldOf(keys)
}

// assertFoldsTrue checks every row's derived columns against the model.
func assertFoldsTrue(t *testing.T, s *Service, m *mitre.Service, d *db.DB) []model {
	t.Helper()
	models := buildModel(t, s, m, d)
	stored := storedFolds(t, d)
	for _, md := range models {
		assert.Equal(t, [2]string{setFold(md.tactics), setFold(md.techniques)}, stored[md.t.ID], "derived columns of %q", md.t.Name)
	}
	return models
}

func (md model) matches(p ListParams) bool {
	if md.deleted != p.Deleted {
		return false
	}
	has := func(list []string, v string) bool {
		for _, x := range list {
			if db.Fold(x) == db.Fold(v) {
				return true
			}
		}
		return false
	}
	switch {
	case p.Tactic != "" && !md.tactics[db.Fold(p.Tactic)] && !slices.Contains(md.shortnames, db.Fold(p.Tactic)),
		p.Technique != "" && !md.techniques[db.Fold(p.Technique)],
		p.Subtechnique != "" && !md.techniques[db.Fold(p.Subtechnique)],
		p.Opsec != "" && md.t.OpsecLevel != p.Opsec,
		p.Platform != "" && !has(md.t.Platforms, p.Platform),
		p.Tag != "" && !has(md.t.Tags, p.Tag),
		p.Q != "" && !strings.Contains(db.Fold(md.t.Name+" "+md.t.Description), db.Fold(p.Q)):
		return false
	}
	return true
}

// expectPage is the page p asks for, computed from the model.
func expectPage(models []model, p ListParams) (int, []string) {
	var hits []model
	for _, md := range models {
		if md.matches(p) {
			hits = append(hits, md)
		}
	}
	key := func(md model, col string) string {
		switch col {
		case "name_fold":
			return db.Fold(md.t.Name)
		case "updated_at":
			return fmt.Sprintf("%020d", md.t.UpdatedAt.UnixNano())
		case "created_at":
			return fmt.Sprintf("%020d", md.t.CreatedAt.UnixNano())
		case "opsec_level":
			return md.t.OpsecLevel
		}
		return md.t.ID
	}
	order := sortColumns[p.Sort]
	sort.SliceStable(hits, func(i, j int) bool {
		for _, o := range order {
			col, dir, _ := strings.Cut(o, " ")
			a, b := key(hits[i], col), key(hits[j], col)
			if a != b {
				return (a < b) != (dir == "DESC")
			}
		}
		return false
	})
	pp := p.PageParams.Normalize()
	var ids []string
	for i := int(pp.Offset()); i < len(hits) && i < int(pp.Offset())+pp.PerPage; i++ {
		ids = append(ids, hits[i].t.ID)
	}
	return len(hits), ids
}

// Tactic membership moves with the tags: create, update (tags, platforms
// only), the Atomic import, and a template with no tags left.
func TestFilterColumnsFollowTagWrites(t *testing.T) {
	t.Parallel()
	s, m, d := clockLib(t)
	ctx := context.Background()
	a := mk(t, s, Input{Name: "alpha", Platforms: []string{"Windows"}, MitreTags: []TagRef{{ExternalID: "T1059.001"}}})
	b := mk(t, s, Input{Name: "bravo", MitreTags: []TagRef{{ExternalID: "TA0004"}, {ExternalID: "T1106"}}})
	mk(t, s, Input{Name: "charlie", Tags: []string{"lab"}})
	assertFoldsTrue(t, s, m, d)
	names := func(p ListParams) []string {
		page, err := s.List(ctx, p)
		require.NoError(t, err)
		return ids(page.Items)
	}
	assert.Equal(t, []string{"alpha", "bravo"}, names(ListParams{Tactic: "execution"}))
	assert.Equal(t, []string{"alpha"}, names(ListParams{Technique: "T1059"}), "a subtechnique counts for its parent")
	assert.Equal(t, []string{"bravo"}, names(ListParams{Tactic: "TA0004"}))

	// New tags: the old tactics and techniques leave in the same write.
	_, err := s.Update(ctx, actor, a.ID, UpdateParams{MitreTags: patch.Value([]TagRef{{ExternalID: "T1547.001"}})})
	require.NoError(t, err)
	assert.Equal(t, []string{"bravo"}, names(ListParams{Tactic: "execution"}))
	assert.Equal(t, []string{"alpha"}, names(ListParams{Tactic: "persistence", Technique: "T1547"}))
	// Platforms only: the Bloom bits follow (a stale bit would hide the row).
	_, err = s.Update(ctx, actor, a.ID, UpdateParams{Platforms: patch.Value([]string{"Linux", "macOS"})})
	require.NoError(t, err)
	assert.Equal(t, []string{"alpha"}, names(ListParams{Platform: "macos", Tactic: "persistence"}))
	assert.Empty(t, names(ListParams{Platform: "windows"}))
	// No tags at all.
	_, err = s.Update(ctx, actor, b.ID, UpdateParams{MitreTags: patch.Null[[]TagRef]()})
	require.NoError(t, err)
	assert.Equal(t, []string{"alpha"}, names(ListParams{Tactic: "TA0004"}), "bravo left privilege-escalation")
	assertFoldsTrue(t, s, m, d)

	// A failed write leaves the columns as they were (same transaction).
	_, err = s.Update(ctx, actor, a.ID, UpdateParams{MitreTags: patch.Value([]TagRef{{ExternalID: "T1059"}}), Version: patch.Value(1)})
	require.Error(t, err)
	assert.Equal(t, []string{"alpha"}, names(ListParams{Tactic: "persistence"}))
	assertFoldsTrue(t, s, m, d)
}

// A re-sync that moves a technique to another tactic moves the templates
// tagged with it (or with its subtechniques) in the sync's transaction.
func TestFilterColumnsFollowCatalogueResync(t *testing.T) {
	t.Parallel()
	s, m, d := clockLib(t)
	ctx := context.Background()
	mk(t, s, Input{Name: "native", MitreTags: []TagRef{{ExternalID: "T1106"}}})
	mk(t, s, Input{Name: "powershell", MitreTags: []TagRef{{ExternalID: "T1059.001"}}})
	mk(t, s, Input{Name: "both", MitreTags: []TagRef{{ExternalID: "T1106"}, {ExternalID: "TA0002"}}})
	names := func(p ListParams) []string {
		page, err := s.List(ctx, p)
		require.NoError(t, err)
		assert.Equal(t, len(page.Items), page.Total)
		return ids(page.Items)
	}
	assert.Equal(t, []string{"both", "native", "powershell"}, names(ListParams{Tactic: "execution"}))
	assert.Empty(t, names(ListParams{Tactic: "persistence"}))

	syncFile(t, m, mitretest.MoveTechnique(t, bundlePath(smallBundle), "T1106", "persistence", "Native API (moved)"))
	assert.Equal(t, []string{"both", "powershell"}, names(ListParams{Tactic: "execution"}), "tagged with the tactic itself: stays")
	page, err := s.List(ctx, ListParams{Technique: "T1106"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	for _, it := range page.Items {
		assert.Contains(t, it.MitreTags, Tag{Kind: "technique", ExternalID: "T1106", Name: "Native API (moved)",
			URL: "https://attack.mitre.org/techniques/T1106", State: "active", TemplateID: it.ID}, "tag names from the new catalogue")
	}
	assert.Equal(t, []string{"both", "native"}, names(ListParams{Tactic: "persistence"}))
	assertFoldsTrue(t, s, m, d)

	// A subtechnique follows its parent.
	syncFile(t, m, mitretest.MoveTechnique(t, bundlePath(smallBundle), "T1059", "privilege-escalation", ""))
	assert.Equal(t, []string{"powershell"}, names(ListParams{Tactic: "privilege-escalation", Technique: "T1059"}))
	assert.Equal(t, []string{"both", "native"}, names(ListParams{Tactic: "execution"}), "this bundle has T1106 in execution again")
	assertFoldsTrue(t, s, m, d)
}

// Every filter combination the library screen sends, two orders each (drawn
// from all), the first, a random and a past-the-end page, through both list paths (one pass,
// and count + index walk), against the model; then again after a re-sync
// that moves a technique.
func TestListMatchesModel(t *testing.T) {
	t.Parallel()
	s, m, d := clockLib(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 11))
	refs := []string{"TA0002", "TA0003", "TA0004", "T1059", "T1059.001", "T1059.003", "T1053", "T1053.005", "T1547", "T1547.001", "T1106"}
	words := []string{"dump", "token", "cron", "shell"}
	var created []Template
	for i := 0; i < 60; i++ {
		in := Input{Name: fmt.Sprintf("%s%02d", words[r.IntN(len(words))], i), Description: words[r.IntN(len(words))],
			OpsecLevel: []string{"low", "medium", "high"}[r.IntN(3)]}
		if r.IntN(4) > 0 {
			in.Platforms = []string{[]string{"Windows", "Linux", "macOS"}[r.IntN(3)]}
		}
		if r.IntN(2) == 0 {
			in.Tags = []string{[]string{"lab", "smoke"}[r.IntN(2)]}
		}
		for k := r.IntN(3); k > 0; k-- {
			in.MitreTags = append(in.MitreTags, TagRef{ExternalID: refs[r.IntN(len(refs))]})
		}
		created = append(created, mk(t, s, in))
	}
	for _, tpl := range created[:6] {
		require.NoError(t, s.Delete(ctx, actor, tpl.ID))
	}
	// Same names in another case, so name order needs its id tie-break.
	_, err := s.Update(ctx, actor, created[10].ID, UpdateParams{Name: patch.Value(strings.ToUpper(created[11].Name))})
	require.NoError(t, err)

	check := func(stage string) {
		models := assertFoldsTrue(t, s, m, d)
		onePass := New(Options{DB: d, Mitre: m})
		onePass.sparse = 1 << 20
		walk := New(Options{DB: d, Mitre: m})
		walk.sparse = 2
		services := map[string]*Service{"default": s, "one pass": onePass, "count and walk": walk}
		n := 0
		for _, tactic := range []string{"", "execution", "TA0003"} {
			for _, tech := range [][2]string{{}, {"technique", "T1059"}, {"subtechnique", "T1053.005"}} {
				for mask := 0; mask < 32; mask++ {
					p := ListParams{Tactic: tactic}
					if tech[0] == "technique" {
						p.Technique = tech[1]
					} else if tech[0] == "subtechnique" {
						p.Subtechnique = tech[1]
					}
					if mask&1 != 0 {
						p.Platform = "WINDOWS"
					}
					if mask&2 != 0 {
						p.Opsec = "high"
					}
					if mask&4 != 0 {
						p.Tag = "lab"
					}
					if mask&8 != 0 {
						p.Q = "O" // token, cron: names and descriptions
					}
					p.Deleted = mask&16 != 0
					// Two orders per filter set, drawn from all of them.
					sorts := []string{"name", "-name", "opsec_level", "-opsec_level", "updated_at", "-updated_at", "created_at"}
					r.Shuffle(len(sorts), func(i, j int) { sorts[i], sorts[j] = sorts[j], sorts[i] })
					for _, sortKey := range sorts[:2] {
						p.Sort = sortKey
						want, _ := expectPage(models, p)
						for _, page := range []int{1, 1 + r.IntN(max(1, (want+2)/3)), 50} {
							p.PageParams = db.PageParams{Page: page, PerPage: 3}
							wantTotal, wantIDs := expectPage(models, p)
							name := fmt.Sprintf("%s %+v", stage, p)
							for label, svc := range services {
								got, err := svc.List(ctx, p)
								require.NoError(t, err, name)
								assert.Equal(t, wantTotal, got.Total, "%s: %s: total", label, name)
								var gotIDs []string
								for _, it := range got.Items {
									gotIDs = append(gotIDs, it.ID)
								}
								if !assert.Equal(t, wantIDs, gotIDs, "%s: %s: page", label, name) {
									return
								}
								n++
							}
						}
					}
				}
			}
		}
		t.Logf("%s: %d lists checked", stage, n)
	}
	check("first catalogue")
	syncFile(t, m, mitretest.MoveTechnique(t, bundlePath(smallBundle), "T1053", "persistence", ""))
	check("T1053 moved to persistence")
}

// Rows whose derived columns were never computed (written by code that
// does not know them) are repaired by RepairFilterColumns; until then the
// Bloom test lets them through.
func TestRepairFilterColumns(t *testing.T) {
	t.Parallel()
	s, m, d := clockLib(t)
	ctx := context.Background()
	mk(t, s, Input{Name: "one", Platforms: []string{"Linux"}, MitreTags: []TagRef{{ExternalID: "T1053.005"}}})
	mk(t, s, Input{Name: "two", Tags: []string{"lab"}})
	n, err := s.RepairFilterColumns(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing to repair")

	_, err = d.Write.NewQuery(`UPDATE test_templates SET filter_bits = -1, tactics_fold = '', techniques_fold = ''`).Execute()
	require.NoError(t, err)
	page, err := s.List(ctx, ListParams{Platform: "linux"})
	require.NoError(t, err)
	assert.Equal(t, []string{"one"}, ids(page.Items), "bits -1 pass the Bloom test")
	n, err = s.RepairFilterColumns(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assertFoldsTrue(t, s, m, d)
	page, err = s.List(ctx, ListParams{Tactic: "persistence", Technique: "T1053", Platform: "linux"})
	require.NoError(t, err)
	assert.Equal(t, []string{"one"}, ids(page.Items))
	n, err = s.RepairFilterColumns(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// Migration 0004 fills the ATT&CK lists of existing templates in SQL (the
// Bloom bits stay -1 until serve repairs them): the same lists the Go code
// computes.
func TestMigration0004FillsExistingTemplates(t *testing.T) {
	t.Parallel()
	s, m, d := clockLib(t)
	ctx := context.Background()
	mk(t, s, Input{Name: "one", Platforms: []string{"Linux"}, MitreTags: []TagRef{{ExternalID: "T1053.005"}, {ExternalID: "TA0002"}}})
	mk(t, s, Input{Name: "two", MitreTags: []TagRef{{ExternalID: "T1547"}, {ExternalID: "T1059.001"}, {ExternalID: "T1106"}}})
	mk(t, s, Input{Name: "three"})
	want := storedFolds(t, d)

	require.NoError(t, d.MigrateDown(ctx, migrationsAbove(t, 3)))
	require.NoError(t, d.Migrate(ctx))
	var bits []int64
	require.NoError(t, d.Read.Select("filter_bits").From("test_templates").Column(&bits))
	assert.Equal(t, []int64{-1, -1, -1}, bits, "not computed in SQL")
	var rows []struct {
		ID         string `db:"id"`
		Tactics    string `db:"tactics_fold"`
		Techniques string `db:"techniques_fold"`
	}
	require.NoError(t, d.Read.Select("id", "tactics_fold", "techniques_fold").From("test_templates").All(&rows))
	got := map[string][2]string{}
	for _, r := range rows {
		got[r.ID] = [2]string{r.Tactics, r.Techniques}
	}
	assert.Equal(t, want, got)
	n, err := s.RepairFilterColumns(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assertFoldsTrue(t, s, m, d)
}

// migrationsAbove counts the embedded migrations numbered above v.
func migrationsAbove(t *testing.T, v int) int {
	t.Helper()
	names, err := fs.Glob(schema.SQLite, "sqlite/*.up.sql")
	require.NoError(t, err)
	n := 0
	for _, name := range names {
		num, err := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		require.NoError(t, err, name)
		if num > v {
			n++
		}
	}
	return n
}

// Another instance on the same database syncs a larger catalogue and tags
// a template with a technique this instance's snapshot does not hold yet
// (its stamp is checked again only a second later): the tags are read from
// the catalogue tables instead, never dropped or left unnamed.
func TestTagsOfEntriesTheSnapshotLacks(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	frozen := time.Now()
	mA := mitre.New(mitre.Options{DB: d, Now: func() time.Time { return frozen }})
	syncFile(t, mA, bundlePath(smallBundle))
	a := New(Options{DB: d, Mitre: mA, Now: func() time.Time { return frozen }})
	_, err := mA.View(ctx) // A's snapshot: the small catalogue, fresh for A's (frozen) second
	require.NoError(t, err)

	mB := mitre.New(mitre.Options{DB: d})
	syncFile(t, mB, bundlePath("enterprise-attack-core.json.gz"))
	b := New(Options{DB: d, Mitre: mB})
	tpl := mk(t, b, Input{Name: "dump", MitreTags: []TagRef{{ExternalID: "T1003"}, {ExternalID: "T1059"}}})
	_, _, _, _, err = mA.Resolve(ctx, "technique", "T1003")
	require.Error(t, err, "A's snapshot does not hold T1003")

	got, err := a.Get(ctx, tpl.ID)
	require.NoError(t, err)
	require.Len(t, got.MitreTags, 2)
	assert.Equal(t, "T1003", got.MitreTags[0].ExternalID)
	assert.Equal(t, "OS Credential Dumping", got.MitreTags[0].Name)
	assert.Equal(t, "T1059", got.MitreTags[1].ExternalID)
	page, err := a.List(ctx, ListParams{Technique: "T1059"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Len(t, page.Items[0].MitreTags, 2)
}

// The page of the unfiltered live library, the screen's first view, is a walk
// along a ix_test_templates_list_* index in every order the screen offers,
// both directions: no sort of the library for one page (on PostgreSQL the
// walk leads with deleted_at for that, see walkOrder). Sorting is switched
// off as far as the planner allows, so a plan that still sorts means that
// no index gives the order; the row count does not matter.
func TestListWalkUsesListIndex(t *testing.T) {
	t.Parallel()
	s, _, d := clockLib(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		mk(t, s, Input{Name: fmt.Sprintf("walk %d", i)})
	}
	for _, key := range []string{"name", "-name", "opsec_level", "-opsec_level", "updated_at", "-updated_at"} {
		{
			p := ListParams{Sort: key}
			where, err := s.filter(ctx, p)
			require.NoError(t, err)
			order := s.walkOrder(p, sortColumns[key])
			for _, o := range [][]string{order, reverseOrder(order)} {
				var plan []string
				require.NoError(t, d.Tx(ctx, func(tx *dbx.Tx) error {
					q := walkQuery(tx, where, o, 25, 1225).Build()
					if d.Driver() == db.Postgres {
						if _, err := tx.NewQuery("SET LOCAL enable_sort = off; SET LOCAL enable_incremental_sort = off").Execute(); err != nil {
							return err
						}
						return tx.NewQuery("EXPLAIN " + q.SQL()).Bind(q.Params()).Column(&plan)
					}
					var rows []struct {
						Detail string `db:"detail"`
					}
					err := tx.NewQuery("EXPLAIN QUERY PLAN " + q.SQL()).Bind(q.Params()).All(&rows)
					for _, r := range rows {
						plan = append(plan, r.Detail)
					}
					return err
				}))
				text := strings.Join(plan, "\n")
				assert.Contains(t, text, "ix_test_templates_list_", "%s %v: %s", key, o, text)
				assert.NotContains(t, text, "Sort", "%s %v: %s", key, o, text)
				assert.NotContains(t, text, "TEMP B-TREE", "%s %v: %s", key, o, text)
			}
		}
	}
}
