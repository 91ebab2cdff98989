// A table that scrolls sideways on its own when it is wider than the screen, instead of widening
// the page; focusable so keyboard users can scroll it too.
import type { ReactNode } from "react";

export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
      {children}
    </div>
  );
}
