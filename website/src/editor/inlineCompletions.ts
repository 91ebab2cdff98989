// The editor's inline completions, as the plugin asks for them: the caret's prefix (512 characters)
// and suffix (256), the open files as multi-file context, contextual and behavioral telemetry,
// streamed over `/api/ws/completion`. Tokens grow the ghost text as they arrive; the next keystroke
// cancels a request still running; Tab sends `was_accepted: true` for the query (after it is
// stored, if accepted mid-stream) and ground truth later, like the plugin's GroundTruth module.
import type { EditorView } from "@codemirror/view";
import { ActionSocket, type Run } from "./actionSocket";
import { currentSuggestion, showSuggestion, type GhostTextHooks, type Trigger } from "./ghostText";
import { groundTruthAround, typedByHand, type Suggestion } from "./suggestion";

/** The model the editor asks (the default config's completion model, SmolLM2). */
export const EDITOR_MODEL_ID = 5;
/** `plugin_version` row of the web editor, so research can tell its queries from the plugin's. */
export const WEB_EDITOR_VERSION_ID = 5;
const PREFIX_CHARS = 512;
const SUFFIX_CHARS = 256;
/** When ground truth is sent after an acceptance (the plugin's defaults). */
const GROUND_TRUTH_AFTER_MS = [15_000, 45_000, 90_000];
const TRIGGER_IDS: Record<Trigger, number> = { manual: 1, auto: 2 };

/** What the editor knows that a request needs. */
export interface CompletionContext {
  fileName(): string;
  languageId(): number;
  /** Sends the open files' changes as multi-file context; returns the names to list in `context_files`. */
  syncContext(): Promise<string[]>;
  /** A suggestion was shown (for the page's status line and the latency figures). */
  shown?(suggestion: Suggestion, latencyMs: number): void;
  /** The request behind the suggestion on screen finished: its query is stored as `queryId`. */
  settled?(queryId: string): void;
  /** A suggestion left the screen. */
  ended?(suggestion: Suggestion, how: "accepted" | "rejected" | "typed-out"): void;
}

interface CompletionItem {
  model_id?: number;
  completion?: string;
}

let pendingKeys = 0;

export class InlineCompletions implements GhostTextHooks {
  private readonly socket = new ActionSocket("/api/ws/completion");
  private inFlight: { run: Run; key: string; queryId: Promise<string | null> } | null = null;
  /** An accepted suggestion whose query is still generating: new requests wait for it. */
  private holding: Promise<unknown> = Promise.resolve();
  private lastShownAt: number | null = null;
  private lastAcceptedAt: number | null = null;
  private keystrokes: number[] = [];
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;

  constructor(private readonly context: CompletionContext) {}

  request(view: EditorView, trigger: Trigger) {
    void this.ask(view, trigger);
  }

  supersede() {
    this.inFlight?.run.cancel();
    this.inFlight = null;
  }

  keystroke() {
    const now = Date.now();
    this.keystrokes = [...this.keystrokes.filter((t) => now - t < 10_000), now];
  }

  accepted(suggestion: Suggestion, view: EditorView) {
    this.lastAcceptedAt = Date.now();
    this.context.ended?.(suggestion, "accepted");
    const queryId = this.queryIdOf(suggestion);
    if (this.inFlight?.key === suggestion.queryId) this.inFlight = null; // keeps generating: its query is stored
    this.holding = queryId;
    const inserted = { from: suggestion.at, to: suggestion.at + suggestion.text.length };
    void queryId.then((id) => {
      if (!id || this.closed) return;
      void this.feedback(id, suggestion.modelId, null);
      for (const delay of GROUND_TRUTH_AFTER_MS) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          const doc = view.state.doc.toString();
          void this.feedback(id, suggestion.modelId, groundTruthAround(doc, inserted.from, Math.min(doc.length, inserted.to)));
        }, delay);
        this.timers.add(timer);
      }
    });
  }

  dismissed(suggestion: Suggestion, how: "rejected" | "typed-out") {
    // The plugin sends nothing for a rejection: the stored generation already says not accepted.
    this.context.ended?.(suggestion, how);
    if (this.inFlight?.key === suggestion.queryId) this.supersede();
  }

  close() {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.supersede();
    this.socket.close();
  }

  private queryIdOf(suggestion: Suggestion): Promise<string | null> {
    if (this.inFlight?.key === suggestion.queryId) return this.inFlight.queryId;
    return Promise.resolve(suggestion.queryId.startsWith("pending:") ? null : suggestion.queryId);
  }

  private feedback(queryId: string, modelId: number, groundTruth: string | null) {
    return this.socket
      .call("completion_feedback", { meta_query_id: queryId, model_id: modelId, was_accepted: true, ground_truth: groundTruth })
      .catch(() => undefined);
  }

  private async ask(view: EditorView, trigger: Trigger) {
    const asked = performance.now();
    await this.holding.catch(() => undefined);
    const contextFiles = await this.context.syncContext().catch(() => []);
    const state = view.state;
    const caret = state.selection.main.head;
    if (!state.selection.main.empty || currentSuggestion(view)) return;
    const doc = state.doc.toString();
    const now = Date.now();
    const body = {
      model_ids: [EDITOR_MODEL_ID],
      context: {
        prefix: doc.slice(Math.max(0, caret - PREFIX_CHARS), caret),
        suffix: doc.slice(caret, caret + SUFFIX_CHARS),
        file_name: this.context.fileName(),
        selected_text: "",
        context_files: contextFiles,
      },
      contextual_telemetry: {
        version_id: WEB_EDITOR_VERSION_ID,
        trigger_type_id: TRIGGER_IDS[trigger],
        language_id: this.context.languageId(),
        file_path: this.context.fileName(),
        caret_line: state.doc.lineAt(caret).number - 1,
        document_char_length: doc.length,
        relative_document_position: doc.length === 0 ? 0 : caret / doc.length,
      },
      behavioral_telemetry: {
        time_since_last_shown: this.lastShownAt === null ? null : now - this.lastShownAt,
        time_since_last_accepted: this.lastAcceptedAt === null ? null : now - this.lastAcceptedAt,
        typing_speed: this.keystrokes.filter((t) => now - t < 10_000).length / 10,
      },
    };
    this.supersede();
    const key = `pending:${++pendingKeys}`;
    let streamed = "";
    const show = (completion: string, queryId: string) => {
      const current = currentSuggestion(view);
      if (!current) {
        // The first words: shown only while this request is the one in flight and nothing moved
        // since it was made (a dismissed suggestion's late tokens do not bring it back).
        if (this.inFlight?.key !== key || view.state.doc !== state.doc || view.state.selection.main.head !== caret || !completion.trim()) return;
        const suggestion = { text: completion, at: caret, completion, queryId, modelId: EDITOR_MODEL_ID, shownAt: Date.now() };
        this.lastShownAt = suggestion.shownAt;
        view.dispatch({ effects: showSuggestion.of(suggestion) });
        this.context.shown?.(suggestion, performance.now() - asked);
        return;
      }
      if (current.queryId !== key && current.queryId !== queryId) return;
      const typed = current.completion.slice(0, typedByHand(current));
      if (!completion.startsWith(typed)) return;
      view.dispatch({ effects: showSuggestion.of({ ...current, completion, queryId, text: completion.slice(typed.length) }) });
    };
    const run = this.socket.request("completion_request", body, (text) => {
      streamed += text;
      show(streamed, key);
    });
    const queryId = run.done.then((result) => {
      const content = result?.content as { data?: { meta_query_id?: string; completions?: CompletionItem[] } } | undefined;
      const id = content?.data?.meta_query_id ?? null;
      const item = content?.data?.completions?.find((c) => c.model_id === EDITOR_MODEL_ID);
      if (id && typeof item?.completion === "string") {
        show(item.completion, id);
        if (currentSuggestion(view)?.queryId === id) this.context.settled?.(id);
      }
      return id;
    });
    this.inFlight = { run, key, queryId: queryId.catch(() => null) };
    await this.inFlight.queryId;
    if (this.inFlight?.key === key) this.inFlight = null;
  }
}
