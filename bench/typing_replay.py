"""The client side of `./bench.sh typing`: replays a typing session as the JetBrains plugin produces it.

A real source file is typed from its start; after every word end (where the plugin's 250 ms debounce
fires for a typist pausing between words) a completion is requested with the plugin's context: the
last 512 characters before the caret as the prefix, the next 256 of the file as the suffix,
max_new_tokens 16. Requests go one at a time through the real REST API (sign-up, login, session,
project, then /api/completion/request), so each latency is end to end: HTTP, queue, worker, model,
pub/sub, telemetry push.

With --context-dir DIR, the other source files of DIR are first sent as the project's multi-file
context (and indexed for retrieval, which config row 1 turns on); each completion then asks for the
debug report, and the summary adds the median search time and snippets per request.

With --llama-server URL, the same prefixes are sent to llama.cpp's server (llama-cpp-python's
OpenAI-compatible /v1/completions, prefix-only, prompt cache on) in the same run.

Each summary gives the latency percentiles, the median model time the server reports
(`generation_time`) and the mean completion length: a change that alters sampled outputs changes
how much is written, and so latency, without any change in speed. With --dump FILE every request's
figures and completion are written out, so two runs can be paired request by request.

Prints one JSON object on stdout. Standard library only.
"""

import argparse
import contextlib
import http.client
import json
import pathlib
import statistics
import sys
import time
import urllib.parse
import uuid


def word_end_carets(text):
    """Positions right after each word, where the debounce fires."""
    return [i for i in range(1, len(text)) if (text[i - 1].isalnum() or text[i - 1] == "_") and not (text[i].isalnum() or text[i] == "_")]


class Client:
    """A tiny HTTP client with a cookie jar, like the plugin's."""

    def __init__(self, base):
        url = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        self.cookies = {}

    def call(self, method, path, body=None):
        headers = {"content-type": "application/json"}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
        if response.status >= 300:
            sys.exit(f"{method} {path} answered {response.status}: {data[:300]!r}")
        return json.loads(data) if data else None


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, len(ordered) * p // 100)]


def summary(latencies):
    return {
        "requests": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "mean_ms": round(statistics.mean(latencies), 1),
    }


def completion_body(prefix, suffix, file_name, max_new, debug):
    """The plugin's request; `max_new` 0 leaves max_new_tokens out (the contract's default budget)."""
    body = {
        "model_ids": [5],
        "context": {"prefix": prefix, "suffix": suffix, "file_name": file_name, "selected_text": "", "context_files": []},
        "contextual_telemetry": {"version_id": 3, "trigger_type_id": 2, "language_id": 1},
        "behavioral_telemetry": {},
        "max_new_tokens": max_new,
        "debug": debug,
    }
    if max_new <= 0:
        del body["max_new_tokens"]
    return body


def upload_context(client, source, directory):
    """Sends the other files of `directory` (any named as the typed file excluded: it may be a copy of
    it) as the multi-file context and waits until the retrieval
    index holds them all: files are indexed in name order, so the last one is found last."""
    files = sorted(p for p in pathlib.Path(directory).iterdir() if p.is_file() and p.suffix == pathlib.Path(source).suffix and p.name != pathlib.Path(source).name)
    if not files:
        sys.exit(f"no other {pathlib.Path(source).suffix} files in {directory}")
    updates = {p.name: [{"change_type": "insert", "start_line": 0, "end_line": 0, "new_lines": p.read_text(encoding="utf-8").split("\n")}] for p in files}
    client.call("POST", "/api/completion/multi-file-context/update", {"context_updates": updates})
    last = files[-1]
    probe = last.read_text(encoding="utf-8")[:400]
    deadline = time.time() + 600
    while time.time() < deadline:
        answer = client.call("POST", "/api/completion/request", completion_body(probe, "", "probe" + last.suffix, 1, True))
        snippets = answer["data"]["completions"][0].get("debug", {}).get("snippets", [])
        if any(s["file_name"] == last.name for s in snippets):
            return len(files)
        time.sleep(0.5)
    sys.exit("the project's files were not indexed within 10 minutes")


def signed_in_typist(base):
    """A client for a new account, signed in, with a session and a project, as the plugin starts."""
    client = Client(base)
    email = f"typist-{uuid.uuid4().hex[:8]}@example.com"
    client.call("POST", "/api/user/create", {"email": email, "name": "Typist", "password": "Typing123", "config_id": 1})
    client.call("POST", "/api/user/authenticate", {"email": email, "password": "Typing123"})
    client.call("GET", "/api/session/acquire")
    client.call("POST", "/api/project/create", {"project_name": "typing"})
    return client


def replay_code4me(base, trace, max_new, source, context_dir, dump):
    client = signed_in_typist(base)
    extra = {}
    if context_dir:
        extra["context_files"] = upload_context(client, source, context_dir)
    latencies, search_ms, snippets, model_ms, lengths = [], [], [], [], []
    for prefix, suffix in trace:
        body = completion_body(prefix, suffix, pathlib.Path(source).name, max_new, bool(context_dir))
        started = time.perf_counter()
        answer = client.call("POST", "/api/completion/request", body)
        latencies.append((time.perf_counter() - started) * 1000)
        item = answer["data"]["completions"][0]
        if "completion" not in item:
            sys.exit(f"the model did not answer: {answer}")
        model_ms.append(item["generation_time"])
        lengths.append(len(item["completion"]))
        if dump:
            dump.write(json.dumps({"latency_ms": round(latencies[-1], 1), "generation_ms": item["generation_time"], "completion": item["completion"]}) + "\n")
        if context_dir:
            search_ms.append(item["debug"]["retrieval_ms"])
            snippets.append(len(item["debug"]["snippets"]))
    # The model's share of each latency, and how much it wrote: a change that alters sampled
    # outputs (their lengths) moves latency without any change in speed.
    extra["generation_p50_ms"] = percentile(model_ms, 50)
    extra["mean_completion_chars"] = round(statistics.mean(lengths), 1)
    if context_dir:
        extra["retrieval_p50_ms"] = percentile(search_ms, 50)
        extra["snippets_per_request"] = round(statistics.mean(snippets), 2)
    return latencies, extra


def replay_llama(base, trace, max_new):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    latencies = []
    for prefix, _suffix in trace:
        body = json.dumps({"prompt": prefix, "max_tokens": max_new if max_new > 0 else 64, "temperature": 0.2, "top_p": 0.95, "top_k": 50, "repeat_penalty": 1.1})
        started = time.perf_counter()
        conn.request("POST", "/v1/completions", body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            sys.exit(f"llama.cpp server answered {response.status}: {data[:300]!r}")
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", help="Code4me-RS server address")
    parser.add_argument("--llama-server", help="llama.cpp server address (optional)")
    parser.add_argument("--source", required=True)
    parser.add_argument("--chars", type=int, default=2000)
    parser.add_argument("--max-new", type=int, default=16, help="0: omit max_new_tokens (the contract's default of 64)")
    parser.add_argument("--label", default="code4me")
    parser.add_argument("--context-dir", help="send this directory's other files as the multi-file context (retrieval)")
    parser.add_argument("--dump", help="write each request's latency, model time and completion to this file (JSON lines), to pair two runs")
    args = parser.parse_args()
    text = open(args.source, encoding="utf-8").read()
    typed = text[: args.chars]
    trace = [(typed[max(0, c - 512) : c], text[c : c + 256]) for c in word_end_carets(typed)]
    result = {"trace": {"source": args.source, "typed_chars": len(typed), "requests": len(trace), "max_new_tokens": args.max_new}}
    if args.base:
        with open(args.dump, "w", encoding="utf-8") if args.dump else contextlib.nullcontext() as dump:
            latencies, extra = replay_code4me(args.base, trace, args.max_new, args.source, args.context_dir, dump)
        result[args.label] = {**summary(latencies), **extra}
    if args.llama_server:
        result["llama_cpp_server"] = summary(replay_llama(args.llama_server, trace, args.max_new))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
