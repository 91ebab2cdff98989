// Loading a page section's data: loading, failed (with the server's message) or ready, reloaded
// whenever its inputs change; answers to superseded requests are dropped.
import { useCallback, useEffect, useState, type DependencyList } from "react";
import { ApiError } from "../api/errors";

/** Where a section's data stands. */
export type Loaded<T> = { status: "loading" } | { status: "error"; message: string } | { status: "ready"; data: T };

/** Runs `load` now and whenever `deps` change; `reload` runs it again (after an edit, on retry). */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): { state: Loaded<T>; reload: () => void } {
  const [state, setState] = useState<Loaded<T>>({ status: "loading" });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    setState({ status: "loading" });
    load().then(
      (data) => current && setState({ status: "ready", data }),
      (error: unknown) =>
        current &&
        setState({ status: "error", message: error instanceof ApiError ? error.message : "Something went wrong loading this." }),
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]); // `load` is rebuilt every render; `deps` are what it reads.

  return { state, reload: useCallback(() => setGeneration((g) => g + 1), []) };
}
