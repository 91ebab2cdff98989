// The project's files: open one, create, rename and delete (any member may). Names are paths
// ("src/main.py"); the list is sorted by name, so a folder's files stand together.
import { useState, type FormEvent } from "react";
import { messageOf } from "../api/errors";
import { Notice } from "../components/Notice";

export interface ProjectFile {
  name: string;
}

interface Props {
  files: ProjectFile[];
  open: string | null;
  onOpen: (name: string) => void;
  onCreate: (name: string) => Promise<void>;
  onRename: (from: string, to: string) => Promise<void>;
  onDelete: (name: string) => Promise<void>;
}

export function FileTree({ files, open, onOpen, onCreate, onRename, onDelete }: Props) {
  const [newName, setNewName] = useState("");
  const [error, setError] = useState<string | null>(null);

  const attempt = async (action: () => Promise<void>) => {
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const create = (event: FormEvent) => {
    event.preventDefault();
    const name = newName.trim();
    if (!name) return;
    void attempt(async () => {
      await onCreate(name);
      setNewName("");
    });
  };

  return (
    <nav className="panel file-tree" aria-labelledby="files-heading" data-testid="file-tree">
      <h2 id="files-heading">Files</h2>
      {files.length === 0 ? (
        <p className="empty">No files yet: create the first one below.</p>
      ) : (
        <ul>
          {files.map((file) => (
            <li key={file.name} className={file.name === open ? "open" : undefined}>
              <button type="button" className="file-name" aria-current={file.name === open ? "page" : undefined} onClick={() => onOpen(file.name)}>
                {file.name}
              </button>
              <span className="file-actions">
                <button
                  type="button"
                  className="secondary small"
                  aria-label={`Rename ${file.name}`}
                  onClick={() => {
                    const to = window.prompt(`Rename ${file.name} to`, file.name)?.trim();
                    if (to && to !== file.name) void attempt(() => onRename(file.name, to));
                  }}
                >
                  Rename
                </button>
                <button
                  type="button"
                  className="secondary small"
                  aria-label={`Delete ${file.name}`}
                  onClick={() => {
                    if (window.confirm(`Delete ${file.name} for every member of the project?`)) void attempt(() => onDelete(file.name));
                  }}
                >
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={create} className="inline-form">
        <label htmlFor="new-file">New file</label>
        <input id="new-file" value={newName} placeholder="src/main.py" maxLength={512} onChange={(e) => setNewName(e.target.value)} />
        <button type="submit" disabled={!newName.trim()}>
          Create
        </button>
      </form>
      <Notice notice={error ? { tone: "bad", text: error } : null} />
    </nav>
  );
}
