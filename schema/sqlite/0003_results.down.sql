-- Reverts 0003_results.up.sql.
DROP TABLE IF EXISTS result_org_counts;
DROP TABLE IF EXISTS result_month_counts;
DROP TABLE IF EXISTS result_technique_counts;
DROP INDEX IF EXISTS ix_mission_tests_results;
