// The numbers behind a time-series chart as a table, folded under the chart: what a screen reader
// or keyboard user reads instead of the drawing, and what anyone can copy.
import { count } from "../format";
import { DataTable, type Column } from "./DataTable";

/** One bucket: its label and a number per column. */
type Row = { label: string } & Record<string, unknown>;

interface ChartDataProps {
  /** What the table lists, e.g. "Queries per day". */
  caption: string;
  rows: readonly Row[];
  /** The columns: the row key and its heading. */
  columns: readonly { key: string; label: string }[];
}

export function ChartData({ caption, rows, columns }: ChartDataProps) {
  return (
    <details className="chart-data">
      <summary>Show the numbers</summary>
      <DataTable
        label={caption}
        caption={caption}
        rows={rows}
        rowKey={(row) => row.label}
        header={{ label: "Period", cell: (row) => row.label }}
        columns={columns.map(
          (c): Column<Row> => ({
            label: c.label,
            numeric: true,
            cell: (row) => (typeof row[c.key] === "number" ? count(row[c.key] as number) : "–"),
          }),
        )}
      />
    </details>
  );
}
