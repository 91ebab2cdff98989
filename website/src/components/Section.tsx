// A titled panel of a page that shows its data's loading, error and empty states the same way
// everywhere: a busy placeholder, the server's message with a retry, or a sentence saying why
// there is nothing to show.
import type { ReactNode } from "react";
import type { Loaded } from "./useLoad";

interface SectionProps<T> {
  title: string;
  /** Stable id for tests and in-page links. */
  id: string;
  state: Loaded<T>;
  onRetry?: () => void;
  /** True when the data has nothing to show. */
  isEmpty?: (data: T) => boolean;
  emptyText?: string;
  /** Controls shown next to the title (selects, toggles). */
  actions?: ReactNode;
  children: (data: T) => ReactNode;
}

export function Section<T>({ title, id, state, onRetry, isEmpty, emptyText, actions, children }: SectionProps<T>) {
  const headingId = `${id}-heading`;
  return (
    <section className="panel" aria-labelledby={headingId} data-testid={id} aria-busy={state.status === "loading"}>
      <div className="panel-head">
        <h2 id={headingId} tabIndex={-1}>
          {title}
        </h2>
        {actions && <div className="panel-actions">{actions}</div>}
      </div>
      {state.status === "loading" && (
        <p className="placeholder" role="status">
          Loading…
        </p>
      )}
      {state.status === "error" && (
        <div role="alert" className="error-box">
          <p>{state.message}</p>
          {onRetry && (
            <button type="button" className="secondary" onClick={onRetry}>
              Try again
            </button>
          )}
        </div>
      )}
      {state.status === "ready" &&
        (isEmpty?.(state.data) ? (
          <p className="empty" data-testid={`${id}-empty`}>
            {emptyText ?? "Nothing recorded in this period yet."}
          </p>
        ) : (
          children(state.data)
        ))}
    </section>
  );
}
