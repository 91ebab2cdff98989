-- The web editor (website /editor) sends completions and chats with this plugin version, so research
-- can tell its queries from the JetBrains and VS Code plugins' (contextual_telemetry.version_id).
INSERT INTO plugin_version (version_id, version_name, ide_type, description)
VALUES (5, '0.1.0w', 'Web', 'the in-browser editor of the dashboard')
ON CONFLICT (version_id) DO NOTHING;
SELECT setval(pg_get_serial_sequence('plugin_version', 'version_id'), (SELECT max(version_id) FROM plugin_version));
