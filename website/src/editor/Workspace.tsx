// One project in the editor (`/editor/{project_id}?file=NAME`): the file tree and members on the
// left, the collaborative code editor with inline completions and AI actions in the middle, the
// chat on the right. Entering activates the project in this session (the `project_token` cookie
// the completion and chat sockets need), as the plugin does when it opens a project.
import type { EditorView } from "@codemirror/view";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useSearchParams } from "react-router";
import { api, unwrap } from "../api/client";
import { messageOf, SIGNED_OUT_EVENT } from "../api/errors";
import type { User } from "../api/auth";
import { useLoad } from "../components/useLoad";
import { analyze, replaceSelection, selectionOf, type ReplacingTask } from "./aiActions";
import { ChatPanel, type AskRequest, type EditorContext } from "./ChatPanel";
import { CodeEditor } from "./CodeEditor";
import { FileTree } from "./FileTree";
import { InlineCompletions } from "./inlineCompletions";
import { languageOf } from "./languages";
import { Members } from "./Members";
import { ContextMirror } from "./projectContext";
import { collaborators, joinRoom, type Collaborator, type Room, type RoomStatus } from "./room";

type Ready = { status: "loading" } | { status: "refused"; message: string } | { status: "ready" };

export function Workspace({ projectId, user }: { projectId: string; user: User }) {
  const [ready, setReady] = useState<Ready>({ status: "loading" });
  const [params, setParams] = useSearchParams();
  const openFile = params.get("file");
  const files = useLoad(() => unwrap(api.GET("/api/editor/projects/{project_id}/files", { params: { path: { project_id: projectId } } })), [projectId]);

  // Activated once the file list showed the caller is a member: activating a project that is not
  // theirs answers 401, which would sign them out of the whole dashboard.
  const member = files.state.status === "ready";
  useEffect(() => {
    if (!member) return;
    let live = true;
    setReady({ status: "loading" });
    (async () => {
      await unwrap(api.GET("/api/session/acquire"));
      await unwrap(api.PUT("/api/project/activate", { body: { project_id: projectId } }));
    })().then(
      () => live && setReady({ status: "ready" }),
      (error: unknown) => live && setReady({ status: "refused", message: messageOf(error) }),
    );
    return () => {
      live = false;
    };
  }, [projectId, member]);

  const open = (name: string | null) => setParams(name ? { file: name } : {}, { replace: false });
  const call = async (promise: Promise<unknown>) => {
    await promise;
    files.reload();
  };

  if (files.state.status === "error") {
    return (
      <p role="alert" className="error-box" data-testid="editor-refused">
        {files.state.message}
      </p>
    );
  }
  if (ready.status === "refused") {
    return (
      <p role="alert" className="error-box" data-testid="editor-refused">
        {ready.message}
      </p>
    );
  }
  if (files.state.status === "loading" || ready.status === "loading") {
    return (
      <p role="status" className="placeholder">
        Opening the project…
      </p>
    );
  }

  const path = { params: { path: { project_id: projectId } } };
  const fileList = files.state.data.files;
  return (
    <div className="workspace">
      <div className="workspace-side">
        <FileTree
          files={fileList}
          open={openFile}
          onOpen={open}
          onCreate={async (name) => {
            await call(unwrap(api.POST("/api/editor/projects/{project_id}/files", { ...path, body: { name } })));
            open(name);
          }}
          onRename={async (from, to) => {
            await call(unwrap(api.POST("/api/editor/projects/{project_id}/files/rename", { ...path, body: { from, to } })));
            forgetFile(projectId, from);
            if (openFile === from) open(to);
          }}
          onDelete={async (name) => {
            await call(unwrap(api.DELETE("/api/editor/projects/{project_id}/files", { params: { path: { project_id: projectId }, query: { name } } })));
            forgetFile(projectId, name);
            if (openFile === name) open(null);
          }}
        />
        <Members projectId={projectId} userId={user.user_id} />
      </div>
      {openFile && fileList.some((f) => f.name === openFile) ? (
        <FileSession key={openFile} projectId={projectId} fileName={openFile} user={user} onGone={() => files.reload()} />
      ) : (
        <section className="panel workspace-main">
          <p className="empty">{fileList.length === 0 ? "Create a file to start." : "Open a file from the list."}</p>
        </section>
      )}
    </div>
  );
}

/** How often the edited file's own text is sent as multi-file context. */
const CURRENT_FILE_CONTEXT_MS = 10_000;

/**
 * Per project: the texts of the files this tab has had open (the multi-file context the plugin
 * would send) and what of them the server already has.
 */
const projectContexts = new Map<string, { openTexts: Map<string, string>; mirror: ContextMirror; gone: Set<string> }>();

function projectContext(projectId: string) {
  let context = projectContexts.get(projectId);
  if (!context) {
    context = { openTexts: new Map(), mirror: new ContextMirror(), gone: new Set() };
    projectContexts.set(projectId, context);
  }
  return context;
}

/** A renamed or deleted file leaves the project's context. */
function forgetFile(projectId: string, fileName: string) {
  const { openTexts, mirror, gone } = projectContext(projectId);
  openTexts.delete(fileName);
  mirror.forget(fileName);
  gone.add(fileName);
}

function FileSession({ projectId, fileName, user, onGone }: { projectId: string; fileName: string; user: User; onGone: () => void }) {
  const [room, setRoom] = useState<Room | null>(null);
  const [status, setStatus] = useState<RoomStatus>("connecting");
  const [closed, setClosed] = useState<string | null>(null);
  const [people, setPeople] = useState<Collaborator[]>([]);
  const [query, setQuery] = useState<{ id: string; state: string } | null>(null);
  const [line, setLine] = useState("Suggestions appear as you type; Alt-\\ or Ctrl-Space asks for one.");
  const [busy, setBusy] = useState<string | null>(null);
  const [report, setReport] = useState<string | null>(null);
  const [ask, setAsk] = useState<AskRequest | null>(null);
  const view = useRef<EditorView | null>(null);
  const language = languageOf(fileName);
  const { openTexts, mirror } = projectContext(projectId);

  useEffect(() => {
    const context = projectContext(projectId);
    context.gone.delete(fileName);
    const joined = joinRoom(projectId, fileName, { id: user.user_id, name: user.name }, (code, reason) => {
      setClosed(code === 4404 ? "This file was renamed or deleted by a member." : reason || `The room closed (${code}).`);
      if (code === 4404) {
        forgetFile(projectId, fileName);
        onGone();
      }
      // The session ended (logout elsewhere, expiry): back to sign-in, like a REST 401.
      if (code === 4401) window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
    });
    const people = () => setPeople(collaborators(joined));
    joined.provider.awareness.on("change", people);
    joined.provider.on("status", ({ status }) => {
      setStatus(status);
      // A refused reconnect looks like any dropped connection: the file list says whether the
      // file is still there (a deleted one then closes this view).
      if (status === "disconnected") onGone();
    });
    people();
    setRoom(joined);
    return () => {
      // A file renamed or deleted meanwhile stays out of the context.
      if (!context.gone.has(fileName)) context.openTexts.set(fileName, joined.text.toString());
      joined.leave();
    };
  }, [projectId, fileName]);

  const currentSentAt = useRef(0);
  const syncContext = useCallback(async (): Promise<string[]> => {
    const texts = new Map(openTexts);
    // The edited file changes with every keystroke, and its prompt holds it anyway: it goes to the
    // context (and the retrieval index) at most every 10 s, not before every request.
    if (view.current && Date.now() - currentSentAt.current > CURRENT_FILE_CONTEXT_MS) {
      texts.set(fileName, view.current.state.doc.toString());
      currentSentAt.current = Date.now();
    }
    const updates = mirror.updates(texts);
    if (Object.keys(updates).length > 0) {
      await unwrap(api.POST("/api/completion/multi-file-context/update", { body: { context_updates: updates } }));
      mirror.sentUpdates(texts, updates);
    }
    return [...texts.keys()].filter((name) => name !== fileName);
  }, [fileName, openTexts, mirror]);

  const completions = useMemo(
    () =>
      new InlineCompletions({
        fileName: () => fileName,
        languageId: () => language.languageId,
        syncContext,
        shown: (s, ms) => {
          setLine(`Suggestion (${Math.round(ms)} ms): Tab accepts, Esc dismisses.`);
          setQuery({ id: s.queryId, state: "shown" });
        },
        settled: (id) => setQuery({ id, state: "shown" }),
        ended: (s, how) => {
          setLine(how === "accepted" ? "Suggestion accepted." : "Suggestion dismissed.");
          setQuery((q) => ({ id: q && s.queryId.startsWith("pending:") ? q.id : s.queryId, state: how }));
        },
      }),
    [fileName, language, syncContext],
  );
  useEffect(() => () => completions.close(), [completions]);

  const editorContext = (): EditorContext => {
    const v = view.current;
    const doc = v?.state.doc.toString() ?? "";
    const caret = v?.state.selection.main.head ?? 0;
    const { from, to } = v?.state.selection.main ?? { from: 0, to: 0 };
    return {
      prefix: doc.slice(Math.max(0, caret - 2048), caret),
      suffix: doc.slice(caret, caret + 1024),
      fileName,
      selectedText: doc.slice(from, to),
      languageId: language.languageId,
      contextFiles: [...openTexts.keys()].filter((name) => name !== fileName),
    };
  };

  const replace = async (task: ReplacingTask) => {
    if (!view.current) return;
    setBusy(task);
    setReport(null);
    try {
      const done = await replaceSelection(view.current, task, language.name);
      setLine(done ? `The ${task} result replaced the selection (Mod-Z undoes it).` : "The text changed meanwhile, or the model returned nothing: nothing was replaced.");
    } catch (error) {
      setLine(messageOf(error));
    } finally {
      setBusy(null);
    }
  };

  const runAnalysis = async () => {
    if (!view.current) return;
    setBusy("analyze");
    try {
      setReport((await analyze(view.current, language.name)).content);
    } catch (error) {
      setReport(messageOf(error));
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <section className="panel workspace-main" aria-labelledby="file-heading">
        <div className="panel-head">
          <h2 id="file-heading">
            {fileName} <span className="hint">{language.name}</span>
          </h2>
          <ul className="presence" aria-label="In this file" data-testid="presence">
            {people.map((p) => (
              <li key={p.clientId} style={{ borderColor: p.colour }}>
                {p.name}
              </li>
            ))}
          </ul>
          <span className={`room-status room-${status}`} data-testid="room-status">
            {status}
          </span>
        </div>
        {closed && (
          <p role="alert" className="notice notice-bad" data-testid="room-closed">
            {closed}
          </p>
        )}
        <div className="ai-actions" role="toolbar" aria-label="AI actions on the selection">
          <button type="button" className="secondary" disabled={!!busy} onClick={() => view.current && setAsk({ question: `Explain this code:\n${selectionOf(view.current).text}`, nonce: Date.now() })}>
            Explain
          </button>
          <button type="button" className="secondary" disabled={!!busy} onClick={() => void runAnalysis()}>
            {busy === "analyze" ? "Analyzing…" : "Analyze"}
          </button>
          <button type="button" className="secondary" disabled={!!busy} onClick={() => void replace("refactor")}>
            {busy === "refactor" ? "Refactoring…" : "Refactor"}
          </button>
          <button type="button" className="secondary" disabled={!!busy} onClick={() => void replace("document")}>
            {busy === "document" ? "Documenting…" : "Document"}
          </button>
        </div>
        {room && <CodeEditor room={room} fileName={fileName} language={language} completions={completions} onView={(v) => (view.current = v)} />}
        <p
          className="hint editor-line"
          role="status"
          aria-live="polite"
          data-testid="editor-line"
          data-query-id={query?.id}
          data-suggestion={query?.state}
        >
          {line}
        </p>
        {report && (
          <pre className="analysis" data-testid="analysis">
            {report}
          </pre>
        )}
      </section>
      <ChatPanel context={editorContext} ask={ask} />
    </>
  );
}
