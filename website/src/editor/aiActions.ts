// AI actions on the editor's selection through the task API (`POST /api/ai/{task}`): refactor and
// document replace the selection with the model's code (one undoable edit); analyze returns a report.
// "Explain" is a chat question, so it lives in the chat panel.
import type { EditorView } from "@codemirror/view";
import { api, unwrap } from "../api/client";

export type ReplacingTask = "refactor" | "document";

/** The selection, or the whole file when nothing is selected. */
export function selectionOf(view: EditorView): { from: number; to: number; text: string } {
  const { from, to } = view.state.selection.main;
  if (from === to) return { from: 0, to: view.state.doc.length, text: view.state.doc.toString() };
  return { from, to, text: view.state.sliceDoc(from, to) };
}

/**
 * Runs `task` on the selection and puts the answer in its place, if the text there is still what
 * was sent (a collaborator may have changed it meanwhile). Returns false when it was not replaced.
 */
export async function replaceSelection(view: EditorView, task: ReplacingTask, language: string): Promise<boolean> {
  const target = selectionOf(view);
  const body = { content: target.text, language };
  const answer = await unwrap(task === "refactor" ? api.POST("/api/ai/refactor", { body }) : api.POST("/api/ai/document", { body }));
  const code = answer.content;
  if (!code.trim() || view.state.sliceDoc(target.from, target.to) !== target.text) return false;
  view.dispatch({ changes: { from: target.from, to: target.to, insert: code }, selection: { anchor: target.from, head: target.from + code.length }, userEvent: "input.ai" });
  return true;
}

/** The model's review of the selection: its report and the issues it found. */
export async function analyze(view: EditorView, language: string) {
  return unwrap(api.POST("/api/ai/analyze", { body: { content: selectionOf(view).text, language } }));
}
