-- Latency by stage. A generation's time so far was the model's total (`generation_time`) and the
-- server's for the whole query (`meta_query.total_serving_time`); now also how long its job waited
-- in the queue before a worker took it, and how long the model took to its first token (reading
-- the prompt: prefill). Decode is generation_time − first_token_ms; what remains of the serving
-- time is the server and the pub/sub hops. NULL for rows stored before, and for remote providers.
ALTER TABLE had_generation
    ADD COLUMN queue_wait_ms INTEGER CHECK (queue_wait_ms >= 0),
    ADD COLUMN first_token_ms INTEGER CHECK (first_token_ms >= 0);
