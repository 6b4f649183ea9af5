DROP INDEX IF EXISTS ix_test_templates_list_opsec;
DROP INDEX IF EXISTS ix_test_templates_list_updated;
DROP INDEX IF EXISTS ix_test_templates_list_name;
ALTER TABLE test_templates DROP COLUMN filter_bits;
ALTER TABLE test_templates DROP COLUMN techniques_fold;
ALTER TABLE test_templates DROP COLUMN tactics_fold;
