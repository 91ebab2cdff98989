-- Ours: analytics that stay fast. At a million generations every analytics request joined and
-- scanned the raw rows (0.4–3.9 s each, ./bench.sh analytics). These rollups hold the same sums per
-- UTC hour and per UTC day; an endpoint reads whole days from the day rows, the hours at the window's
-- edges from the hour rows, and the minutes at its very ends from the raw rows, so every answer is
-- exact up to the request (analytics_spans says which part comes from where).
--
-- How they stay current: triggers on meta_query and had_generation append signed delta rows for
-- every insert, update and delete, in the writer's own transaction (+1 for a new row, −1 then +1
-- for an updated one, −1 for a deleted one), so no writer waits on another's rollup row and a
-- rolled-back write leaves nothing behind. Readers sum the rows of a key, so deltas count at once;
-- analytics_compact(), run by the db worker every minute, merges each touched bucket's rows into
-- one per key.
--
-- One family per table, each with three functions: *_rows(source row, sign, grain) the rows one
-- source row adds, *_merge(rows[]) the sum of rows per key (used by the triggers, the compaction and
-- the backfill below), and a reader analytics_*(start, end, user, model, grain) that returns the
-- rollup rows and the raw rows (grain 'r', bucket = the query's exact time) of a window.
-- A reader given a user reads only that user's raw rows (the rollups of generations and queries
-- carry no user): one user's rows are few and indexed by (user_id, time).

-- A generation carries what its query's telemetry says about it (written once, like its time and
-- user): a deleted query's generations must still find them when the rollups subtract them.
ALTER TABLE had_generation
    ADD COLUMN session_id UUID,
    ADD COLUMN config_id BIGINT,
    ADD COLUMN language_id BIGINT,
    ADD COLUMN trigger_type_id BIGINT,
    ADD COLUMN document_char_length INTEGER,
    ADD COLUMN relative_document_position DOUBLE PRECISION,
    ADD COLUMN total_serving_time INTEGER;

-- The config is the one that served the query, else the user's when the generation was stored
-- (upstream grouped by the user's current config, which rewrites history when a user moves).
UPDATE had_generation hg
SET session_id = mq.session_id, config_id = coalesce(mq.config_id, u.config_id), language_id = ct.language_id,
    trigger_type_id = ct.trigger_type_id, document_char_length = ct.document_char_length,
    relative_document_position = ct.relative_document_position, total_serving_time = mq.total_serving_time
FROM meta_query mq
LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id
LEFT JOIN "user" u ON u.user_id = mq.user_id
WHERE mq.meta_query_id = hg.meta_query_id;

CREATE OR REPLACE FUNCTION had_generation_copy_query_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT mq."timestamp", mq.user_id, mq.query_type, mq.session_id, coalesce(mq.config_id, u.config_id), ct.language_id,
           ct.trigger_type_id, ct.document_char_length, ct.relative_document_position, mq.total_serving_time
    INTO NEW.query_timestamp, NEW.user_id, NEW.query_type, NEW.session_id, NEW.config_id, NEW.language_id,
         NEW.trigger_type_id, NEW.document_char_length, NEW.relative_document_position, NEW.total_serving_time
    FROM meta_query mq
    LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id
    LEFT JOIN "user" u ON u.user_id = mq.user_id
    WHERE mq.meta_query_id = NEW.meta_query_id;
    RETURN NEW;
END
$$;

-- The edges read from raw rows, for queries of every type; the fastest generations of a window
-- (latency-distribution's samples) without sorting it.
CREATE INDEX idx_had_generation_time ON had_generation (query_timestamp);
CREATE INDEX idx_had_generation_type_generation_time ON had_generation (query_type, generation_time);
CREATE INDEX idx_meta_query_user_time ON meta_query (user_id, "timestamp");

-- Which part of [p_start, p_end] (both inclusive) comes from which rows: day rows for
-- [day_from, day_to), hour rows for [hour_from, day_from) and [day_to, hour_to), raw rows for
-- [p_start, hour_from) and [hour_to, p_end]. p_grain 'day' uses all three, 'hour' no day rows (a
-- series in buckets shorter than a day), 'raw' only raw rows (buckets shorter than an hour).
CREATE FUNCTION analytics_spans(p_start timestamptz, p_end timestamptz, p_grain text)
RETURNS TABLE (hour_from timestamptz, day_from timestamptz, day_to timestamptz, hour_to timestamptz)
LANGUAGE sql STABLE AS $$
    WITH hours AS (
        SELECT hf, greatest(ht, hf) AS ht FROM (
            SELECT CASE WHEN p_grain = 'raw' THEN p_start
                        ELSE date_trunc('hour', p_start, 'UTC')
                             + CASE WHEN date_trunc('hour', p_start, 'UTC') < p_start THEN interval '1 hour' ELSE interval '0' END END AS hf,
                   CASE WHEN p_grain = 'raw' THEN p_start ELSE date_trunc('hour', p_end, 'UTC') END AS ht) x),
    days AS (
        SELECT hf, ht, CASE WHEN p_grain = 'day'
                            THEN least(date_trunc('day', hf, 'UTC')
                                       + CASE WHEN date_trunc('day', hf, 'UTC') < hf THEN interval '24 hours' ELSE interval '0' END, ht)
                            ELSE ht END AS df
        FROM hours)
    SELECT hf, df, CASE WHEN p_grain = 'day' THEN greatest(date_trunc('day', ht, 'UTC'), df) ELSE ht END, ht FROM days
$$;

-- The same as rollup key ranges: day rows in [day_from, day_to), hour rows in the two edge spans.
-- Readers join these (a nested loop of at most three index range scans) rather than one OR of the
-- ranges, which PostgreSQL can only answer with a bitmap scan of the heap; the rollups' covering
-- indexes then answer from the index alone.
CREATE FUNCTION analytics_ranges(p_start timestamptz, p_end timestamptz, p_grain text)
RETURNS TABLE (grain "char", bucket_from timestamptz, bucket_to timestamptz) LANGUAGE sql STABLE AS $$
    SELECT x.grain, x.bucket_from, x.bucket_to FROM analytics_spans(p_start, p_end, p_grain) s,
        LATERAL (VALUES ('d'::"char", s.day_from, s.day_to), ('h'::"char", s.hour_from, s.day_from), ('h'::"char", s.day_to, s.hour_to))
            x (grain, bucket_from, bucket_to)
    WHERE x.bucket_from < x.bucket_to
$$;

-- The bucket of `at` in `grain` ('h' hour, 'd' day, 'r' the time itself).
CREATE FUNCTION analytics_bucket(at timestamptz, grain "char") RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE grain WHEN 'h' THEN date_trunc('hour', at, 'UTC') WHEN 'd' THEN date_trunc('day', at, 'UTC') ELSE at END
$$;

-- A document's size class: 0 unknown, 1 small (< 1,000 characters), 2 medium (< 10,000), 3 large
-- (< 100,000), 4 xlarge; and the caret's place: 0 unknown, 1 beginning (< 0.25), 2 middle (< 0.75), 3 end.
CREATE FUNCTION analytics_document_size(chars integer) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
    SELECT (CASE WHEN chars IS NULL THEN 0 WHEN chars < 1000 THEN 1 WHEN chars < 10000 THEN 2 WHEN chars < 100000 THEN 3 ELSE 4 END)::smallint
$$;
CREATE FUNCTION analytics_document_position(relative double precision) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
    SELECT (CASE WHEN relative IS NULL THEN 0 WHEN relative < 0.25 THEN 1 WHEN relative < 0.75 THEN 2 ELSE 3 END)::smallint
$$;

----------------------------------------------------------------------------------------------------
-- Generations: counts and sums per query type, model, config, language, trigger and document class.
CREATE TABLE analytics_generation_rollup (
    grain                   "char" NOT NULL,
    bucket                  TIMESTAMPTZ NOT NULL,
    query_type              VARCHAR,
    model_id                BIGINT NOT NULL,
    config_id               BIGINT,
    language_id             BIGINT,
    trigger_type_id         BIGINT,
    document_size           SMALLINT NOT NULL,
    document_position       SMALLINT NOT NULL,
    generations             BIGINT NOT NULL,
    accepted                BIGINT NOT NULL,
    shown                   BIGINT NOT NULL,
    generation_ms           BIGINT NOT NULL,
    confidence_sum          DOUBLE PRECISION NOT NULL,
    confidence_square_sum   DOUBLE PRECISION NOT NULL,
    logprob_tokens          BIGINT NOT NULL,
    accepted_chars          BIGINT NOT NULL,
    compacted               BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_generation_rollup_bucket ON analytics_generation_rollup (grain, bucket)
    INCLUDE (query_type, model_id, config_id, language_id, trigger_type_id, document_size, document_position, generations, accepted, shown, generation_ms, confidence_sum, confidence_square_sum, logprob_tokens, accepted_chars, compacted);
CREATE INDEX idx_analytics_generation_rollup_loose ON analytics_generation_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_generation_rows(hg had_generation, sign integer, grain "char")
RETURNS SETOF analytics_generation_rollup LANGUAGE sql IMMUTABLE AS $$
    SELECT grain, analytics_bucket(hg.query_timestamp, grain), hg.query_type, hg.model_id, hg.config_id, hg.language_id, hg.trigger_type_id,
           analytics_document_size(hg.document_char_length), analytics_document_position(hg.relative_document_position),
           sign::bigint, sign * hg.was_accepted::int::bigint,
           sign * (hg.completion <> '' AND cardinality(hg.shown_at) > 0)::int::bigint, sign * hg.generation_time::bigint,
           sign * hg.confidence, sign * hg.confidence * hg.confidence, sign * cardinality(hg.logprobs)::bigint,
           CASE WHEN hg.was_accepted THEN sign * char_length(hg.completion)::bigint ELSE 0 END, false
$$;

CREATE FUNCTION analytics_generation_merge(rows analytics_generation_rollup[], merged boolean)
RETURNS SETOF analytics_generation_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, query_type, model_id, config_id, language_id, trigger_type_id, document_size, document_position,
           sum(generations)::bigint, sum(accepted)::bigint, sum(shown)::bigint, sum(generation_ms)::bigint, sum(confidence_sum),
           sum(confidence_square_sum), sum(logprob_tokens)::bigint, sum(accepted_chars)::bigint, merged
    FROM unnest(rows)
    GROUP BY grain, bucket, query_type, model_id, config_id, language_id, trigger_type_id, document_size, document_position
    HAVING sum(generations) <> 0 OR sum(accepted) <> 0 OR sum(shown) <> 0 OR sum(generation_ms) <> 0 OR sum(logprob_tokens) <> 0
        OR sum(accepted_chars) <> 0
$$;

----------------------------------------------------------------------------------------------------
-- Latency histograms of completion generations, exact to the millisecond (stored values are whole
-- ms), so percentiles computed from them equal percentile_cont over the raw rows. Stages: 0 the
-- model's generation time; for generations with stage timings 1 queue wait, 2 prefill (first
-- token), 3 decode (the rest of the model's time), 4 the server beyond queue and model, 5 the
-- server's total.
CREATE TABLE analytics_latency_rollup (
    grain     "char" NOT NULL,
    bucket    TIMESTAMPTZ NOT NULL,
    model_id  BIGINT NOT NULL,
    stage     SMALLINT NOT NULL,
    value_ms  INTEGER NOT NULL,
    n         BIGINT NOT NULL,
    compacted BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_latency_rollup_bucket ON analytics_latency_rollup (grain, bucket)
    INCLUDE (model_id, stage, value_ms, n, compacted);
CREATE INDEX idx_analytics_latency_rollup_loose ON analytics_latency_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_latency_rows(hg had_generation, sign integer, grain "char")
RETURNS SETOF analytics_latency_rollup LANGUAGE sql IMMUTABLE AS $$
    SELECT grain, analytics_bucket(hg.query_timestamp, grain), hg.model_id, s.stage, s.value_ms, sign::bigint, false
    FROM (VALUES (0::smallint, hg.generation_time),
                 (1::smallint, CASE WHEN hg.first_token_ms IS NOT NULL THEN hg.queue_wait_ms END),
                 (2::smallint, hg.first_token_ms),
                 (3::smallint, hg.generation_time - hg.first_token_ms),
                 (4::smallint, CASE WHEN hg.first_token_ms IS NOT NULL THEN hg.total_serving_time - hg.generation_time - hg.queue_wait_ms END),
                 (5::smallint, CASE WHEN hg.first_token_ms IS NOT NULL THEN hg.total_serving_time END)) s (stage, value_ms)
    WHERE hg.query_type = 'completion' AND s.value_ms IS NOT NULL
$$;

CREATE FUNCTION analytics_latency_merge(rows analytics_latency_rollup[], merged boolean)
RETURNS SETOF analytics_latency_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, model_id, stage, value_ms, sum(n)::bigint, merged
    FROM unnest(rows) GROUP BY grain, bucket, model_id, stage, value_ms HAVING sum(n) <> 0
$$;

----------------------------------------------------------------------------------------------------
-- Confidence of completion generations in 100 cells of width 0.01, per model and per one grouping
-- (group_kind 0 none, 1 config, 2 language, 3 trigger; group_id its id): exact for every bin count
-- that divides 100 (the endpoints' defaults 10 and 20 among them). Other bin counts read raw rows.
CREATE TABLE analytics_confidence_rollup (
    grain                   "char" NOT NULL,
    bucket                  TIMESTAMPTZ NOT NULL,
    model_id                BIGINT NOT NULL,
    group_kind              SMALLINT NOT NULL,
    group_id                BIGINT,
    cell                    SMALLINT NOT NULL,
    n                       BIGINT NOT NULL,
    accepted                BIGINT NOT NULL,
    confidence_sum          DOUBLE PRECISION NOT NULL,
    confidence_square_sum   DOUBLE PRECISION NOT NULL,
    accepted_confidence_sum DOUBLE PRECISION NOT NULL,
    confidence_min          DOUBLE PRECISION,
    confidence_max          DOUBLE PRECISION,
    compacted               BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_confidence_rollup_bucket ON analytics_confidence_rollup (grain, bucket)
    INCLUDE (model_id, group_kind, group_id, cell, n, accepted, confidence_sum, confidence_square_sum, accepted_confidence_sum, confidence_min, confidence_max, compacted);
CREATE INDEX idx_analytics_confidence_rollup_loose ON analytics_confidence_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_confidence_rows(hg had_generation, sign integer, grain "char")
RETURNS SETOF analytics_confidence_rollup LANGUAGE sql IMMUTABLE AS $$
    SELECT grain, analytics_bucket(hg.query_timestamp, grain), hg.model_id, g.kind, g.id,
           greatest(least(width_bucket(hg.confidence, 0, 1, 100), 100), 1)::smallint,
           sign::bigint, sign * hg.was_accepted::int::bigint, sign * hg.confidence, sign * hg.confidence * hg.confidence,
           CASE WHEN hg.was_accepted THEN sign * hg.confidence ELSE 0 END, hg.confidence, hg.confidence, false
    FROM (VALUES (0::smallint, NULL::bigint), (1::smallint, hg.config_id), (2::smallint, hg.language_id), (3::smallint, hg.trigger_type_id)) g (kind, id)
    WHERE hg.query_type = 'completion'
$$;

CREATE FUNCTION analytics_confidence_merge(rows analytics_confidence_rollup[], merged boolean)
RETURNS SETOF analytics_confidence_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, model_id, group_kind, group_id, cell, sum(n)::bigint, sum(accepted)::bigint, sum(confidence_sum),
           sum(confidence_square_sum), sum(accepted_confidence_sum), min(confidence_min), max(confidence_max), merged
    FROM unnest(rows) GROUP BY grain, bucket, model_id, group_kind, group_id, cell HAVING sum(n) <> 0 OR sum(accepted) <> 0
$$;

----------------------------------------------------------------------------------------------------
-- Queries per type, language and trigger.
CREATE TABLE analytics_query_rollup (
    grain           "char" NOT NULL,
    bucket          TIMESTAMPTZ NOT NULL,
    query_type      VARCHAR NOT NULL,
    language_id     BIGINT,
    trigger_type_id BIGINT,
    queries         BIGINT NOT NULL,
    compacted       BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_query_rollup_bucket ON analytics_query_rollup (grain, bucket)
    INCLUDE (query_type, language_id, trigger_type_id, queries, compacted);
CREATE INDEX idx_analytics_query_rollup_loose ON analytics_query_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_query_rows(mq meta_query, sign integer, grain "char")
RETURNS SETOF analytics_query_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, analytics_bucket(mq."timestamp", grain), mq.query_type, ct.language_id, ct.trigger_type_id, sign::bigint, false
    FROM (SELECT 1) one LEFT JOIN contextual_telemetry ct ON ct.contextual_telemetry_id = mq.contextual_telemetry_id
$$;

CREATE FUNCTION analytics_query_merge(rows analytics_query_rollup[], merged boolean)
RETURNS SETOF analytics_query_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, query_type, language_id, trigger_type_id, sum(queries)::bigint, merged
    FROM unnest(rows) GROUP BY grain, bucket, query_type, language_id, trigger_type_id HAVING sum(queries) <> 0
$$;

----------------------------------------------------------------------------------------------------
-- Users: per user and session their queries (model_id NULL) with their behavioural telemetry, and
-- per user, session and model their completion generations. Distinct users, sessions and active
-- days are counted over these rows.
CREATE TABLE analytics_user_rollup (
    grain                "char" NOT NULL,
    bucket               TIMESTAMPTZ NOT NULL,
    user_id              UUID,
    session_id           UUID,
    model_id             BIGINT,
    queries              BIGINT NOT NULL,
    completions          BIGINT NOT NULL,
    chats                BIGINT NOT NULL,
    first_at             TIMESTAMPTZ,
    last_at              TIMESTAMPTZ,
    hour_sum             BIGINT NOT NULL,
    typing_speed_sum     DOUBLE PRECISION NOT NULL,
    typing_speed_n       BIGINT NOT NULL,
    since_shown_sum      DOUBLE PRECISION NOT NULL,
    since_shown_n        BIGINT NOT NULL,
    since_accepted_sum   DOUBLE PRECISION NOT NULL,
    since_accepted_n     BIGINT NOT NULL,
    generations          BIGINT NOT NULL,
    accepted             BIGINT NOT NULL,
    compacted            BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_user_rollup_bucket ON analytics_user_rollup (grain, bucket)
    INCLUDE (user_id, session_id, model_id, queries, completions, chats, first_at, last_at, hour_sum, typing_speed_sum, typing_speed_n, since_shown_sum, since_shown_n, since_accepted_sum, since_accepted_n, generations, accepted, compacted);
CREATE INDEX idx_analytics_user_rollup_loose ON analytics_user_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_user_rows_of_query(mq meta_query, sign integer, grain "char")
RETURNS SETOF analytics_user_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, analytics_bucket(mq."timestamp", grain), mq.user_id, mq.session_id, NULL::bigint, sign::bigint,
           sign * (mq.query_type = 'completion')::int::bigint, sign * (mq.query_type = 'chat')::int::bigint, mq."timestamp", mq."timestamp",
           sign * extract(hour FROM mq."timestamp" AT TIME ZONE 'UTC')::bigint,
           sign * coalesce(bt.typing_speed, 0), sign * (bt.typing_speed IS NOT NULL)::int::bigint,
           sign * coalesce(bt.time_since_last_shown, 0)::float8, sign * (bt.time_since_last_shown IS NOT NULL)::int::bigint,
           sign * coalesce(bt.time_since_last_accepted, 0)::float8, sign * (bt.time_since_last_accepted IS NOT NULL)::int::bigint,
           0::bigint, 0::bigint, false
    FROM (SELECT 1) one LEFT JOIN behavioral_telemetry bt ON bt.behavioral_telemetry_id = mq.behavioral_telemetry_id
$$;

CREATE FUNCTION analytics_user_rows_of_generation(hg had_generation, sign integer, grain "char")
RETURNS SETOF analytics_user_rollup LANGUAGE sql IMMUTABLE AS $$
    SELECT grain, analytics_bucket(hg.query_timestamp, grain), hg.user_id, hg.session_id, hg.model_id, 0::bigint, 0::bigint, 0::bigint,
           NULL::timestamptz, NULL::timestamptz, 0::bigint, 0::float8, 0::bigint, 0::float8, 0::bigint, 0::float8, 0::bigint,
           sign::bigint, sign * hg.was_accepted::int::bigint, false
    WHERE hg.query_type = 'completion'
$$;

CREATE FUNCTION analytics_user_merge(rows analytics_user_rollup[], merged boolean)
RETURNS SETOF analytics_user_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, user_id, session_id, model_id, sum(queries)::bigint, sum(completions)::bigint, sum(chats)::bigint,
           min(first_at), max(last_at), sum(hour_sum)::bigint, sum(typing_speed_sum), sum(typing_speed_n)::bigint, sum(since_shown_sum),
           sum(since_shown_n)::bigint, sum(since_accepted_sum), sum(since_accepted_n)::bigint, sum(generations)::bigint,
           sum(accepted)::bigint, merged
    FROM unnest(rows) GROUP BY grain, bucket, user_id, session_id, model_id
    HAVING sum(queries) <> 0 OR sum(generations) <> 0 OR sum(accepted) <> 0 OR sum(typing_speed_n) <> 0 OR sum(since_shown_n) <> 0
        OR sum(since_accepted_n) <> 0
$$;

----------------------------------------------------------------------------------------------------
-- Documents: per user, session and file the shortest and longest document a completion query
-- reported (how much the file grew while its author used completions).
CREATE TABLE analytics_document_rollup (
    grain      "char" NOT NULL,
    bucket     TIMESTAMPTZ NOT NULL,
    user_id    UUID,
    session_id UUID,
    file_path  TEXT NOT NULL,
    min_length INTEGER NOT NULL,
    max_length INTEGER NOT NULL,
    queries    BIGINT NOT NULL,
    compacted  BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_document_rollup_bucket ON analytics_document_rollup (grain, bucket)
    INCLUDE (user_id, session_id, file_path, min_length, max_length, queries, compacted);
CREATE INDEX idx_analytics_document_rollup_loose ON analytics_document_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_document_rows(mq meta_query, sign integer, grain "char")
RETURNS SETOF analytics_document_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, analytics_bucket(mq."timestamp", grain), mq.user_id, mq.session_id, ct.file_path, ct.document_char_length,
           ct.document_char_length, sign::bigint, false
    FROM contextual_telemetry ct
    WHERE ct.contextual_telemetry_id = mq.contextual_telemetry_id AND mq.query_type = 'completion'
      AND ct.file_path IS NOT NULL AND ct.document_char_length IS NOT NULL
    -- A fence: the telemetry row is looked up per query, never scanned for rows with a file path
    -- (where few have one, the planner would otherwise start from a scan of all the telemetry).
    OFFSET 0
$$;

CREATE FUNCTION analytics_document_merge(rows analytics_document_rollup[], merged boolean)
RETURNS SETOF analytics_document_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, user_id, session_id, file_path, min(min_length), max(max_length), sum(queries)::bigint, merged
    FROM unnest(rows) GROUP BY grain, bucket, user_id, session_id, file_path HAVING sum(queries) <> 0
$$;

----------------------------------------------------------------------------------------------------
-- Triggers: each statement's changed rows, signed, merged, appended.
-- `merged` marks the rows as already one per key (the backfill); the triggers' rows are deltas.
CREATE FUNCTION analytics_add_generations(rows had_generation[], sign integer, merged boolean DEFAULT false) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_generation_rollup SELECT * FROM analytics_generation_merge(ARRAY(
        SELECT r FROM unnest(rows) hg, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_generation_rows(hg, sign, g.grain) r), merged);
    INSERT INTO analytics_latency_rollup SELECT * FROM analytics_latency_merge(ARRAY(
        SELECT r FROM unnest(rows) hg, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_latency_rows(hg, sign, g.grain) r), merged);
    INSERT INTO analytics_confidence_rollup SELECT * FROM analytics_confidence_merge(ARRAY(
        SELECT r FROM unnest(rows) hg, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_confidence_rows(hg, sign, g.grain) r), merged);
    INSERT INTO analytics_user_rollup SELECT * FROM analytics_user_merge(ARRAY(
        SELECT r FROM unnest(rows) hg, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_user_rows_of_generation(hg, sign, g.grain) r), merged);
END
$$;

CREATE FUNCTION analytics_add_queries(rows meta_query[], sign integer, merged boolean DEFAULT false) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_query_rollup SELECT * FROM analytics_query_merge(ARRAY(
        SELECT r FROM unnest(rows) mq, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_query_rows(mq, sign, g.grain) r), merged);
    INSERT INTO analytics_user_rollup SELECT * FROM analytics_user_merge(ARRAY(
        SELECT r FROM unnest(rows) mq, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_user_rows_of_query(mq, sign, g.grain) r), merged);
    INSERT INTO analytics_document_rollup SELECT * FROM analytics_document_merge(ARRAY(
        SELECT r FROM unnest(rows) mq, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_document_rows(mq, sign, g.grain) r), merged);
END
$$;

CREATE FUNCTION analytics_generations_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_generations(ARRAY(SELECT n::had_generation FROM new_rows n), 1);
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_generations_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_generations(ARRAY(SELECT o::had_generation FROM old_rows o), -1);
    PERFORM analytics_add_generations(ARRAY(SELECT n::had_generation FROM new_rows n), 1);
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_generations_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_generations(ARRAY(SELECT o::had_generation FROM old_rows o), -1);
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_generations_inserted AFTER INSERT ON had_generation
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_generations_inserted();
CREATE TRIGGER analytics_generations_updated AFTER UPDATE ON had_generation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_generations_updated();
CREATE TRIGGER analytics_generations_deleted AFTER DELETE ON had_generation
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_generations_deleted();

CREATE FUNCTION analytics_queries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_queries(ARRAY(SELECT n::meta_query FROM new_rows n), 1);
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_queries_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_queries(ARRAY(SELECT o::meta_query FROM old_rows o), -1);
    PERFORM analytics_add_queries(ARRAY(SELECT n::meta_query FROM new_rows n), 1);
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_queries_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_queries(ARRAY(SELECT o::meta_query FROM old_rows o), -1);
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_queries_inserted AFTER INSERT ON meta_query
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_queries_inserted();
CREATE TRIGGER analytics_queries_updated AFTER UPDATE ON meta_query
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_queries_updated();
CREATE TRIGGER analytics_queries_deleted AFTER DELETE ON meta_query
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_queries_deleted();

----------------------------------------------------------------------------------------------------
-- Compaction: the rows of every bucket with delta rows, merged into one per key. Safe beside
-- writers (their new rows are not in this statement's snapshot and stay for the next round) and
-- beside another compaction (a row is deleted, and so summed, by one of them only).
CREATE FUNCTION analytics_compact() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    merged bigint := 0;
    n bigint;
BEGIN
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_generation_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_generation_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_generation_rollup SELECT * FROM analytics_generation_merge(ARRAY(SELECT m::analytics_generation_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_latency_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_latency_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_latency_rollup SELECT * FROM analytics_latency_merge(ARRAY(SELECT m::analytics_latency_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_confidence_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_confidence_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_confidence_rollup SELECT * FROM analytics_confidence_merge(ARRAY(SELECT m::analytics_confidence_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_query_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_query_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_query_rollup SELECT * FROM analytics_query_merge(ARRAY(SELECT m::analytics_query_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_user_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_user_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_user_rollup SELECT * FROM analytics_user_merge(ARRAY(SELECT m::analytics_user_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_document_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_document_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_document_rollup SELECT * FROM analytics_document_merge(ARRAY(SELECT m::analytics_document_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    RETURN merged;
END
$$;

----------------------------------------------------------------------------------------------------
-- Readers: the rollup rows of [p_start, p_end] plus the raw rows at its edges (or, for one user,
-- that user's raw rows only), all of one model when p_model is set.
CREATE FUNCTION analytics_generations(p_start timestamptz, p_end timestamptz, p_user uuid, p_model bigint, p_grain text)
RETURNS SETOF analytics_generation_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_generation_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL AND (p_model IS NULL OR r.model_id = p_model)
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_generation_rows(hg, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR hg.model_id = p_model) AND hg.query_timestamp >= p_start AND hg.query_timestamp < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_generation_rows(hg, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR hg.model_id = p_model) AND hg.query_timestamp >= s.hour_to AND hg.query_timestamp <= p_end
    UNION ALL
    SELECT r.* FROM had_generation hg, analytics_generation_rows(hg, 1, 'r') r
    WHERE p_user IS NOT NULL AND hg.user_id = p_user AND hg.query_timestamp BETWEEN p_start AND p_end AND (p_model IS NULL OR hg.model_id = p_model)
$$;

CREATE FUNCTION analytics_latencies(p_start timestamptz, p_end timestamptz, p_user uuid, p_model bigint, p_grain text)
RETURNS SETOF analytics_latency_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_latency_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL AND (p_model IS NULL OR r.model_id = p_model)
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_latency_rows(hg, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR hg.model_id = p_model) AND hg.query_timestamp >= p_start AND hg.query_timestamp < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_latency_rows(hg, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR hg.model_id = p_model) AND hg.query_timestamp >= s.hour_to AND hg.query_timestamp <= p_end
    UNION ALL
    SELECT r.* FROM had_generation hg, analytics_latency_rows(hg, 1, 'r') r
    WHERE p_user IS NOT NULL AND hg.user_id = p_user AND hg.query_timestamp BETWEEN p_start AND p_end AND (p_model IS NULL OR hg.model_id = p_model)
$$;

CREATE FUNCTION analytics_confidences(p_start timestamptz, p_end timestamptz, p_user uuid, p_model bigint, p_grain text)
RETURNS SETOF analytics_confidence_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_confidence_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL AND (p_model IS NULL OR r.model_id = p_model)
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_confidence_rows(hg, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR hg.model_id = p_model) AND hg.query_timestamp >= p_start AND hg.query_timestamp < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_confidence_rows(hg, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR hg.model_id = p_model) AND hg.query_timestamp >= s.hour_to AND hg.query_timestamp <= p_end
    UNION ALL
    SELECT r.* FROM had_generation hg, analytics_confidence_rows(hg, 1, 'r') r
    WHERE p_user IS NOT NULL AND hg.user_id = p_user AND hg.query_timestamp BETWEEN p_start AND p_end AND (p_model IS NULL OR hg.model_id = p_model)
$$;

CREATE FUNCTION analytics_queries(p_start timestamptz, p_end timestamptz, p_user uuid, p_grain text)
RETURNS SETOF analytics_query_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_query_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, meta_query mq, analytics_query_rows(mq, 1, 'r') r
    WHERE p_user IS NULL AND mq."timestamp" >= p_start AND mq."timestamp" < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, meta_query mq, analytics_query_rows(mq, 1, 'r') r
    WHERE p_user IS NULL AND mq."timestamp" >= s.hour_to AND mq."timestamp" <= p_end
    UNION ALL
    SELECT r.* FROM meta_query mq, analytics_query_rows(mq, 1, 'r') r
    WHERE p_user IS NOT NULL AND mq.user_id = p_user AND mq."timestamp" BETWEEN p_start AND p_end
$$;

-- The user rollup carries users, so one user's rows come from it too; only the edges are raw.
CREATE FUNCTION analytics_users(p_start timestamptz, p_end timestamptz, p_user uuid, p_grain text)
RETURNS SETOF analytics_user_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_user_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL OR r.user_id = p_user
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, meta_query mq, analytics_user_rows_of_query(mq, 1, 'r') r
    WHERE (p_user IS NULL OR mq.user_id = p_user) AND mq."timestamp" >= p_start AND mq."timestamp" < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, meta_query mq, analytics_user_rows_of_query(mq, 1, 'r') r
    WHERE (p_user IS NULL OR mq.user_id = p_user) AND mq."timestamp" >= s.hour_to AND mq."timestamp" <= p_end
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_user_rows_of_generation(hg, 1, 'r') r
    WHERE (p_user IS NULL OR hg.user_id = p_user) AND hg.query_timestamp >= p_start AND hg.query_timestamp < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, had_generation hg, analytics_user_rows_of_generation(hg, 1, 'r') r
    WHERE (p_user IS NULL OR hg.user_id = p_user) AND hg.query_timestamp >= s.hour_to AND hg.query_timestamp <= p_end
$$;

CREATE FUNCTION analytics_documents(p_start timestamptz, p_end timestamptz, p_user uuid, p_grain text)
RETURNS SETOF analytics_document_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_document_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL OR r.user_id = p_user
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, meta_query mq, analytics_document_rows(mq, 1, 'r') r
    WHERE (p_user IS NULL OR mq.user_id = p_user) AND mq."timestamp" >= p_start AND mq."timestamp" < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, meta_query mq, analytics_document_rows(mq, 1, 'r') r
    WHERE (p_user IS NULL OR mq.user_id = p_user) AND mq."timestamp" >= s.hour_to AND mq."timestamp" <= p_end
$$;

----------------------------------------------------------------------------------------------------
-- Backfill, one UTC day at a time: each day's rows merged in memory, one row per key, nothing to compact.
DO $$
DECLARE
    day timestamptz;
BEGIN
    FOR day IN SELECT DISTINCT date_trunc('day', "timestamp", 'UTC') FROM meta_query ORDER BY 1 LOOP
        PERFORM analytics_add_queries(ARRAY(SELECT mq FROM meta_query mq WHERE mq."timestamp" >= day AND mq."timestamp" < day + interval '24 hours'), 1, true);
        PERFORM analytics_add_generations(ARRAY(SELECT hg FROM had_generation hg
                                                WHERE hg.query_timestamp >= day AND hg.query_timestamp < day + interval '24 hours'), 1, true);
    END LOOP;
END
$$;
