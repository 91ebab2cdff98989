-- The web editor's files: which files a project has. Until now a file existed only as the updates
-- stored for its room, so nothing could list a project's files, an empty file could not exist, and
-- a deleted file could not be told from one never opened. Each file is now a row here; its
-- document's updates reference it, so renaming the row moves the content with it (ON UPDATE
-- CASCADE) and deleting it removes the content in the same statement (ON DELETE CASCADE) — and an
-- update that reaches PostgreSQL after its file was renamed or deleted is refused instead of
-- bringing the file back.
--
-- Compatibility: a previous-release server still admits a room for any file name, and its updates
-- for a name that has no row here are refused (its room closes, 1011). The web editor's browser
-- side ships with this release, so no such editor exists yet.
CREATE TABLE editor_file (
    project_id UUID NOT NULL REFERENCES project (project_id) ON DELETE CASCADE,
    file_name  VARCHAR(512) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, file_name)
);

-- No update lands between the backfill and the foreign key (a previous-release server may still
-- be storing updates during a rolling deploy).
LOCK TABLE editor_document_update IN SHARE ROW EXCLUSIVE MODE;

-- Documents under names today's rule refuses (a leading '/', a backslash, white space at either
-- end, an empty, '.' or '..' segment) could be neither opened, renamed nor deleted as files: they
-- are dropped. Only the rooms' old rule (1–512 characters, no control characters) admitted them.
DELETE FROM editor_document_update
WHERE file_name ~ '^/' OR strpos(file_name, E'\\') > 0 OR file_name ~ '^\s|\s$'
   OR ('/' || file_name || '/') ~ '/(\.\.?)?/';

-- Every document stored so far becomes a file, created when its first update was.
INSERT INTO editor_file (project_id, file_name, created_at)
SELECT project_id, file_name, min(created_at) FROM editor_document_update GROUP BY project_id, file_name;

-- Served by the existing index on (project_id, file_name, update_id) for the cascades.
ALTER TABLE editor_document_update
    ADD CONSTRAINT editor_document_update_file_fkey FOREIGN KEY (project_id, file_name)
    REFERENCES editor_file (project_id, file_name) ON UPDATE CASCADE ON DELETE CASCADE;
