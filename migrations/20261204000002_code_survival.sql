-- Code survival. `had_generation.accepted_at`: when the user accepted the completion (the first
-- accepting feedback), so later ground truths can be placed at 30 s, 2 min, 5 min, 10 min after it
-- (NULL for generations accepted before this release: their query's time stands in).
-- `ground_truth.model_id` / `similarity`: whose completion the ground truth was sent for, and how
-- much of it the later text still holds (shared/src/survival.rs), scored by the worker when it
-- stores the row; NULL for rows stored before this release (not counted).
ALTER TABLE had_generation ADD COLUMN accepted_at TIMESTAMPTZ;
ALTER TABLE ground_truth
    ADD COLUMN model_id BIGINT,
    ADD COLUMN similarity DOUBLE PRECISION CHECK (similarity BETWEEN 0 AND 1);
