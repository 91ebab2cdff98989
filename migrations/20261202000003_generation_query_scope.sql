-- Ours: every analytics request scopes generations by their query's time, user and type. Reading
-- those through a join with meta_query doubled the cost of each request at a million generations
-- (./bench.sh analytics), so each generation carries them. A trigger copies them from the query
-- row when the generation is inserted: writers stay as they are, and a query row never changes
-- these columns afterwards. Deleting a user clears user_id here as it does on meta_query.
ALTER TABLE had_generation
    ADD COLUMN query_timestamp TIMESTAMPTZ,
    ADD COLUMN user_id UUID REFERENCES "user" (user_id) ON DELETE SET NULL,
    ADD COLUMN query_type VARCHAR;

UPDATE had_generation hg
SET query_timestamp = mq."timestamp", user_id = mq.user_id, query_type = mq.query_type
FROM meta_query mq
WHERE mq.meta_query_id = hg.meta_query_id;

CREATE FUNCTION had_generation_copy_query_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT mq."timestamp", mq.user_id, mq.query_type
    INTO NEW.query_timestamp, NEW.user_id, NEW.query_type
    FROM meta_query mq
    WHERE mq.meta_query_id = NEW.meta_query_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER had_generation_query_scope
    BEFORE INSERT ON had_generation
    FOR EACH ROW EXECUTE FUNCTION had_generation_copy_query_scope();

CREATE INDEX idx_had_generation_type_time ON had_generation (query_type, query_timestamp);
CREATE INDEX idx_had_generation_user_time ON had_generation (user_id, query_timestamp);
