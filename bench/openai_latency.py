"""The client side of `./bench.sh openai`: streamed `/v1/completions` through our OpenAI-compatible
API, and the same requests against llama.cpp's server (llama-cpp-python's OpenAI-compatible
server on the same GGUF) in the same run.

The prompt set is real code: windows of the project's own sources (the last PREFIX characters
before a line end, as an editor's completion would send), each completed with `max_tokens`
new tokens at temperature 0, streamed, one request at a time. Per request it records the time to
the first streamed text (TTFT) and to `data: [DONE]` (end to end). PROMPTS windows warm each target
up (model load, caches); then ROUNDS × PROMPTS further windows are measured, each new to both
servers — an editor's prefix is new every time, and replaying a prompt would measure llama.cpp's
prompt-state cache (`--cache true` restores a seen prompt whole) rather than completion. Both
targets get the same windows in the same order; medians and p90 per target.

Prints one JSON object on stdout. Standard library only.
"""

import argparse
import http.client
import json
import pathlib
import statistics
import sys
import time
import urllib.parse


def prompts(sources, count, prefix_chars):
    """`count` prefixes that end at a line end, spread over the sources."""
    text = "\n".join(pathlib.Path(s).read_text() for s in sources)
    ends = [i for i, c in enumerate(text) if c == "\n" and i > prefix_chars]
    step = max(1, len(ends) // count)
    return [text[e - prefix_chars : e + 1] for e in ends[::step][:count]]


def stream_once(base, key, model, prompt, max_tokens):
    """One streamed completion: (ttft_ms, total_ms, text)."""
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True})
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    conn.request("POST", url.path.rstrip("/") + "/v1/completions", body=body, headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        sys.exit(f"{base}: /v1/completions answered {response.status}: {response.read()[:300]!r}")
    ttft, text, buffer = None, [], b""
    while True:
        chunk = response.read1(65536) if hasattr(response, "read1") else response.read(1)
        if not chunk:
            break
        buffer += chunk
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    total = (time.perf_counter() - started) * 1000
                    conn.close()
                    return ttft if ttft is not None else total, total, "".join(text)
                piece = json.loads(data)
                for choice in piece.get("choices", []):
                    if choice.get("text"):
                        if ttft is None:
                            ttft = (time.perf_counter() - started) * 1000
                        text.append(choice["text"])
    sys.exit(f"{base}: the stream ended without data: [DONE]")


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(base, key, model, warm_up, measured, max_tokens):
    for prompt in warm_up:
        stream_once(base, key, model, prompt, max_tokens)
    ttfts, totals = [], []
    for prompt in measured:
        ttft, total, _ = stream_once(base, key, model, prompt, max_tokens)
        ttfts.append(ttft)
        totals.append(total)
    return {
        "requests": len(totals),
        "ttft_p50_ms": round(statistics.median(ttfts), 1),
        "ttft_p90_ms": round(percentile(ttfts, 90), 1),
        "e2e_p50_ms": round(statistics.median(totals), 1),
        "e2e_p90_ms": round(percentile(totals, 90), 1),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="our server")
    parser.add_argument("--key", required=True, help="an API key of ours")
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--llama-server", help="llama.cpp's server, same GGUF")
    parser.add_argument("--sources", nargs="+", required=True)
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--prefix-chars", type=int, default=512)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    windows = prompts(args.sources, args.prompts * (args.rounds + 1), args.prefix_chars)
    warm_up, measured = windows[: args.prompts], windows[args.prompts :]
    out = {"bench": "openai", "prompts": args.prompts, "max_tokens": args.max_tokens, "rounds": args.rounds}
    out["ours"] = measure(args.base, args.key, args.model, warm_up, measured, args.max_tokens)
    out["llama_cpp_server"] = None
    if args.llama_server:
        out["llama_cpp_server"] = measure(args.llama_server, None, args.model, warm_up, measured, args.max_tokens)
        out["ttft_p50_ratio"] = round(out["ours"]["ttft_p50_ms"] / out["llama_cpp_server"]["ttft_p50_ms"], 2)
        out["e2e_p50_ratio"] = round(out["ours"]["e2e_p50_ms"] / out["llama_cpp_server"]["e2e_p50_ms"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
