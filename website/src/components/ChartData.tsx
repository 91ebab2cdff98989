// The numbers behind a time-series chart as a table, folded under the chart: what a screen reader
// or keyboard user reads instead of the drawing, and what anyone can copy.
import { count } from "../format";
import { TableScroll } from "./TableScroll";

interface ChartDataProps {
  /** What the table lists, e.g. "Queries per day". */
  caption: string;
  /** One row per bucket: its label and a number per column. */
  rows: readonly ({ label: string } & Record<string, unknown>)[];
  /** The columns: the row key and its heading. */
  columns: readonly { key: string; label: string }[];
}

export function ChartData({ caption, rows, columns }: ChartDataProps) {
  return (
    <details className="chart-data">
      <summary>Show the numbers</summary>
      <TableScroll label={caption}>
        <table>
          <caption>{caption}</caption>
          <thead>
            <tr>
              <th scope="col">Period</th>
              {columns.map((c) => (
                <th scope="col" className="num" key={c.key}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.label}>
                <th scope="row">{row.label}</th>
                {columns.map((c) => (
                  <td className="num" key={c.key}>
                    {typeof row[c.key] === "number" ? count(row[c.key] as number) : "–"}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </details>
  );
}
