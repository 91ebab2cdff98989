"""Turns benchmark rounds into the final JSON line: medians, and ratios against the reference."""
import argparse
import json
import re
import statistics


def to_ms(value: str) -> float:
    """wrk latency ("812.00us", "1.20ms", "2.01s") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if not match:
        raise ValueError(f"unparseable latency {value!r}")
    number, unit = float(match.group(1)), match.group(2)
    return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bench")
    parser.add_argument("--series", nargs=2, action="append", default=[], metavar=("NAME", "VALUES"))
    parser.add_argument("--meta", nargs="*", default=[])
    args = parser.parse_args()
    result = {"bench": args.bench}
    for name, values in args.series:
        items = values.split()
        numbers = [to_ms(v) for v in items] if name.endswith(("_p50", "_p99")) else [float(v) for v in items]
        key = f"{name}_ms" if name.endswith(("_p50", "_p99")) else name
        result[key] = round(statistics.median(numbers), 3)
        result[f"{key}_rounds"] = numbers
    measured = f"{args.bench}_rps"
    if measured in result and result.get("ping_rps"):
        result[f"ratio_{args.bench}_vs_ping"] = round(result[measured] / result["ping_rps"], 3)
    added = f"{args.bench}_p50_ms"
    if added in result and "ping_p50_ms" in result:
        # What the measured request adds to the reference's median latency (one connection).
        result[f"{args.bench}_added_p50_ms"] = round(result[added] - result["ping_p50_ms"], 3)
    for item in args.meta:
        key, _, value = item.partition("=")
        result[key] = int(value) if value.isdigit() else value
    print(json.dumps(result))


if __name__ == "__main__":
    main()
