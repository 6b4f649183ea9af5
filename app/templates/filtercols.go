package templates

// The library's derived filter columns (migration 0004), kept next to
// platforms_fold and tags_fold on the template row so that every list
// filter is a test on the covering list index, never a join or a probe per
// row:
//   - tactics_fold: the tactics a template is "in": the tactics it is tagged
//     with, each tactic of a technique it is tagged with, each tactic of the
//     parent of a subtechnique it is tagged with;
//   - techniques_fold: the techniques and subtechniques it is tagged with,
//     and the parent of each subtechnique ("T1059" finds T1059.001 too);
//   - filter_bits: a Bloom filter of the four lists' values (bloomBit), so
//     one integer test drops most rows that cannot match before a LIKE runs
//     (a LIKE costs about three times a column test in SQLite).
// The ATT&CK lists are derived from the tags and the catalogue's links, so
// all three are recomputed from the database inside the transaction that
// writes a template (writeTags, Update, createMany), and for every template
// inside each ATT&CK sync's transaction (RefreshFilterColumns, registered by
// New): a sync may link a technique to other tactics. Soft deletes leave
// them alone. A row at filter_bits -1 (written before migration 0004 or by
// code that does not set it) passes every Bloom test, so it is never lost;
// RepairFilterColumns computes such rows.

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/purplebook/purplebook/app/db"
)

// tacticPairs and techniquePairs list (template id, external id) pairs: the first the tactics,
// the second the techniques of each template's tags. {{where}} restricts the
// tags (alias g).
const (
	tacticPairs = `SELECT g.test_template_id AS template_id, t.external_id AS ext FROM test_template_mitre_tags g
			JOIN mitre_tactics t ON t.id = g.tactic_id WHERE {{where}}
		UNION SELECT g.test_template_id, t.external_id FROM test_template_mitre_tags g
			JOIN mitre_technique_tactics l ON l.technique_id = g.technique_id
			JOIN mitre_tactics t ON t.id = l.tactic_id WHERE {{where}}
		UNION SELECT g.test_template_id, t.external_id FROM test_template_mitre_tags g
			JOIN mitre_subtechniques s ON s.id = g.subtechnique_id
			JOIN mitre_technique_tactics l ON l.technique_id = s.technique_id
			JOIN mitre_tactics t ON t.id = l.tactic_id WHERE {{where}}`
	techniquePairs = `SELECT g.test_template_id AS template_id, m.external_id AS ext FROM test_template_mitre_tags g
			JOIN mitre_techniques m ON m.id = g.technique_id WHERE {{where}}
		UNION SELECT g.test_template_id, s.external_id FROM test_template_mitre_tags g
			JOIN mitre_subtechniques s ON s.id = g.subtechnique_id WHERE {{where}}
		UNION SELECT g.test_template_id, p.external_id FROM test_template_mitre_tags g
			JOIN mitre_subtechniques s ON s.id = g.subtechnique_id
			JOIN mitre_techniques p ON p.id = s.technique_id WHERE {{where}}`
)

type foldPair struct {
	TemplateID string `db:"template_id"`
	Ext        string `db:"ext"`
}

// foldOf is the column value of a set of external ids: folded, sorted,
// distinct, wrapped in '|'; "" for none.
func foldOf(exts []string) string {
	if len(exts) == 0 {
		return ""
	}
	f := make([]string, 0, len(exts))
	seen := map[string]bool{}
	for _, e := range exts {
		if e = db.Fold(e); !seen[e] {
			seen[e] = true
			f = append(f, e)
		}
	}
	sort.Strings(f)
	return "|" + strings.Join(f, "|") + "|"
}

// Bloom filter kinds: the list a value comes from.
const (
	bitPlatform  = 'p'
	bitTag       = 'g'
	bitTactic    = 'a'
	bitTechnique = 't'
)

// bloomBit is the filter_bits bit of one folded list value: one of bits
// 0..62 (the sign bit stays clear, so -1 never results from real values).
func bloomBit(kind byte, folded string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte{kind, ':'})
	_, _ = h.Write([]byte(folded))
	return 1 << (h.Sum64() % 63)
}

// filterBits is the Bloom filter of a row's four '|x|' lists.
func filterBits(platformsFold, tagsFold, tacticsFold, techniquesFold string) int64 {
	var b int64
	for _, l := range []struct {
		kind byte
		fold string
	}{{bitPlatform, platformsFold}, {bitTag, tagsFold}, {bitTactic, tacticsFold}, {bitTechnique, techniquesFold}} {
		for _, v := range strings.Split(strings.Trim(l.fold, "|"), "|") {
			if v != "" {
				b |= bloomBit(l.kind, v)
			}
		}
	}
	return b
}

// refreshFilterColumns recomputes the derived columns of the given templates (all
// templates when ids is nil) inside tx, writing only the rows that change.
func refreshFilterColumns(ctx context.Context, tx *dbx.Tx, ids []string) error {
	const chunk = 500
	for lo := 0; lo == 0 || lo < len(ids); lo += chunk {
		where, params := "1 = 1", dbx.Params{}
		var idWhere dbx.Expression
		if ids != nil {
			part := ids[lo:min(lo+chunk, len(ids))]
			if len(part) == 0 {
				return nil
			}
			ph := make([]string, len(part))
			in := make([]any, len(part))
			for i, id := range part {
				k := "tf" + strconv.Itoa(i)
				params[k], ph[i], in[i] = id, "{:"+k+"}", id
			}
			where = "g.test_template_id IN (" + strings.Join(ph, ", ") + ")"
			idWhere = dbx.In("id", in...)
		}
		want := map[string][2][]string{}
		for i, q := range []string{tacticPairs, techniquePairs} {
			var pairs []foldPair
			if err := tx.NewQuery(strings.ReplaceAll(q, "{{where}}", where)).Bind(params).WithContext(ctx).All(&pairs); err != nil {
				return fmt.Errorf("templates: tag folds: %w", err)
			}
			for _, p := range pairs {
				w := want[p.TemplateID]
				w[i] = append(w[i], p.Ext)
				want[p.TemplateID] = w
			}
		}
		var have []struct {
			ID         string `db:"id"`
			Platforms  string `db:"platforms_fold"`
			Tags       string `db:"tags_fold"`
			Tactics    string `db:"tactics_fold"`
			Techniques string `db:"techniques_fold"`
			Bits       int64  `db:"filter_bits"`
		}
		q := tx.Select("id", "platforms_fold", "tags_fold", "tactics_fold", "techniques_fold", "filter_bits").From("test_templates")
		if idWhere != nil {
			q = q.Where(idWhere)
		}
		if err := q.WithContext(ctx).All(&have); err != nil {
			return fmt.Errorf("templates: tag folds: %w", err)
		}
		for _, h := range have {
			w := want[h.ID]
			ta, te := foldOf(w[0]), foldOf(w[1])
			bits := filterBits(h.Platforms, h.Tags, ta, te)
			if ta == h.Tactics && te == h.Techniques && bits == h.Bits {
				continue
			}
			if _, err := tx.Update("test_templates", dbx.Params{"tactics_fold": ta, "techniques_fold": te, "filter_bits": bits},
				dbx.HashExp{"id": h.ID}).WithContext(ctx).Execute(); err != nil {
				return fmt.Errorf("templates: tag folds: %w", err)
			}
		}
		if ids == nil {
			return nil
		}
	}
	return nil
}

// RefreshFilterColumns recomputes the derived filter columns of every
// template inside tx. The ATT&CK sync runs it in its transaction (New
// registers it) once the catalogue's links are written; bulk loaders that
// write rows and tags directly run it afterwards.
func RefreshFilterColumns(ctx context.Context, tx *dbx.Tx) error {
	return refreshFilterColumns(ctx, tx, nil)
}

// RepairFilterColumns computes the derived filter columns of the templates
// whose filter_bits is still -1: rows from before migration 0004 (which
// fills the ATT&CK lists but cannot compute the Bloom bits in SQL) or
// written by code that does not set them. serve runs it at start; it writes
// nothing when there is nothing to repair.
func (s *Service) RepairFilterColumns(ctx context.Context) (int, error) {
	var ids []string
	if err := s.db.Read.Select("id").From("test_templates").Where(dbx.HashExp{"filter_bits": -1}).
		WithContext(ctx).Column(&ids); err != nil {
		return 0, fmt.Errorf("templates: repair filter columns: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return len(ids), s.db.Tx(ctx, func(tx *dbx.Tx) error { return refreshFilterColumns(ctx, tx, ids) })
}
