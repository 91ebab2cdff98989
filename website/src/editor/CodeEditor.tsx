// The code editor: CodeMirror 6 bound to a collaboration room's Yjs text (y-codemirror.next:
// collaborators' edits, cursors and selections), with the file's syntax highlighting and inline
// completions as ghost text. Undo (Mod-Z) undoes this user's own edits only, AI actions included.
import { defaultKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { searchKeymap } from "@codemirror/search";
import { Compartment, EditorState } from "@codemirror/state";
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { useEffect, useRef } from "react";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import { ghostText, type GhostTextHooks } from "./ghostText";
import type { FileLanguage } from "./languages";
import type { Room } from "./room";

interface Props {
  room: Room;
  fileName: string;
  language: FileLanguage;
  completions: GhostTextHooks;
  /** The view once it exists (null when it goes), for the page's AI actions and chat context. */
  onView: (view: EditorView | null) => void;
}

export function CodeEditor({ room, fileName, language, completions, onView }: Props) {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const grammar = new Compartment();
    const view = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: room.text.toString(),
        extensions: [
          lineNumbers(),
          drawSelection(),
          highlightActiveLine(),
          indentOnInput(),
          bracketMatching(),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          grammar.of([]),
          ghostText(completions),
          yCollab(room.text, room.provider.awareness),
          // Tab is the suggestion's when one is shown (ghostText binds it first); otherwise it
          // indents, and Esc then Tab leaves the editor (CodeMirror's escape hatch for keyboard users).
          keymap.of([...yUndoManagerKeymap, ...defaultKeymap, ...searchKeymap, indentWithTab]),
          EditorView.contentAttributes.of({ "aria-label": `Editor: ${fileName}` }),
        ],
      }),
    });
    let live = true;
    void language.load().then((support) => {
      if (live && support) view.dispatch({ effects: grammar.reconfigure(support) });
    });
    onView(view);
    return () => {
      live = false;
      onView(null);
      view.destroy();
    };
    // A new room or file is a new editor; the callbacks are stable per room.
  }, [room]);

  return <div ref={host} className="code-editor" data-testid="code-editor" />;
}
