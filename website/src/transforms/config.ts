// Config rows as the editor shows them: the API returns a row's `config_data` parsed when it is
// JSON and as text when it is HOCON; the editor always edits text (JSON is HOCON).

/** The text to edit for a stored config. */
export function configText(data: unknown): string {
  return typeof data === "string" ? data : JSON.stringify(data, null, 2);
}

/** A short description of a config for lists: its first line that sets something. */
export function configSummary(data: unknown): string {
  const line = configText(data)
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.endsWith("{") && !l.endsWith("[") && !/^[}\]]/.test(l) && !l.startsWith("#") && !l.startsWith("//"));
  if (!line) return "(empty)";
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}
