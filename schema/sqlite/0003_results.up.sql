-- Results aggregates (docs/RESULTS.md), kept up to date by app/tally in the
-- transaction of every write that changes a mission test's state, outcome,
-- execution time or existence, so the organisation-wide coverage over
-- hundreds of missions reads a few hundred thousand small rows instead of
-- every mission test.
--
-- bucket is what the test's result is built from, independent of how the
-- detection levels are configured: 'planned' (pending or in progress),
-- 'skipped', 'unassessed' (executed without a derived outcome), or the id of
-- the derived outcome level (blocked, alerted, … tbd). Scores, colours and
-- states are computed from it at read time. No FK on bucket: it mixes words
-- and level ids; a level in use cannot be deleted (mission_test_outcomes
-- RESTRICT), so a level id in here always exists.
--
-- result_technique_counts: one row per mission, ATT&CK technique or
-- sub-technique tag (denormalised external id, as on the test: a catalogue
-- re-sync changes nothing here) and bucket. first/last_executed_at are the
-- earliest and latest execution start (started_at, else executed_at) of the
-- bucket's tests (NULL for planned and skipped).
CREATE TABLE result_technique_counts (
    mission_id        TEXT    NOT NULL,
    external_id       TEXT    NOT NULL,
    bucket            TEXT    NOT NULL,
    tests             INTEGER NOT NULL,
    first_executed_at TEXT    NULL,
    last_executed_at  TEXT    NULL,
    CONSTRAINT pk_result_technique_counts PRIMARY KEY (mission_id, external_id, bucket),
    CONSTRAINT fk_result_technique_counts_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT ck_result_technique_counts_tests CHECK (tests > 0)
);
-- Covering, in GROUP BY order: the organisation-wide sum reads this index only.
CREATE INDEX ix_result_technique_counts_external_id_bucket ON result_technique_counts (external_id, bucket, mission_id, tests, first_executed_at, last_executed_at);

-- result_month_counts: one row per mission, month of execution start
-- ('YYYY-MM'; '' for tests never executed) and bucket; every live test of
-- the mission counts once (tagged or not). Drives the trends.
CREATE TABLE result_month_counts (
    mission_id TEXT    NOT NULL,
    month      TEXT    NOT NULL,
    bucket     TEXT    NOT NULL,
    tests      INTEGER NOT NULL,
    CONSTRAINT pk_result_month_counts PRIMARY KEY (mission_id, month, bucket),
    CONSTRAINT fk_result_month_counts_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT ck_result_month_counts_tests CHECK (tests > 0)
);

-- The refreshes read a mission's tests by these columns only: covering,
-- so they never touch the wide rows (commands, output).
CREATE INDEX ix_mission_tests_results ON mission_tests (mission_id, deleted_at, state, outcome_level_id, started_at, executed_at, id);

-- result_org_counts: the technique rows summed over the live missions that
-- share a status and a start month (starts_on, else the day the mission was
-- created; 'YYYY-MM'): the organisation-wide view reads a few thousand rows
-- per month instead of every mission's. Recomputed from
-- result_technique_counts for the affected keys on every write, and for
-- both keys when a mission changes status or start, or is deleted.
CREATE TABLE result_org_counts (
    status            TEXT    NOT NULL,
    month             TEXT    NOT NULL,
    external_id       TEXT    NOT NULL,
    bucket            TEXT    NOT NULL,
    tests             INTEGER NOT NULL,
    first_executed_at TEXT    NULL,
    last_executed_at  TEXT    NULL,
    CONSTRAINT pk_result_org_counts PRIMARY KEY (status, month, external_id, bucket),
    CONSTRAINT ck_result_org_counts_status CHECK (status IN ('planned', 'active', 'completed', 'archived')),
    CONSTRAINT ck_result_org_counts_tests CHECK (tests > 0)
);
-- Covering, in GROUP BY order.
CREATE INDEX ix_result_org_counts_external_id_bucket ON result_org_counts (external_id, bucket, status, month, tests, first_executed_at, last_executed_at);

-- Existing missions: the aggregates from scratch (the same definition as
-- app/tally).
INSERT INTO result_technique_counts (mission_id, external_id, bucket, tests, first_executed_at, last_executed_at)
SELECT t.mission_id, g.external_id,
    CASE WHEN t.state = 'skipped' THEN 'skipped' WHEN t.state IN ('pending', 'in_progress') THEN 'planned'
         WHEN t.outcome_level_id IS NULL THEN 'unassessed' ELSE t.outcome_level_id END,
    COUNT(*),
    MIN(CASE WHEN t.state IN ('executed', 'assessed') THEN COALESCE(t.started_at, t.executed_at) END),
    MAX(CASE WHEN t.state IN ('executed', 'assessed') THEN COALESCE(t.started_at, t.executed_at) END)
FROM mission_test_mitre_tags g JOIN mission_tests t ON t.id = g.mission_test_id
WHERE t.deleted_at IS NULL AND g.kind IN ('technique', 'subtechnique')
GROUP BY 1, 2, 3;

INSERT INTO result_month_counts (mission_id, month, bucket, tests)
SELECT t.mission_id,
    COALESCE(substr(CASE WHEN t.state IN ('executed', 'assessed') THEN COALESCE(t.started_at, t.executed_at) END, 1, 7), ''),
    CASE WHEN t.state = 'skipped' THEN 'skipped' WHEN t.state IN ('pending', 'in_progress') THEN 'planned'
         WHEN t.outcome_level_id IS NULL THEN 'unassessed' ELSE t.outcome_level_id END,
    COUNT(*)
FROM mission_tests t
WHERE t.deleted_at IS NULL
GROUP BY 1, 2, 3;

INSERT INTO result_org_counts (status, month, external_id, bucket, tests, first_executed_at, last_executed_at)
SELECT m.status, COALESCE(substr(m.starts_on, 1, 7), substr(m.created_at, 1, 7)), a.external_id, a.bucket,
    SUM(a.tests), MIN(a.first_executed_at), MAX(a.last_executed_at)
FROM result_technique_counts a JOIN missions m ON m.id = a.mission_id
WHERE m.deleted_at IS NULL
GROUP BY 1, 2, 3, 4;
