-- Reverts 0002_bundles.up.sql.

DROP TABLE IF EXISTS bundle_conflicts;
DROP TABLE IF EXISTS bundle_sync_states;
DROP TABLE IF EXISTS bundle_instance;
