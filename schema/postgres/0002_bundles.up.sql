-- Engagement bundles (docs/BUNDLES.md): the instance's identity, what each
-- mission object last looked like when exchanged with a peer instance, and
-- the merge conflicts waiting for a lead.
--
-- Mirrored by schema/sqlite/0002_bundles.up.sql (same tables, columns,
-- CHECK and index names).

-- The one row naming this instance: its id (carried in every bundle it
-- signs), display name, ed25519 public key (the private key lives in
-- <data-dir>/instance.key) and the sync clock, a counter bumped by every
-- export and every import that changes something. singleton keeps it one row.
CREATE TABLE bundle_instance (
    id         TEXT    NOT NULL,
    singleton  BOOLEAN NOT NULL DEFAULT TRUE,
    name       TEXT    NOT NULL,
    public_key TEXT    NOT NULL,
    sync_seq   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    CONSTRAINT pk_bundle_instance PRIMARY KEY (id),
    CONSTRAINT uq_bundle_instance_singleton UNIQUE (singleton),
    CONSTRAINT ck_bundle_instance_singleton CHECK (singleton = TRUE),
    CONSTRAINT ck_bundle_instance_name_not_empty CHECK (name <> ''),
    CONSTRAINT ck_bundle_instance_sync_seq CHECK (sync_seq >= 0)
);

-- Per mission object and peer instance: the field values last received from
-- that peer (base, a JSON object), the peer's sync clock when it exported
-- them (peer_seq) and ours when we imported them (local_seq). The three-way
-- merge of the next import from that peer compares against base. object_id
-- has no FK: objects of several tables are tracked; mission_id cascades.
CREATE TABLE bundle_sync_states (
    id               TEXT    NOT NULL,
    peer_instance_id TEXT    NOT NULL,
    mission_id       TEXT    NOT NULL,
    object_type      TEXT    NOT NULL,
    object_id        TEXT    NOT NULL,
    base             JSONB   NOT NULL,
    peer_seq         INTEGER NOT NULL,
    local_seq        INTEGER NOT NULL,
    updated_at       TEXT    NOT NULL,
    CONSTRAINT pk_bundle_sync_states PRIMARY KEY (id),
    CONSTRAINT uq_bundle_sync_states_peer_instance_id_object_type_object_id UNIQUE (peer_instance_id, object_type, object_id),
    CONSTRAINT fk_bundle_sync_states_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT ck_bundle_sync_states_object_type CHECK (object_type IN ('mission', 'mission_category', 'mission_scenario', 'mission_test', 'evidence_file')),
    CONSTRAINT ck_bundle_sync_states_base_json CHECK (jsonb_typeof(base) = 'object'),
    CONSTRAINT ck_bundle_sync_states_seqs CHECK (peer_seq >= 0 AND local_seq >= 0)
);
CREATE INDEX ix_bundle_sync_states_mission_id ON bundle_sync_states (mission_id);

-- A field changed differently on both sides since the last exchange: the
-- local value was kept, the incoming one waits here until a lead picks mine
-- or theirs. At most one open conflict per object field (a later import
-- updates its incoming value).
CREATE TABLE bundle_conflicts (
    id                 TEXT NOT NULL,
    mission_id         TEXT NOT NULL,
    object_type        TEXT NOT NULL,
    object_id          TEXT NOT NULL,
    object_name        TEXT NOT NULL DEFAULT '',
    field              TEXT NOT NULL,
    local_value        JSONB NOT NULL,
    incoming_value     JSONB NOT NULL,
    peer_instance_id   TEXT NOT NULL,
    peer_instance_name TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    resolved_at        TEXT NULL,
    resolved_by        TEXT NULL,
    resolution         TEXT NULL,
    CONSTRAINT pk_bundle_conflicts PRIMARY KEY (id),
    CONSTRAINT fk_bundle_conflicts_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT fk_bundle_conflicts_resolved_by_users FOREIGN KEY (resolved_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_bundle_conflicts_object_type CHECK (object_type IN ('mission', 'mission_category', 'mission_scenario', 'mission_test', 'evidence_file')),
    CONSTRAINT ck_bundle_conflicts_field_not_empty CHECK (field <> ''),
    CONSTRAINT ck_bundle_conflicts_local_value_json CHECK (jsonb_typeof(local_value) IS NOT NULL),
    CONSTRAINT ck_bundle_conflicts_incoming_value_json CHECK (jsonb_typeof(incoming_value) IS NOT NULL),
    CONSTRAINT ck_bundle_conflicts_resolution CHECK ((resolved_at IS NULL AND resolution IS NULL) OR (resolved_at IS NOT NULL AND resolution IN ('mine', 'theirs')))
);
CREATE UNIQUE INDEX ix_bundle_conflicts_open ON bundle_conflicts (object_type, object_id, field) WHERE resolved_at IS NULL;
CREATE INDEX ix_bundle_conflicts_mission_id ON bundle_conflicts (mission_id, created_at);
CREATE INDEX ix_bundle_conflicts_resolved_by ON bundle_conflicts (resolved_by);
