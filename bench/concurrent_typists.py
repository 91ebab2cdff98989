"""The client side of `./bench.sh concurrent`: several developers typing at once on one stack.

Each simulated typist replays the typing trace of bench/typing_replay.py (a real source file typed
from its start, a completion after every word end, the plugin's prefix/suffix windows,
max_new_tokens 16) through the real REST API with its own account, session and project, and its own
source file. Typists start offset in time (--offset seconds apart) and pause --think seconds (the
plugin's debounce) between a completion's answer and their next request, so the server sees
overlapping requests the way a team produces them. Prints one JSON object: p50/p90 latency over
all completions, completions per second over the run, and per-typist counts. Standard library only.

With --llama-server URL the same typists send the same prefixes to llama.cpp's own server
(`llama-server -np N`, continuous batching) instead: its native /completion endpoint, the same
budget, stops and sampling as the model's row (repetition penalty 1.1 over the whole sequence, then
temperature 0.2, top-k 50, top-p 0.95, no min-p; stop at a blank line), prompt cache on.
"""

import argparse
import json
import pathlib
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from typing_replay import Client, completion_body, percentile, signed_in_typist, word_end_carets  # noqa: E402


MAX_NEW_TOKENS = 16


def code4me_completer(base, source):
    """Signs a new account in and returns a function answering one caret through the plugin's API."""
    client = signed_in_typist(base)

    def complete(prefix, suffix):
        answer = client.call("POST", "/api/completion/request", completion_body(prefix, suffix, pathlib.Path(source).name, MAX_NEW_TOKENS, False))
        if "completion" not in answer["data"]["completions"][0]:
            raise RuntimeError(f"the model did not answer: {answer}")

    return complete


def llama_completer(base):
    """Returns a function answering one caret through llama.cpp's server (prefix only, as our
    prefix-only template prompts the model)."""
    client = Client(base)

    def complete(prefix, _suffix):
        body = {
            "prompt": prefix,
            "n_predict": MAX_NEW_TOKENS,
            "stop": ["\n\n", "<file_sep>", "<|endoftext|>"],
            # Our sampler's order and scope: the penalty over the whole sequence, then temperature, top-k, top-p.
            "samplers": ["penalties", "temperature", "top_k", "top_p"],
            "repeat_penalty": 1.1,
            "repeat_last_n": 2048,
            "temperature": 0.2,
            "top_k": 50,
            "top_p": 0.95,
            "min_p": 0.0,
            "cache_prompt": True,
        }
        answer = client.call("POST", "/completion", body)
        if "content" not in answer:
            raise RuntimeError(f"llama.cpp did not answer: {answer}")

    return complete


def typist(make_completer, source, chars, requests, delay, think, out, errors):
    try:
        time.sleep(delay)
        complete = make_completer(source)
        text = pathlib.Path(source).read_text(encoding="utf-8")
        typed = text[:chars]
        trace = [(typed[max(0, c - 512) : c], text[c : c + 256]) for c in word_end_carets(typed)][:requests]
        for prefix, suffix in trace:
            started = time.perf_counter()
            complete(prefix, suffix)
            out.append((started, time.perf_counter()))
            time.sleep(think)
    except BaseException as error:  # reported by the main thread
        errors.append(f"{source}: {error!r}")


def main():
    parser = argparse.ArgumentParser()
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--base", help="Code4me-RS server address")
    target.add_argument("--llama-server", help="llama.cpp server address")
    parser.add_argument("--sources", nargs="+", required=True, help="one source file per typist")
    parser.add_argument("--chars", type=int, default=1200)
    parser.add_argument("--requests", type=int, default=40, help="completions per typist")
    parser.add_argument("--offset", type=float, default=0.4)
    parser.add_argument("--think", type=float, default=0.25)
    parser.add_argument("--label", default="code4me")
    args = parser.parse_args()
    spans, errors, threads = [], [], []
    for i, source in enumerate(args.sources):
        make_completer = (lambda _source: llama_completer(args.llama_server)) if args.llama_server else (lambda source: code4me_completer(args.base, source))
        thread = threading.Thread(target=typist, args=(make_completer, source, args.chars, args.requests, i * args.offset, args.think, spans, errors))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if errors:
        sys.exit("; ".join(errors))
    latencies = [(end - start) * 1000 for start, end in spans]
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    print(json.dumps({args.label: {
        "typists": len(args.sources),
        "completions": len(spans),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "completions_per_s": round(len(spans) / wall, 2),
    }}))


if __name__ == "__main__":
    main()
