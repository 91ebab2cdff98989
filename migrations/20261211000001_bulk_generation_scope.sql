-- Ours: telemetry ingest at scale. had_generation_copy_query_scope fills a generation's query-scope
-- columns (20261202000003, 20261205000001) one row at a time: a PL/pgSQL call and three lookups
-- per generation, about a thirtieth of PostgreSQL's time per batch in a replay of the telemetry
-- writer's batches. The bulk writer (worker/src/telemetry/bulk.rs) now supplies the columns in its
-- INSERT, looked up for the whole batch in that statement, and the trigger fills only rows that come
-- without them: every other writer is unchanged. query_timestamp tells which: every query has a timestamp, so a
-- generation whose writer supplied its scope always has one.
--
-- What a generation's scope is stays defined once, here: the trigger and the bulk writer both read
-- generation_query_scope.

CREATE FUNCTION generation_query_scope(p_meta_query_id uuid)
RETURNS TABLE (query_timestamp timestamptz, user_id uuid, query_type varchar, session_id uuid, config_id bigint, language_id bigint,
               trigger_type_id bigint, document_char_length integer, relative_document_position double precision, total_serving_time integer)
LANGUAGE sql STABLE AS $$
    -- The config is the one that served the query, else the user's when the generation is stored.
    SELECT mq."timestamp", mq.user_id, mq.query_type, mq.session_id, coalesce(mq.config_id, u.config_id), ct.language_id,
           ct.trigger_type_id, ct.document_char_length, ct.relative_document_position, mq.total_serving_time
    FROM meta_query mq
    LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id
    LEFT JOIN "user" u ON u.user_id = mq.user_id
    WHERE mq.meta_query_id = p_meta_query_id
$$;

CREATE OR REPLACE FUNCTION had_generation_copy_query_scope() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    SELECT * INTO NEW.query_timestamp, NEW.user_id, NEW.query_type, NEW.session_id, NEW.config_id, NEW.language_id,
                  NEW.trigger_type_id, NEW.document_char_length, NEW.relative_document_position, NEW.total_serving_time
    FROM generation_query_scope(NEW.meta_query_id);
    RETURN NEW;
END
$$;

DROP TRIGGER had_generation_query_scope ON had_generation;
CREATE TRIGGER had_generation_query_scope
    BEFORE INSERT ON had_generation
    FOR EACH ROW WHEN (NEW.query_timestamp IS NULL) EXECUTE FUNCTION had_generation_copy_query_scope();
