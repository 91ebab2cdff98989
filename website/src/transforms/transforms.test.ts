import { describe, expect, it } from "vitest";
import { expectedCalibrationError, reliabilityPoints } from "./calibration";
import { configSummary, configText } from "./config";
import { describeInterval, errorBar } from "./intervals";
import { fillGaps, pivot, STEP_MS } from "./pivot";
import { evaluationRows, type ArmResult } from "./studies";
import { checkpointLabel, survivalRows } from "./survival";
import { windowOf } from "../components/scope";

describe("pivot", () => {
  it("makes one row per bucket in time order with a zero for missing series", () => {
    const rows = [
      { t: "2026-11-02T00:00:00Z", kind: "chat", n: 2 },
      { t: "2026-11-01T00:00:00Z", kind: "completion", n: 5 },
      { t: "2026-11-01T00:00:00Z", kind: "completion", n: 1 },
      { t: "2026-11-02T00:00:00Z", kind: "completion", n: 3 },
    ];
    const wide = pivot(
      rows,
      (r) => r.t,
      (r) => r.kind,
      (r) => r.n,
    );
    expect(wide.series).toEqual(["chat", "completion"]);
    expect(wide.rows).toEqual([
      { bucket: "2026-11-01T00:00:00Z", completion: 6, chat: 0 },
      { bucket: "2026-11-02T00:00:00Z", chat: 2, completion: 3 },
    ]);
  });

  it("is empty for no rows", () => {
    expect(pivot([], String, String, Number)).toEqual({ rows: [], series: [] });
  });
});

describe("fillGaps", () => {
  it("adds an empty bucket for every quiet day between the first and the last", () => {
    const rows = [
      { t: "2026-11-27T00:00:00Z", n: 4 },
      { t: "2026-11-30T00:00:00Z", n: 2 },
    ];
    const filled = fillGaps(
      rows,
      (r) => r.t,
      STEP_MS["1d"],
      (t) => ({ t, n: 0 }),
    );
    expect(filled).toEqual([
      { t: "2026-11-27T00:00:00Z", n: 4 },
      { t: "2026-11-28T00:00:00Z", n: 0 },
      { t: "2026-11-29T00:00:00Z", n: 0 },
      { t: "2026-11-30T00:00:00Z", n: 2 },
    ]);
  });

  it("covers the requested window, not only the days with activity", () => {
    const rows = [{ t: "2026-11-28T00:00:00Z", n: 1 }];
    const span = { start: "2026-11-26T09:30:00Z", end: "2026-11-29T09:30:00Z" };
    const filled = fillGaps(
      rows,
      (r) => r.t,
      STEP_MS["1d"],
      (t) => ({ t, n: 0 }),
      span,
    );
    expect(filled.map((r) => `${r.t.slice(5, 10)}:${r.n}`)).toEqual(["11-26:0", "11-27:0", "11-28:1", "11-29:0"]);
    expect(
      fillGaps(
        [],
        (r: { t: string }) => r.t,
        STEP_MS["1d"],
        (t) => ({ t }),
        span,
      ),
    ).toHaveLength(4);
  });

  it("keeps rows that have no gaps and is empty for none", () => {
    const rows = [{ t: "2026-11-27T10:00:00Z" }, { t: "2026-11-27T11:00:00Z" }];
    expect(
      fillGaps(
        rows,
        (r) => r.t,
        STEP_MS["1h"],
        (t) => ({ t }),
      ),
    ).toEqual(rows);
    expect(fillGaps([], String, STEP_MS["1h"], String)).toEqual([]);
  });
});

describe("intervals", () => {
  it("turns bounds into distances below and above the rate", () => {
    const [below, above] = errorBar({ rate: 0.4, lower: 0.1682, upper: 0.6873 });
    expect(below).toBeCloseTo(0.2318, 4);
    expect(above).toBeCloseTo(0.2873, 4);
  });

  it("never draws a negative bar when a bound sits on the rate (0% or 100%)", () => {
    expect(errorBar({ rate: 0, lower: 0, upper: 0.2775 })).toEqual([0, 0.2775]);
    expect(errorBar({ rate: 1, lower: 0.7225, upper: 1 })[1]).toBe(0);
  });

  it("describes a rate with its interval", () => {
    expect(describeInterval({ rate: 0.4, lower: 0.1682, upper: 0.6873 })).toBe("40.0% (16.8–68.7%)");
  });
});

describe("reliability diagram", () => {
  // The endpoint tests' hand-built set: 10 completions, ECE 0.2.
  const bins = [
    { bin_number: 1, sample_size: 0, avg_predicted_confidence: null, empirical_accuracy: null },
    { bin_number: 3, sample_size: 5, avg_predicted_confidence: 0.3, empirical_accuracy: 0.2 },
    { bin_number: 2, sample_size: 0, avg_predicted_confidence: null, empirical_accuracy: null },
    { bin_number: 9, sample_size: 5, avg_predicted_confidence: 0.9, empirical_accuracy: 0.6 },
  ];

  it("plots only bins with completions, in bin order, with their gap to the diagonal", () => {
    const points = reliabilityPoints(bins);
    expect(points.map((p) => p.bin)).toEqual([3, 9]);
    expect(points[0].gap).toBeCloseTo(-0.1);
    expect(points[1].gap).toBeCloseTo(-0.3);
  });

  it("weights each bin's gap by its share of completions", () => {
    expect(expectedCalibrationError(reliabilityPoints(bins))).toBeCloseTo(0.2, 10);
    expect(expectedCalibrationError([])).toBeNull();
  });
});

describe("study evaluation rows", () => {
  const results: ArmResult[] = [
    {
      config_id: 3,
      is_baseline: false,
      metrics: { total_users: 20, total_generations: 200, acceptance_rate: 0.5 },
      vs_baseline: {
        acceptance_rate_uplift_pct: 25,
        difference_95ci: { lower: 0.0043, upper: 0.1957 },
        p_value: 0.0337,
        is_significant: true,
        is_better_acceptance: true,
        robust: { difference: 0.1, difference_95ci: { lower: 0.02, upper: 0.18 }, holm_p_value: 0.014, is_significant: true },
        sequential: { p_value: 0.21, confidence_sequence: { lower: -0.05, upper: 0.25 } },
        cuped: { difference_95ci: { lower: 0.05, upper: 0.15 }, p_value: 0.0001, variance_ratio: 0.4 },
      },
    },
    { config_id: 1, is_baseline: true, metrics: { total_users: 21, total_generations: 200, acceptance_rate: 0.4 } },
    {
      config_id: 4,
      is_baseline: false,
      metrics: { total_users: 2, total_generations: 0, acceptance_rate: null },
      vs_baseline: {
        acceptance_rate_uplift_pct: null,
        difference_95ci: null,
        p_value: null,
        is_significant: false,
        is_better_acceptance: false,
        robust: null,
        sequential: null,
        cuped: null,
      },
    },
    {
      config_id: 5,
      is_baseline: false,
      metrics: { total_users: 1, total_generations: 300, acceptance_rate: 0.6 },
      vs_baseline: {
        acceptance_rate_uplift_pct: 50,
        difference_95ci: { lower: 0.12, upper: 0.28 },
        p_value: 0.0001,
        is_significant: true,
        is_better_acceptance: true,
        robust: null,
      },
    },
  ];

  it("puts the baseline first and lets the per-user test decide the verdict", () => {
    const rows = evaluationRows(results);
    expect(rows.map((r) => r.configId)).toEqual([1, 3, 4, 5]);
    expect(rows[0]).toMatchObject({ arm: "config 1 (baseline)", uplift: "–", p: "–", robustP: "–", verdict: "baseline" });
    expect(rows[1]).toMatchObject({
      acceptance: "50.0%",
      uplift: "+25.0%",
      interval: "+2.0 pp to +18.0 pp",
      robustP: "0.014",
      sequentialP: "0.210",
      cuped: "+5.0 pp to +15.0 pp",
      p: "0.034",
      verdict: "better than baseline",
    });
    expect(rows[2]).toMatchObject({ acceptance: "–", interval: "–", cuped: "–", verdict: "not enough data" });
    // Significant per generation, but one user cannot carry a per-user test.
    expect(rows[3]).toMatchObject({ p: "< 0.001", robustP: "–", verdict: "too few users to tell" });
  });
});

describe("config text", () => {
  it("edits JSON configs as indented text and HOCON as stored", () => {
    expect(configText({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(configText("config { retrieval.enabled = false }")).toBe("config { retrieval.enabled = false }");
  });

  it("summarises a config by its first meaningful line", () => {
    expect(configSummary("# comment\n{\n  config {\n    retrieval { enabled = false }\n  }\n}")).toBe(
      "retrieval { enabled = false }",
    );
    expect(configSummary('{\n  "config": {\n    "model": "x"\n  }\n}')).toBe('"model": "x"');
    expect(configSummary("config {\n  models = [\n    5\n  ]\n  store = true\n}")).toBe("5");
    expect(configSummary("")).toBe("(empty)");
  });
});

describe("scope window", () => {
  it("ends now and reaches back the period's length", () => {
    const now = new Date("2026-12-02T10:00:00Z");
    expect(windowOf("7d", now)).toEqual({ start_time: "2026-11-25T10:00:00.000Z", end_time: "2026-12-02T10:00:00.000Z" });
    expect(windowOf("24h", now).start_time).toBe("2026-12-01T10:00:00.000Z");
  });
});

describe("code survival rows", () => {
  it("labels checkpoints in words, in order, with error bars only where there is data", () => {
    const rows = survivalRows([
      { checkpoint_seconds: 120, generations: 0, unchanged_rate: null, unchanged_95ci: null },
      {
        checkpoint_seconds: 30,
        generations: 2,
        unchanged_rate: 0.5,
        unchanged_95ci: { lower: 0.0945, upper: 0.9055 },
        mostly_unchanged_rate: 1,
        mostly_unchanged_95ci: { lower: 0.3424, upper: 1 },
      },
    ]);
    expect(rows.map((r) => r.label)).toEqual(["30 s", "2 min"]);
    expect(rows[0].unchangedRate).toBe(0.5);
    expect(rows[0].unchangedError[0]).toBeCloseTo(0.4055);
    expect(rows[0].mostlyError).toEqual([expect.closeTo(0.6576), 0]);
    expect(rows[1]).toMatchObject({ unchanged: null, unchangedRate: null, unchangedError: [0, 0] });
    expect(checkpointLabel(600)).toBe("10 min");
  });
});
