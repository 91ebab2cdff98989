// The editor's chat: questions about the open file (its text around the caret and the selection go
// along as context), answers streamed over `/api/ws/chat` token by token, the conversation kept as
// the chat's history on the server (one chat id per panel until "New chat").
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ActionSocket } from "./actionSocket";
import { EDITOR_MODEL_ID, WEB_EDITOR_VERSION_ID } from "./inlineCompletions";

/** What the chat sends about the editor with each question. */
export interface EditorContext {
  prefix: string;
  suffix: string;
  fileName: string;
  selectedText: string;
  languageId: number;
  contextFiles: string[];
}

interface Turn {
  question: string;
  answer: string;
  state: "streaming" | "done" | "failed";
}

/** A question the page asks on the user's behalf (the "Explain" action). */
export interface AskRequest {
  question: string;
  nonce: number;
}

export function ChatPanel({ context, ask }: { context: () => EditorContext; ask: AskRequest | null }) {
  const socket = useRef<ActionSocket | null>(null);
  const [chatId, setChatId] = useState(() => crypto.randomUUID());
  const [turns, setTurns] = useState<Turn[]>([]);
  const [draft, setDraft] = useState("");
  const busy = turns.some((t) => t.state === "streaming");

  useEffect(() => {
    socket.current = new ActionSocket("/api/ws/chat");
    return () => socket.current?.close();
  }, []);

  const send = (question: string) => {
    if (!question.trim() || busy || !socket.current) return;
    const editor = context();
    const history: [string, string][] = turns.filter((t) => t.state === "done").flatMap((t): [string, string][] => [["user", t.question], ["assistant", t.answer]]);
    const index = turns.length;
    const update = (change: Partial<Turn>) => setTurns((all) => all.map((t, i) => (i === index ? { ...t, ...change } : t)));
    setTurns((all) => [...all, { question, answer: "", state: "streaming" }]);
    let streamed = "";
    const run = socket.current.request(
      "chat_request",
      {
        model_ids: [EDITOR_MODEL_ID],
        chat_id: chatId,
        messages: [...history, ["user", question]],
        context: {
          prefix: editor.prefix,
          suffix: editor.suffix,
          file_name: editor.fileName,
          selected_text: editor.selectedText,
          context_files: editor.contextFiles,
        },
        contextual_telemetry: { version_id: WEB_EDITOR_VERSION_ID, trigger_type_id: 1, language_id: editor.languageId },
        behavioral_telemetry: {},
      },
      (text) => {
        streamed += text;
        update({ answer: streamed });
      },
    );
    run.done.then(
      (result) => {
        const history = (result?.content as { history?: { assistant_responses?: { completion?: string; message?: string }[] }[] } | undefined)?.history;
        const response = history?.[history.length - 1]?.assistant_responses?.[0];
        if (result?.status_code === 200 && typeof response?.completion === "string") update({ answer: response.completion, state: "done" });
        else update({ answer: response?.message ?? messageIn(result?.content) ?? "The model did not answer.", state: "failed" });
      },
      (error: Error) => update({ answer: error.message, state: "failed" }),
    );
  };

  useEffect(() => {
    if (ask) send(ask.question);
    // Only a new request (its nonce) asks again.
  }, [ask?.nonce]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    send(draft);
    setDraft("");
  };

  return (
    <section className="panel chat-panel" aria-labelledby="chat-heading" data-testid="chat">
      <div className="panel-head">
        <h2 id="chat-heading">Chat</h2>
        <button
          type="button"
          className="secondary"
          disabled={busy}
          onClick={() => {
            setChatId(crypto.randomUUID());
            setTurns([]);
          }}
        >
          New chat
        </button>
      </div>
      <ol className="chat-turns" aria-live="polite">
        {turns.length === 0 && <li className="placeholder">Ask about the open file; the selection goes along.</li>}
        {turns.map((turn, i) => (
          <li key={i} className="chat-turn">
            <p className="chat-question">{turn.question}</p>
            <pre className={`chat-answer chat-${turn.state}`} data-testid="chat-answer" aria-busy={turn.state === "streaming"}>
              {turn.answer || "…"}
            </pre>
          </li>
        ))}
      </ol>
      <form onSubmit={submit} className="chat-form">
        <label htmlFor="chat-input" className="sr-only">
          Question
        </label>
        <textarea
          id="chat-input"
          rows={2}
          value={draft}
          placeholder="Ask about this file…"
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) submit(e);
          }}
        />
        <button type="submit" disabled={busy || !draft.trim()}>
          Send
        </button>
      </form>
    </section>
  );
}

function messageIn(content: unknown): string | undefined {
  const message = (content as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? message : undefined;
}
