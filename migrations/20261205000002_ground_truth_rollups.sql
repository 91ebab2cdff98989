-- Ours: the two analytics that read ground truths, made as fast as the others (see
-- 20261205000001_analytics_rollups.sql for the rollups' shape: delta rows per UTC hour and day,
-- merged by analytics_compact(), read by analytics_* functions with raw rows at the edges).
--
-- Both depend on more than one row (a generation and its ground truths, which arrive later and in
-- any order), so each keeps a placement table first: what the endpoint counts for each generation,
-- recomputed for its query whenever one of its rows changes (statement triggers on ground_truth
-- and had_generation). Statement triggers on the placement tables append the rollups' deltas.

-- Code survival's checkpoints (seconds after acceptance) and its "mostly unchanged" similarity:
-- the route reports them (server/src/routes/analytics/research.rs; a test holds the two equal).
CREATE FUNCTION analytics_survival_checkpoints() RETURNS integer[] LANGUAGE sql IMMUTABLE AS $$ SELECT '{30,120,300,600}'::integer[] $$;
CREATE FUNCTION analytics_mostly_unchanged() RETURNS double precision LANGUAGE sql IMMUTABLE AS $$ SELECT 0.8::float8 $$;

-- Per accepted completion generation and checkpoint, its earliest scored ground truth at or after
-- the checkpoint and before the next one (or any time after the last). Acceptance time is
-- accepted_at, or the query's time for generations accepted before it was recorded.
CREATE TABLE analytics_survival_placement (
    meta_query_id   UUID NOT NULL,
    model_id        BIGINT NOT NULL,
    checkpoint      INTEGER NOT NULL,
    similarity      DOUBLE PRECISION NOT NULL,
    query_timestamp TIMESTAMPTZ NOT NULL,
    user_id         UUID,
    PRIMARY KEY (meta_query_id, model_id, checkpoint),
    FOREIGN KEY (meta_query_id, model_id) REFERENCES had_generation (meta_query_id, model_id) ON DELETE CASCADE
);
CREATE INDEX idx_analytics_survival_placement_time ON analytics_survival_placement (query_timestamp);
CREATE INDEX idx_analytics_survival_placement_user ON analytics_survival_placement (user_id, query_timestamp);

-- Per query and generation, the query's latest ground truth against the generation.
CREATE TABLE analytics_truth_placement (
    meta_query_id    UUID NOT NULL,
    model_id         BIGINT NOT NULL,
    truth_timestamp  TIMESTAMPTZ NOT NULL,
    exact            BOOLEAN NOT NULL,
    completion_chars INTEGER NOT NULL,
    truth_chars      INTEGER NOT NULL,
    confidence       DOUBLE PRECISION NOT NULL,
    accepted         BOOLEAN NOT NULL,
    user_id          UUID,
    PRIMARY KEY (meta_query_id, model_id),
    FOREIGN KEY (meta_query_id, model_id) REFERENCES had_generation (meta_query_id, model_id) ON DELETE CASCADE
);
CREATE INDEX idx_analytics_truth_placement_time ON analytics_truth_placement (truth_timestamp);
CREATE INDEX idx_analytics_truth_placement_user ON analytics_truth_placement (user_id, truth_timestamp);

-- Recomputes both placements of the generations of queries `qs` from the rows as they are now.
CREATE FUNCTION analytics_place_truths(qs uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM analytics_survival_placement WHERE meta_query_id = ANY(qs);
    INSERT INTO analytics_survival_placement
    SELECT DISTINCT ON (hg.meta_query_id, hg.model_id, c.checkpoint) hg.meta_query_id, hg.model_id, c.checkpoint, gt.similarity,
           hg.query_timestamp, hg.user_id
    FROM had_generation hg
    JOIN ground_truth gt ON gt.completion_query_id = hg.meta_query_id AND gt.model_id = hg.model_id
    CROSS JOIN LATERAL (SELECT max(cp) AS checkpoint FROM unnest(analytics_survival_checkpoints()) cp
                        WHERE cp <= extract(epoch FROM gt.truth_timestamp - coalesce(hg.accepted_at, hg.query_timestamp))) c
    WHERE hg.meta_query_id = ANY(qs) AND hg.was_accepted AND hg.query_type = 'completion' AND gt.similarity IS NOT NULL
      AND c.checkpoint IS NOT NULL
    ORDER BY hg.meta_query_id, hg.model_id, c.checkpoint, gt.truth_timestamp;

    DELETE FROM analytics_truth_placement WHERE meta_query_id = ANY(qs);
    INSERT INTO analytics_truth_placement
    SELECT hg.meta_query_id, hg.model_id, t.truth_timestamp, btrim(hg.completion, E' \t\r\n') = btrim(t.ground_truth, E' \t\r\n'),
           char_length(hg.completion), char_length(t.ground_truth), hg.confidence, hg.was_accepted, hg.user_id
    FROM (SELECT DISTINCT ON (completion_query_id) completion_query_id, truth_timestamp, ground_truth FROM ground_truth
          WHERE completion_query_id = ANY(qs) ORDER BY completion_query_id, truth_timestamp DESC) t
    JOIN had_generation hg ON hg.meta_query_id = t.completion_query_id;
END
$$;

-- Statement triggers: one recompute per statement for all the queries it touched (a loader's
-- batch of a hundred thousand truths is one set-based pass, not one per row).
CREATE FUNCTION analytics_truths_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_place_truths(ARRAY(SELECT DISTINCT n.completion_query_id FROM new_rows n));
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_truths_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_place_truths(ARRAY(SELECT o.completion_query_id FROM old_rows o UNION SELECT n.completion_query_id FROM new_rows n));
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_truths_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_place_truths(ARRAY(SELECT DISTINCT o.completion_query_id FROM old_rows o));
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_truths_inserted AFTER INSERT ON ground_truth
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_truths_inserted();
CREATE TRIGGER analytics_truths_updated AFTER UPDATE ON ground_truth
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_truths_updated();
CREATE TRIGGER analytics_truths_deleted AFTER DELETE ON ground_truth
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_truths_deleted();

-- A generation stored after its query's ground truth, or whose acceptance, its time or its user
-- changed, moves what its query's truths count for.
CREATE FUNCTION analytics_generations_truths_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched uuid[] := ARRAY(SELECT DISTINCT n.meta_query_id FROM new_rows n
                            WHERE EXISTS (SELECT 1 FROM ground_truth gt WHERE gt.completion_query_id = n.meta_query_id));
BEGIN
    IF cardinality(touched) > 0 THEN
        PERFORM analytics_place_truths(touched);
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_generations_truths_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched uuid[] := ARRAY(SELECT DISTINCT n.meta_query_id FROM new_rows n
                            JOIN old_rows o ON o.meta_query_id = n.meta_query_id AND o.model_id = n.model_id
                            WHERE (o.was_accepted IS DISTINCT FROM n.was_accepted OR o.accepted_at IS DISTINCT FROM n.accepted_at
                                   OR o.user_id IS DISTINCT FROM n.user_id)
                              AND EXISTS (SELECT 1 FROM ground_truth gt WHERE gt.completion_query_id = n.meta_query_id));
BEGIN
    IF cardinality(touched) > 0 THEN
        PERFORM analytics_place_truths(touched);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_generations_truths_inserted AFTER INSERT ON had_generation
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_generations_truths_inserted();
CREATE TRIGGER analytics_generations_truths_updated AFTER UPDATE ON had_generation
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_generations_truths_updated();

----------------------------------------------------------------------------------------------------
-- Survival per query time, model and checkpoint.
CREATE TABLE analytics_survival_rollup (
    grain            "char" NOT NULL,
    bucket           TIMESTAMPTZ NOT NULL,
    model_id         BIGINT NOT NULL,
    checkpoint       INTEGER NOT NULL,
    generations      BIGINT NOT NULL,
    unchanged        BIGINT NOT NULL,
    mostly_unchanged BIGINT NOT NULL,
    similarity_sum   DOUBLE PRECISION NOT NULL,
    compacted        BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_survival_rollup_bucket ON analytics_survival_rollup (grain, bucket)
    INCLUDE (model_id, checkpoint, generations, unchanged, mostly_unchanged, similarity_sum, compacted);
CREATE INDEX idx_analytics_survival_rollup_loose ON analytics_survival_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_survival_rows(p analytics_survival_placement, sign integer, grain "char")
RETURNS SETOF analytics_survival_rollup LANGUAGE sql IMMUTABLE AS $$
    SELECT grain, analytics_bucket(p.query_timestamp, grain), p.model_id, p.checkpoint, sign::bigint, sign * (p.similarity >= 1.0)::int::bigint,
           sign * (p.similarity >= analytics_mostly_unchanged())::int::bigint, sign * p.similarity, false
$$;

CREATE FUNCTION analytics_survival_merge(rows analytics_survival_rollup[], merged boolean)
RETURNS SETOF analytics_survival_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, model_id, checkpoint, sum(generations)::bigint, sum(unchanged)::bigint, sum(mostly_unchanged)::bigint,
           sum(similarity_sum), merged
    FROM unnest(rows) GROUP BY grain, bucket, model_id, checkpoint
    HAVING sum(generations) <> 0 OR sum(unchanged) <> 0 OR sum(mostly_unchanged) <> 0
$$;

-- Ground truths per time of the truth and model.
CREATE TABLE analytics_truth_rollup (
    grain            "char" NOT NULL,
    bucket           TIMESTAMPTZ NOT NULL,
    model_id         BIGINT NOT NULL,
    generations      BIGINT NOT NULL,
    exact            BIGINT NOT NULL,
    completion_chars BIGINT NOT NULL,
    truth_chars      BIGINT NOT NULL,
    length_diff      BIGINT NOT NULL,
    confidence_sum   DOUBLE PRECISION NOT NULL,
    accepted         BIGINT NOT NULL,
    compacted        BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX idx_analytics_truth_rollup_bucket ON analytics_truth_rollup (grain, bucket)
    INCLUDE (model_id, generations, exact, completion_chars, truth_chars, length_diff, confidence_sum, accepted, compacted);
CREATE INDEX idx_analytics_truth_rollup_loose ON analytics_truth_rollup (grain, bucket) WHERE NOT compacted;

CREATE FUNCTION analytics_truth_rows(p analytics_truth_placement, sign integer, grain "char")
RETURNS SETOF analytics_truth_rollup LANGUAGE sql IMMUTABLE AS $$
    SELECT grain, analytics_bucket(p.truth_timestamp, grain), p.model_id, sign::bigint, sign * p.exact::int::bigint,
           sign * p.completion_chars::bigint, sign * p.truth_chars::bigint, sign * abs(p.completion_chars - p.truth_chars)::bigint,
           sign * p.confidence, sign * p.accepted::int::bigint, false
$$;

CREATE FUNCTION analytics_truth_merge(rows analytics_truth_rollup[], merged boolean)
RETURNS SETOF analytics_truth_rollup LANGUAGE sql STABLE AS $$
    SELECT grain, bucket, model_id, sum(generations)::bigint, sum(exact)::bigint, sum(completion_chars)::bigint, sum(truth_chars)::bigint,
           sum(length_diff)::bigint, sum(confidence_sum), sum(accepted)::bigint, merged
    FROM unnest(rows) GROUP BY grain, bucket, model_id
    HAVING sum(generations) <> 0 OR sum(exact) <> 0 OR sum(completion_chars) <> 0 OR sum(truth_chars) <> 0 OR sum(accepted) <> 0
$$;

CREATE FUNCTION analytics_add_survival(rows analytics_survival_placement[], sign integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_survival_rollup SELECT * FROM analytics_survival_merge(ARRAY(
        SELECT r FROM unnest(rows) p, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_survival_rows(p, sign, g.grain) r), false);
END
$$;
CREATE FUNCTION analytics_add_truths(rows analytics_truth_placement[], sign integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_truth_rollup SELECT * FROM analytics_truth_merge(ARRAY(
        SELECT r FROM unnest(rows) p, (VALUES ('h'::"char"), ('d'::"char")) g (grain), analytics_truth_rows(p, sign, g.grain) r), false);
END
$$;

CREATE FUNCTION analytics_survival_placed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_survival(ARRAY(SELECT n::analytics_survival_placement FROM new_rows n), 1);
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_survival_unplaced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_survival(ARRAY(SELECT o::analytics_survival_placement FROM old_rows o), -1);
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_survival_placed AFTER INSERT ON analytics_survival_placement
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_survival_placed();
CREATE TRIGGER analytics_survival_unplaced AFTER DELETE ON analytics_survival_placement
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_survival_unplaced();

CREATE FUNCTION analytics_truths_placed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_truths(ARRAY(SELECT n::analytics_truth_placement FROM new_rows n), 1);
    RETURN NULL;
END
$$;
CREATE FUNCTION analytics_truths_unplaced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM analytics_add_truths(ARRAY(SELECT o::analytics_truth_placement FROM old_rows o), -1);
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_truths_placed AFTER INSERT ON analytics_truth_placement
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_truths_placed();
CREATE TRIGGER analytics_truths_unplaced AFTER DELETE ON analytics_truth_placement
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_truths_unplaced();

----------------------------------------------------------------------------------------------------
-- Readers, as analytics_generations: survival by the generations' query time, ground truths by the
-- truths' time; one user's rows from the placements.
CREATE FUNCTION analytics_survival(p_start timestamptz, p_end timestamptz, p_user uuid, p_model bigint, p_grain text)
RETURNS SETOF analytics_survival_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_survival_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL AND (p_model IS NULL OR r.model_id = p_model)
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, analytics_survival_placement p, analytics_survival_rows(p, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR p.model_id = p_model) AND p.query_timestamp >= p_start AND p.query_timestamp < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, analytics_survival_placement p, analytics_survival_rows(p, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR p.model_id = p_model) AND p.query_timestamp >= s.hour_to AND p.query_timestamp <= p_end
    UNION ALL
    SELECT r.* FROM analytics_survival_placement p, analytics_survival_rows(p, 1, 'r') r
    WHERE p_user IS NOT NULL AND p.user_id = p_user AND p.query_timestamp BETWEEN p_start AND p_end AND (p_model IS NULL OR p.model_id = p_model)
$$;

CREATE FUNCTION analytics_truths(p_start timestamptz, p_end timestamptz, p_user uuid, p_model bigint, p_grain text)
RETURNS SETOF analytics_truth_rollup LANGUAGE sql STABLE AS $$
    SELECT r.* FROM analytics_ranges(p_start, p_end, p_grain) x JOIN analytics_truth_rollup r
        ON r.grain = x.grain AND r.bucket >= x.bucket_from AND r.bucket < x.bucket_to
    WHERE p_user IS NULL AND (p_model IS NULL OR r.model_id = p_model)
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, analytics_truth_placement p, analytics_truth_rows(p, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR p.model_id = p_model) AND p.truth_timestamp >= p_start AND p.truth_timestamp < s.hour_from
    UNION ALL
    SELECT r.* FROM analytics_spans(p_start, p_end, p_grain) s, analytics_truth_placement p, analytics_truth_rows(p, 1, 'r') r
    WHERE p_user IS NULL AND (p_model IS NULL OR p.model_id = p_model) AND p.truth_timestamp >= s.hour_to AND p.truth_timestamp <= p_end
    UNION ALL
    SELECT r.* FROM analytics_truth_placement p, analytics_truth_rows(p, 1, 'r') r
    WHERE p_user IS NOT NULL AND p.user_id = p_user AND p.truth_timestamp BETWEEN p_start AND p_end AND (p_model IS NULL OR p.model_id = p_model)
$$;

----------------------------------------------------------------------------------------------------
-- Compaction of these two as well.
CREATE OR REPLACE FUNCTION analytics_compact_ground_truths() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    merged bigint := 0;
    n bigint;
BEGIN
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_survival_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_survival_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_survival_rollup SELECT * FROM analytics_survival_merge(ARRAY(SELECT m::analytics_survival_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    WITH touched AS (SELECT DISTINCT grain, bucket FROM analytics_truth_rollup WHERE NOT compacted),
    moved AS (DELETE FROM analytics_truth_rollup r USING touched t WHERE r.grain = t.grain AND r.bucket = t.bucket RETURNING r.*)
    INSERT INTO analytics_truth_rollup SELECT * FROM analytics_truth_merge(ARRAY(SELECT m::analytics_truth_rollup FROM moved m), true);
    GET DIAGNOSTICS n = ROW_COUNT; merged := merged + n;
    RETURN merged;
END
$$;

-- analytics_compact() now covers every rollup: the first migration's and these.
ALTER FUNCTION analytics_compact() RENAME TO analytics_compact_telemetry;
CREATE FUNCTION analytics_compact() RETURNS bigint LANGUAGE sql AS $$
    SELECT analytics_compact_telemetry() + analytics_compact_ground_truths()
$$;

-- Backfill: place every query's ground truths, one UTC day of queries at a time, then merge.
DO $$
DECLARE
    day timestamptz;
BEGIN
    FOR day IN SELECT DISTINCT date_trunc('day', query_timestamp, 'UTC') FROM had_generation
               WHERE meta_query_id IN (SELECT completion_query_id FROM ground_truth) ORDER BY 1 LOOP
        PERFORM analytics_place_truths(ARRAY(
            SELECT DISTINCT gt.completion_query_id FROM ground_truth gt JOIN had_generation hg ON hg.meta_query_id = gt.completion_query_id
            WHERE hg.query_timestamp >= day AND hg.query_timestamp < day + interval '24 hours'));
    END LOOP;
    PERFORM analytics_compact_ground_truths();
END
$$;
