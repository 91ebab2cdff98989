"""The fuzzing and abuse suite (issue 19) against a running server: slow clients and oversize
bodies, schemathesis as anonymous/user/admin, the WebSocket fuzzer, a random-method storm, then
the resource bounds and the dead-set check. Started by `scripts/fuzz.sh` on a throw-away stack;
against another server set SERVER_HOST/SERVER_PORT (and FUZZ_SERVER_PID, REDIS_PORT for the
process and queue checks). Exits 1 when any probe failed; every failure is one `FAIL [probe]
operation: why` line, repeated in the summary at the end.

Usage: python tests/fuzz/run.py [--only PROBE,...] — probes: slow, schema, ws, storm, dead."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import common
import dead_set
import resources
import schema_fuzz
import slow_clients
import ws_fuzz
from common import Failures, Target, done, section


class ServerDown(Exception):
    """The server stopped answering: nothing after this would mean anything."""


def still_up(target: Target, failures: Failures, after: str) -> None:
    ok, why = common.healthy(target)
    if not ok:
        failures.fail("suite", f"the server after {after}", f"{why}; the remaining probes are skipped")
        raise ServerDown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="slow,schema,ws,storm,dead", help="comma-separated probes to run")
    parser.add_argument("--report-dir", default=os.environ.get("FUZZ_REPORT_DIR", "fuzz-report"), help="where schemathesis' logs and reports go")
    args = parser.parse_args()
    only = set(args.only.split(","))
    seed = int(os.environ.get("FUZZ_SEED", "19"))
    target = Target.from_env()
    failures = Failures()
    started = time.monotonic()
    ok, why = common.healthy(target)
    if not ok:
        print(f"error: the server at {target.base_url} is not healthy: {why}", file=sys.stderr)
        return 1

    print(f"fuzzing {target.base_url} (seed {seed}; header/body/idle timeouts {target.header_timeout:g}/{target.body_timeout:g}/{target.idle_timeout:g} s, "
          f"{target.max_connections_per_ip} connections per IP, {target.max_body_bytes}-byte bodies)")
    before = resources.snapshot(target)

    try:
        if "slow" in only:
            # First, while no other client holds connections (the per-IP cap counts them).
            t = section("slow clients and oversize bodies")
            slow_clients.run(target, failures, None)
            done(t, "slow-client probes finished")
            still_up(target, failures, "the slow clients")

        t = section("accounts")
        admin_email, admin_password = os.environ.get("ADMIN_EMAIL"), os.environ.get("ADMIN_PASSWORD")
        if not admin_email or not admin_password:
            print("error: ADMIN_EMAIL and ADMIN_PASSWORD must name the server's bootstrap admin", file=sys.stderr)
            return 1
        user = common.sign_up(target, "user")
        admin = common.sign_in(target, admin_email, admin_password)
        done(t, f"user {user.email}, admin {admin.email}")

        if "slow" in only:
            t = section("oversize body on an authenticated endpoint")
            slow_clients.oversize_content_length(target, failures, "/api/completion/request", user.cookie_header())
            done(t, "done")

        if "schema" in only:
            t = section("schemathesis")
            throwaway = [common.sign_up(target, "destructive-1"), common.sign_up(target, "destructive-2")]
            schema_fuzz.run(target, failures, user, admin, throwaway, Path(args.report_dir).resolve(), seed)
            done(t, "schemathesis finished")
            still_up(target, failures, "schemathesis")

        if "ws" in only:
            t = section("WebSocket fuzzer")
            ws_user = common.sign_up(target, "ws")
            ws_fuzz.run(target, failures, ws_user)
            done(t, "WebSocket fuzzer finished")
            still_up(target, failures, "the WebSocket fuzzer")

        if "storm" in only:
            t = section("random methods and paths")
            resources.run_storm(target, failures, seed)
            done(t, "storm finished")

        t = section("resource bounds")
        resources.compare(target, failures, before)
        done(t, "compared")

        if "dead" in only:
            t = section("dead set")
            dead_set.run(target, failures)
            done(t, "checked")

    except ServerDown:
        pass

    ok, why = common.healthy(target)
    failures.check(ok, "suite", "GET /api/health at the end", why)
    print(f"\nthe fuzzing suite took {time.monotonic() - started:.0f} s")
    print(f"fuzz: {failures.passed} passed, {len(failures.lines)} failed")
    if failures.lines:
        print("\nfailures:")
        for line in failures.lines:
            print("  " + line)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
