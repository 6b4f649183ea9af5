-- Reverts 0007_backup.up.sql (group_permissions rows go with the key).
DELETE FROM group_permissions WHERE permission_key = 'backup.manage';
DELETE FROM permissions WHERE key = 'backup.manage';
