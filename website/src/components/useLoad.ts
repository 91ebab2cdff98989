// Loading a page section's data: loading, failed (with the server's message) or ready, reloaded
// whenever its inputs change; answers to superseded requests are dropped.
import { useCallback, useEffect, useRef, useState, type DependencyList } from "react";
import { messageOf } from "../api/errors";

/** Where a section's data stands. */
export type Loaded<T> = { status: "loading" } | { status: "error"; message: string } | { status: "ready"; data: T };

/**
 * Runs `load` now and whenever `deps` change (showing "loading" meanwhile); `reload` runs it again
 * after an edit while the current data stays on screen, so the table a user just acted on (and
 * their focus in it) does not vanish.
 */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList): { state: Loaded<T>; reload: () => void } {
  const [state, setState] = useState<Loaded<T>>({ status: "loading" });
  const [generation, setGeneration] = useState(0);
  const quiet = useRef(false);

  useEffect(() => {
    let current = true;
    if (!quiet.current) setState({ status: "loading" });
    quiet.current = false;
    load().then(
      (data) => current && setState({ status: "ready", data }),
      (error: unknown) => current && setState({ status: "error", message: messageOf(error) }),
    );
    return () => {
      current = false;
    };
  }, [...deps, generation]); // `load` is rebuilt every render; `deps` are what it reads.

  const reload = useCallback(() => {
    quiet.current = true;
    setGeneration((g) => g + 1);
  }, []);
  return { state, reload };
}
