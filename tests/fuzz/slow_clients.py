"""Slow-client and oversize probes over raw sockets (issue 19, class 4): an idle connection, headers
or a body trickled a byte at a time, a `Content-Length` over the body limit with no body, and more
connections from one address than the per-IP cap. Each must be ended by the server within a bound
taken from the very variables the server reads (`HTTP_HEADER_READ_TIMEOUT_SECONDS`,
`HTTP_BODY_TIMEOUT_SECONDS`, `HTTP_MAX_CONNECTIONS_PER_IP`, `MAX_REQUEST_BODY_BYTES`) plus
`FUZZ_TIMEOUT_SLACK_SECONDS`. The timed probes run side by side, so the whole set takes about the
longest bound."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from dataclasses import dataclass

from common import Failures, Identity, Target, env_float, healthy, short

PROBE = "slow-client"


@dataclass
class Outcome:
    """What the server did with a connection: when it closed it (seconds after the probe's clock
    started; None while open) and what it sent before."""

    closed_after: float | None
    received: bytes
    error: str | None = None

    def status(self) -> int | None:
        """The status of the first response the server sent, if any."""
        if not self.received.startswith(b"HTTP/"):
            return None
        try:
            return int(self.received.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return None

    def describe(self) -> str:
        state = "still open" if self.closed_after is None else f"closed after {self.closed_after:.1f} s"
        sent = f", answered {short(self.received.decode('latin-1'), 120)!r}" if self.received else ""
        return state + sent + (f" ({self.error})" if self.error else "")


def connect(target: Target) -> socket.socket:
    sock = socket.create_connection((target.host, target.port), timeout=5)
    sock.setblocking(False)
    return sock


def send_whole(sock: socket.socket, data: bytes) -> None:
    """Sends all of `data` at once on a non-blocking socket (a request head, before trickling)."""
    sock.setblocking(True)
    sock.sendall(data)
    sock.setblocking(False)


def watch(sock: socket.socket, started: float, until: float, trickle: bytes = b"", interval: float = 0) -> Outcome:
    """Sends `trickle` one byte every `interval` seconds (if any) and reads until the server closes
    the connection or `until` (seconds after `started`) has passed."""
    received = b""
    next_send = time.monotonic()
    pending = bytearray(trickle)
    while True:
        now = time.monotonic()
        if now - started >= until:
            return Outcome(None, received)
        if pending and now >= next_send:
            try:
                sock.send(bytes(pending[:1]))
            except OSError as error:
                return Outcome(now - started, received, f"send failed: {error}")
            del pending[:1]
            next_send = now + interval
        wait = min(started + until, next_send if pending else started + until) - time.monotonic()
        readable, _, _ = select.select([sock], [], [], max(wait, 0.01))
        if readable:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, OSError) as error:
                return Outcome(time.monotonic() - started, received, f"reset: {error}")
            if not chunk:
                return Outcome(time.monotonic() - started, received)
            received += chunk


def expect_closed(failures: Failures, name: str, outcome: Outcome, bound: float) -> None:
    """The server must have ended the connection within `bound`, answering at most a 4xx first."""
    status = outcome.status()
    ok = outcome.closed_after is not None and outcome.closed_after <= bound and (status is None or 400 <= status < 500)
    failures.check(ok, PROBE, name, f"expected the server to close it within {bound:.0f} s (at most a 4xx first); it was {outcome.describe()}")


def idle(target: Target, failures: Failures) -> None:
    bound = target.idle_timeout + target.slack
    sock = connect(target)
    try:
        expect_closed(failures, "idle connection (nothing sent)", watch(sock, time.monotonic(), bound + 2), bound)
    finally:
        sock.close()


def idle_after_request(target: Target, failures: Failures) -> None:
    """A keep-alive connection left idle after one complete exchange."""
    bound = target.idle_timeout + target.slack
    sock = connect(target)
    try:
        sock.sendall(f"GET /api/user/oauth/providers HTTP/1.1\r\nHost: {target.host}\r\n\r\n".encode())
        started = time.monotonic()
        first = watch(sock, started, 5)
        if first.status() != 200:
            failures.fail(PROBE, "keep-alive connection idle after GET /api/user/oauth/providers", f"the request itself was not answered with 200: {first.describe()}")
            return
        # `watch` returned only because the connection closed or 5 s passed; either is an outcome.
        outcome = first if first.closed_after is not None else watch(sock, started, bound + 2)
        outcome.received = b""
        expect_closed(failures, "keep-alive connection idle after a request", outcome, bound)
    finally:
        sock.close()


def header_trickle(target: Target, failures: Failures, interval: float) -> None:
    bound = target.header_timeout + target.slack
    request = f"GET /api/health HTTP/1.1\r\nHost: {target.host}\r\nUser-Agent: slowloris\r\nX-Padding: {'a' * 64}\r\n\r\n".encode()
    sock = connect(target)
    try:
        outcome = watch(sock, time.monotonic(), bound + 2, request, interval)
        expect_closed(failures, f"request headers trickled 1 byte every {interval:g} s", outcome, bound)
    finally:
        sock.close()


def body_trickle(target: Target, failures: Failures, interval: float) -> None:
    bound = target.body_timeout + target.slack
    body = b'{"email": "slow@example.com", "password": "' + b"x" * 200 + b'"}'
    head = (f"POST /api/user/authenticate HTTP/1.1\r\nHost: {target.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    sock = connect(target)
    try:
        send_whole(sock, head)
        outcome = watch(sock, time.monotonic(), bound + 2, body, interval)
        expect_closed(failures, f"POST /api/user/authenticate with its body trickled 1 byte every {interval:g} s", outcome, bound)
    finally:
        sock.close()


def oversize_content_length(target: Target, failures: Failures, path: str, cookies: str | None) -> None:
    """A `Content-Length` over the limit and no body: 413 at once, before any body is awaited."""
    bound = env_float("FUZZ_IMMEDIATE_SECONDS", 2)
    length = target.max_body_bytes + 1
    cookie = f"Cookie: {cookies}\r\n" if cookies else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: {target.host}\r\nContent-Type: application/json\r\n{cookie}"
            f"Content-Length: {length}\r\n\r\n").encode()
    sock = connect(target)
    try:
        send_whole(sock, head)
        started = time.monotonic()
        received = b""
        while time.monotonic() - started < bound and b"\r\n\r\n" not in received:
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                received += chunk
        outcome = Outcome(time.monotonic() - started, received)
        failures.check(outcome.status() == 413, PROBE, f"POST {path} with Content-Length: {length} (> MAX_REQUEST_BODY_BYTES) and no body",
                       f"expected 413 within {bound:g} s; got {outcome.describe() if received else f'nothing within {bound:g} s'}")
    finally:
        sock.close()


def server_sockets(pid: int) -> int:
    """How many sockets the server process holds open."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def per_ip_cap(target: Target, failures: Failures) -> None:
    """Opens the cap plus 16 connections from one address: the server must hold at most the cap
    (the rest refused or closed at once), so one client cannot use up its file descriptors."""
    name = f"{target.max_connections_per_ip + 16} connections from one IP (HTTP_MAX_CONNECTIONS_PER_IP={target.max_connections_per_ip})"
    if target.server_pid is None:
        print(f"    skipped {name}: FUZZ_SERVER_PID is not set (the probe counts the server's sockets)")
        return
    extra = 16
    baseline = server_sockets(target.server_pid)
    socks = []
    try:
        for _ in range(target.max_connections_per_ip + extra):
            try:
                socks.append(socket.create_connection((target.host, target.port), timeout=2))
            except OSError:
                pass  # refused: that is one way to enforce the cap
        time.sleep(0.5)
        held = server_sockets(target.server_pid) - baseline
        # A little room for pool connections the server may open meanwhile.
        failures.check(held <= target.max_connections_per_ip + 4, PROBE, name,
                       f"the server holds {held} more sockets than before; at most {target.max_connections_per_ip} should be accepted")
    finally:
        for sock in socks:
            sock.close()


def run(target: Target, failures: Failures, user: Identity | None) -> None:
    """Every probe; the timed ones side by side. The per-IP probe runs alone first (the others'
    connections would count towards the cap)."""
    per_ip_cap(target, failures)
    time.sleep(0.5)
    probes = [
        lambda: idle(target, failures),
        lambda: idle_after_request(target, failures),
        lambda: header_trickle(target, failures, env_float("FUZZ_TRICKLE_INTERVAL_SECONDS", 5)),
        # A byte every second never leaves a gap as long as the timeout: only a bound on the whole
        # header or body read ends these.
        lambda: header_trickle(target, failures, 1),
        lambda: body_trickle(target, failures, env_float("FUZZ_TRICKLE_INTERVAL_SECONDS", 5)),
        lambda: body_trickle(target, failures, 1),
        lambda: oversize_content_length(target, failures, "/api/user/create", None),
    ]
    if user is not None:
        probes.append(lambda: oversize_content_length(target, failures, "/api/completion/request", user.cookie_header()))
    threads = [threading.Thread(target=probe) for probe in probes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ok, why = healthy(target)
    failures.check(ok, PROBE, "GET /api/health after the slow clients", why)
