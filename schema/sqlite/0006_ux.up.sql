-- Values red fills in for the Atomic input arguments of a mission test: a
-- JSON object argument name → value (a string, as typed). The arguments
-- themselves (name, description, type, default) stay in input_arguments,
-- copied from the template; a missing or empty value means the default.
-- Bundles carry the column with the rest of the mission test.
--
-- Mirrored by schema/postgres/0006_ux.up.sql (same column and CHECK name).
ALTER TABLE mission_tests ADD COLUMN argument_values TEXT NOT NULL DEFAULT '{}'
    CONSTRAINT ck_mission_tests_argument_values_json
    CHECK (typeof(argument_values) = 'text' AND json_valid(argument_values) AND json_type(argument_values) = 'object');
