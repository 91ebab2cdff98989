// The project's multi-file context, fed from the editor as the plugin feeds it from the IDE: the
// files open in this tab are sent to `POST /api/completion/multi-file-context/update` when they
// changed since last sent, and a completion request names them in `context_files`, so the prompt and
// the retrieval index see them exactly as they see the plugin's.

/** One `FileContextChangeData`: replace lines `start_line..end_line` with `new_lines`. */
export interface LineChange {
  change_type: "update";
  start_line: number;
  end_line: number;
  new_lines: string[];
}

/** The most characters of one file the context carries (the server bounds a file's lines too). */
const MAX_CONTEXT_CHARS = 100_000;

/** What this tab last sent for each file, to send only what changed. */
export class ContextMirror {
  private sent = new Map<string, { text: string; lines: number }>();

  /**
   * The updates that bring the server's context to `files` (name → text): a whole-file replacement
   * of the lines the server holds for each file that changed. Empty when nothing did.
   */
  updates(files: Map<string, string>): Record<string, LineChange[]> {
    const updates: Record<string, LineChange[]> = {};
    for (const [name, full] of files) {
      const text = full.slice(0, MAX_CONTEXT_CHARS);
      const before = this.sent.get(name);
      if (before?.text === text) continue;
      updates[name] = [{ change_type: "update", start_line: 0, end_line: before?.lines ?? 0, new_lines: text.split("\n") }];
    }
    return updates;
  }

  /** Records that `updates` reached the server. */
  sentUpdates(files: Map<string, string>, updates: Record<string, LineChange[]>) {
    for (const name of Object.keys(updates)) {
      const text = (files.get(name) ?? "").slice(0, MAX_CONTEXT_CHARS);
      this.sent.set(name, { text, lines: text.split("\n").length });
    }
  }

  /** A file renamed or deleted: its old name's lines are no longer ours to replace. */
  forget(name: string) {
    this.sent.delete(name);
  }
}
