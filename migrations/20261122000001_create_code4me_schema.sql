-- The Code4me V2 schema (wire contract §6), table for table and column for column, so that data,
-- analytics queries and researchers' scripts written against upstream keep working.
-- Differences from upstream, all additive or fixes:
--   * documentation.embedding uses an HNSW index: upstream's ivfflat index built on an empty table has
--     centroids computed from no rows and poor recall afterwards; HNSW needs no training data.
--   * foreign-key columns that upstream leaves unindexed get indexes (cascading deletes stay cheap).

-- pgvector is not a "trusted" extension: in deployments where the migrating role is not a superuser,
-- an operator runs this statement once as superuser and the IF NOT EXISTS makes it a no-op here.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE config (
    config_id   BIGSERIAL PRIMARY KEY,
    config_data TEXT NOT NULL                      -- HOCON text (row 1) or JSON
);

CREATE TABLE "user" (
    user_id         UUID PRIMARY KEY,
    joined_at       TIMESTAMPTZ NOT NULL,
    email           VARCHAR UNIQUE NOT NULL,
    name            VARCHAR NOT NULL,
    password        VARCHAR NOT NULL,              -- argon2id PHC string
    is_oauth_signup BOOLEAN DEFAULT FALSE,
    verified        BOOLEAN DEFAULT FALSE,
    config_id       BIGINT NOT NULL REFERENCES config (config_id),
    preference      TEXT,                          -- JSON object
    auth_token      UUID NULL,                     -- kept for compatibility; tokens live in Redis
    is_admin        BOOLEAN DEFAULT FALSE
);

CREATE TABLE model_name (
    model_id             BIGSERIAL PRIMARY KEY,
    model_name           TEXT NOT NULL,
    is_instruction_tuned BOOLEAN NOT NULL DEFAULT FALSE,
    prompt_templates     TEXT NOT NULL DEFAULT '{}',   -- JSON
    model_parameters     TEXT NOT NULL DEFAULT '{}'    -- JSON
);

CREATE TABLE plugin_version (
    version_id   BIGSERIAL PRIMARY KEY,
    version_name TEXT NOT NULL,
    ide_type     TEXT NOT NULL,
    description  TEXT
);

CREATE TABLE trigger_type (
    trigger_type_id   BIGSERIAL PRIMARY KEY,
    trigger_type_name TEXT NOT NULL
);

CREATE TABLE programming_language (
    language_id   BIGSERIAL PRIMARY KEY,
    language_name TEXT NOT NULL
);

CREATE TABLE context (
    context_id    UUID PRIMARY KEY,
    prefix        TEXT,
    suffix        TEXT,
    file_name     TEXT,
    selected_text TEXT
);

CREATE TABLE contextual_telemetry (
    contextual_telemetry_id    UUID PRIMARY KEY,
    version_id                 BIGINT NOT NULL REFERENCES plugin_version (version_id),
    trigger_type_id            BIGINT NOT NULL REFERENCES trigger_type (trigger_type_id),
    language_id                BIGINT NOT NULL REFERENCES programming_language (language_id),
    file_path                  TEXT,
    caret_line                 INTEGER,
    document_char_length       INTEGER,
    relative_document_position DOUBLE PRECISION
);

CREATE TABLE behavioral_telemetry (
    behavioral_telemetry_id  UUID PRIMARY KEY,
    time_since_last_shown    BIGINT,
    time_since_last_accepted BIGINT,
    typing_speed             DOUBLE PRECISION
);

CREATE TABLE project (
    project_id                 UUID PRIMARY KEY,
    project_name               VARCHAR NOT NULL,
    multi_file_contexts        TEXT DEFAULT '{}',
    multi_file_context_changes TEXT DEFAULT '{}',
    created_at                 TIMESTAMPTZ NOT NULL
);

CREATE TABLE project_users (
    project_id UUID NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES "user" (user_id) ON DELETE CASCADE,
    joined_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

CREATE TABLE session (
    session_id UUID PRIMARY KEY,
    user_id    UUID NULL REFERENCES "user" (user_id) ON DELETE SET NULL,
    start_time TIMESTAMPTZ NOT NULL,
    end_time   TIMESTAMPTZ
);

CREATE TABLE session_projects (
    session_id UUID NOT NULL REFERENCES session (session_id) ON DELETE CASCADE,
    project_id UUID NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, project_id)
);

CREATE TABLE chat (
    chat_id    UUID PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    user_id    UUID NULL REFERENCES "user" (user_id) ON DELETE SET NULL,
    title      VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Polymorphic queries: a parent row plus one child row sharing its primary key; query_type discriminates.
CREATE TABLE meta_query (
    meta_query_id                      UUID PRIMARY KEY,
    user_id                            UUID REFERENCES "user" (user_id) ON DELETE SET NULL,
    contextual_telemetry_id            UUID NULL REFERENCES contextual_telemetry (contextual_telemetry_id),
    behavioral_telemetry_id            UUID NULL REFERENCES behavioral_telemetry (behavioral_telemetry_id),
    context_id                         UUID NULL REFERENCES context (context_id),
    session_id                         UUID NOT NULL REFERENCES session (session_id),
    project_id                         UUID NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    multi_file_context_changes_indexes TEXT DEFAULT '{}',   -- JSON {file: number of changes}
    "timestamp"                        TIMESTAMPTZ NOT NULL,
    total_serving_time                 INTEGER,             -- ms
    server_version_id                  BIGINT,
    query_type                         VARCHAR NOT NULL CHECK (query_type IN ('chat', 'completion'))
);

CREATE TABLE completion_query (
    meta_query_id UUID PRIMARY KEY REFERENCES meta_query (meta_query_id) ON DELETE CASCADE
);

CREATE TABLE chat_query (
    meta_query_id UUID PRIMARY KEY REFERENCES meta_query (meta_query_id) ON DELETE CASCADE,
    chat_id       UUID NOT NULL REFERENCES chat (chat_id) ON DELETE CASCADE,
    web_enabled   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE had_generation (
    meta_query_id   UUID NOT NULL REFERENCES meta_query (meta_query_id) ON DELETE CASCADE,
    model_id        BIGINT NOT NULL REFERENCES model_name (model_id),
    completion      TEXT NOT NULL,
    generation_time INTEGER NOT NULL,              -- ms
    shown_at        TIMESTAMPTZ[] NOT NULL,
    was_accepted    BOOLEAN NOT NULL,
    confidence      DOUBLE PRECISION NOT NULL,
    logprobs        DOUBLE PRECISION[] NOT NULL,
    PRIMARY KEY (meta_query_id, model_id)
);

CREATE TABLE ground_truth (
    completion_query_id UUID NOT NULL REFERENCES completion_query (meta_query_id) ON DELETE CASCADE,
    truth_timestamp     TIMESTAMPTZ NOT NULL,
    ground_truth        TEXT NOT NULL,
    PRIMARY KEY (completion_query_id, truth_timestamp)
);

-- Embedded documentation chunks (all-MiniLM-L6-v2, 384 dimensions).
CREATE TABLE documentation (
    documentation_id SERIAL PRIMARY KEY,
    content          TEXT NOT NULL,
    language         VARCHAR(50) NOT NULL,
    embedding        vector(384),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE study (
    study_id          UUID PRIMARY KEY,
    name              TEXT NOT NULL,
    description       TEXT,
    created_by        UUID NOT NULL REFERENCES "user" (user_id) ON DELETE CASCADE,
    starts_at         TIMESTAMPTZ NOT NULL,
    ends_at           TIMESTAMPTZ,
    is_active         BOOLEAN DEFAULT FALSE,
    default_config_id BIGINT NOT NULL REFERENCES config (config_id),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE config_assignment_history (
    user_id            UUID NOT NULL REFERENCES "user" (user_id) ON DELETE CASCADE,
    study_id           UUID NOT NULL REFERENCES study (study_id) ON DELETE CASCADE,
    assigned_config_id BIGINT NOT NULL REFERENCES config (config_id),
    assigned_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, study_id)
);

-- Indexes (upstream's set, plus the unindexed foreign keys).
CREATE INDEX idx_user_email ON "user" (email);
CREATE INDEX idx_user_config_id ON "user" (config_id);
CREATE INDEX idx_user_is_admin ON "user" (is_admin);

CREATE INDEX idx_ctxt_telemetry_version_id ON contextual_telemetry (version_id);
CREATE INDEX idx_ctxt_telemetry_trigger_type_id ON contextual_telemetry (trigger_type_id);
CREATE INDEX idx_ctxt_telemetry_language_id ON contextual_telemetry (language_id);

CREATE INDEX idx_project_users_project_id ON project_users (project_id);
CREATE INDEX idx_project_users_user_id ON project_users (user_id);
CREATE INDEX idx_session_user_id ON session (user_id);
CREATE INDEX idx_session_projects_session_id ON session_projects (session_id);
CREATE INDEX idx_session_projects_project_id ON session_projects (project_id);
CREATE INDEX idx_chat_project_id ON chat (project_id);
CREATE INDEX idx_chat_user_id ON chat (user_id);

CREATE INDEX idx_meta_query_user_id ON meta_query (user_id);
CREATE INDEX idx_meta_query_project_id ON meta_query (project_id);
CREATE INDEX idx_meta_query_session_id ON meta_query (session_id);
CREATE INDEX idx_meta_query_type ON meta_query (query_type);
CREATE INDEX idx_meta_query_timestamp ON meta_query ("timestamp");
CREATE INDEX idx_meta_query_timestamp_type ON meta_query ("timestamp", query_type);
CREATE INDEX idx_meta_query_contextual_telemetry_id ON meta_query (contextual_telemetry_id);
CREATE INDEX idx_meta_query_behavioral_telemetry_id ON meta_query (behavioral_telemetry_id);
CREATE INDEX idx_meta_query_context_id ON meta_query (context_id);
CREATE INDEX idx_chat_query_chat_id ON chat_query (chat_id);

CREATE INDEX idx_had_generation_meta_query_model ON had_generation (meta_query_id, model_id);
CREATE INDEX idx_had_generation_model_id ON had_generation (model_id);
CREATE INDEX idx_had_generation_was_accepted ON had_generation (was_accepted);
CREATE INDEX idx_had_generation_confidence ON had_generation (confidence);
CREATE INDEX idx_ground_truth_completion_query_timestamp ON ground_truth (completion_query_id, truth_timestamp);

CREATE INDEX idx_documentation_embedding ON documentation USING hnsw (embedding vector_cosine_ops);

CREATE INDEX idx_study_is_active ON study (is_active);
CREATE INDEX idx_study_created_by ON study (created_by);
CREATE INDEX idx_study_starts_at ON study (starts_at);
CREATE INDEX idx_study_ends_at ON study (ends_at);
CREATE INDEX idx_study_default_config_id ON study (default_config_id);
CREATE INDEX idx_config_assignment_user_id ON config_assignment_history (user_id);
CREATE INDEX idx_config_assignment_study_id ON config_assignment_history (study_id);
CREATE INDEX idx_config_assignment_assigned_at ON config_assignment_history (assigned_at);
CREATE INDEX idx_config_assignment_config_id ON config_assignment_history (assigned_config_id);
