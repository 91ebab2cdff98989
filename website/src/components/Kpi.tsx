// One headline number with its change against the previous period.
import { change } from "../format";

interface KpiProps {
  label: string;
  value: string;
  /** Percentage change against the previous period of the same length. */
  changePct?: number | null;
  /** Whether a rise is good news (queries, acceptance) or bad (latency). */
  higherIsBetter?: boolean;
  testId: string;
}

export function Kpi({ label, value, changePct, higherIsBetter = true, testId }: KpiProps) {
  const tone =
    changePct === undefined || changePct === null || changePct === 0
      ? "neutral"
      : changePct > 0 === higherIsBetter
        ? "good"
        : "bad";
  return (
    <div className="kpi">
      <dt>{label}</dt>
      <dd>
        <span className="kpi-value" data-testid={testId}>
          {value}
        </span>
        {changePct !== undefined && (
          <span className={`kpi-change kpi-${tone}`}>
            <span className="sr-only">relative change against the previous period: </span>
            {change(changePct)}
          </span>
        )}
      </dd>
    </div>
  );
}
