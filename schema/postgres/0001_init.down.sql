-- Reverts 0001_init.up.sql: drops every table, children before parents
-- (indexes and seeded rows go with their tables).

DROP TABLE IF EXISTS audit_events;
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS settings;
DROP TABLE IF EXISTS evidence_files;
DROP TABLE IF EXISTS mission_test_outcomes;
DROP TABLE IF EXISTS mission_test_mitre_tags;
DROP TABLE IF EXISTS mission_tests;
DROP TABLE IF EXISTS mission_scenarios;
DROP TABLE IF EXISTS mission_categories;
DROP TABLE IF EXISTS mission_members;
DROP TABLE IF EXISTS missions;
DROP TABLE IF EXISTS detection_levels;
DROP TABLE IF EXISTS scenario_template_tests;
DROP TABLE IF EXISTS scenario_templates;
DROP TABLE IF EXISTS test_template_mitre_tags;
DROP TABLE IF EXISTS test_templates;
DROP TABLE IF EXISTS mitre_technique_tactics;
DROP TABLE IF EXISTS mitre_subtechniques;
DROP TABLE IF EXISTS mitre_techniques;
DROP TABLE IF EXISTS mitre_tactics;
DROP TABLE IF EXISTS api_tokens;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS invitation_groups;
DROP TABLE IF EXISTS invitations;
DROP TABLE IF EXISTS group_permissions;
DROP TABLE IF EXISTS user_groups;
DROP TABLE IF EXISTS permissions;
DROP TABLE IF EXISTS groups;
DROP TABLE IF EXISTS users;
