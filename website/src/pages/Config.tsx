// Config (admins): the config rows users are assigned to, edited as HOCON with the server's
// validation errors shown at the editor; the models with which workers have them loaded; the
// languages the platform knows.
import { useState } from "react";
import { api, unwrap } from "../api/client";
import { messageOf } from "../api/errors";
import { Section } from "../components/Section";
import { DataTable } from "../components/DataTable";
import { useLoad } from "../components/useLoad";
import { configSummary, configText } from "../transforms/config";

export function Config() {
  const configs = useLoad(() => unwrap(api.GET("/api/config")), []);
  const models = useLoad(() => unwrap(api.GET("/api/config/models")), []);
  const languages = useLoad(() => unwrap(api.GET("/api/config/languages")), []);
  const [selected, setSelected] = useState<number | "new" | null>(null);
  /** What the last save did; kept here because saving a new config re-opens it under its id. */
  const [saved, setSaved] = useState<string | null>(null);
  const choose = (next: number | "new") => {
    setSelected(next);
    setSaved(null);
  };

  return (
    <>
      <div className="page-head">
        <h1>Config</h1>
      </div>

      <Section title="Config rows" id="configs" state={configs.state} onRetry={configs.reload}>
        {(d) => {
          const current = selected ?? d.configs[0]?.config_id ?? "new";
          const row = d.configs.find((c) => c.config_id === current);
          return (
            <div className="editor-layout">
              <ul className="config-list" aria-label="Config rows">
                {d.configs.map((c) => (
                  <li key={c.config_id}>
                    <button
                      type="button"
                      className={c.config_id === current ? "list-item selected" : "list-item"}
                      aria-pressed={c.config_id === current}
                      onClick={() => choose(c.config_id)}
                    >
                      <strong>config {c.config_id}</strong>
                      <span>{configSummary(c.config_data)}</span>
                    </button>
                  </li>
                ))}
                <li>
                  <button
                    type="button"
                    className={current === "new" ? "list-item selected" : "list-item"}
                    aria-pressed={current === "new"}
                    onClick={() => choose("new")}
                  >
                    <strong>New config…</strong>
                  </button>
                </li>
              </ul>
              <ConfigEditor
                key={String(current)}
                configId={current === "new" ? null : current}
                initialText={row ? configText(row.config_data) : "{\n  config {\n  }\n}\n"}
                saved={saved}
                onSaved={(id) => {
                  setSelected(id);
                  setSaved(`Saved config ${id}.`);
                  configs.reload();
                }}
                onDeleted={(id) => {
                  setSelected(null);
                  setSaved(`Deleted config ${id}.`);
                  configs.reload();
                }}
              />
            </div>
          );
        }}
      </Section>

      <Section
        title="Models"
        id="models"
        state={models.state}
        onRetry={models.reload}
        isEmpty={(d) => d.models.length === 0}
        emptyText="No models are registered."
      >
        {(d) => (
          <DataTable
            label="Models"
            rows={d.models}
            rowKey={(m) => m.model_id}
            header={{ label: "Model", cell: (m) => m.model_name }}
            columns={[
              { label: "Kind", cell: (m) => (m.is_instruction_tuned ? "chat (instruction-tuned)" : "completion") },
              {
                label: "Availability",
                testId: (m) => `model-${m.model_id}-availability`,
                cell: (m) => (
                  <>
                    {m.available ? (
                      <span className="badge badge-good">available</span>
                    ) : (
                      <span className="badge badge-bad">no worker</span>
                    )}
                    {Object.entries(m.unavailable).map(([worker, reason]) => (
                      <div key={worker} className="hint">
                        {worker}: {reason}
                      </div>
                    ))}
                  </>
                ),
              },
              { label: "Loaded by", cell: (m) => (m.loaded_by.length > 0 ? m.loaded_by.join(", ") : "–") },
            ]}
          />
        )}
      </Section>

      <Section
        title="Languages"
        id="languages"
        state={languages.state}
        onRetry={languages.reload}
        isEmpty={(d) => d.languages.length === 0}
        emptyText="No languages are registered."
      >
        {(d) => (
          <details>
            <summary>{d.languages.length} languages the plugin can report</summary>
            <ul className="tags" aria-label="Languages">
              {d.languages.map((l) => (
                <li key={l.language_id}>{l.language_name}</li>
              ))}
            </ul>
          </details>
        )}
      </Section>
    </>
  );
}

interface EditorProps {
  configId: number | null;
  initialText: string;
  /** The outcome of the last save or delete, shown under the editor. */
  saved: string | null;
  onSaved: (configId: number) => void;
  onDeleted: (configId: number) => void;
}

/** The HOCON editor of one config row (or of a new one): saves, deletes, shows what the server refused. */
function ConfigEditor({ configId, initialText, saved, onSaved, onDeleted }: EditorProps) {
  // What the user typed, else the stored text: derived at render, not copied by an effect, so a
  // refetch of the list (after a save, or another admin's) can never overwrite a keystroke that
  // lands while it commits. A saved edit stays shown as typed.
  const [edited, setEdited] = useState<string | null>(null);
  const text = edited ?? initialText;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const save = () =>
    run(async () => {
      const body = { config_data: text };
      const result =
        configId === null
          ? await unwrap(api.POST("/api/config", { body }))
          : await unwrap(api.PUT("/api/config/{config_id}", { params: { path: { config_id: configId } }, body }));
      onSaved(result.config_id);
    });

  const remove = () =>
    run(async () => {
      if (configId === null || !window.confirm(`Delete config ${configId}? This cannot be undone.`)) return;
      await unwrap(api.DELETE("/api/config/{config_id}", { params: { path: { config_id: configId } } }));
      onDeleted(configId);
    });

  const editorId = `config-editor-${configId ?? "new"}`;
  return (
    <div className="editor">
      <label htmlFor={editorId}>{configId === null ? "New config (HOCON)" : `Config ${configId} (HOCON)`}</label>
      <textarea
        id={editorId}
        className="code"
        value={text}
        onChange={(e) => setEdited(e.target.value)}
        rows={16}
        spellCheck={false}
        aria-invalid={error !== null}
        aria-describedby={error ? `${editorId}-error` : undefined}
      />
      {error && (
        <p role="alert" id={`${editorId}-error`} className="field-error" data-testid="config-error">
          {error}
        </p>
      )}
      {saved && !error && (
        <p role="status" className="status-good" data-testid="config-saved">
          {saved}
        </p>
      )}
      <div className="button-row">
        <button type="button" onClick={() => void save()} disabled={busy}>
          {configId === null ? "Create config" : "Save config"}
        </button>
        {configId !== null && (
          <button type="button" className="danger" onClick={() => void remove()} disabled={busy}>
            Delete config
          </button>
        )}
      </div>
    </div>
  );
}
