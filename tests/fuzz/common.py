"""What every probe of the fuzzing suite shares: the target (read from the environment, the same
variables the server reads), the failure log every probe writes to, and the suite's accounts."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests


def env_float(name: str, default: float) -> float:
    """A number from the environment; a malformed value stops the suite naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        sys.exit(f"error: {name}={raw!r} is not a number")


@dataclass(frozen=True)
class Target:
    """The server under test and the limits it was started with. The limits are read from the
    variables the server itself reads, so the probes' bounds follow its configuration."""

    base_url: str
    host: str
    port: int
    server_pid: int | None
    redis_port: int | None
    max_body_bytes: int
    header_timeout: float
    body_timeout: float
    idle_timeout: float
    max_connections_per_ip: int
    slack: float

    @staticmethod
    def from_env() -> "Target":
        host = os.environ.get("SERVER_HOST", "127.0.0.1")
        port = int(os.environ.get("SERVER_PORT", "8008"))
        pid = os.environ.get("FUZZ_SERVER_PID", "").strip()
        redis_port = os.environ.get("REDIS_PORT", "").strip()
        header_timeout = env_float("HTTP_HEADER_READ_TIMEOUT_SECONDS", 10)
        return Target(
            base_url=f"http://{host}:{port}",
            host=host,
            port=port,
            server_pid=int(pid) if pid else None,
            redis_port=int(redis_port) if redis_port else None,
            max_body_bytes=int(env_float("MAX_REQUEST_BODY_BYTES", 512 * 1024)),
            header_timeout=header_timeout,
            body_timeout=env_float("HTTP_BODY_TIMEOUT_SECONDS", 30),
            # An idle connection is closed by the header-read timeout unless the server has its own.
            idle_timeout=env_float("HTTP_IDLE_TIMEOUT_SECONDS", header_timeout),
            max_connections_per_ip=int(env_float("HTTP_MAX_CONNECTIONS_PER_IP", 256)),
            # How late past a configured timeout a close still counts as on time (scheduling,
            # a loaded 2-core machine).
            slack=env_float("FUZZ_TIMEOUT_SLACK_SECONDS", 3),
        )

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass
class Failures:
    """Every probe reports here; the suite fails when anything was reported. Each line names the
    probe, the operation (the exact request) and why it failed, so a red run says what to fix."""

    lines: list[str] = field(default_factory=list)
    passed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, probe: str, operation: str, why: str) -> None:
        line = f"FAIL [{probe}] {operation}: {why}"
        with self.lock:  # probes run in threads: one whole line at a time
            self.lines.append(line)
            print(line, flush=True)

    def check(self, ok: bool, probe: str, operation: str, why: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.fail(probe, operation, why)
        return ok


def section(title: str) -> float:
    """Prints a section heading; returns the start time for [`done`]."""
    print(f"\n==> {title}", flush=True)
    return time.monotonic()


def done(started: float, what: str) -> None:
    print(f"    {what} ({time.monotonic() - started:.1f} s)", flush=True)


def short(value: Any, limit: int = 300) -> str:
    """A value for a failure line: JSON-ish, cut to `limit` characters."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


@dataclass
class Identity:
    """One signed-in account with a live session and an active project (the plugin's three
    cookies)."""

    email: str
    password: str
    auth_token: str
    session_token: str | None = None
    project_token: str | None = None

    def cookie_header(self) -> str:
        pairs = [("auth_token", self.auth_token), ("session_token", self.session_token), ("project_token", self.project_token)]
        return "; ".join(f"{name}={value}" for name, value in pairs if value)

    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie_header()}


PASSWORD = "FuzzSuite123"


def sign_up(target: Target, label: str, *, session: bool = True) -> Identity:
    """Creates a fresh account (the plugin's six fields), signs in, acquires a session and creates
    an active project. Any unexpected answer stops the suite: nothing after it would mean much."""
    email = f"fuzz-{label}-{uuid.uuid4().hex[:10]}@example.com"
    http = requests.Session()
    created = http.post(target.url("/api/user/create"), json={"email": email, "name": f"Fuzz {label}", "password": PASSWORD, "config_id": 1, "provider": "no_provider", "token": ""}, timeout=30)
    if created.status_code != 201:
        sys.exit(f"error: signing up {email} answered {created.status_code}: {created.text[:300]}")
    return sign_in(target, email, PASSWORD, session=session)


def sign_in(target: Target, email: str, password: str, *, session: bool = True) -> Identity:
    """Signs an existing account in; with `session`, also acquires a session and a project."""
    http = requests.Session()
    auth = http.post(target.url("/api/user/authenticate"), json={"email": email, "password": password, "provider": "no_provider", "token": ""}, timeout=30)
    if auth.status_code != 200:
        sys.exit(f"error: signing in {email} answered {auth.status_code}: {auth.text[:300]}")
    identity = Identity(email=email, password=password, auth_token=auth.json()["user"]["auth_token"])
    if not session:
        return identity
    acquired = http.get(target.url("/api/session/acquire"), timeout=30)
    if acquired.status_code != 200:
        sys.exit(f"error: acquiring a session for {email} answered {acquired.status_code}: {acquired.text[:300]}")
    identity.session_token = acquired.json()["session_token"]
    project = http.post(target.url("/api/project/create"), json={"project_name": "fuzz"}, timeout=30)
    if project.status_code != 201:
        sys.exit(f"error: creating a project for {email} answered {project.status_code}: {project.text[:300]}")
    identity.project_token = project.json()["project_token"]
    return identity


def healthy(target: Target, timeout: float = 10) -> tuple[bool, str]:
    """Whether the server still answers `/api/health` with 200 (and its process is alive)."""
    if target.server_pid is not None and not os.path.exists(f"/proc/{target.server_pid}"):
        return False, f"the server process {target.server_pid} is gone"
    try:
        response = requests.get(target.url("/api/health"), timeout=timeout)
    except requests.RequestException as error:
        return False, f"/api/health failed: {error}"
    return response.status_code == 200, f"/api/health answered {response.status_code}: {short(response.text)}"
