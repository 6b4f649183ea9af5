-- Reverts 0006_ux.up.sql.
ALTER TABLE mission_tests DROP COLUMN argument_values;
