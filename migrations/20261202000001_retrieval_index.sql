-- Ours: the retrieval index. Each project file the plugin reports in its multi-file context is cut
-- into chunks, embedded with all-MiniLM-L6-v2 (384 dimensions) and searched by cosine distance
-- when a completion's config enables retrieval.
--
-- Which version of each file the chunks reflect: index jobs may run out of order, and an older
-- version never replaces a newer one.
CREATE TABLE retrieval_file (
    project_id UUID NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    file_name  TEXT NOT NULL,
    version    BIGINT NOT NULL,
    indexed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, file_name)
);

-- A search is always within one project, whose few hundred chunks are scanned exactly (the primary
-- key's leading column finds them); an approximate HNSW index over all projects would filter after
-- searching and could return nothing for a small project.
CREATE TABLE retrieval_chunk (
    project_id   UUID NOT NULL,
    file_name    TEXT NOT NULL,
    start_line   INT NOT NULL,
    end_line     INT NOT NULL,
    content      TEXT NOT NULL,
    -- SHA-256 of the embedded text: an unchanged chunk keeps its vector when lines above it move.
    content_hash BYTEA NOT NULL,
    embedding    vector(384) NOT NULL,
    PRIMARY KEY (project_id, file_name, start_line),
    FOREIGN KEY (project_id, file_name) REFERENCES retrieval_file (project_id, file_name) ON DELETE CASCADE
);

-- Config row 1 turns retrieval on with the defaults; a config without this block has it off.
-- HOCON merges a repeated object into the first, so the block can be appended.
UPDATE config SET config_data = config_data || '
// Retrieval context (ours): chunks of the project''s files most related to the code before the
// caret are added to completion prompts. Remove the block, or set enabled = false, to turn it off.
config {
  retrieval {
    enabled = true
    budget_chars = 768
    max_snippets = 4
    max_per_file = 2
    min_score = 0.35
  }
}
'
WHERE config_id = 1 AND config_data NOT LIKE '%retrieval {%';
