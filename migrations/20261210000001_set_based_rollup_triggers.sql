-- Ours: telemetry ingest at scale. The analytics triggers of 20261205000001 and 20261205000002
-- spent most of the telemetry writer's time in PostgreSQL (./bench.sh ingest): each statement's
-- changed rows were copied into an array, expanded into rollup rows, copied into a second array and
-- merged by a SQL function that PostgreSQL plans anew on every call; an update subtracted every old
-- row and added every new one as separate deltas even where nothing the rollups count had changed.
--
-- The hot paths now aggregate in statements whose plans PL/pgSQL keeps for the session:
--   * a batch's queries inserted, and ground truths placed and unplaced (the placement tables'
--     triggers): straight from the transition tables;
--   * generations inserted, updated or deleted: the changed rows, signed, in one array to
--     analytics_add_generation_changes, one statement for the four rollups. An update passes only
--     the rows it changed, old at −1 and new at +1, merged in one pass, so whatever did not change
--     cancels out: feedback that leaves a generation unaccepted writes no rollup row at all, an
--     acceptance one per changed key.
-- What a row counts for is still defined once, by the analytics_*_rows functions (which PostgreSQL
-- inlines here), and the sums are those of the analytics_*_merge functions, which keep serving the
-- compaction, the backfill and the rare paths (updated or deleted queries).
--
-- Also for the writer: indexes that only cost inserts go (one duplicates had_generation's primary
-- key, two are prefixes of other indexes, one indexes a boolean), and had_generation leaves room in
-- its pages, so the feedback's update of was_accepted/accepted_at (no longer indexed) can stay on the
-- row's page as a heap-only tuple instead of adding an entry to each of the table's indexes.

DROP INDEX idx_had_generation_meta_query_model;   -- the primary key (meta_query_id, model_id)
DROP INDEX idx_had_generation_was_accepted;       -- two values; readers filter by time first
DROP INDEX idx_meta_query_timestamp;              -- a prefix of idx_meta_query_timestamp_type
DROP INDEX idx_meta_query_user_id;                -- a prefix of idx_meta_query_user_time
ALTER TABLE had_generation SET (fillfactor = 80);

----------------------------------------------------------------------------------------------------
-- Generations: a statement's changed rows, signed, feed the four rollups in one statement. Keys whose
-- sums net to zero are dropped (as analytics_*_merge does), so an update's old and new rows cancel
-- wherever the change does not touch what a rollup counts.
CREATE TYPE analytics_generation_change AS (hg had_generation, sign integer);

CREATE FUNCTION analytics_add_generation_changes(rows analytics_generation_change[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    WITH changes AS MATERIALIZED (SELECT * FROM unnest(rows)),
    generation AS (
        INSERT INTO analytics_generation_rollup
        SELECT r.grain, r.bucket, r.query_type, r.model_id, r.config_id, r.language_id, r.trigger_type_id, r.document_size, r.document_position,
               sum(r.generations)::bigint, sum(r.accepted)::bigint, sum(r.shown)::bigint, sum(r.generation_ms)::bigint, sum(r.confidence_sum),
               sum(r.confidence_square_sum), sum(r.logprob_tokens)::bigint, sum(r.accepted_chars)::bigint, false
        FROM changes c, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_generation_rows(c.hg, c.sign, g.grain) r
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        HAVING sum(r.generations) <> 0 OR sum(r.accepted) <> 0 OR sum(r.shown) <> 0 OR sum(r.generation_ms) <> 0 OR sum(r.logprob_tokens) <> 0
            OR sum(r.accepted_chars) <> 0 OR sum(r.confidence_sum) <> 0 OR sum(r.confidence_square_sum) <> 0),
    latency AS (
        INSERT INTO analytics_latency_rollup
        SELECT r.grain, r.bucket, r.model_id, r.stage, r.value_ms, sum(r.n)::bigint, false
        FROM changes c, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_latency_rows(c.hg, c.sign, g.grain) r
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(r.n) <> 0),
    confidence AS (
        INSERT INTO analytics_confidence_rollup
        SELECT r.grain, r.bucket, r.model_id, r.group_kind, r.group_id, r.cell, sum(r.n)::bigint, sum(r.accepted)::bigint, sum(r.confidence_sum),
               sum(r.confidence_square_sum), sum(r.accepted_confidence_sum), min(r.confidence_min), max(r.confidence_max), false
        FROM changes c, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_confidence_rows(c.hg, c.sign, g.grain) r
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(r.n) <> 0 OR sum(r.accepted) <> 0 OR sum(r.confidence_sum) <> 0 OR sum(r.accepted_confidence_sum) <> 0)
    INSERT INTO analytics_user_rollup
    SELECT r.grain, r.bucket, r.user_id, r.session_id, r.model_id, sum(r.queries)::bigint, sum(r.completions)::bigint, sum(r.chats)::bigint,
           min(r.first_at), max(r.last_at), sum(r.hour_sum)::bigint, sum(r.typing_speed_sum), sum(r.typing_speed_n)::bigint,
           sum(r.since_shown_sum), sum(r.since_shown_n)::bigint, sum(r.since_accepted_sum), sum(r.since_accepted_n)::bigint,
           sum(r.generations)::bigint, sum(r.accepted)::bigint, false
    FROM changes c, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_user_rows_of_generation(c.hg, c.sign, g.grain) r
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(r.queries) <> 0 OR sum(r.generations) <> 0 OR sum(r.accepted) <> 0 OR sum(r.typing_speed_n) <> 0 OR sum(r.since_shown_n) <> 0
        OR sum(r.since_accepted_n) <> 0;
END
$$;

CREATE OR REPLACE FUNCTION analytics_generations_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_generation_changes(ARRAY(SELECT (n::had_generation, 1)::analytics_generation_change FROM new_rows n));
    RETURN NULL;
END
$$;
-- Rows an update left exactly as they were (feedback repeating what a generation already says) are
-- set aside first: EXCEPT ALL keeps only the old rows that changed and their new versions.
CREATE OR REPLACE FUNCTION analytics_generations_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_generation_changes(ARRAY(
        SELECT (o::had_generation, -1)::analytics_generation_change FROM (SELECT * FROM old_rows EXCEPT ALL SELECT * FROM new_rows) o
        UNION ALL
        SELECT (n::had_generation, 1)::analytics_generation_change FROM (SELECT * FROM new_rows EXCEPT ALL SELECT * FROM old_rows) n));
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION analytics_generations_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_generation_changes(ARRAY(SELECT (o::had_generation, -1)::analytics_generation_change FROM old_rows o));
    RETURN NULL;
END
$$;
DROP FUNCTION analytics_add_generations(had_generation[], integer, boolean);

----------------------------------------------------------------------------------------------------
-- Queries.
CREATE OR REPLACE FUNCTION analytics_queries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_query_rollup
    SELECT r.grain, r.bucket, r.query_type, r.language_id, r.trigger_type_id, sum(r.queries)::bigint, false
    FROM new_rows n, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_query_rows(n::meta_query, 1, g.grain) r
    GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO analytics_user_rollup
    SELECT r.grain, r.bucket, r.user_id, r.session_id, r.model_id, sum(r.queries)::bigint, sum(r.completions)::bigint, sum(r.chats)::bigint,
           min(r.first_at), max(r.last_at), sum(r.hour_sum)::bigint, sum(r.typing_speed_sum), sum(r.typing_speed_n)::bigint,
           sum(r.since_shown_sum), sum(r.since_shown_n)::bigint, sum(r.since_accepted_sum), sum(r.since_accepted_n)::bigint,
           sum(r.generations)::bigint, sum(r.accepted)::bigint, false
    FROM new_rows n, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_user_rows_of_query(n::meta_query, 1, g.grain) r
    GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO analytics_document_rollup
    SELECT r.grain, r.bucket, r.user_id, r.session_id, r.file_path, min(r.min_length), max(r.max_length), sum(r.queries)::bigint, false
    FROM new_rows n, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_document_rows(n::meta_query, 1, g.grain) r
    GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END
$$;

----------------------------------------------------------------------------------------------------
-- Ground-truth placements: each statement's placed rows added, unplaced rows subtracted. One function
-- per placement table serves both its triggers: each trigger names its transition table changed_rows.
DROP TRIGGER analytics_survival_placed ON analytics_survival_placement;
DROP TRIGGER analytics_survival_unplaced ON analytics_survival_placement;
DROP TRIGGER analytics_truths_placed ON analytics_truth_placement;
DROP TRIGGER analytics_truths_unplaced ON analytics_truth_placement;
DROP FUNCTION analytics_survival_placed(), analytics_survival_unplaced(), analytics_truths_placed(), analytics_truths_unplaced();

CREATE FUNCTION analytics_survival_placement_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    direction integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO analytics_survival_rollup
    SELECT r.grain, r.bucket, r.model_id, r.checkpoint, sum(r.generations)::bigint, sum(r.unchanged)::bigint, sum(r.mostly_unchanged)::bigint,
           sum(r.similarity_sum), false
    FROM changed_rows p, (VALUES ('h'::"char"), ('d'::"char")) g (grain),
         analytics_survival_rows(p::analytics_survival_placement, direction, g.grain) r
    GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_survival_placed AFTER INSERT ON analytics_survival_placement
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_survival_placement_changed();
CREATE TRIGGER analytics_survival_unplaced AFTER DELETE ON analytics_survival_placement
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_survival_placement_changed();

CREATE FUNCTION analytics_truth_placement_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    direction integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    INSERT INTO analytics_truth_rollup
    SELECT r.grain, r.bucket, r.model_id, sum(r.generations)::bigint, sum(r.exact)::bigint, sum(r.completion_chars)::bigint,
           sum(r.truth_chars)::bigint, sum(r.length_diff)::bigint, sum(r.confidence_sum), sum(r.accepted)::bigint, false
    FROM changed_rows p, (VALUES ('h'::"char"), ('d'::"char")) g (grain),
         analytics_truth_rows(p::analytics_truth_placement, direction, g.grain) r
    GROUP BY 1, 2, 3;
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_truths_placed AFTER INSERT ON analytics_truth_placement
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_truth_placement_changed();
CREATE TRIGGER analytics_truths_unplaced AFTER DELETE ON analytics_truth_placement
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_truth_placement_changed();
DROP FUNCTION analytics_add_survival(analytics_survival_placement[], integer);
DROP FUNCTION analytics_add_truths(analytics_truth_placement[], integer);

----------------------------------------------------------------------------------------------------
-- Lookups by id stay lookups by id. PL/pgSQL plans a statement once per connection, with the table
-- sizes of that moment: planned while a table was small (a fresh deployment, ./bench.sh ingest's
-- round into an empty database), a lookup became a sequential scan, or a join that starts from the
-- whole table, and stayed one while the table grew, until autovacuum's next ANALYZE. In that round a
-- batch's ground truths took 260 ms instead of 2, its query rollups 89 ms instead of 1.6. So these
-- functions start from the statement's own rows (or the ids they are given), reach every other row
-- through a lookup fenced into its own subquery (OFFSET 0, LIMIT, a scalar subquery: PostgreSQL
-- cannot turn it around into a scan), and forbid sequential scans, so each lookup probes an index
-- whatever the statistics said when it was planned.
CREATE OR REPLACE FUNCTION analytics_place_truths(qs uuid[]) RETURNS void LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    DELETE FROM analytics_survival_placement WHERE meta_query_id = ANY(qs);
    INSERT INTO analytics_survival_placement
    SELECT DISTINCT ON (hg.meta_query_id, hg.model_id, c.checkpoint) hg.meta_query_id, hg.model_id, c.checkpoint, gt.similarity,
           hg.query_timestamp, hg.user_id
    FROM (SELECT DISTINCT id FROM unnest(qs) id) q
    -- The filters stay outside the lookups: inside, a cached plan may AND the primary key with an
    -- index on query_type, which reads every completion.
    CROSS JOIN LATERAL (SELECT * FROM had_generation hg WHERE hg.meta_query_id = q.id OFFSET 0) hg
    CROSS JOIN LATERAL (SELECT * FROM ground_truth gt WHERE gt.completion_query_id = hg.meta_query_id OFFSET 0) gt
    CROSS JOIN LATERAL (SELECT max(cp) AS checkpoint FROM unnest(analytics_survival_checkpoints()) cp
                        WHERE cp <= extract(epoch FROM gt.truth_timestamp - coalesce(hg.accepted_at, hg.query_timestamp))) c
    WHERE hg.was_accepted AND hg.query_type = 'completion' AND gt.model_id = hg.model_id AND gt.similarity IS NOT NULL
      AND c.checkpoint IS NOT NULL
    ORDER BY hg.meta_query_id, hg.model_id, c.checkpoint, gt.truth_timestamp;

    DELETE FROM analytics_truth_placement WHERE meta_query_id = ANY(qs);
    INSERT INTO analytics_truth_placement
    SELECT hg.meta_query_id, hg.model_id, t.truth_timestamp, btrim(hg.completion, E' \t\r\n') = btrim(t.ground_truth, E' \t\r\n'),
           char_length(hg.completion), char_length(t.ground_truth), hg.confidence, hg.was_accepted, hg.user_id
    FROM (SELECT DISTINCT id FROM unnest(qs) id) q
    CROSS JOIN LATERAL (SELECT gt.truth_timestamp, gt.ground_truth FROM ground_truth gt WHERE gt.completion_query_id = q.id
                        ORDER BY gt.truth_timestamp DESC LIMIT 1) t
    CROSS JOIN LATERAL (SELECT * FROM had_generation hg WHERE hg.meta_query_id = q.id OFFSET 0) hg;
END
$$;

CREATE OR REPLACE FUNCTION analytics_generations_truths_inserted() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    touched uuid[] := ARRAY(SELECT DISTINCT n.meta_query_id FROM new_rows n
                            WHERE (SELECT true FROM ground_truth gt WHERE gt.completion_query_id = n.meta_query_id LIMIT 1));
BEGIN
    IF cardinality(touched) > 0 THEN
        PERFORM analytics_place_truths(touched);
    END IF;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION analytics_generations_truths_updated() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    touched uuid[] := ARRAY(SELECT DISTINCT n.meta_query_id FROM new_rows n
                            JOIN old_rows o ON o.meta_query_id = n.meta_query_id AND o.model_id = n.model_id
                            WHERE (o.was_accepted IS DISTINCT FROM n.was_accepted OR o.accepted_at IS DISTINCT FROM n.accepted_at
                                   OR o.user_id IS DISTINCT FROM n.user_id)
                              AND (SELECT true FROM ground_truth gt WHERE gt.completion_query_id = n.meta_query_id LIMIT 1));
BEGIN
    IF cardinality(touched) > 0 THEN
        PERFORM analytics_place_truths(touched);
    END IF;
    RETURN NULL;
END
$$;

-- The generation's scope: one row looked up by its primary key. The query rollups' telemetry rows
-- are LEFT JOINed per query (analytics_query_rows, analytics_user_rows_of_query), which only a
-- nested loop from the statement's rows does as lookups.
ALTER FUNCTION had_generation_copy_query_scope() SET enable_seqscan = off;
ALTER FUNCTION analytics_queries_inserted() SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
