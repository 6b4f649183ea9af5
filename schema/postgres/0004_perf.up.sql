-- ATT&CK filters of the template library as columns, like platforms_fold
-- and tags_fold: the folded external ids wrapped in '|', so a filter is a
-- LIKE '%|x|%' on the row (or on an index holding it) instead of a join.
--   tactics_fold:    the tactics the template is "in": those it is tagged
--                    with, and the tactics of the techniques it is tagged
--                    with (a subtechnique counts in its parent's tactics);
--   techniques_fold: the techniques and subtechniques it is tagged with,
--                    plus the parent of each subtechnique.
--   filter_bits:     a 63-bit Bloom filter of the values the four '|x|'
--                    lists hold (platforms, tags, tactics, techniques), so
--                    one integer test discards most non-matching rows before
--                    any LIKE runs. -1 (every bit) means "not computed yet"
--                    and lets every row through to the LIKEs: a row written
--                    by code that does not know the column is still found.
-- Derived from the template's lists, its tags and the catalogue, so kept true
-- by app/templates (filtercols.go): rewritten in the transaction that writes
-- a template, and recomputed for every template in the transaction of each
-- ATT&CK sync (a sync may link a technique to other tactics). The Bloom bits
-- are computed in Go; serve fills in rows still at -1 when it starts.
ALTER TABLE test_templates ADD COLUMN tactics_fold TEXT NOT NULL DEFAULT '';
ALTER TABLE test_templates ADD COLUMN techniques_fold TEXT NOT NULL DEFAULT '';
ALTER TABLE test_templates ADD COLUMN filter_bits BIGINT NOT NULL DEFAULT -1;

-- Existing templates (external ids are ASCII, so lower() folds them).
UPDATE test_templates SET
    tactics_fold = COALESCE((SELECT '|' || string_agg(x, '|' ORDER BY x COLLATE "C") || '|' FROM (
        SELECT lower(t.external_id) AS x FROM test_template_mitre_tags g
            JOIN mitre_tactics t ON t.id = g.tactic_id WHERE g.test_template_id = test_templates.id
        UNION SELECT lower(t.external_id) FROM test_template_mitre_tags g
            JOIN mitre_technique_tactics l ON l.technique_id = g.technique_id
            JOIN mitre_tactics t ON t.id = l.tactic_id WHERE g.test_template_id = test_templates.id
        UNION SELECT lower(t.external_id) FROM test_template_mitre_tags g
            JOIN mitre_subtechniques s ON s.id = g.subtechnique_id
            JOIN mitre_technique_tactics l ON l.technique_id = s.technique_id
            JOIN mitre_tactics t ON t.id = l.tactic_id WHERE g.test_template_id = test_templates.id) f), ''),
    techniques_fold = COALESCE((SELECT '|' || string_agg(x, '|' ORDER BY x COLLATE "C") || '|' FROM (
        SELECT lower(m.external_id) AS x FROM test_template_mitre_tags g
            JOIN mitre_techniques m ON m.id = g.technique_id WHERE g.test_template_id = test_templates.id
        UNION SELECT lower(s.external_id) FROM test_template_mitre_tags g
            JOIN mitre_subtechniques s ON s.id = g.subtechnique_id WHERE g.test_template_id = test_templates.id
        UNION SELECT lower(p.external_id) FROM test_template_mitre_tags g
            JOIN mitre_subtechniques s ON s.id = g.subtechnique_id
            JOIN mitre_techniques p ON p.id = s.technique_id WHERE g.test_template_id = test_templates.id) f), '');

-- The library list's orders (app/templates sortColumns), one index each,
-- walked forwards or backwards: a page is a walk that stops at the page,
-- never a sort of the matches. deleted_at comes first, so the live list and
-- the deleted view are each one range. (SQLite's indexes of the same names
-- also hold every filter column; PostgreSQL reads its heap cheaply, and a
-- B-tree entry may not exceed a third of a page, which a long search_fold
-- would.)
CREATE INDEX ix_test_templates_list_name ON test_templates (deleted_at, name_fold, id);
CREATE INDEX ix_test_templates_list_updated ON test_templates (deleted_at, updated_at, id);
CREATE INDEX ix_test_templates_list_opsec ON test_templates (deleted_at, opsec_level, name_fold, id);
