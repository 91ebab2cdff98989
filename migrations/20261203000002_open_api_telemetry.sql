-- The open APIs (OpenAI-compatible /v1, the suggestion API, the task API) store their requests as
-- research telemetry beside the plugin's: a query made with an API key has no plugin session and
-- may have no project, says which client dialect sent it and with which key, and each generation
-- says which provider of the chain answered it.
ALTER TABLE meta_query ALTER COLUMN session_id DROP NOT NULL;
ALTER TABLE meta_query ALTER COLUMN project_id DROP NOT NULL;
ALTER TABLE meta_query
    ADD COLUMN client VARCHAR NOT NULL DEFAULT 'plugin'
        CHECK (client IN ('plugin', 'openai', 'suggestion', 'task', 'editor', 'agent')),
    ADD COLUMN api_key_id UUID NULL REFERENCES api_key (key_id) ON DELETE SET NULL;
ALTER TABLE had_generation ADD COLUMN provider VARCHAR NULL;

CREATE INDEX meta_query_client_idx ON meta_query (client, "timestamp") WHERE client <> 'plugin';
