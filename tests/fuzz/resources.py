"""The resource probe (issue 19, classes 1 and 3): the server's resident memory and the size of
`/metrics`, before and after the whole run, must stay within bounds; and a storm of requests with
thousands of distinct random methods and paths (`curl -X <2,000 random chars> /`) must not grow
`/metrics` (label values come from closed sets) nor be answered with a 5xx.

Bounds (environment, with defaults):
- `FUZZ_MAX_RSS_GROWTH_MB` (200): resident memory may grow this much over the whole run — caches,
  pools and allocator slack, but not a copy of every request;
- `FUZZ_MAX_METRICS_GROWTH_KB` (256): the storm's own growth of `/metrics`; with closed label sets
  it adds a handful of series (`method="other"`, one route for unmatched paths);
- `FUZZ_MAX_METRICS_KB` (2048): `/metrics` after the whole run — every documented route times the
  statuses it really gives is a few hundred series of about 2 KB."""

from __future__ import annotations

import random
import socket
import string
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from common import Failures, Target, env_float, healthy, short

PROBE = "resources"

# RFC 9110 token characters: anything else is refused by the HTTP parser before any route runs.
TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@%/"


@dataclass
class Snapshot:
    rss_kb: int | None
    metrics_bytes: int


def rss_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def metrics_size(target: Target) -> int:
    response = requests.get(target.url("/metrics"), timeout=30)
    response.raise_for_status()
    return len(response.content)


def snapshot(target: Target) -> Snapshot:
    return Snapshot(rss_kb(target.server_pid), metrics_size(target))


def raw_request(target: Target, method: str, path: str) -> int | None:
    """One request over a fresh connection (no client library second-guesses the method); the
    status, or None when the server answered nothing parseable."""
    with socket.create_connection((target.host, target.port), timeout=15) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {target.host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def storm(target: Target, failures: Failures, rng: random.Random) -> None:
    """Distinct random methods (up to 2,000 characters) on `/` and API paths, and random paths
    with ordinary methods."""
    requests_to_send: list[tuple[str, str]] = []
    for i in range(400):
        length = 2000 if i % 4 == 0 else rng.randint(1, 64)
        method = "".join(rng.choices(TCHAR, k=length))
        path = rng.choice(["/", "/api/ping", "/api/user/create", "/api/completion/request", "/metrics", "/docs/"])
        requests_to_send.append((method, path))
    for _ in range(400):
        path = "/" + rng.choice(["", "api/", "api/completion/", "api/chat/get/", "docs/", "api/analytics/"]) + "".join(rng.choices(PATH_CHARS, k=rng.randint(1, 300)))
        path = path.replace("%", "%25")
        requests_to_send.append((rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]), path))

    def send(item: tuple[str, str]) -> tuple[str, str, int | None, str | None]:
        method, path = item
        try:
            return method, path, raw_request(target, method, path), None
        except OSError as error:
            return method, path, None, str(error)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send, requests_to_send))
    server_errors = [(m, p, s) for m, p, s, _ in results if s is not None and s >= 500]
    unanswered = [(m, p, e) for m, p, s, e in results if s is None]
    for method, path, status in server_errors[:10]:
        failures.fail(PROBE, f"{short(method, 60)} {short(path, 80)}", f"answered {status}")
    if len(server_errors) > 10:
        failures.fail(PROBE, "the random-method storm", f"{len(server_errors)} requests answered 5xx in all")
    for method, path, error in unanswered[:5]:
        failures.fail(PROBE, f"{short(method, 60)} {short(path, 80)}", f"no HTTP answer ({error or 'connection closed'})")
    failures.check(not unanswered and not server_errors, PROBE, f"{len(requests_to_send)} requests with random methods and paths", "see above")


def run_storm(target: Target, failures: Failures, seed: int) -> None:
    before = metrics_size(target)
    storm(target, failures, random.Random(seed))
    after = metrics_size(target)
    bound = env_float("FUZZ_MAX_METRICS_GROWTH_KB", 256) * 1024
    print(f"    /metrics: {before} → {after} bytes over the storm")
    failures.check(after - before <= bound, PROBE, "/metrics growth over 800 requests with random methods and paths",
                   f"grew by {(after - before) / 1024:.0f} KB (bound {bound / 1024:.0f} KB): label values are not from closed sets")
    ok, why = healthy(target)
    failures.check(ok, PROBE, "GET /api/health after the storm", why)


def compare(target: Target, failures: Failures, before: Snapshot) -> None:
    after = snapshot(target)
    if before.rss_kb is not None and after.rss_kb is not None:
        growth_mb = (after.rss_kb - before.rss_kb) / 1024
        bound = env_float("FUZZ_MAX_RSS_GROWTH_MB", 200)
        print(f"    server RSS: {before.rss_kb / 1024:.0f} → {after.rss_kb / 1024:.0f} MiB")
        failures.check(growth_mb <= bound, PROBE, "server resident memory over the whole run", f"grew by {growth_mb:.0f} MiB (bound {bound:.0f} MiB)")
    bound_kb = env_float("FUZZ_MAX_METRICS_KB", 2048)
    print(f"    /metrics: {before.metrics_bytes} → {after.metrics_bytes} bytes over the whole run")
    failures.check(after.metrics_bytes <= bound_kb * 1024, PROBE, "/metrics size after the whole run", f"{after.metrics_bytes / 1024:.0f} KB (bound {bound_kb:.0f} KB)")
