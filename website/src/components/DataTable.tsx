// Every table of the dashboard: a row header, then one cell per column; figures right-aligned in
// tabular digits. It scrolls sideways on its own when wider than the screen (instead of widening
// the page) and is focusable so keyboard users can scroll it too.
import type { HTMLAttributes, ReactNode } from "react";

/** One column: its heading and how a row fills its cell. */
export interface Column<T> {
  label: ReactNode;
  cell: (row: T) => ReactNode;
  /** Right-aligned figures. */
  numeric?: boolean;
  className?: string;
  /** `data-testid` of the cell, for the browser checks. */
  testId?: (row: T) => string;
}

interface DataTableProps<T> {
  /** Names the scrollable region for screen readers. */
  label: string;
  caption?: ReactNode;
  rows: readonly T[];
  rowKey: (row: T) => string | number;
  /** The first column, whose cells head their rows. */
  header: Column<T>;
  columns: readonly Column<T>[];
  /** Extra attributes of a row (`aria-current`, `data-testid`). */
  rowProps?: (row: T) => HTMLAttributes<HTMLTableRowElement> & { "data-testid"?: string };
}

export function DataTable<T>({ label, caption, rows, rowKey, header, columns, rowProps }: DataTableProps<T>) {
  const classOf = (column: Column<T>) => [column.numeric ? "num" : "", column.className ?? ""].join(" ").trim() || undefined;
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
      <table>
        {caption && <caption>{caption}</caption>}
        <thead>
          <tr>
            {[header, ...columns].map((column, i) => (
              <th scope="col" key={i} className={column.numeric ? "num" : undefined}>
                {column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowProps?.(row)}>
              <th scope="row" className={classOf(header)} data-testid={header.testId?.(row)}>
                {header.cell(row)}
              </th>
              {columns.map((column, i) => (
                <td key={i} className={classOf(column)} data-testid={column.testId?.(row)}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
