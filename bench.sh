#!/usr/bin/env bash
# Benchmarks: ./bench.sh NAME. Each prints progress to stderr and a final JSON line on stdout.
# Figures are reported as ratios against a reference measured in the same run (absolute numbers on
# shared machines are noisy), with medians over repeated rounds. BENCH_BIN_DIR=DIR benchmarks the
# server and worker binaries in DIR instead of building them (a before/after comparison). The reference is GET /api/ping,
# answered 405 by the same middleware stack with no dependency I/O. (wrk cannot time HEAD: it waits
# for a body that never comes.)
#   health   GET /api/health: one PostgreSQL and one Redis round trip per request
#   auth     GET /api/user/get with an auth cookie, 32 connections (BENCH_CONNECTIONS): the plugin's
#            account read — rate-limit counter and token owner in one Redis round trip, the user and
#            their config from the per-server profile cache (PostgreSQL on a miss)
#   queue    the queue round trip as the server sees it (push an llm job → a worker takes it →
#            publishes → the server receives) with a job that does no model work, one at a time with
#            an idle pause; reference: a Redis PING round trip in the same run
#   typing   a plugin typing session replayed through the REST API (bench/typing_replay.py: a real
#            file typed from its start, a completion after every word end, prefix ≤ 512 chars,
#            suffix ≤ 256, max_new_tokens 16): p50/p90 end to end, with the stable prompt anchor
#            (PROMPT_ANCHOR, the default) and without it in the same run, and anchored with the source's
#            sibling files as the project's context (retrieval on: search time, snippets per request);
#            when llama-cpp-python[server]
#            is importable, the same trace against llama.cpp's server (prefix-only, prompt cache on)
#   concurrent  BENCH_TYPISTS (8) developers typing at once through the REST API (bench/concurrent_typists.py:
#            the typing trace on one source file each, offset in time, max_new_tokens 16): p50/p90 and
#            completions/s with each generation stepping alone, then with continuous batching; when
#            llama.cpp's server is built (./bench.sh llama-server, or BENCH_LLAMA_SERVER), the same
#            typists against `llama-server -np BENCH_TYPISTS` (continuous batching) in the same run
#   llama-server  builds llama.cpp's own server into data/llama.cpp/ from the llama.cpp sources
#            the llama-cpp-python sdist on PyPI vendors, with cmake and ninja from PyPI (~15 min)
#   analytics  every analytics endpoint as an admin over about a million demo generations
#            (code4me-server demo-data; BENCH_ANALYTICS_USERS, default 450): median ms per endpoint and
#            its ratio to one sequential pass over had_generation measured by PostgreSQL in the same run
#   quota    what an API key costs a request: GET /api/usage/quota with `Authorization: Bearer c4m_…`
#            (key lookup in the Redis cache, the atomic quota script, the handler's counter read, the
#            usage record queued) against GET /api/ping with no auth, one connection each, p50 per
#            round; reports quota_added_p50_ms (target ≤ 0.3 ms)
#   openai   streamed POST /v1/completions with an API key (bench/openai_latency.py: windows of the
#            project's sources, 32 new tokens, temperature 0, one at a time): time to first token and
#            end to end, p50/p90; when llama-cpp-python[server] is importable, the same requests
#            against llama.cpp's server on the same GGUF in the same run, as ratios (target ≤ 1.0 at p50)
#   ingest   telemetry at scale (server/src/bin/bench_ingest.rs): BENCH_INGEST_QUERIES (30,000) completion
#            queries and their feedback queued through the server's pipeline by 32 concurrent pushers
#            while PostgreSQL is polled: rows landed per second (7 per query; target ≥ 20,000), the
#            queue's accept rate, the largest backlog, and rows lost (must be 0)
#   inference  the worker's engine on SmolLM2 (GGUF): prefill of a 512-token prompt and 64 greedy
#            decode steps at BENCH_THREADS (2), peak RSS, prompt-prefix reuse, the kernel set in use,
#            what scoring 2, 4 and 8 tokens in one exact pass costs in decode steps (verify_cost_k);
#            with AVX-512 VNNI, the same again capped at AVX2 (MODEL_CPU_KERNELS=avx2) and the
#            kernels' ratios; when llama-cpp-python is
#            importable (data/bench-venv, or BENCH_PYTHON) llama.cpp runs on the same ids and threads
#            in the same run and the line carries prefill_ratio / decode_ratio (native / llama.cpp)
. "$(dirname "${BASH_SOURCE[0]}")/scripts/lib.sh"
. "$C4M_ROOT/scripts/infra.sh"
cd "$C4M_ROOT"

usage() { echo "usage: ./bench.sh health|auth|quota|queue|ingest|typing|concurrent|openai|analytics|inference|llama-server" >&2; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in health|auth|quota|queue|ingest|typing|concurrent|openai|analytics|inference|llama-server) ;; *) usage ;; esac

THREADS="${BENCH_THREADS:-2}" CONNECTIONS="${BENCH_CONNECTIONS:-64}" DURATION="${BENCH_DURATION:-5s}" ROUNDS="${BENCH_ROUNDS:-3}"

# Starts a throw-away stack and the release binaries (or BENCH_BIN_DIR's); sets BASE, and APP_BIN
# for the legs that restart the app with other settings.
start_bench_stack() {
  need_cmd wrk wrk
  need_cmd curl curl
  need_toolchain
  ensure_postgres_binaries
  ensure_redis_binary
  local bin=release
  if [ -n "${BENCH_BIN_DIR:-}" ]; then
    bin="$BENCH_BIN_DIR"
    info "benchmarking the binaries in $bin (BENCH_BIN_DIR)"
  else
    info "building the release server"
    cargo build --release --locked -p code4me-server -p code4me-worker >&2
  fi
  # The benchmark client is one IP hammering one path: lift the hourly limit (the limiter's Redis
  # round trip still runs on every request).
  # Likewise the free tier's quotas, for the key the quota benchmark hammers.
  export LOG_FORMAT=json RUST_LOG=warn WEBSITE_DIST_DIR="$C4M_ROOT/website/dist" DEFAULT_MAX_REQUEST_RATE_PER_HOUR=1000000000 \
    TIER_FREE_REQUESTS_PER_HOUR=1000000000 TIER_FREE_REQUESTS_PER_DAY=1000000000
  start_ephemeral_stack >&2
  trap stop_ephemeral_stack EXIT
  APP_BIN="$bin"
  start_app "$APP_BIN"
  BASE="http://127.0.0.1:$SERVER_PORT"
}

# run_rounds NAME URL [wrk args...]: medians of requests/s, p50 and p99 over ROUNDS, interleaved
# with the reference; appends --series arguments for summarize.py to SERIES.
run_rounds() {
  local name="$1" url="$2"; shift 2
  local rps=() p50=() p99=() ping=() non2xx=()
  info "warm-up"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
  for round in $(seq "$ROUNDS"); do
    info "round $round/$ROUNDS"
    local out
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url")"
    # A few 503s from an overloaded health probe are an honest answer; more than 1 % of errors (a
    # rate limit, a lost token) would make the figure meaningless.
    local total errors
    total="$(awk '/requests in/ {print $1}' <<<"$out")"
    errors="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
    errors="${errors:-0}"
    if [ $(( errors * 100 )) -gt "$total" ]; then die "$name answered $errors non-2xx of $total requests"; fi
    non2xx+=("$errors")
    rps+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
    p50+=("$(awk '$1=="50%" {print $2}' <<<"$out")")
    p99+=("$(awk '$1=="99%" {print $2}' <<<"$out")")
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$BASE/api/ping")"
    ping+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
  done
  SERIES=(--series "${name}_rps" "${rps[*]}" --series ping_rps "${ping[*]}" --series "${name}_p50" "${p50[*]}" --series "${name}_p99" "${p99[*]}" --series "${name}_non2xx" "${non2xx[*]}")
}

# The engine alone, then llama.cpp on the same token ids when it can be imported.
run_inference() {
  need_toolchain
  ensure_models
  local threads="${BENCH_THREADS:-2}" rounds="${BENCH_ROUNDS:-5}"
  local model="$C4M_DATA_DIR/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  local work; work="$(mktemp -d)"; trap "rm -rf '$work'" EXIT
  # A real source text: the project's own Rust, far more than the 512 prompt tokens.
  cat shared/src/*.rs server/src/*.rs > "$work/source.txt"
  info "building the release benchmark"
  cargo build --release --locked -p code4me-worker --bin bench_inference >&2
  info "native engine: $threads threads, $rounds rounds + warm-up"
  local native
  native="$(target/release/bench_inference "$model" "$work/source.txt" "$threads" "$rounds" "$work/tokens.json")"
  # Beyond AVX2 (AVX-512 VNNI), the same run capped at AVX2 as the reference for the wider kernels.
  if [ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["kernels"])' "$native")" = avx512vnni ]; then
    info "native engine capped at AVX2 (MODEL_CPU_KERNELS=avx2), for the kernels' ratio"
    local capped
    capped="$(MODEL_CPU_KERNELS=avx2 target/release/bench_inference "$model" "$work/source.txt" "$threads" "$rounds" "$work/tokens-avx2.json")"
    native="$(python3 -c 'import json,sys
n, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for key in ("prefill_tok_s", "decode_tok_s", "spec_decode_tok_s"):
    n["avx2_" + key] = a[key]
    n["kernels_" + key.replace("_tok_s", "") + "_ratio"] = round(n[key] / a[key], 3) if a[key] else None
print(json.dumps(n))' "$native" "$capped")"
  fi
  local python="${BENCH_PYTHON:-}"
  if [ -z "$python" ]; then
    if [ -x "$C4M_DATA_DIR/bench-venv/bin/python" ]; then python="$C4M_DATA_DIR/bench-venv/bin/python"; else python=python3; fi
  fi
  if "$python" -c "import llama_cpp, numpy" 2>/dev/null; then
    info "llama.cpp (llama-cpp-python via $python): same ids, $threads threads"
    "$python" bench/llama_cpp_inference.py --model "$model" --tokens "$work/tokens.json" --native "$native" \
      --threads "$threads" --rounds "$rounds"
  else
    warn "llama-cpp-python is not importable by $python: no ratios this run." \
      "To compare: python3 -m venv data/bench-venv && data/bench-venv/bin/pip install llama-cpp-python==0.3.36 numpy (builds llama.cpp, ~10 min on 2 cores)"
    python3 -c 'import json,sys; print(json.dumps({"bench": "inference", **json.loads(sys.argv[1]), "llama_cpp": None}))' "$native"
  fi
}

# The typing replay against our stack (anchored, then without the anchor), then llama.cpp's server.
run_typing() {
  ensure_models
  # The replay sends hundreds of completions from one address: lift upstream's 600/hour.
  export MAX_REQUEST_RATE_PER_HOUR_CONFIG='{}'
  start_bench_stack
  # The typed file is a frozen copy of an engine source (bench/typing/sampling.rs), so a change to the
  # engine's own files never changes the trace; its siblings there are the retrieval leg's project.
  local source="${BENCH_TYPING_SOURCE:-bench/typing/sampling.rs}" chars="${BENCH_TYPING_CHARS:-2000}"
  local context_dir="${BENCH_TYPING_CONTEXT_DIR:-worker/src/model}"
  # One leg of the replay against our stack; with BENCH_TYPING_DUMP=DIR each request's figures and
  # completion go to DIR/LABEL.jsonl, to pair two runs (e.g. BENCH_BIN_DIR's binaries and ours).
  replay() {
    local label="$1"; shift
    python3 bench/typing_replay.py --base "$BASE" --source "$source" --chars "$chars" --label "$label" \
      ${BENCH_TYPING_DUMP:+--dump "$BENCH_TYPING_DUMP/$label.jsonl"} "$@"
  }
  info "typing replay with the stable prompt anchor ($source, $chars characters)"
  local anchored plain
  anchored="$(replay anchored)"
  info "typing replay with the stable prompt anchor and retrieval over $context_dir"
  local retrieval
  retrieval="$(replay retrieval --context-dir "$context_dir")"
  info "typing replay with the contract's default budget (no max_new_tokens: 64), speculative decoding on"
  local budget budget_plain
  budget="$(replay default_budget --max-new 0)"
  stop_app
  info "the same without drafts (MODEL_MAX_DRAFT_TOKENS=0)"
  MODEL_MAX_DRAFT_TOKENS=0 start_app "$APP_BIN"
  budget_plain="$(replay default_budget_no_drafts --max-new 0)"
  stop_app
  info "typing replay without it (PROMPT_ANCHOR=false)"
  PROMPT_ANCHOR=false start_app "$APP_BIN"
  plain="$(replay plain)"
  # The stack's C4M_DATA_DIR is a temporary one; the bench venv lives in the checkout's data/.
  local llama='{}' python="${BENCH_PYTHON:-}"
  if [ -z "$python" ]; then
    if [ -x "$C4M_ROOT/data/bench-venv/bin/python" ]; then python="$C4M_ROOT/data/bench-venv/bin/python"; else python=python3; fi
  fi
  if "$python" -c "import llama_cpp.server.app, uvicorn" 2>/dev/null; then
    local port; port="$(free_port)"
    info "llama.cpp server (llama-cpp-python via $python), 2 threads, prompt cache on"
    "$python" -m llama_cpp.server --model "$C4M_ROOT/data/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" --n_threads 2 \
      --n_ctx 2048 --cache true --port "$port" >"$C4M_DATA_DIR/logs/llama-server.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/models" 2>/dev/null && break; sleep 0.2; done
    llama="$(python3 bench/typing_replay.py --llama-server "http://127.0.0.1:$port" --source "$source" --chars "$chars")" \
      || { warn "the llama.cpp run failed (its log follows); our figures stand alone"; tail -n 20 "$C4M_DATA_DIR/logs/llama-server.log" >&2; llama='{}'; }
    kill "$pid" 2>/dev/null || true
  else
    warn "llama-cpp-python[server] is not importable by $python: no llama.cpp comparison this run." \
      "To compare: python3 -m venv data/bench-venv && data/bench-venv/bin/pip install 'llama-cpp-python[server]==0.3.36' numpy"
  fi
  python3 -c 'import json,sys
a, p, l, r, b, bp = (json.loads(x) for x in sys.argv[1:7])
out = {"bench": "typing", **a, "plain": p["plain"], "retrieval": r["retrieval"], "llama_cpp_server": l.get("llama_cpp_server")}
out["default_budget"], out["default_budget_no_drafts"] = b["default_budget"], bp["default_budget_no_drafts"]
out["speculative_vs_no_drafts_p50"] = round(b["default_budget"]["p50_ms"] / bp["default_budget_no_drafts"]["p50_ms"], 2)
out["anchored_vs_plain_p50"] = round(a["anchored"]["p50_ms"] / p["plain"]["p50_ms"], 2)
out["retrieval_vs_anchored_p50"] = round(r["retrieval"]["p50_ms"] / a["anchored"]["p50_ms"], 2)
if out["llama_cpp_server"]:
    out["anchored_vs_llama_cpp_p50"] = round(a["anchored"]["p50_ms"] / out["llama_cpp_server"]["p50_ms"], 2)
print(json.dumps(out))' "$anchored" "$plain" "$llama" "$retrieval" "$budget" "$budget_plain"
}

# llama.cpp's own server (the comparison for many typists: its slots decode together), built from
# the llama.cpp sources vendored by the llama-cpp-python sdist the other comparisons install, for
# this CPU (GGML_NATIVE), without the web UI or TLS (nothing to download at build time).
LLAMA_CPP_VERSION=0.3.36
LLAMA_SERVER="${BENCH_LLAMA_SERVER:-$C4M_ROOT/data/llama.cpp/llama-server}"
build_llama_server() {
  local dir="$C4M_ROOT/data/llama.cpp"
  need_cmd g++ g++
  mkdir -p "$dir"
  if [ ! -x "$dir/venv/bin/cmake" ]; then
    python3 -m venv "$dir/venv" || die "could not create a Python virtual environment" "apt-get install python3-venv"
    "$dir/venv/bin/pip" install -q cmake==4.4.5 ninja==1.13.2 >&2
  fi
  if [ ! -f "$dir/src/CMakeLists.txt" ]; then
    info "fetching the llama-cpp-python $LLAMA_CPP_VERSION sdist from PyPI (its vendored llama.cpp)"
    "$dir/venv/bin/pip" download -q --no-deps --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_VERSION" -d "$dir/sdist" >&2
    # Unpacked beside, then moved: an interrupted unpack never passes for a complete tree.
    rm -rf "$dir/src" "$dir/src.partial" && mkdir "$dir/src.partial"
    tar xzf "$dir/sdist/llama_cpp_python-$LLAMA_CPP_VERSION.tar.gz" -C "$dir/src.partial" --strip-components=3 "llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp"
    mv "$dir/src.partial" "$dir/src"
  fi
  info "building llama-server (about 15 minutes on 2 cores)"
  PATH="$dir/venv/bin:$PATH" cmake -S "$dir/src" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >&2
  PATH="$dir/venv/bin:$PATH" cmake --build "$dir/build" --target llama-server -j"$(nproc)" >&2
  cp "$dir/build/bin/llama-server" "$dir/llama-server"
  info "built $dir/llama-server"
}

# Several typists at once: without batching (each generation steps alone, LLM_CONCURRENCY=2, the
# configuration before continuous batching), then with it (LLM_CONCURRENCY=8), the same traces.
run_concurrent() {
  ensure_models
  export MAX_REQUEST_RATE_PER_HOUR_CONFIG='{}'
  local typists="${BENCH_TYPISTS:-8}" sources=()
  # One real source file per typist (each at least the typed length).
  while IFS= read -r file; do sources+=("$file"); done < <(find worker/src server/src -name '*.rs' -size +3k | sort | head -n "$typists")
  [ "${#sources[@]}" -eq "$typists" ] || die "need $typists source files of at least 3 kB for the typists"
  # Our worker and llama.cpp's server on the same number of threads.
  export MODEL_THREADS="$THREADS"
  LLM_CONCURRENCY=2 MODEL_BATCHING=false start_bench_stack
  info "$typists typists, each generation stepping alone (LLM_CONCURRENCY=2, MODEL_BATCHING=false)"
  local alone batched
  alone="$(python3 bench/concurrent_typists.py --base "$BASE" --sources "${sources[@]}" --label unbatched)"
  stop_app
  info "$typists typists, continuous batching (LLM_CONCURRENCY=$typists)"
  LLM_CONCURRENCY="$typists" MODEL_BATCHING=true start_app "$APP_BIN"
  batched="$(python3 bench/concurrent_typists.py --base "$BASE" --sources "${sources[@]}" --label batched)"
  stop_app
  local llama='{}'
  if [ -x "$LLAMA_SERVER" ]; then
    local port; port="$(free_port)"
    info "$typists typists against llama.cpp's server (-np $typists, continuous batching, $THREADS threads, prompt cache on)"
    "$LLAMA_SERVER" -m "${MODEL_CACHE_DIR:-$C4M_ROOT/data/models}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" -t "$THREADS" -tb "$THREADS" \
      -np "$typists" -c "$(( typists * 2048 ))" --cont-batching --host 127.0.0.1 --port "$port" >"$C4M_DATA_DIR/logs/llama-server.log" 2>&1 &
    local pid=$!
    for _ in $(seq 300); do
      curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    # A failed comparison leaves our own figures standing.
    llama="$(python3 bench/concurrent_typists.py --llama-server "http://127.0.0.1:$port" --sources "${sources[@]}" --label llama_cpp_server)" \
      || { warn "the llama.cpp run failed (its log: $C4M_DATA_DIR/logs/llama-server.log)"; llama='{}'; }
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  else
    warn "llama.cpp's server is not built ($LLAMA_SERVER): no llama.cpp comparison this run." "To compare: ./bench.sh llama-server"
  fi
  python3 -c 'import json,sys
a, b, l = (json.loads(x) for x in sys.argv[1:4])
out = {"bench": "concurrent", **a, **b, "llama_cpp_server": l.get("llama_cpp_server")}
out["batched_vs_unbatched_p50"] = round(b["batched"]["p50_ms"] / a["unbatched"]["p50_ms"], 2)
out["batched_vs_unbatched_throughput"] = round(b["batched"]["completions_per_s"] / a["unbatched"]["completions_per_s"], 2)
if out["llama_cpp_server"]:
    out["batched_vs_llama_cpp_p50"] = round(b["batched"]["p50_ms"] / out["llama_cpp_server"]["p50_ms"], 2)
    out["batched_vs_llama_cpp_throughput"] = round(b["batched"]["completions_per_s"] / out["llama_cpp_server"]["completions_per_s"], 2)
print(json.dumps(out))' "$alone" "$batched" "$llama"
}

# Streamed /v1/completions: ours (API key, queue hop), then llama.cpp's server on the same GGUF.
run_openai() {
  ensure_models
  export MAX_REQUEST_RATE_PER_HOUR_CONFIG='{}'
  start_bench_stack
  local email="bench-$(date +%s)@example.com" token key
  curl -fsS -o /dev/null -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"name\":\"Bench\",\"password\":\"Benchmark1\",\"config_id\":1}" "$BASE/api/user/create"
  token="$(curl -fsS -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"Benchmark1\"}" \
    "$BASE/api/user/authenticate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["auth_token"])')"
  key="$(curl -fsS -H 'content-type: application/json' -H "Cookie: auth_token=$token" -d '{"name":"bench"}' \
    "$BASE/api/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
  for _ in $(seq 300); do
    curl -fsS -H "Authorization: Bearer $key" "$BASE/v1/models" 2>/dev/null | grep -q SmolLM2 && break; sleep 0.2
  done
  local sources=(worker/src/model/sampling.rs worker/src/model/generation.rs shared/src/multi_file.rs)
  local python="${BENCH_PYTHON:-}" llama_args=()
  if [ -z "$python" ]; then
    if [ -x "$C4M_ROOT/data/bench-venv/bin/python" ]; then python="$C4M_ROOT/data/bench-venv/bin/python"; else python=python3; fi
  fi
  local pid=""
  if "$python" -c "import llama_cpp.server.app, uvicorn" 2>/dev/null; then
    local port; port="$(free_port)"
    info "llama.cpp server (llama-cpp-python via $python), 2 threads, prompt cache on"
    "$python" -m llama_cpp.server --model "$C4M_ROOT/data/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" --n_threads 2 \
      --n_ctx 2048 --cache true --port "$port" >"$C4M_DATA_DIR/logs/llama-server.log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$port/v1/models" 2>/dev/null && break; sleep 0.2; done
    llama_args=(--llama-server "http://127.0.0.1:$port")
  else
    warn "llama-cpp-python[server] is not importable by $python: no llama.cpp comparison this run." \
      "To compare: python3 -m venv data/bench-venv && data/bench-venv/bin/pip install 'llama-cpp-python[server]==0.3.36' numpy"
  fi
  info "streamed /v1/completions: ours, then llama.cpp's server when it runs"
  python3 bench/openai_latency.py --base "$BASE" --key "$key" --sources "${sources[@]}" "${llama_args[@]}"
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
}

# Demo data at scale, then every analytics endpoint against a sequential scan of had_generation.
run_analytics() {
  start_bench_stack
  local users="${BENCH_ANALYTICS_USERS:-450}"
  info "demo data: $users users, 30 days (about a million generations; a few minutes)"
  target/release/code4me-server demo-data --users "$users" --days 30 --queries-per-day 100 >&2
  target/release/code4me-server admin promote --email demo-user-001@example.com >/dev/null
  local psql=("$C4M_PG_BINDIR/psql" -h "$C4M_DATA_DIR/run" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -qtA)
  if is_root; then psql=(runuser -u "$C4M_PG_OS_USER" -- "${psql[@]}"); fi
  # The loader appended its rollup deltas batch by batch; a worker merges them within a minute.
  # Time the steady state: merged once here.
  "${psql[@]}" -c "SELECT analytics_compact()" >/dev/null
  "${psql[@]}" -c "VACUUM ANALYZE" >/dev/null
  local generations; generations="$("${psql[@]}" -c "SELECT count(*) FROM had_generation")"
  info "timing the analytics endpoints over $generations generations"
  python3 bench/analytics_replay.py --base "$BASE" --email demo-user-001@example.com --password DemoUser1 \
    --generations "$generations" --psql "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${psql[@]}")"
}

if [ "$1" = inference ]; then run_inference; exit 0; fi
if [ "$1" = analytics ]; then run_analytics; exit 0; fi
if [ "$1" = typing ]; then run_typing; exit 0; fi
if [ "$1" = concurrent ]; then run_concurrent; exit 0; fi
if [ "$1" = openai ]; then run_openai; exit 0; fi
if [ "$1" = llama-server ]; then build_llama_server; exit 0; fi

start_bench_stack
if [ "$1" = queue ]; then
  info "queue round trips: ${BENCH_SAMPLES:-500} jobs, one at a time"
  target/release/bench_queue
  exit 0
fi
if [ "$1" = ingest ]; then
  info "telemetry ingest: ${BENCH_INGEST_QUERIES:-30000} queries and their feedback, as fast as the queue takes them"
  target/release/bench_ingest
  exit 0
fi
case "$1" in
  health)
    run_rounds health "$BASE/api/health"
    ;;
  auth)
    email="bench-$(date +%s)@example.com"
    curl -fsS -o /dev/null -H 'content-type: application/json' \
      -d "{\"email\":\"$email\",\"name\":\"Bench\",\"password\":\"Benchmark1\",\"config_id\":1}" "$BASE/api/user/create"
    token="$(curl -fsS -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"Benchmark1\"}" \
      "$BASE/api/user/authenticate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["auth_token"])')"
    CONNECTIONS="${BENCH_CONNECTIONS:-32}"
    run_rounds auth "$BASE/api/user/get" -H "Cookie: auth_token=$token"
    ;;
  quota)
    email="bench-$(date +%s)@example.com"
    curl -fsS -o /dev/null -H 'content-type: application/json' \
      -d "{\"email\":\"$email\",\"name\":\"Bench\",\"password\":\"Benchmark1\",\"config_id\":1}" "$BASE/api/user/create"
    token="$(curl -fsS -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"Benchmark1\"}" \
      "$BASE/api/user/authenticate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["auth_token"])')"
    key="$(curl -fsS -H 'content-type: application/json' -H "Cookie: auth_token=$token" -d '{"name":"bench"}' \
      "$BASE/api/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
    keyed_p50=() ping_p50=() keyed_rps=() ping_rps=()
    wrk -t1 -c1 -d2s -H "Authorization: Bearer $key" "$BASE/api/usage/quota" >/dev/null
    for round in $(seq "$ROUNDS"); do
      info "round $round/$ROUNDS"
      out="$(wrk -t1 -c1 -d"$DURATION" --latency -H "Authorization: Bearer $key" "$BASE/api/usage/quota")"
      if grep -q Non-2xx <<<"$out"; then die "the keyed request was refused: $out"; fi
      keyed_p50+=("$(awk '$1=="50%" {print $2}' <<<"$out")"); keyed_rps+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
      out="$(wrk -t1 -c1 -d"$DURATION" --latency "$BASE/api/ping")"
      ping_p50+=("$(awk '$1=="50%" {print $2}' <<<"$out")"); ping_rps+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
    done
    SERIES=(--series quota_p50 "${keyed_p50[*]}" --series ping_p50 "${ping_p50[*]}" --series quota_rps "${keyed_rps[*]}" --series ping_rps "${ping_rps[*]}")
    CONNECTIONS=1
    ;;
esac
python3 "$C4M_ROOT/bench/summarize.py" "$1" "${SERIES[@]}" \
  --meta threads="$THREADS" connections="$CONNECTIONS" duration="$DURATION" rounds="$ROUNDS" cores="$(nproc)"
