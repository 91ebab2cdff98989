"""The WebSocket fuzzer (issue 19, classes 5 and 10): malformed and unexpected frames on the three
WebSocket endpoints, protocol violations below the WebSocket library, an oversize frame (must close
with 1009), and sockets kept open across a logout or an account deletion (must be closed, and no
request on them answered).

Every frame the server sends is inspected: a `result` with a 5xx `status_code`, or a frame far
larger than the request that caused it (an amplification, class 1), is a failure; so is a frame
left unanswered, a close with 1011 (internal error), or an unhealthy server afterwards."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import struct
import time
import uuid
from typing import Any

import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from common import Failures, Identity, Target, env_float, healthy, short, sign_up

PROBE = "websocket"

TELEMETRY = {"version_id": 1, "trigger_type_id": 1, "language_id": 47, "file_path": "/fuzz/main.py", "caret_line": 1, "document_char_length": 20, "relative_document_position": 0.5}


def completion_body(**changes: Any) -> dict[str, Any]:
    """A valid completion request for the default model, asking for one token (cheap)."""
    body = {
        "model_ids": [5],
        "context": {"prefix": "def add(a, b):\n    ", "suffix": "\n", "file_name": "main.py", "selected_text": "", "context_files": []},
        "contextual_telemetry": dict(TELEMETRY),
        "behavioral_telemetry": {"time_since_last_shown": 100, "time_since_last_accepted": 100, "typing_speed": 3.5},
        "store_context": True,
        "max_new_tokens": 1,
    }
    body.update(changes)
    return body


def chat_body(**changes: Any) -> dict[str, Any]:
    body = {
        "model_ids": [5],
        "chat_id": str(uuid.uuid4()),
        "messages": [["user", "Say hi"]],
        "context": {"prefix": "", "suffix": "", "file_name": "main.py"},
        "contextual_telemetry": dict(TELEMETRY),
        "behavioral_telemetry": {},
        "web_enabled": False,
    }
    body.update(changes)
    return body


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def ws_url(target: Target, path: str) -> str:
    return f"ws://{target.host}:{target.port}{path}"


class Conversation:
    """One connection: sends frames and reads the answers, checking every frame it gets."""

    def __init__(self, target: Target, failures: Failures, socket_: ClientConnection, path: str):
        self.target, self.failures, self.ws, self.path = target, failures, socket_, path

    def inspect(self, raw: str | bytes, cause: str, sent: int) -> Any:
        """Checks one frame from the server; returns it decoded (None when it is not JSON)."""
        size = len(raw)
        if size > max(256 * 1024, 100 * sent):
            self.failures.fail(PROBE, f"{self.path} {cause}", f"a {size}-byte frame answered a {sent}-byte request (amplification)")
        try:
            frame = json.loads(raw)
            if isinstance(frame, str):
                frame = json.loads(frame)
        except (ValueError, TypeError):
            self.failures.fail(PROBE, f"{self.path} {cause}", f"the server sent a frame that is not JSON: {short(str(raw))}")
            return None
        if isinstance(frame, dict) and frame.get("type") == "result" and int(frame.get("status_code", 0)) >= 500:
            self.failures.fail(PROBE, f"{self.path} {cause}", f"answered {frame['status_code']}: {short(frame.get('content'))}")
        return frame

    async def send(self, payload: str | bytes | list[str], cause: str, until: str = "answer", timeout: float = 20) -> list[Any]:
        """Sends `payload` and reads frames until one answers it: an `error` frame, a `result`, or a
        `cancelled` (`until="answer"`), or only an `error` frame (`until="error"`: frames still
        coming for earlier requests are skipped); `until="nothing"` reads for a moment and
        expects silence."""
        sent = sum(len(p) for p in payload) if isinstance(payload, list) else len(payload)
        await self.ws.send(payload)
        frames: list[Any] = []
        deadline = time.monotonic() + (0.3 if until == "nothing" else timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if until in ("answer", "error"):
                    self.failures.fail(PROBE, f"{self.path} {cause}", f"no answer within {timeout:g} s (frames: {short(frames)})")
                return frames
            try:
                raw = await asyncio.wait_for(self.ws.recv(), remaining)
            except asyncio.TimeoutError:
                continue
            frame = self.inspect(raw, cause, sent)
            frames.append(frame)
            if isinstance(frame, dict) and ("error" in frame or (until != "error" and frame.get("type") in ("result", "cancelled"))):
                if until == "nothing":
                    self.failures.fail(PROBE, f"{self.path} {cause}", f"expected no answer, got {short(frame)}")
                return frames

    async def expect_error(self, payload: str | bytes, cause: str) -> None:
        frames = await self.send(payload, cause, until="error")
        if frames and not (isinstance(frames[-1], dict) and "error" in frames[-1]):
            self.failures.fail(PROBE, f"{self.path} {cause}", f"expected an {{\"error\"}} frame, got {short(frames[-1])}")
        else:
            self.failures.passed += 1

    async def expect_result(self, action: str, body: Any, cause: str, allowed: set[int] | None = None) -> dict | None:
        frames = await self.send(json.dumps({action: body}), cause)
        result = next((f for f in frames if isinstance(f, dict) and f.get("type") == "result"), None)
        if result is not None and allowed is not None and result.get("status_code") not in allowed:
            self.failures.fail(PROBE, f"{self.path} {cause}", f"expected status {sorted(allowed)}, got {result.get('status_code')}: {short(result.get('content'))}")
        elif result is not None:
            self.failures.passed += 1
        return result


async def open_ws(target: Target, path: str, identity: Identity, **options: Any) -> ClientConnection:
    return await connect(ws_url(target, path), additional_headers=identity.headers(), compression=None, proxy=None,
                         ping_interval=None, max_size=None, open_timeout=10, close_timeout=5, **options)


async def still_open(conversation: Conversation, cause: str) -> None:
    """The connection still answers after `cause`."""
    try:
        await conversation.expect_error("{}", f"a probe frame after {cause}")
    except ConnectionClosed as closed:
        conversation.failures.fail(PROBE, f"{conversation.path} {cause}", f"the server closed the connection ({closed}); it should have answered and kept it")


async def malformed_frames(target: Target, failures: Failures, user: Identity) -> None:
    """Frames the protocol allows but our actions do not: each gets an `{"error"}` frame or a
    4xx result, and the connection stays usable."""
    for path in ("/api/ws/completion", "/api/ws/completion/multi-file-context", "/api/ws/chat"):
        async with await open_ws(target, path, user) as ws:
            c = Conversation(target, failures, ws, path)
            for text, cause in [
                ("not json at all", "a non-JSON text frame"),
                ("", "an empty text frame"),
                ("[]", "a JSON array"), ("1", "a JSON number"), ("null", "JSON null"), ('"x"', "a JSON string"),
                ("{}", "an empty object"), ('{"a": {}, "b": {}}', "two actions in one frame"),
                ('{"no_such_action": {}}', "an unknown action"),
                ('{"completion_request"', "truncated JSON"),
                ('{"completion_request": ' + nested(100_000) + "}", "arrays nested 100,000 deep"),
                ('{"chat_get": ' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}", "objects nested 50,000 deep"),
                ("{\"completion_request\": 1" + "0" * 5000 + "}", "a 5,000-digit number"),
                ("{\"\u0000\": \"\u0000\"}", "NUL bytes in the action name"),
            ]:
                await c.expect_error(text, cause)
            await c.expect_error(b"\x00\x01\xfe\xff" * 16, "a binary frame")
            foreign = {"/api/ws/completion": "chat_request", "/api/ws/completion/multi-file-context": "completion_request", "/api/ws/chat": "multi_file_context_update"}[path]
            await c.expect_error(json.dumps({foreign: {}}), f"another endpoint's action ({foreign})")
            # A flood of junk, then one real question: all answered, in order.
            for i in range(300):
                await ws.send(random.choice(["x", "[]", '{"nope": 1}', b"\x00"]))
            answered = 0
            while answered < 300:
                c.inspect(await asyncio.wait_for(ws.recv(), 20), "a flood of 300 junk frames", 2)
                answered += 1
            await still_open(c, "a flood of 300 junk frames")


async def wrong_bodies(target: Target, failures: Failures, user: Identity) -> None:
    """Actions in the wrong order, with wrong types, huge numbers and NUL bytes: 4xx results (or
    200 where the input is fine), never 5xx; the telemetry of anything accepted must reach
    PostgreSQL (the dead-set check at the end of the suite)."""
    path = "/api/ws/completion"
    async with await open_ws(target, path, user) as ws:
        c = Conversation(target, failures, ws, path)
        await c.expect_result("completion_feedback", {"meta_query_id": str(uuid.uuid4()), "model_id": 5, "was_accepted": True}, "feedback before any completion", {403, 404})
        await c.send(json.dumps({"cancel": {}}), "cancel with nothing in flight", until="nothing")
        await c.send(json.dumps({"cancel": {"request_id": "not-a-uuid"}}), "cancel of a malformed id", until="nothing")
        await c.send(json.dumps({"cancel": 7}), "cancel with a number body", until="nothing")
        for body, cause in [
            ("string body", "a string body"),
            (None, "a null body"),
            ([completion_body()], "the body inside an array"),
            (completion_body(model_ids=[1e400]), "model id 1e400"),
            (completion_body(model_ids=[18446744073709551616]), "model id 2^64"),
            (completion_body(model_ids=[-9223372036854775808]), "model id i64::MIN"),
            (completion_body(model_ids=list(range(10_000))), "10,000 model ids"),
            (completion_body(max_new_tokens=10**30), "max_new_tokens 10^30"),
            (completion_body(behavioral_telemetry={"typing_speed": 1e308}), "typing_speed 1e308"),
            (completion_body(contextual_telemetry=dict(TELEMETRY, caret_line=2**63)), "caret_line 2^63"),
            (completion_body(contextual_telemetry=dict(TELEMETRY, relative_document_position=1e308)), "relative_document_position 1e308"),
            (completion_body(stop_sequences=[""] * 1000), "1,000 empty stop sequences"),
            (completion_body(context={"prefix": "a\u0000b", "suffix": "", "file_name": "main.py"}), "a NUL byte in the prefix"),
            (completion_body(context={"prefix": "x = 1\n", "suffix": "", "file_name": "ma\u0000in.py"}), "a NUL byte in the file name"),
            (completion_body(context={"prefix": "x", "suffix": "", "context_files": ["\u0000"] * 100}), "NUL context file names"),
            (completion_body(contextual_telemetry=dict(TELEMETRY, file_path="/a\u0000b")), "a NUL byte in file_path"),
        ]:
            frames = await c.send(json.dumps({"completion_request": body}), f"completion_request with {cause}", timeout=40)
            if not any(isinstance(f, dict) and f.get("type") == "result" for f in frames) and not any(isinstance(f, dict) and "error" in f for f in frames):
                failures.fail(PROBE, f"{path} completion_request with {cause}", f"no result frame: {short(frames)}")
        # Superseding and cancelling while requests run.
        await ws.send(json.dumps({"completion_request": completion_body()}))
        await ws.send(json.dumps({"completion_request": completion_body()}))
        await c.send(json.dumps({"cancel": {}}), "cancel after two overlapping requests", timeout=40)
        await still_open(c, "overlapping requests and a cancel")
    path = "/api/ws/completion/multi-file-context"
    async with await open_ws(target, path, user) as ws:
        c = Conversation(target, failures, ws, path)
        for updates, cause in [
            ({"a.py": [{"change_type": "remove", "start_line": 4_000_000, "end_line": 4_000_000}]}, "a removal at line 4,000,000"),
            ({"a.py": [{"change_type": "remove", "start_line": 4294967295, "end_line": 4294967295}]}, "a removal at line 2^32-1"),
            ({"a.py": [{"change_type": "update", "start_line": -5, "end_line": -1, "new_lines": ["x"]}]}, "negative lines"),
            ({"a.py": [{"change_type": "explode", "start_line": 0, "end_line": 0}]}, "an unknown change type"),
            ({"\u0000.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["\u0000"]}]}, "NUL bytes in a file name and line"),
            ({f"f{i}.py": [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": ["x"]}] for i in range(2000)}, "2,000 files in one update"),
            ({"a.py": "not a list"}, "changes that are not a list"),
        ]:
            await c.expect_result("multi_file_context_update", {"context_updates": updates}, cause)
    path = "/api/ws/chat"
    async with await open_ws(target, path, user) as ws:
        c = Conversation(target, failures, ws, path)
        for page in (0, -1, "abc", 1e400, 2**64, None, "1\u0000"):
            await c.expect_result("chat_get", {"page_number": page} if page is not None else {}, f"chat_get page {page!r}")
        for chat_id in (str(uuid.uuid4()), "not-a-uuid", "", "\u0000"):
            await c.expect_result("chat_delete", {"chat_id": chat_id}, f"chat_delete of {chat_id!r}", {400, 403, 404, 422})
        for body, cause in [
            (chat_body(messages=[]), "no messages"),
            (chat_body(messages=[["robot", "hi"]]), "an unknown role"),
            (chat_body(messages=[["user"]]), "a one-element message"),
            (chat_body(messages=[["user", "hi\u0000there"]]), "a NUL byte in the message"),
            (chat_body(chat_id="not-a-uuid"), "a malformed chat id"),
            (chat_body(messages=[["user", "x"]] * 5000), "5,000 messages"),
        ]:
            await c.send(json.dumps({"chat_request": body}), f"chat_request with {cause}", timeout=60)


async def oversize(target: Target, failures: Failures, user: Identity) -> None:
    """A message over `MAX_REQUEST_BODY_BYTES`, in one frame and in fragments: close code 1009
    (message too big), not a reset connection."""
    size = target.max_body_bytes + 4096
    filler = "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=size))
    for fragmented in (False, True):
        cause = f"a {size}-byte text message" + (" in 64 KiB fragments" if fragmented else " in one frame")
        path = "/api/ws/completion"
        ws = await open_ws(target, path, user)
        payload = json.dumps({"completion_request": completion_body(context={"prefix": filler, "suffix": ""})})
        code = None
        try:
            if fragmented:
                await ws.send([payload[i:i + 65536] for i in range(0, len(payload), 65536)])
            else:
                await ws.send(payload)
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
        except asyncio.TimeoutError:
            pass
        finally:
            await ws.close()
        failures.check(code == 1009, PROBE, f"{path} {cause}", f"expected a close frame with code 1009, got {'no close frame (connection reset or still open)' if code is None else code}")


# --- protocol violations below the WebSocket library ---------------------------------------------

def raw_handshake(target: Target, path: str, identity: Identity) -> socket.socket:
    sock = socket.create_connection((target.host, target.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {identity.cookie_header()}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"handshake closed: {head!r}")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake refused: {head.splitlines()[0]!r}")
    return sock


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True, length: int | None = None) -> bytes:
    """A client frame built by hand, so that it can break the rules."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload) if length is None else length
    mask_bit = 0x80 if masked else 0
    if n < 126:
        header = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_code(sock: socket.socket, wait: float) -> tuple[bool, int | None]:
    """Reads until the server closes: (closed, close code if a close frame came)."""
    sock.settimeout(0.5)
    data = b""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return True, parse_close(data)
        if not chunk:
            return True, parse_close(data)
        data += chunk
    return False, parse_close(data)


def parse_close(data: bytes) -> int | None:
    """The code of the first close frame in `data` (server frames are unmasked)."""
    i = 0
    while i + 2 <= len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n, i = struct.unpack("!H", data[i:i + 2])[0], i + 2
        elif n == 127:
            n, i = struct.unpack("!Q", data[i:i + 8])[0], i + 8
        if opcode == 0x8:
            return struct.unpack("!H", data[i:i + 2])[0] if n >= 2 else 1005
        i += n
    return None


def protocol_violations(target: Target, failures: Failures, user: Identity) -> None:
    """Each violation must make the server end the connection (RFC 6455 §7.1.7), with a close code
    other than 1011 (internal error) when it sends one, and leave the server healthy."""
    cases = [
        ("a text frame with reserved bits set", frame(0x1, b"{}", rsv=0b111)),
        ("a frame with the unknown opcode 0x3", frame(0x3, b"{}")),
        ("an unmasked client frame", frame(0x1, b"{}", masked=False)),
        ("a ping with a 200-byte payload", frame(0x9, b"p" * 200)),
        ("a fragmented ping", frame(0x9, b"p", fin=False)),
        ("a continuation frame with no message to continue", frame(0x0, b"{}")),
        ("a text frame that is not UTF-8", frame(0x1, b"\xff\xfe\xfd")),
        ("a frame announcing 2^63-1 bytes", frame(0x1, b"", length=2**63 - 1)),
        ("a close frame with the invalid code 999", frame(0x8, struct.pack("!H", 999))),
    ]
    for cause, data in cases:
        name = f"/api/ws/completion {cause}"
        try:
            sock = raw_handshake(target, "/api/ws/completion", user)
        except (OSError, ConnectionError) as error:
            failures.fail(PROBE, name, f"could not open the socket: {error}")
            continue
        try:
            sock.sendall(data)
            closed, code = close_code(sock, 5)
        except OSError as error:
            closed, code = True, None
        finally:
            sock.close()
        failures.check(closed and code != 1011, PROBE, name, "the server kept the connection open for 5 s" if not closed else f"closed with 1011 (internal error)")
    ok, why = healthy(target)
    failures.check(ok, PROBE, "GET /api/health after the protocol violations", why)


# --- revocation -----------------------------------------------------------------------------------

async def revoked(target: Target, failures: Failures, how: str) -> None:
    """Opens the completion and chat sockets of a fresh account, then signs it out (`how` =
    `logout`: `PUT /api/session/deactivate`; `delete`: `DELETE /api/user/delete`). Each socket
    must be closed with a close code within the bound, no request sent on it afterwards may be
    answered with 200, and a new handshake with the old cookies must be refused."""
    bound = env_float("FUZZ_WS_REVOCATION_SECONDS", 5)
    account = sign_up(target, f"ws-{how}")
    sockets = {path: await open_ws(target, path, account) for path in ("/api/ws/completion", "/api/ws/chat")}
    for path, ws in sockets.items():
        await Conversation(target, failures, ws, path).expect_error("{}", f"a probe frame before {how}")
    if how == "logout":
        operation = "PUT /api/session/deactivate"
        response = requests.put(target.url("/api/session/deactivate"), headers=account.headers(), timeout=30)
    else:
        operation = "DELETE /api/user/delete"
        response = requests.delete(target.url("/api/user/delete"), headers=account.headers(), timeout=30)
    if not failures.check(response.status_code == 200, PROBE, operation, f"the sign-out itself answered {response.status_code}: {short(response.text)}"):
        return
    requests_after = {
        "/api/ws/completion": {"completion_request": completion_body()},
        "/api/ws/chat": {"chat_get": {"page_number": 1}},
    }
    for path, ws in sockets.items():
        name = f"{path} kept open across {operation}"
        started = time.monotonic()
        outcome = None
        while outcome is None and time.monotonic() - started < bound:
            try:
                await ws.send(json.dumps(requests_after[path]))
                raw = await asyncio.wait_for(ws.recv(), max(0.1, bound - (time.monotonic() - started)))
                answer = json.loads(raw)
                if isinstance(answer, dict) and answer.get("type") == "result" and answer.get("status_code") == 200:
                    outcome = f"a {next(iter(requests_after[path]))} sent after it was answered with 200"
            except asyncio.TimeoutError:
                pass
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                outcome = "ok" if code is not None else "closed without a close frame (no close code)"
        if outcome is None:
            outcome = f"still open {bound:g} s after it"
        failures.check(outcome == "ok", PROBE, name, outcome)
        await ws.close()
    try:
        ws = await open_ws(target, "/api/ws/completion", account)
        await ws.close()
        failures.fail(PROBE, f"/api/ws/completion handshake after {operation}", "the old cookies were accepted")
    except InvalidStatus as refused:
        failures.check(refused.response.status_code == 401, PROBE, f"/api/ws/completion handshake after {operation}", f"expected 401, got {refused.response.status_code}")


async def run_async(target: Target, failures: Failures, user: Identity) -> None:
    parts = [
        ("malformed frames", malformed_frames(target, failures, user)),
        ("wrong bodies", wrong_bodies(target, failures, user)),
        ("oversize messages", oversize(target, failures, user)),
        ("revocation by logout", revoked(target, failures, "logout")),
        ("revocation by account deletion", revoked(target, failures, "delete")),
    ]
    for name, part in parts:
        try:
            await part
        except (ConnectionClosed, InvalidStatus, OSError, asyncio.TimeoutError) as error:
            failures.fail(PROBE, name, f"stopped early: {type(error).__name__}: {error}")


def run(target: Target, failures: Failures, user: Identity) -> None:
    asyncio.run(run_async(target, failures, user))
    protocol_violations(target, failures, user)
    ok, why = healthy(target)
    failures.check(ok, PROBE, "GET /api/health after the WebSocket fuzzer", why)
