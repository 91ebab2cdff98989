// Which language a file is, by its extension: the editor's syntax highlighting and the
// `language_id` its completion requests carry (ids of the `programming_language` table, which are
// the JetBrains display names the plugin reports; Rust and unknown files are "Plain text").
import type { LanguageSupport } from "@codemirror/language";

export interface FileLanguage {
  /** What the status bar and the task API call it. */
  name: string;
  /** `programming_language.language_id`. */
  languageId: number;
  /** Loads the CodeMirror grammar (each one is its own chunk, fetched when a file needs it). */
  load: () => Promise<LanguageSupport | null>;
}

const PLAIN_TEXT = 112;

const LANGUAGES: Record<string, FileLanguage> = {
  py: { name: "python", languageId: 47, load: () => import("@codemirror/lang-python").then((m) => m.python()) },
  js: { name: "javascript", languageId: 169, load: () => import("@codemirror/lang-javascript").then((m) => m.javascript()) },
  jsx: { name: "javascript", languageId: 169, load: () => import("@codemirror/lang-javascript").then((m) => m.javascript({ jsx: true })) },
  mjs: { name: "javascript", languageId: 169, load: () => import("@codemirror/lang-javascript").then((m) => m.javascript()) },
  ts: { name: "typescript", languageId: 41, load: () => import("@codemirror/lang-javascript").then((m) => m.javascript({ typescript: true })) },
  tsx: {
    name: "typescript",
    languageId: 41,
    load: () => import("@codemirror/lang-javascript").then((m) => m.javascript({ typescript: true, jsx: true })),
  },
  java: { name: "java", languageId: 11, load: () => import("@codemirror/lang-java").then((m) => m.java()) },
  rs: { name: "rust", languageId: PLAIN_TEXT, load: () => import("@codemirror/lang-rust").then((m) => m.rust()) },
  go: { name: "go", languageId: 82, load: () => import("@codemirror/lang-go").then((m) => m.go()) },
};

const PLAIN: FileLanguage = { name: "text", languageId: PLAIN_TEXT, load: () => Promise.resolve(null) };

/** The language of `fileName` by its extension (plain text when unknown). */
export function languageOf(fileName: string): FileLanguage {
  const dot = fileName.lastIndexOf(".");
  const slash = fileName.lastIndexOf("/");
  if (dot <= slash + 1) return PLAIN;
  const extension = fileName.slice(dot + 1).toLowerCase();
  // Own keys only: "x.constructor" must not find Object's.
  return Object.hasOwn(LANGUAGES, extension) ? LANGUAGES[extension] : PLAIN;
}
