"""The client side of `./bench.sh analytics`: times every analytics endpoint as an admin over the
whole demo data set (the default 30-day window, every user), against PostgreSQL's own time for one
sequential pass over `had_generation` and one pass over the 30-day window's generation rollup rows
as the endpoints read them (`analytics_generations`: day rows, hour rows, raw edges) in the same
run (read from EXPLAIN ANALYZE through psql).

Each endpoint is called once to warm up, then ROUNDS times; medians are reported, and each one's
ratio to the reference scan. Prints one JSON object on stdout. Standard library only.
"""

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import time
import urllib.parse

ENDPOINTS = [
    "/api/analytics/overview/dashboard?time_window=30d",
    "/api/analytics/overview/activity-timeline?time_window=7d&granularity=1h",
    "/api/analytics/overview/user-engagement",
    "/api/analytics/usage/queries-over-time?granularity=1d",
    "/api/analytics/usage/acceptance-rates?group_by=language",
    "/api/analytics/usage/latency-distribution",
    "/api/analytics/usage/user-behavior",
    "/api/analytics/models/comparison",
    "/api/analytics/models/ground-truth-analysis",
    "/api/analytics/models/performance-by-context",
    "/api/analytics/models/model-usage-trends",
    "/api/analytics/calibration/reliability-diagram",
    "/api/analytics/calibration/brier-score?group_by=config",
    "/api/analytics/calibration/confidence-distribution",
    "/api/analytics/calibration/calibration-summary",
    "/api/analytics/research/code-survival",
    "/api/analytics/research/effort",
    "/api/analytics/research/latency-stages",
]


def login(base, email, password):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    conn.request("POST", "/api/user/authenticate", body=json.dumps({"email": email, "password": password}), headers={"content-type": "application/json"})
    response = conn.getresponse()
    response.read()
    cookie = next(v for k, v in response.getheaders() if k.lower() == "set-cookie").split(";")[0]
    return conn, cookie


def timed(conn, cookie, path):
    started = time.perf_counter()
    conn.request("GET", path, headers={"cookie": cookie})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        sys.exit(f"{path} answered {response.status}: {body[:300]!r}")
    return elapsed


def scan_ms(psql, sql):
    out = subprocess.run([*psql, "-c", f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)[0]["Execution Time"]


def reference_scan_ms(psql):
    return scan_ms(psql, "SELECT count(*), avg(confidence) FROM had_generation")


def rollup_scan_ms(psql):
    return scan_ms(
        psql,
        "SELECT count(*), sum(generations), sum(confidence_sum) FROM analytics_generations(now() - interval '30 days', now(), NULL, NULL, 'day')",
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--psql", required=True, help="psql command line (JSON list) reaching the database")
    parser.add_argument("--generations", type=int, required=True)
    args = parser.parse_args()
    psql = json.loads(args.psql)
    conn, cookie = login(args.base, args.email, args.password)
    references = []
    rollup_references = []
    results = {}
    for path in ENDPOINTS:
        timed(conn, cookie, path)
        samples = [timed(conn, cookie, path) for _ in range(args.rounds)]
        references.append(reference_scan_ms(psql))
        rollup_references.append(rollup_scan_ms(psql))
        results[path.split("/api/analytics/")[1].split("?")[0]] = round(statistics.median(samples), 1)
    reference = statistics.median(references)
    rollup_reference = statistics.median(rollup_references)
    print(json.dumps({
        "bench": "analytics",
        "generations": args.generations,
        "reference_scan_ms": round(reference, 1),
        "median_ms": results,
        "ratio_to_scan": {name: round(ms / reference, 2) for name, ms in results.items()},
        "rollup_scan_ms": round(rollup_reference, 1),
        "ratio_to_rollup_scan": {name: round(ms / rollup_reference, 1) for name, ms in results.items()},
        "worst_ms": max(results.values()),
    }))


if __name__ == "__main__":
    main()
