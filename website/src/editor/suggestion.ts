// One inline suggestion while it is on screen, and what typing does to it: typing the suggestion's
// own next characters keeps it (shortened: the plugin's "acceptance after partial typing"), typing
// anything else rejects it. Pure, so the rules are unit-tested without an editor.

export interface Suggestion {
  /** The part not typed yet: what the ghost text shows. */
  text: string;
  /** Document offset where the ghost text starts (the caret). */
  at: number;
  /** The model's whole completion, as generated. */
  completion: string;
  /** `meta_query_id` of the completion request, for feedback and ground truth. */
  queryId: string;
  modelId: number;
  /** When it was first shown (ms since the epoch). */
  shownAt: number;
}

/** What an edit at the suggestion did to it. */
export type AfterEdit =
  | { kind: "kept"; suggestion: Suggestion }
  | { kind: "typed-out"; suggestion: Suggestion }
  | { kind: "rejected"; suggestion: Suggestion };

/**
 * The suggestion after the user inserted `inserted` at `from`, deleting `deleted` characters.
 * Only an insertion at the ghost text's start that matches its next characters keeps it.
 */
export function afterEdit(suggestion: Suggestion, from: number, deleted: number, inserted: string): AfterEdit {
  if (deleted === 0 && from === suggestion.at && inserted.length > 0 && suggestion.text.startsWith(inserted)) {
    const rest = { ...suggestion, text: suggestion.text.slice(inserted.length), at: suggestion.at + inserted.length };
    return rest.text.length === 0 ? { kind: "typed-out", suggestion: rest } : { kind: "kept", suggestion: rest };
  }
  return { kind: "rejected", suggestion };
}

/** How many characters of the completion were typed by hand before it was accepted or dropped. */
export function typedByHand(suggestion: Suggestion): number {
  return suggestion.completion.length - suggestion.text.length;
}

/**
 * The plugin's ground truth: the document from 32 characters before to 32 after the inserted
 * range, read some time after the insertion.
 */
export function groundTruthAround(doc: string, from: number, to: number, margin = 32): string {
  return doc.slice(Math.max(0, from - margin), Math.min(doc.length, to + margin));
}
