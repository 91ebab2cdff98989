-- Ours: feedback that arrived before its query's rows were written (the query's telemetry is still
-- queued). The telemetry writer applies and deletes these rows when it writes the query; both
-- paths hold the query's advisory lock, so no feedback is missed. No foreign keys: the query does
-- not exist yet when a row lands here.
CREATE TABLE deferred_feedback (
    meta_query_id UUID NOT NULL,
    model_id      BIGINT NOT NULL,
    was_accepted  BOOLEAN NOT NULL,
    ground_truth  TEXT,
    received_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (meta_query_id, model_id, received_at)
);

-- Ours: the user's own message of a chat turn (redacted). Upstream stores only the editor context
-- and shows its prefix as the user's message in the history.
ALTER TABLE chat_query ADD COLUMN user_message TEXT;
