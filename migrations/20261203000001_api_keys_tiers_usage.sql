-- Ours: public access. Every user has a tier that sets their quotas; API keys let scripts and
-- other editors call the non-plugin APIs; every request made with a key is metered.

ALTER TABLE "user"
    ADD COLUMN tier VARCHAR NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise'));

-- A key is shown once and stored as the SHA-256 of its text (keys carry 238 bits of randomness,
-- so a fast hash is enough); `prefix` is what lists show. Revoked keys stay, for the usage rows
-- that name them.
CREATE TABLE api_key (
    key_id       UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES "user" (user_id) ON DELETE CASCADE,
    project_id   UUID NULL REFERENCES project (project_id) ON DELETE CASCADE,
    name         VARCHAR NOT NULL,
    prefix       VARCHAR NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NULL,
    last_used_at TIMESTAMPTZ NULL,
    revoked_at   TIMESTAMPTZ NULL
);

CREATE INDEX idx_api_key_user_id ON api_key (user_id);

-- One row per metered request, written by the worker from the `db` queue (keyed by usage_id, so a
-- job delivered twice stores its row once).
CREATE TABLE api_usage (
    usage_id         UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES "user" (user_id) ON DELETE CASCADE,
    key_id           UUID NULL REFERENCES api_key (key_id) ON DELETE SET NULL,
    endpoint         VARCHAR NOT NULL,
    model            VARCHAR NULL,
    prompt_tokens    INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    generated_tokens INTEGER NOT NULL DEFAULT 0 CHECK (generated_tokens >= 0),
    latency_ms       INTEGER NOT NULL CHECK (latency_ms >= 0),
    status           SMALLINT NOT NULL,
    at               TIMESTAMPTZ NOT NULL
);

CREATE INDEX idx_api_usage_user_time ON api_usage (user_id, at);
