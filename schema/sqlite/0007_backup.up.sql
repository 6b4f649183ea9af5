-- Instance backup and restore (docs/BUNDLES.md, "The instance kind"): a
-- permission of its own, because a backup holds everything — password
-- hashes, MFA secrets, every engagement, the instance's signing key — and
-- whoever may change settings need not be able to carry that away.
-- The schedule is a setting (backup_schedule, defaults in app/settings).

-- seed:begin
INSERT INTO permissions (key, description) VALUES
    ('backup.manage', 'Take, download and delete instance backups; set the backup schedule')
    ON CONFLICT DO NOTHING;
INSERT INTO group_permissions (group_id, permission_key)
    SELECT '00000000-0000-7000-8000-000000000001', key FROM permissions WHERE key = 'backup.manage'
    ON CONFLICT DO NOTHING;
-- seed:end
