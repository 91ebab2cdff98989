"""The dead-set check (issue 19, class 8): after the whole run, once the queues are drained, no
job is in any apalis dead set. Our handlers only abort a job to the dead set when it cannot be
carried out at all, so anything there is a write a client caused and the system lost.

apalis-redis 1.0 keeps, per queue (`llm`, `db`: `shared/src/jobs.rs`), the ids of dead jobs in the
set `<queue>:dead` (`handle_results.lua`), their payloads in the hash `<queue>:data` and their last
result in `<queue>:meta:<id>`; jobs waiting or running are in `<queue>:active` and the per-worker
`<queue>:inflight` sets. Every `*:dead` key is checked, so a queue added later is covered too."""

from __future__ import annotations

import subprocess
import time

from common import Failures, Target, env_float, short

PROBE = "dead-set"


def redis(target: Target, *args: str) -> str:
    completed = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(target.redis_port), "--raw", *args], capture_output=True, text=True, timeout=30)
    if completed.returncode != 0:
        raise RuntimeError(f"redis-cli {' '.join(args)}: {completed.stderr.strip()}")
    return completed.stdout


def keys(target: Target, pattern: str) -> list[str]:
    return [k for k in redis(target, "--scan", "--pattern", pattern).splitlines() if k]


def pending(target: Target) -> int:
    """Jobs still queued or running, over every queue."""
    total = 0
    for key in keys(target, "*:active"):
        total += int(redis(target, "LLEN", key).strip() or 0)
    for key in keys(target, "*:inflight*"):
        if redis(target, "TYPE", key).strip() == "set":
            total += int(redis(target, "SCARD", key).strip() or 0)
    return total


def members(target: Target, key: str) -> list[str]:
    kind = redis(target, "TYPE", key).strip()
    if kind == "set":
        return redis(target, "SMEMBERS", key).split()
    if kind == "zset":
        return redis(target, "ZRANGE", key, "0", "-1").split()
    return []


def run(target: Target, failures: Failures) -> None:
    if target.redis_port is None:
        print("    skipped: REDIS_PORT is not set")
        return
    bound = env_float("FUZZ_QUEUE_DRAIN_SECONDS", 60)
    started = time.monotonic()
    while (left := pending(target)) and time.monotonic() - started < bound:
        time.sleep(0.5)
    failures.check(left == 0, PROBE, "queues drained", f"{left} jobs still queued or running after {bound:g} s")
    dead_keys = keys(target, "*:dead")
    total = 0
    for key in dead_keys:
        queue = key.rsplit(":", 1)[0]
        for job in members(target, key):
            total += 1
            payload = redis(target, "HGET", f"{queue}:data", job).strip()
            result = redis(target, "HGET", f"{queue}:meta:{job}", "result").strip()
            failures.fail(PROBE, f"job {job} in {key}", f"result {short(result, 400)}; payload {short(payload, 400)}")
    if total == 0:
        failures.passed += 1
        print(f"    no dead jobs ({', '.join(dead_keys) or 'no dead sets exist'})")
