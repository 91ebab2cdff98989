-- Ours: what upstream's studies lack.
-- The study's arms: upstream only uses the config ids at creation, so a study created inactive can
-- never assign them later.
CREATE TABLE study_config (
    study_id  UUID NOT NULL REFERENCES study (study_id) ON DELETE CASCADE,
    config_id BIGINT NOT NULL REFERENCES config (config_id),
    PRIMARY KEY (study_id, config_id)
);

-- Exposure: the config that served each query (the user's config when it arrived), so a study is
-- evaluated on what each arm actually served, not on users' current configs.
ALTER TABLE meta_query ADD COLUMN config_id BIGINT REFERENCES config (config_id);
CREATE INDEX idx_meta_query_config_timestamp ON meta_query (config_id, "timestamp");
