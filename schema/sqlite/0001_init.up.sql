-- Purplebook schema, version 1 (SQLite).
--
-- Mirrored by schema/postgres/0001_init.up.sql: same tables, columns,
-- nullability, keys, FK pairs, CHECK names, index names and partial-index
-- predicates. docs/SCHEMA.md describes every table.
--
-- Conventions (DESIGN section 2, STYLE section 3):
--   * ids are TEXT UUIDv7 strings generated in Go (pure join tables use a
--     composite primary key, permissions and settings are keyed by their key);
--   * timestamps are TEXT in the fixed UTC layout 2006-01-02T15:04:05.000Z,
--     always set in Go (no CURRENT_TIMESTAMP defaults);
--   * JSON is TEXT guarded by typeof = 'text' and json_valid (JSONB on
--     Postgres), CHECK names identical in both trees. Bind JSON as a Go
--     string: a []byte is stored as a BLOB and rejected;
--   * case-insensitive search uses Go-computed *_fold columns;
--   * every constraint and index is named pk_/fk_/ck_/uq_/ix_.
-- golang-migrate wraps this file in a transaction: no BEGIN/COMMIT here.

-- ---------------------------------------------------------------------------
-- Auth and RBAC
-- ---------------------------------------------------------------------------

CREATE TABLE users (
    id                   TEXT    NOT NULL,
    email                TEXT    NOT NULL,
    email_fold           TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    name_fold            TEXT    NOT NULL,
    password_hash        TEXT    NOT NULL,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    mfa_enabled          BOOLEAN NOT NULL DEFAULT FALSE,
    totp_secret          TEXT    NULL,
    mfa_enrolled_at      TEXT    NULL,
    recovery_codes       TEXT    NOT NULL DEFAULT '[]',
    failed_login_count   INTEGER NOT NULL DEFAULT 0,
    locked_until         TEXT    NULL,
    last_login_at        TEXT    NULL,
    password_changed_at  TEXT    NULL,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL,
    deleted_at           TEXT    NULL,
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT ck_users_email_not_empty CHECK (email_fold <> ''),
    CONSTRAINT ck_users_recovery_codes_json CHECK (typeof(recovery_codes) = 'text' AND json_valid(recovery_codes) AND json_type(recovery_codes) = 'array'),
    CONSTRAINT ck_users_failed_login_count CHECK (failed_login_count >= 0),
    CONSTRAINT ck_users_mfa_requires_secret CHECK (mfa_enabled = FALSE OR totp_secret IS NOT NULL)
);
-- One live account per folded e-mail address; a soft-deleted account does not
-- block re-inviting the same address.
CREATE UNIQUE INDEX ix_users_active ON users (email_fold) WHERE deleted_at IS NULL;
CREATE INDEX ix_users_name_fold ON users (name_fold);

CREATE TABLE groups (
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    name_fold   TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    is_system   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    deleted_at  TEXT    NULL,
    CONSTRAINT pk_groups PRIMARY KEY (id),
    CONSTRAINT ck_groups_name_not_empty CHECK (name_fold <> '')
);
-- One live group per folded name.
CREATE UNIQUE INDEX ix_groups_active ON groups (name_fold) WHERE deleted_at IS NULL;

-- Keyed by the permission string itself (e.g. 'mission.read'): the key is what
-- code, tokens and the API use, and it never changes meaning.
CREATE TABLE permissions (
    key         TEXT NOT NULL,
    description TEXT NOT NULL,
    CONSTRAINT pk_permissions PRIMARY KEY (key),
    CONSTRAINT ck_permissions_key_format CHECK (key LIKE '_%._%')
);

CREATE TABLE user_groups (
    user_id  TEXT NOT NULL,
    group_id TEXT NOT NULL,
    CONSTRAINT pk_user_groups PRIMARY KEY (user_id, group_id),
    CONSTRAINT fk_user_groups_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_groups_group_id_groups FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE
);
CREATE INDEX ix_user_groups_group_id ON user_groups (group_id);

CREATE TABLE group_permissions (
    group_id       TEXT NOT NULL,
    permission_key TEXT NOT NULL,
    CONSTRAINT pk_group_permissions PRIMARY KEY (group_id, permission_key),
    CONSTRAINT fk_group_permissions_group_id_groups FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE,
    CONSTRAINT fk_group_permissions_permission_key_permissions FOREIGN KEY (permission_key) REFERENCES permissions (key) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX ix_group_permissions_permission_key ON group_permissions (permission_key);

CREATE TABLE invitations (
    id               TEXT NOT NULL,
    email            TEXT NOT NULL,
    email_fold       TEXT NOT NULL,
    token_hash       TEXT NOT NULL,
    created_by       TEXT NULL,
    expires_at       TEXT NOT NULL,
    accepted_at      TEXT NULL,
    accepted_user_id TEXT NULL,
    revoked_at       TEXT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    CONSTRAINT pk_invitations PRIMARY KEY (id),
    CONSTRAINT uq_invitations_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_invitations_created_by_users FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_invitations_accepted_user_id_users FOREIGN KEY (accepted_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_invitations_email_not_empty CHECK (email_fold <> ''),
    CONSTRAINT ck_invitations_not_accepted_and_revoked CHECK (accepted_at IS NULL OR revoked_at IS NULL)
);
CREATE INDEX ix_invitations_email_fold ON invitations (email_fold);
CREATE INDEX ix_invitations_created_by ON invitations (created_by);
CREATE INDEX ix_invitations_accepted_user_id ON invitations (accepted_user_id);

CREATE TABLE invitation_groups (
    invitation_id TEXT NOT NULL,
    group_id      TEXT NOT NULL,
    CONSTRAINT pk_invitation_groups PRIMARY KEY (invitation_id, group_id),
    CONSTRAINT fk_invitation_groups_invitation_id_invitations FOREIGN KEY (invitation_id) REFERENCES invitations (id) ON DELETE CASCADE,
    CONSTRAINT fk_invitation_groups_group_id_groups FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE
);
CREATE INDEX ix_invitation_groups_group_id ON invitation_groups (group_id);

-- One row per issued refresh token. session_id is the id carried by access
-- tokens (logout revokes the session), family_id the rotation chain (reuse of
-- a rotated token revokes the whole family).
CREATE TABLE refresh_tokens (
    id             TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    session_id     TEXT NOT NULL,
    family_id      TEXT NOT NULL,
    token_hash     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    rotated_at     TEXT NULL,
    replaced_by    TEXT NULL,
    revoked_at     TEXT NULL,
    revoked_reason TEXT NOT NULL DEFAULT '',
    user_agent     TEXT NOT NULL DEFAULT '',
    ip             TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CONSTRAINT pk_refresh_tokens PRIMARY KEY (id),
    CONSTRAINT uq_refresh_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_refresh_tokens_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_refresh_tokens_replaced_by_refresh_tokens FOREIGN KEY (replaced_by) REFERENCES refresh_tokens (id) ON DELETE SET NULL
);
CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX ix_refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX ix_refresh_tokens_family_id ON refresh_tokens (family_id);
CREATE INDEX ix_refresh_tokens_replaced_by ON refresh_tokens (replaced_by);
CREATE INDEX ix_refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- Personal access tokens (pbk_...). permissions NULL = all of the owner's
-- effective permissions, otherwise a JSON array narrowing them.
CREATE TABLE api_tokens (
    id           TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    token_hash   TEXT NOT NULL,
    permissions  TEXT NULL,
    expires_at   TEXT NULL,
    last_used_at TEXT NULL,
    revoked_at   TEXT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CONSTRAINT pk_api_tokens PRIMARY KEY (id),
    CONSTRAINT uq_api_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_api_tokens_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_api_tokens_permissions_json CHECK (permissions IS NULL OR (typeof(permissions) = 'text' AND json_valid(permissions) AND json_type(permissions) = 'array'))
);
CREATE INDEX ix_api_tokens_user_id ON api_tokens (user_id);

-- ---------------------------------------------------------------------------
-- MITRE ATT&CK catalogue. Rows are upserted by stix_id and never deleted by a
-- sync: vanished objects get removed = TRUE, so template tags keep resolving.
-- ---------------------------------------------------------------------------

CREATE TABLE mitre_tactics (
    id                 TEXT    NOT NULL,
    stix_id            TEXT    NOT NULL,
    external_id        TEXT    NOT NULL,
    domain             TEXT    NOT NULL,
    shortname          TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    url                TEXT    NOT NULL DEFAULT '',
    matrix_position    INTEGER NOT NULL DEFAULT 0,
    revoked            BOOLEAN NOT NULL DEFAULT FALSE,
    deprecated         BOOLEAN NOT NULL DEFAULT FALSE,
    removed            BOOLEAN NOT NULL DEFAULT FALSE,
    revoked_by_stix_id TEXT    NULL,
    stix_modified      TEXT    NULL,
    search_fold        TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CONSTRAINT pk_mitre_tactics PRIMARY KEY (id),
    CONSTRAINT uq_mitre_tactics_stix_id UNIQUE (stix_id),
    CONSTRAINT uq_mitre_tactics_external_id UNIQUE (external_id),
    CONSTRAINT ck_mitre_tactics_stix_id_format CHECK (stix_id LIKE 'x-mitre-tactic--%'),
    CONSTRAINT ck_mitre_tactics_external_id_format CHECK (external_id LIKE 'TA%'),
    CONSTRAINT ck_mitre_tactics_matrix_position CHECK (matrix_position >= 0)
);
CREATE INDEX ix_mitre_tactics_domain_shortname ON mitre_tactics (domain, shortname);
CREATE INDEX ix_mitre_tactics_domain_matrix_position ON mitre_tactics (domain, matrix_position);

CREATE TABLE mitre_techniques (
    id                 TEXT    NOT NULL,
    stix_id            TEXT    NOT NULL,
    external_id        TEXT    NOT NULL,
    domain             TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    url                TEXT    NOT NULL DEFAULT '',
    platforms          TEXT    NOT NULL DEFAULT '[]',
    revoked            BOOLEAN NOT NULL DEFAULT FALSE,
    deprecated         BOOLEAN NOT NULL DEFAULT FALSE,
    removed            BOOLEAN NOT NULL DEFAULT FALSE,
    revoked_by_stix_id TEXT    NULL,
    stix_modified      TEXT    NULL,
    search_fold        TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CONSTRAINT pk_mitre_techniques PRIMARY KEY (id),
    CONSTRAINT uq_mitre_techniques_stix_id UNIQUE (stix_id),
    CONSTRAINT uq_mitre_techniques_external_id UNIQUE (external_id),
    CONSTRAINT ck_mitre_techniques_stix_id_format CHECK (stix_id LIKE 'attack-pattern--%'),
    CONSTRAINT ck_mitre_techniques_external_id_format CHECK (external_id LIKE 'T%' AND external_id NOT LIKE '%.%'),
    CONSTRAINT ck_mitre_techniques_platforms_json CHECK (typeof(platforms) = 'text' AND json_valid(platforms) AND json_type(platforms) = 'array')
);
CREATE INDEX ix_mitre_techniques_domain ON mitre_techniques (domain);

-- technique_id is the parent technique: from the subtechnique-of relationship,
-- else from the external id prefix (T1059.001 -> T1059); NULL only when
-- neither resolves (real data has revoked subtechniques without a parent link).
CREATE TABLE mitre_subtechniques (
    id                 TEXT    NOT NULL,
    stix_id            TEXT    NOT NULL,
    external_id        TEXT    NOT NULL,
    technique_id       TEXT    NULL,
    domain             TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    url                TEXT    NOT NULL DEFAULT '',
    platforms          TEXT    NOT NULL DEFAULT '[]',
    revoked            BOOLEAN NOT NULL DEFAULT FALSE,
    deprecated         BOOLEAN NOT NULL DEFAULT FALSE,
    removed            BOOLEAN NOT NULL DEFAULT FALSE,
    revoked_by_stix_id TEXT    NULL,
    stix_modified      TEXT    NULL,
    search_fold        TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CONSTRAINT pk_mitre_subtechniques PRIMARY KEY (id),
    CONSTRAINT uq_mitre_subtechniques_stix_id UNIQUE (stix_id),
    CONSTRAINT uq_mitre_subtechniques_external_id UNIQUE (external_id),
    CONSTRAINT fk_mitre_subtechniques_technique_id_mitre_techniques FOREIGN KEY (technique_id) REFERENCES mitre_techniques (id) ON DELETE RESTRICT,
    CONSTRAINT ck_mitre_subtechniques_stix_id_format CHECK (stix_id LIKE 'attack-pattern--%'),
    CONSTRAINT ck_mitre_subtechniques_external_id_format CHECK (external_id LIKE 'T%._%'),
    CONSTRAINT ck_mitre_subtechniques_platforms_json CHECK (typeof(platforms) = 'text' AND json_valid(platforms) AND json_type(platforms) = 'array')
);
CREATE INDEX ix_mitre_subtechniques_technique_id ON mitre_subtechniques (technique_id);

CREATE TABLE mitre_technique_tactics (
    technique_id TEXT NOT NULL,
    tactic_id    TEXT NOT NULL,
    CONSTRAINT pk_mitre_technique_tactics PRIMARY KEY (technique_id, tactic_id),
    CONSTRAINT fk_mitre_technique_tactics_technique_id_mitre_techniques FOREIGN KEY (technique_id) REFERENCES mitre_techniques (id) ON DELETE CASCADE,
    CONSTRAINT fk_mitre_technique_tactics_tactic_id_mitre_tactics FOREIGN KEY (tactic_id) REFERENCES mitre_tactics (id) ON DELETE CASCADE
);
CREATE INDEX ix_mitre_technique_tactics_tactic_id ON mitre_technique_tactics (tactic_id);

-- ---------------------------------------------------------------------------
-- Template library
-- ---------------------------------------------------------------------------

-- input_arguments is an ordered array of {name, description, type, default};
-- prerequisites an array of {description, prereq_command, get_prereq_command}.
-- platforms_fold and tags_fold hold the folded values wrapped in '|'
-- ('|windows|linux|') so filters use LIKE '%|x|%' instead of JSON functions.
CREATE TABLE test_templates (
    id                     TEXT    NOT NULL,
    name                   TEXT    NOT NULL,
    name_fold              TEXT    NOT NULL,
    search_fold            TEXT    NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    objective              TEXT    NOT NULL DEFAULT '',
    executor               TEXT    NOT NULL DEFAULT '',
    command                TEXT    NOT NULL DEFAULT '',
    cleanup_command        TEXT    NOT NULL DEFAULT '',
    prerequisites_executor TEXT    NOT NULL DEFAULT '',
    prerequisites          TEXT    NOT NULL DEFAULT '[]',
    input_arguments        TEXT    NOT NULL DEFAULT '[]',
    elevation_required     BOOLEAN NOT NULL DEFAULT FALSE,
    platforms              TEXT    NOT NULL DEFAULT '[]',
    platforms_fold         TEXT    NOT NULL DEFAULT '',
    expected_detection     TEXT    NOT NULL DEFAULT '',
    opsec_level            TEXT    NOT NULL DEFAULT 'medium',
    tags                   TEXT    NOT NULL DEFAULT '[]',
    tags_fold              TEXT    NOT NULL DEFAULT '',
    source                 TEXT    NOT NULL DEFAULT 'manual',
    source_ref             TEXT    NULL,
    created_by             TEXT    NULL,
    version                INTEGER NOT NULL DEFAULT 1,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL,
    deleted_at             TEXT    NULL,
    CONSTRAINT pk_test_templates PRIMARY KEY (id),
    CONSTRAINT uq_test_templates_source_ref UNIQUE (source_ref),
    CONSTRAINT fk_test_templates_created_by_users FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_test_templates_opsec_level CHECK (opsec_level IN ('low', 'medium', 'high')),
    CONSTRAINT ck_test_templates_source CHECK (source IN ('manual', 'atomic', 'import')),
    CONSTRAINT ck_test_templates_version CHECK (version >= 1),
    CONSTRAINT ck_test_templates_prerequisites_json CHECK (typeof(prerequisites) = 'text' AND json_valid(prerequisites) AND json_type(prerequisites) = 'array'),
    CONSTRAINT ck_test_templates_input_arguments_json CHECK (typeof(input_arguments) = 'text' AND json_valid(input_arguments) AND json_type(input_arguments) = 'array'),
    CONSTRAINT ck_test_templates_platforms_json CHECK (typeof(platforms) = 'text' AND json_valid(platforms) AND json_type(platforms) = 'array'),
    CONSTRAINT ck_test_templates_tags_json CHECK (typeof(tags) = 'text' AND json_valid(tags) AND json_type(tags) = 'array')
);
CREATE INDEX ix_test_templates_active ON test_templates (name_fold) WHERE deleted_at IS NULL;
CREATE INDEX ix_test_templates_created_by ON test_templates (created_by);

-- Polymorphic tag: exactly one of the three FKs is set, matching kind.
-- RESTRICT towards the catalogue: a sync never deletes catalogue rows, and
-- reset deletes templates before the catalogue.
CREATE TABLE test_template_mitre_tags (
    id               TEXT NOT NULL,
    test_template_id TEXT NOT NULL,
    kind             TEXT NOT NULL,
    tactic_id        TEXT NULL,
    technique_id     TEXT NULL,
    subtechnique_id  TEXT NULL,
    created_at       TEXT NOT NULL,
    CONSTRAINT pk_test_template_mitre_tags PRIMARY KEY (id),
    CONSTRAINT uq_test_template_mitre_tags_test_template_id_tactic_id UNIQUE (test_template_id, tactic_id),
    CONSTRAINT uq_test_template_mitre_tags_test_template_id_technique_id UNIQUE (test_template_id, technique_id),
    CONSTRAINT uq_test_template_mitre_tags_test_template_id_subtechnique_id UNIQUE (test_template_id, subtechnique_id),
    CONSTRAINT fk_test_template_mitre_tags_test_template_id_test_templates FOREIGN KEY (test_template_id) REFERENCES test_templates (id) ON DELETE CASCADE,
    CONSTRAINT fk_test_template_mitre_tags_tactic_id_mitre_tactics FOREIGN KEY (tactic_id) REFERENCES mitre_tactics (id) ON DELETE RESTRICT,
    CONSTRAINT fk_test_template_mitre_tags_technique_id_mitre_techniques FOREIGN KEY (technique_id) REFERENCES mitre_techniques (id) ON DELETE RESTRICT,
    CONSTRAINT fk_test_template_mitre_tags_subtechnique_id_mitre_subtechniques FOREIGN KEY (subtechnique_id) REFERENCES mitre_subtechniques (id) ON DELETE RESTRICT,
    CONSTRAINT ck_test_template_mitre_tags_mitre_kind CHECK (kind IN ('tactic', 'technique', 'subtechnique')),
    CONSTRAINT ck_test_template_mitre_tags_exactly_one_mitre_fk CHECK (
        (kind = 'tactic' AND tactic_id IS NOT NULL AND technique_id IS NULL AND subtechnique_id IS NULL)
        OR (kind = 'technique' AND tactic_id IS NULL AND technique_id IS NOT NULL AND subtechnique_id IS NULL)
        OR (kind = 'subtechnique' AND tactic_id IS NULL AND technique_id IS NULL AND subtechnique_id IS NOT NULL)
    )
);
CREATE INDEX ix_test_template_mitre_tags_tactic_id ON test_template_mitre_tags (tactic_id);
CREATE INDEX ix_test_template_mitre_tags_technique_id ON test_template_mitre_tags (technique_id);
CREATE INDEX ix_test_template_mitre_tags_subtechnique_id ON test_template_mitre_tags (subtechnique_id);

CREATE TABLE scenario_templates (
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    name_fold   TEXT    NOT NULL,
    search_fold TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_by  TEXT    NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    deleted_at  TEXT    NULL,
    CONSTRAINT pk_scenario_templates PRIMARY KEY (id),
    CONSTRAINT fk_scenario_templates_created_by_users FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_scenario_templates_version CHECK (version >= 1)
);
CREATE INDEX ix_scenario_templates_active ON scenario_templates (name_fold) WHERE deleted_at IS NULL;
CREATE INDEX ix_scenario_templates_created_by ON scenario_templates (created_by);

-- Ordered entries; the same test template may appear at several positions.
-- Replace the order by deleting and re-inserting the scenario's rows in one
-- transaction (Postgres checks UNIQUE per row, so in-place shifting fails).
-- test_template_id is RESTRICT: templates are soft-deleted, and a hard purge
-- must decide explicitly what happens to scenarios using them.
CREATE TABLE scenario_template_tests (
    id               TEXT    NOT NULL,
    scenario_id      TEXT    NOT NULL,
    test_template_id TEXT    NOT NULL,
    position         INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    CONSTRAINT pk_scenario_template_tests PRIMARY KEY (id),
    CONSTRAINT uq_scenario_template_tests_scenario_id_position UNIQUE (scenario_id, position),
    CONSTRAINT fk_scenario_template_tests_scenario_id_scenario_templates FOREIGN KEY (scenario_id) REFERENCES scenario_templates (id) ON DELETE CASCADE,
    CONSTRAINT fk_scenario_template_tests_test_template_id_test_templates FOREIGN KEY (test_template_id) REFERENCES test_templates (id) ON DELETE RESTRICT,
    CONSTRAINT ck_scenario_template_tests_position CHECK (position >= 0)
);
CREATE INDEX ix_scenario_template_tests_test_template_id ON scenario_template_tests (test_template_id);

-- ---------------------------------------------------------------------------
-- Outcome vocabulary (rank 1 = best). Referenced by missions, so created first.
-- ---------------------------------------------------------------------------

CREATE TABLE detection_levels (
    id                 TEXT    NOT NULL,
    key                TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    rank               INTEGER NOT NULL,
    color              TEXT    NOT NULL,
    counts_as_detected BOOLEAN NOT NULL DEFAULT FALSE,
    is_system          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CONSTRAINT pk_detection_levels PRIMARY KEY (id),
    CONSTRAINT uq_detection_levels_key UNIQUE (key),
    CONSTRAINT uq_detection_levels_rank UNIQUE (rank),
    CONSTRAINT ck_detection_levels_key_not_empty CHECK (key <> ''),
    CONSTRAINT ck_detection_levels_color CHECK (length(color) = 7 AND color LIKE '#%')
);

-- ---------------------------------------------------------------------------
-- Missions
-- ---------------------------------------------------------------------------

-- starts_on / ends_on are calendar dates 'YYYY-MM-DD'.
CREATE TABLE missions (
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    name_fold   TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'planned',
    starts_on   TEXT    NULL,
    ends_on     TEXT    NULL,
    created_by  TEXT    NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    deleted_at  TEXT    NULL,
    CONSTRAINT pk_missions PRIMARY KEY (id),
    CONSTRAINT fk_missions_created_by_users FOREIGN KEY (created_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_missions_status CHECK (status IN ('planned', 'active', 'completed', 'archived')),
    CONSTRAINT ck_missions_dates CHECK (starts_on IS NULL OR ends_on IS NULL OR ends_on >= starts_on),
    CONSTRAINT ck_missions_version CHECK (version >= 1)
);
CREATE INDEX ix_missions_active ON missions (status, name_fold) WHERE deleted_at IS NULL;
CREATE INDEX ix_missions_created_by ON missions (created_by);

CREATE TABLE mission_members (
    id         TEXT NOT NULL,
    mission_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT pk_mission_members PRIMARY KEY (id),
    CONSTRAINT uq_mission_members_mission_id_user_id UNIQUE (mission_id, user_id),
    CONSTRAINT fk_mission_members_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT fk_mission_members_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_mission_members_role CHECK (role IN ('lead', 'red', 'blue', 'viewer'))
);
CREATE INDEX ix_mission_members_user_id ON mission_members (user_id);

CREATE TABLE mission_categories (
    id         TEXT    NOT NULL,
    mission_id TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    name_fold  TEXT    NOT NULL,
    color      TEXT    NOT NULL DEFAULT '',
    position   INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    deleted_at TEXT    NULL,
    CONSTRAINT pk_mission_categories PRIMARY KEY (id),
    CONSTRAINT fk_mission_categories_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT ck_mission_categories_name_not_empty CHECK (name_fold <> '')
);
-- One live category per folded name within a mission.
CREATE UNIQUE INDEX ix_mission_categories_active ON mission_categories (mission_id, name_fold) WHERE deleted_at IS NULL;
CREATE INDEX ix_mission_categories_mission_id ON mission_categories (mission_id);

CREATE TABLE mission_scenarios (
    id                   TEXT    NOT NULL,
    mission_id           TEXT    NOT NULL,
    scenario_template_id TEXT    NULL,
    name                 TEXT    NOT NULL,
    description          TEXT    NOT NULL DEFAULT '',
    position             INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL,
    deleted_at           TEXT    NULL,
    CONSTRAINT pk_mission_scenarios PRIMARY KEY (id),
    CONSTRAINT fk_mission_scenarios_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT fk_mission_scenarios_scenario_template_id_scenario_templates FOREIGN KEY (scenario_template_id) REFERENCES scenario_templates (id) ON DELETE SET NULL
);
CREATE INDEX ix_mission_scenarios_active ON mission_scenarios (mission_id, position) WHERE deleted_at IS NULL;
CREATE INDEX ix_mission_scenarios_mission_id ON mission_scenarios (mission_id);
CREATE INDEX ix_mission_scenarios_scenario_template_id ON mission_scenarios (scenario_template_id);

-- A mission test is a self-contained copy of its template (history survives
-- template edits and deletion). position is unique per mission across all
-- rows, soft-deleted ones included; it may go negative transiently so a
-- reorder can run in two UPDATE passes on Postgres (no CHECK on its sign).
-- command_template is the planned command copied from the template,
-- command_run the command as actually run by the operator.
-- outcome_level_id is the derived outcome (best-ranked level among the
-- test's mission_test_outcomes), cached for boards and reports.
CREATE TABLE mission_tests (
    id                     TEXT    NOT NULL,
    mission_id             TEXT    NOT NULL,
    mission_scenario_id    TEXT    NULL,
    test_template_id       TEXT    NULL,
    category_id            TEXT    NULL,
    position               INTEGER NOT NULL,
    name                   TEXT    NOT NULL,
    name_fold              TEXT    NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    objective              TEXT    NOT NULL DEFAULT '',
    executor               TEXT    NOT NULL DEFAULT '',
    command_template       TEXT    NOT NULL DEFAULT '',
    cleanup_command        TEXT    NOT NULL DEFAULT '',
    prerequisites_executor TEXT    NOT NULL DEFAULT '',
    prerequisites          TEXT    NOT NULL DEFAULT '[]',
    input_arguments        TEXT    NOT NULL DEFAULT '[]',
    elevation_required     BOOLEAN NOT NULL DEFAULT FALSE,
    platforms              TEXT    NOT NULL DEFAULT '[]',
    expected_detection     TEXT    NOT NULL DEFAULT '',
    opsec_level            TEXT    NOT NULL DEFAULT 'medium',
    state                  TEXT    NOT NULL DEFAULT 'pending',
    skip_reason            TEXT    NOT NULL DEFAULT '',
    assigned_red_user_id   TEXT    NULL,
    assigned_blue_user_id  TEXT    NULL,
    operator               TEXT    NOT NULL DEFAULT '',
    started_at             TEXT    NULL,
    finished_at            TEXT    NULL,
    source_host            TEXT    NOT NULL DEFAULT '',
    source_ip              TEXT    NOT NULL DEFAULT '',
    target_host            TEXT    NOT NULL DEFAULT '',
    target_ip              TEXT    NOT NULL DEFAULT '',
    tool                   TEXT    NOT NULL DEFAULT '',
    user_context           TEXT    NOT NULL DEFAULT '',
    command_run            TEXT    NOT NULL DEFAULT '',
    output                 TEXT    NOT NULL DEFAULT '',
    execution_result       TEXT    NULL,
    red_notes              TEXT    NOT NULL DEFAULT '',
    executed_at            TEXT    NULL,
    blue_notes             TEXT    NOT NULL DEFAULT '',
    outcome_level_id       TEXT    NULL,
    detected_at            TEXT    NULL,
    assessed_at            TEXT    NULL,
    version                INTEGER NOT NULL DEFAULT 1,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL,
    deleted_at             TEXT    NULL,
    CONSTRAINT pk_mission_tests PRIMARY KEY (id),
    CONSTRAINT uq_mission_tests_mission_id_position UNIQUE (mission_id, position),
    CONSTRAINT fk_mission_tests_mission_id_missions FOREIGN KEY (mission_id) REFERENCES missions (id) ON DELETE CASCADE,
    CONSTRAINT fk_mission_tests_mission_scenario_id_mission_scenarios FOREIGN KEY (mission_scenario_id) REFERENCES mission_scenarios (id) ON DELETE SET NULL,
    CONSTRAINT fk_mission_tests_test_template_id_test_templates FOREIGN KEY (test_template_id) REFERENCES test_templates (id) ON DELETE SET NULL,
    CONSTRAINT fk_mission_tests_category_id_mission_categories FOREIGN KEY (category_id) REFERENCES mission_categories (id) ON DELETE SET NULL,
    CONSTRAINT fk_mission_tests_assigned_red_user_id_users FOREIGN KEY (assigned_red_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_mission_tests_assigned_blue_user_id_users FOREIGN KEY (assigned_blue_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT fk_mission_tests_outcome_level_id_detection_levels FOREIGN KEY (outcome_level_id) REFERENCES detection_levels (id) ON DELETE SET NULL,
    CONSTRAINT ck_mission_tests_state CHECK (state IN ('pending', 'in_progress', 'executed', 'assessed', 'skipped')),
    CONSTRAINT ck_mission_tests_skip_reason CHECK (state <> 'skipped' OR skip_reason <> ''),
    CONSTRAINT ck_mission_tests_execution_result CHECK (execution_result IS NULL OR execution_result IN ('succeeded', 'failed', 'blocked')),
    CONSTRAINT ck_mission_tests_opsec_level CHECK (opsec_level IN ('low', 'medium', 'high')),
    CONSTRAINT ck_mission_tests_finished_after_started CHECK (started_at IS NULL OR finished_at IS NULL OR finished_at >= started_at),
    CONSTRAINT ck_mission_tests_version CHECK (version >= 1),
    CONSTRAINT ck_mission_tests_prerequisites_json CHECK (typeof(prerequisites) = 'text' AND json_valid(prerequisites) AND json_type(prerequisites) = 'array'),
    CONSTRAINT ck_mission_tests_input_arguments_json CHECK (typeof(input_arguments) = 'text' AND json_valid(input_arguments) AND json_type(input_arguments) = 'array'),
    CONSTRAINT ck_mission_tests_platforms_json CHECK (typeof(platforms) = 'text' AND json_valid(platforms) AND json_type(platforms) = 'array')
);
CREATE INDEX ix_mission_tests_active ON mission_tests (mission_id, state) WHERE deleted_at IS NULL;
CREATE INDEX ix_mission_tests_mission_scenario_id ON mission_tests (mission_scenario_id);
CREATE INDEX ix_mission_tests_test_template_id ON mission_tests (test_template_id);
CREATE INDEX ix_mission_tests_category_id ON mission_tests (category_id);
CREATE INDEX ix_mission_tests_assigned_red_user_id ON mission_tests (assigned_red_user_id);
CREATE INDEX ix_mission_tests_assigned_blue_user_id ON mission_tests (assigned_blue_user_id);
CREATE INDEX ix_mission_tests_outcome_level_id ON mission_tests (outcome_level_id);

-- Deliberately denormalised copy of the ATT&CK tags: no FK to mitre_*, so a
-- catalogue re-sync can never rewrite or purge mission history.
CREATE TABLE mission_test_mitre_tags (
    id              TEXT NOT NULL,
    mission_test_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    name            TEXT NOT NULL,
    url             TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    CONSTRAINT pk_mission_test_mitre_tags PRIMARY KEY (id),
    CONSTRAINT uq_mission_test_mitre_tags_mission_test_id_external_id UNIQUE (mission_test_id, external_id),
    CONSTRAINT fk_mission_test_mitre_tags_mission_test_id_mission_tests FOREIGN KEY (mission_test_id) REFERENCES mission_tests (id) ON DELETE CASCADE,
    CONSTRAINT ck_mission_test_mitre_tags_mitre_kind CHECK (kind IN ('tactic', 'technique', 'subtechnique'))
);
CREATE INDEX ix_mission_test_mitre_tags_external_id ON mission_test_mitre_tags (external_id);

-- One row per mission test and security control (control = a name from the
-- security_controls setting). detection_level_id is RESTRICT: a level in use
-- cannot be deleted (rename it instead), so recorded outcomes never vanish.
CREATE TABLE mission_test_outcomes (
    id                 TEXT    NOT NULL,
    mission_test_id    TEXT    NOT NULL,
    control            TEXT    NOT NULL,
    expected           BOOLEAN NOT NULL DEFAULT FALSE,
    detection_level_id TEXT    NOT NULL,
    logged_at          TEXT    NULL,
    alerted_at         TEXT    NULL,
    prevented_at       TEXT    NULL,
    alert_name         TEXT    NOT NULL DEFAULT '',
    notes              TEXT    NOT NULL DEFAULT '',
    assessed_by        TEXT    NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CONSTRAINT pk_mission_test_outcomes PRIMARY KEY (id),
    CONSTRAINT uq_mission_test_outcomes_mission_test_id_control UNIQUE (mission_test_id, control),
    CONSTRAINT fk_mission_test_outcomes_mission_test_id_mission_tests FOREIGN KEY (mission_test_id) REFERENCES mission_tests (id) ON DELETE CASCADE,
    CONSTRAINT fk_mission_test_outcomes_detection_level_id_detection_levels FOREIGN KEY (detection_level_id) REFERENCES detection_levels (id) ON DELETE RESTRICT,
    CONSTRAINT fk_mission_test_outcomes_assessed_by_users FOREIGN KEY (assessed_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_mission_test_outcomes_control_not_empty CHECK (control <> '')
);
CREATE INDEX ix_mission_test_outcomes_detection_level_id ON mission_test_outcomes (detection_level_id);
CREATE INDEX ix_mission_test_outcomes_assessed_by ON mission_test_outcomes (assessed_by);

-- ---------------------------------------------------------------------------
-- Evidence, settings, notifications, audit
-- ---------------------------------------------------------------------------

-- Files live on disk, content-addressed by sha256 (lowercase hex); rows are
-- metadata. Several rows may share one sha256 (dedup).
CREATE TABLE evidence_files (
    id                TEXT    NOT NULL,
    mission_test_id   TEXT    NOT NULL,
    side              TEXT    NOT NULL,
    original_filename TEXT    NOT NULL,
    content_type      TEXT    NOT NULL,
    size              INTEGER NOT NULL,
    sha256            TEXT    NOT NULL,
    caption           TEXT    NOT NULL DEFAULT '',
    uploaded_by       TEXT    NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    deleted_at        TEXT    NULL,
    CONSTRAINT pk_evidence_files PRIMARY KEY (id),
    CONSTRAINT fk_evidence_files_mission_test_id_mission_tests FOREIGN KEY (mission_test_id) REFERENCES mission_tests (id) ON DELETE CASCADE,
    CONSTRAINT fk_evidence_files_uploaded_by_users FOREIGN KEY (uploaded_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_evidence_files_side CHECK (side IN ('red', 'blue')),
    CONSTRAINT ck_evidence_files_size CHECK (size >= 0),
    CONSTRAINT ck_evidence_files_sha256 CHECK (length(sha256) = 64)
);
CREATE INDEX ix_evidence_files_active ON evidence_files (mission_test_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX ix_evidence_files_mission_test_id ON evidence_files (mission_test_id);
CREATE INDEX ix_evidence_files_sha256 ON evidence_files (sha256);
CREATE INDEX ix_evidence_files_uploaded_by ON evidence_files (uploaded_by);

-- Key/value instance settings; value is any JSON value.
CREATE TABLE settings (
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_by TEXT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT pk_settings PRIMARY KEY (key),
    CONSTRAINT fk_settings_updated_by_users FOREIGN KEY (updated_by) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_settings_value_json CHECK (typeof(value) = 'text' AND json_valid(value))
);
CREATE INDEX ix_settings_updated_by ON settings (updated_by);

CREATE TABLE notifications (
    id         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT '{}',
    read_at    TEXT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT pk_notifications PRIMARY KEY (id),
    CONSTRAINT fk_notifications_user_id_users FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT ck_notifications_kind_not_empty CHECK (kind <> ''),
    CONSTRAINT ck_notifications_payload_json CHECK (typeof(payload) = 'text' AND json_valid(payload) AND json_type(payload) = 'object')
);
CREATE INDEX ix_notifications_unread ON notifications (user_id, created_at) WHERE read_at IS NULL;
CREATE INDEX ix_notifications_user_id_created_at ON notifications (user_id, created_at);

-- Append-only. object_id has no FK on purpose (the object may be gone);
-- actor_label keeps who it was ('alice@example.org', 'cli', 'system').
CREATE TABLE audit_events (
    id            TEXT NOT NULL,
    at            TEXT NOT NULL,
    actor_user_id TEXT NULL,
    actor_label   TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    object_type   TEXT NOT NULL DEFAULT '',
    object_id     TEXT NOT NULL DEFAULT '',
    details       TEXT NOT NULL DEFAULT '{}',
    ip            TEXT NOT NULL DEFAULT '',
    request_id    TEXT NOT NULL DEFAULT '',
    CONSTRAINT pk_audit_events PRIMARY KEY (id),
    CONSTRAINT fk_audit_events_actor_user_id_users FOREIGN KEY (actor_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT ck_audit_events_action_not_empty CHECK (action <> ''),
    CONSTRAINT ck_audit_events_details_json CHECK (typeof(details) = 'text' AND json_valid(details) AND json_type(details) = 'object')
);
CREATE INDEX ix_audit_events_at ON audit_events (at);
CREATE INDEX ix_audit_events_actor_user_id_at ON audit_events (actor_user_id, at);
CREATE INDEX ix_audit_events_action_at ON audit_events (action, at);
CREATE INDEX ix_audit_events_object_type_object_id ON audit_events (object_type, object_id);

-- ---------------------------------------------------------------------------
-- Seeds: fixed ids and a fixed timestamp so both trees and every instance
-- agree. docs/SCHEMA.md lists them.
-- ---------------------------------------------------------------------------

-- Reset (POST /api/v1/diag/reset) replays every seed block, so each
-- statement here is idempotent.
-- seed:begin
INSERT INTO permissions (key, description) VALUES
    ('mitre.sync',                 'Import or update the MITRE ATT&CK catalogue'),
    ('test_template.read',         'View test templates'),
    ('test_template.create',       'Create test templates and import Atomic Red Team tests'),
    ('test_template.update',       'Edit and restore test templates'),
    ('test_template.delete',       'Delete test templates'),
    ('scenario_template.read',     'View scenario templates'),
    ('scenario_template.create',   'Create scenario templates'),
    ('scenario_template.update',   'Edit, reorder and restore scenario templates'),
    ('scenario_template.delete',   'Delete scenario templates'),
    ('mission.read',               'View missions the user is a member of'),
    ('mission.read_all',           'View all missions, member or not'),
    ('mission.create',             'Create missions'),
    ('mission.update',             'Edit missions, their scenarios, tests and categories'),
    ('mission.delete',             'Delete missions'),
    ('mission.manage_members',     'Add, change and remove mission members'),
    ('mission_test.execute',       'Record red-team execution of mission tests'),
    ('mission_test.assess',        'Record blue-team outcomes of mission tests'),
    ('evidence.read',              'View and download evidence'),
    ('evidence.upload',            'Upload evidence'),
    ('evidence.delete',            'Delete evidence'),
    ('bundle.export',              'Export missions as offline bundles'),
    ('bundle.import',              'Import offline bundles'),
    ('user.manage',                'Create, edit, disable and delete users'),
    ('group.manage',               'Manage groups, their members and permissions'),
    ('invitation.manage',          'Create, list and revoke invitations'),
    ('settings.manage',            'Change instance settings and detection levels'),
    ('audit.read',                 'Read the audit log'),
    ('diag.reset',                 'Reset the instance (only when started with --enable-reset)')
    ON CONFLICT DO NOTHING;
INSERT INTO groups (id, name, name_fold, description, is_system, created_at, updated_at) VALUES
    ('00000000-0000-7000-8000-000000000001', 'Admins',    'admins',    'Every permission',                                                TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000002', 'Red team',  'red team',  'Read the library and missions, execute tests, upload evidence', TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000003', 'Blue team', 'blue team', 'Read the library and missions, assess tests, upload evidence',  TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000004', 'Viewers',   'viewers',   'Read-only access to the library and their missions',            TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')
    ON CONFLICT DO NOTHING;
-- Admins: every permission.
INSERT INTO group_permissions (group_id, permission_key)
    SELECT '00000000-0000-7000-8000-000000000001', key FROM permissions WHERE TRUE
    ON CONFLICT DO NOTHING;

INSERT INTO group_permissions (group_id, permission_key) VALUES
    -- Red team
    ('00000000-0000-7000-8000-000000000002', 'test_template.read'),
    ('00000000-0000-7000-8000-000000000002', 'scenario_template.read'),
    ('00000000-0000-7000-8000-000000000002', 'mission.read'),
    ('00000000-0000-7000-8000-000000000002', 'mission_test.execute'),
    ('00000000-0000-7000-8000-000000000002', 'evidence.read'),
    ('00000000-0000-7000-8000-000000000002', 'evidence.upload'),
    -- Blue team
    ('00000000-0000-7000-8000-000000000003', 'test_template.read'),
    ('00000000-0000-7000-8000-000000000003', 'scenario_template.read'),
    ('00000000-0000-7000-8000-000000000003', 'mission.read'),
    ('00000000-0000-7000-8000-000000000003', 'mission_test.assess'),
    ('00000000-0000-7000-8000-000000000003', 'evidence.read'),
    ('00000000-0000-7000-8000-000000000003', 'evidence.upload'),
    -- Viewers
    ('00000000-0000-7000-8000-000000000004', 'test_template.read'),
    ('00000000-0000-7000-8000-000000000004', 'scenario_template.read'),
    ('00000000-0000-7000-8000-000000000004', 'mission.read'),
    ('00000000-0000-7000-8000-000000000004', 'evidence.read')
    ON CONFLICT DO NOTHING;
INSERT INTO detection_levels (id, key, name, description, rank, color, counts_as_detected, is_system, created_at, updated_at) VALUES
    ('00000000-0000-7000-8000-000000000101', 'blocked',        'Blocked',          'The control prevented the activity',                    1, '#1B7F3B', TRUE,  TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000102', 'alerted',        'Alerted',          'The control raised an alert',                           2, '#4CAF50', TRUE,  TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000103', 'logged',         'Logged',           'The activity was logged but raised no alert',           3, '#F2B705', TRUE,  TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000104', 'none',           'None',             'The control saw nothing',                               4, '#D32F2F', FALSE, TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000105', 'not_applicable', 'Not applicable',   'The control does not apply to this test',               5, '#9E9E9E', FALSE, TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
    ('00000000-0000-7000-8000-000000000106', 'tbd',            'To be determined', 'Not assessed yet',                                      6, '#607D8B', FALSE, TRUE, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')
    ON CONFLICT DO NOTHING;
-- Settings have no seed: a missing row means the default, defined once in
-- app/settings.
-- seed:end
