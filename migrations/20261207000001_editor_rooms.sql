-- The web editor's collaboration rooms: each file of a project is a Yjs document, stored as the
-- y-sync updates its editors sent, in order. Appending (never overwriting) means two server
-- instances serving the same room cannot erase each other's edits; loading merges every row (Yjs
-- updates commute), and compaction replaces a prefix of rows by their merge in one transaction.
CREATE TABLE editor_document_update (
    update_id  BIGSERIAL PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    file_name  VARCHAR(512) NOT NULL,
    update     BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX editor_document_update_file ON editor_document_update (project_id, file_name, update_id);
