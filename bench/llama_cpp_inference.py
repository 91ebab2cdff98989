"""The llama.cpp side of `./bench.sh inference`: the same GGUF, token ids and threads as the native run.

Reads the prompt ids `bench_inference` wrote, times llama.cpp (through llama-cpp-python) exactly as the
native engine was timed — prefill of the 512-token prompt on an empty cache, then greedy decoding one
token at a time — and prints the final JSON line: the native figures, llama.cpp's, and their ratios
(native / llama.cpp, so above 1.0 means faster than llama.cpp).
"""
import argparse
import json
import resource
import statistics
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", required=True, help="JSON written by bench_inference")
    parser.add_argument("--native", required=True, help="bench_inference's JSON line")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    args = parser.parse_args()

    import llama_cpp  # imported late so a missing package is reported by bench.sh, not as a traceback
    import numpy as np

    spec = json.load(open(args.tokens))
    prompt, decode = spec["prompt"], spec["decode"]
    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=len(prompt) + decode + 16,
        n_batch=len(prompt),
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    n_vocab = llm.n_vocab()

    def greedy() -> int:
        # Without logits_all llama-cpp-python keeps no scores; read the context's last logits row.
        return int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))))

    prefill, decoding = [], []
    for round_ in range(args.rounds + 1):
        llm.reset()
        llm._ctx.kv_cache_clear()
        started = time.perf_counter()
        llm.eval(prompt)
        prefill_s = time.perf_counter() - started
        token = greedy()
        started = time.perf_counter()
        for _ in range(decode):
            llm.eval([token])
            token = greedy()
        decode_s = time.perf_counter() - started
        print(f"llama.cpp round {round_}: prefill {len(prompt) / prefill_s:.0f} tok/s, "
              f"decode {decode / decode_s:.1f} tok/s", file=sys.stderr)
        if round_ > 0:
            prefill.append(len(prompt) / prefill_s)
            decoding.append(decode / decode_s)

    native = json.loads(args.native)
    reference = {
        "prefill_tok_s": round(statistics.median(prefill), 1),
        "decode_tok_s": round(statistics.median(decoding), 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "version": llama_cpp.__version__,
    }
    result = {
        "bench": "inference",
        **native,
        "llama_cpp": reference,
        "prefill_ratio": round(native["prefill_tok_s"] / reference["prefill_tok_s"], 3),
        "decode_ratio": round(native["decode_tok_s"] / reference["decode_tok_s"], 3),
        # Speculative decoding on completions against llama.cpp's plain decode (target ≥ 1.5).
        "spec_decode_ratio": round(native["spec_decode_tok_s"] / reference["decode_tok_s"], 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
