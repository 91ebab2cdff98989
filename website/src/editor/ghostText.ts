// Inline completions as ghost text in CodeMirror, triggered like the plugin's: after a pause in
// typing (debounce) or by the shortcut (Alt-\ or Ctrl-Space). Tab accepts, Esc rejects, typing
// the suggestion's next characters keeps it (shortened), any other edit or caret move rejects it.
// The editor reports each suggestion's fate through `GhostTextHooks`; fetching suggestions is the
// host's job (it calls `showSuggestion` / `extendSuggestion` as tokens arrive).
import { Annotation, Prec, StateEffect, StateField, Transaction, type Extension } from "@codemirror/state";
import { Decoration, EditorView, keymap, ViewPlugin, WidgetType, type DecorationSet, type ViewUpdate } from "@codemirror/view";
import { afterEdit, type Suggestion } from "./suggestion";

export type Trigger = "auto" | "manual";

export interface GhostTextHooks {
  /** Asks for a suggestion at the caret. */
  request(view: EditorView, trigger: Trigger): void;
  /** The user typed: a request still in flight is stale. */
  supersede(): void;
  /** A keystroke, for the typing-speed telemetry. */
  keystroke(): void;
  accepted(suggestion: Suggestion, view: EditorView): void;
  /** Rejected (Esc, a different edit, the caret moved) or typed out by hand. */
  dismissed(suggestion: Suggestion, how: "rejected" | "typed-out"): void;
}

/** Milliseconds of quiet after a keystroke before a suggestion is asked for (the plugin's). */
export const DEBOUNCE_MS = 250;

/** Shows a suggestion at its offset (or replaces the one shown). */
export const showSuggestion = StateEffect.define<Suggestion>();
const clearSuggestion = StateEffect.define<null>();

interface Ended {
  suggestion: Suggestion;
  how: "accepted" | "rejected" | "typed-out";
}

interface GhostState {
  current: Suggestion | null;
  /** Set by the transaction that ended a suggestion, for the listener to report once. */
  ended: Ended | null;
}

const ghostState = StateField.define<GhostState>({
  create: () => ({ current: null, ended: null }),
  update(state, tr) {
    let current = state.current;
    let ended: Ended | null = null;
    if (current && tr.docChanged) {
      const outcome = editOutcome(current, tr);
      current = outcome.current;
      ended = outcome.ended;
    }
    for (const effect of tr.effects) {
      if (effect.is(showSuggestion)) current = effect.value;
      if (effect.is(clearSuggestion) && current) {
        ended = { suggestion: current, how: "rejected" };
        current = null;
      }
    }
    // A caret moved away (click, arrows) drops the suggestion.
    if (current && tr.selection && !tr.docChanged && tr.newSelection.main.head !== current.at) {
      ended = { suggestion: current, how: "rejected" };
      current = null;
    }
    return { current, ended };
  },
  provide: (field) =>
    EditorView.decorations.from(field, (state): DecorationSet => {
      const s = state.current;
      if (!s || s.text.length === 0) return Decoration.none;
      return Decoration.set([Decoration.widget({ widget: new GhostWidget(s.text), side: 1 }).range(s.at)]);
    }),
});

/** Marks the transaction that inserts an accepted suggestion. */
const accepting = Annotation.define<boolean>();

function editOutcome(current: Suggestion, tr: Transaction): { current: Suggestion | null; ended: Ended | null } {
  if (tr.annotation(accepting)) return { current: null, ended: { suggestion: current, how: "accepted" } };
  // Someone else's edit (a collaborator's, through Yjs) only moves the suggestion.
  if (!tr.isUserEvent("input") && !tr.isUserEvent("delete") && !tr.isUserEvent("undo") && !tr.isUserEvent("redo")) {
    return { current: { ...current, at: tr.changes.mapPos(current.at, 1) }, ended: null };
  }
  const edits: { from: number; deleted: number; inserted: string }[] = [];
  tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => edits.push({ from: fromA, deleted: toA - fromA, inserted: inserted.toString() }));
  if (edits.length !== 1) return { current: null, ended: { suggestion: current, how: "rejected" } };
  const result = afterEdit(current, edits[0].from, edits[0].deleted, edits[0].inserted);
  if (result.kind === "kept") return { current: result.suggestion, ended: null };
  return { current: null, ended: { suggestion: result.suggestion, how: result.kind } };
}

/** Keystrokes (characters, Enter, deletions) ask again after the debounce; pastes, accepted
 * suggestions, AI actions and collaborators' edits do not. */
function isTyping(tr: Transaction): boolean {
  const event = tr.annotation(Transaction.userEvent);
  return event === "input" || event === "input.type" || event === "input.type.compose" || (event?.startsWith("delete") ?? false);
}

class GhostWidget extends WidgetType {
  constructor(readonly text: string) {
    super();
  }
  eq(other: GhostWidget) {
    return other.text === this.text;
  }
  toDOM() {
    const span = document.createElement("span");
    span.className = "cm-ghost-text";
    span.setAttribute("aria-hidden", "true");
    span.textContent = this.text;
    return span;
  }
  ignoreEvent() {
    return false;
  }
}

/** The suggestion on screen, if any. */
export function currentSuggestion(view: EditorView): Suggestion | null {
  return view.state.field(ghostState, false)?.current ?? null;
}

/** Inserts the suggestion shown; false when there is none (Tab then does what it otherwise does). */
function accept(view: EditorView): boolean {
  const s = currentSuggestion(view);
  if (!s || s.text.length === 0) return false;
  view.dispatch({
    changes: { from: s.at, insert: s.text },
    selection: { anchor: s.at + s.text.length },
    annotations: [accepting.of(true)],
    userEvent: "input.complete",
    scrollIntoView: true,
  });
  return true;
}

function reject(view: EditorView): boolean {
  if (!currentSuggestion(view)) return false;
  view.dispatch({ effects: clearSuggestion.of(null) });
  return true;
}

/** The ghost-text extension: state, rendering, keys and the typing debounce. */
export function ghostText(hooks: GhostTextHooks): Extension {
  const trigger = (view: EditorView) => {
    hooks.request(view, "manual");
    return true;
  };
  const typing = ViewPlugin.fromClass(
    class {
      timer: ReturnType<typeof setTimeout> | undefined;
      constructor(readonly view: EditorView) {}
      update(update: ViewUpdate) {
        // Each transaction's ending is reported once: an update without transactions (layout,
        // scrolling, focus) carries the same state and must not report it again.
        for (const tr of update.transactions) {
          const ended = tr.state.field(ghostState).ended;
          if (!ended) continue;
          if (ended.how === "accepted") hooks.accepted(ended.suggestion, update.view);
          else hooks.dismissed(ended.suggestion, ended.how);
        }
        const state = update.state.field(ghostState);
        const typed = update.transactions.some((tr) => tr.docChanged && isTyping(tr));
        if (typed) hooks.keystroke();
        // Typing into the suggestion keeps it, and the generation still streaming into it.
        if (!typed || state.current) return;
        hooks.supersede();
        clearTimeout(this.timer);
        if (!update.state.selection.main.empty) return;
        this.timer = setTimeout(() => hooks.request(this.view, "auto"), DEBOUNCE_MS);
      }
      destroy() {
        clearTimeout(this.timer);
      }
    },
  );
  return [
    ghostState,
    typing,
    Prec.highest(
      keymap.of([
        { key: "Tab", run: accept },
        { key: "Escape", run: reject },
        { key: "Alt-\\", run: trigger },
        { key: "Ctrl-Space", run: trigger },
      ]),
    ),
  ];
}
