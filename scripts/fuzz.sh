#!/usr/bin/env bash
# Fuzzing and abuse suite (issue 19): starts a throw-away PostgreSQL + Redis, the server and worker
# against them with short HTTP timeouts and a small per-IP connection cap (so the slow-client probes
# are quick), then runs tests/fuzz/run.py: slow clients and oversize bodies, schemathesis over
# /openapi.json as anonymous/user/admin, the WebSocket fuzzer, a random-method storm, resource
# bounds and the apalis dead-set check. Called by ./test.sh after `build_stack`.
#
# Environment: C4M_FUZZ_BIN_DIR (the binaries; default target/stack), FUZZ_SEED (19),
# FUZZ_MAX_EXAMPLES (schemathesis examples per operation), the HTTP_* limits below, and the
# FUZZ_* bounds documented in tests/fuzz/*.py. Reports and logs: $FUZZ_REPORT_DIR (data/fuzz-report).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$C4M_ROOT/scripts/infra.sh"
cd "$C4M_ROOT"

bin_dir="${C4M_FUZZ_BIN_DIR:-$C4M_ROOT/target/$C4M_STACK_PROFILE}"
[ -x "$bin_dir/code4me-server" ] && [ -x "$bin_dir/code4me-worker" ] \
  || die "no code4me-server/code4me-worker in $bin_dir" "cargo build --profile stack -p code4me-server -p code4me-worker (or set C4M_FUZZ_BIN_DIR)"

# The suite's Python packages, hash-pinned, in a virtual environment reinstalled only when
# tests/fuzz/requirements.txt changes.
ensure_fuzz_venv() {
  local venv="$C4M_DATA_DIR/fuzz-venv" requirements="$C4M_ROOT/tests/fuzz/requirements.txt" stamp
  stamp="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$stamp" ]; then
    info "installing the fuzzing suite's Python packages (schemathesis, websockets)"
    rm -rf "$venv"
    python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
    python3 -m venv "$venv" || die "could not create a Python virtual environment" "sudo apt-get install -y python3-venv"
    "$venv/bin/python" -m pip install -q --require-hashes --only-binary=:all: -r "$requirements" \
      || die "could not install tests/fuzz/requirements.txt from PyPI" "check access to pypi.org"
    echo "$stamp" > "$venv/.requirements"
  fi
  FUZZ_PYTHON="$venv/bin/python"
}

ensure_postgres_binaries
ensure_redis_binary
ensure_fuzz_venv
export MODEL_CACHE_DIR="${MODEL_CACHE_DIR:-$C4M_DATA_DIR/models}"
export FUZZ_REPORT_DIR="${FUZZ_REPORT_DIR:-$C4M_DATA_DIR/fuzz-report}"
rm -rf "$FUZZ_REPORT_DIR" && mkdir -p "$FUZZ_REPORT_DIR"

start_ephemeral_stack
trap stop_ephemeral_stack EXIT
export LOG_FORMAT=json WEBSITE_DIST_DIR="$C4M_ROOT/website/dist"
export ADMIN_EMAIL="fuzz-admin@example.com" ADMIN_PASSWORD="FuzzAdmin123"
# Short limits so each slow-client probe ends in seconds (the probes read the same variables).
export HTTP_HEADER_READ_TIMEOUT_SECONDS="${HTTP_HEADER_READ_TIMEOUT_SECONDS:-2}"
export HTTP_BODY_TIMEOUT_SECONDS="${HTTP_BODY_TIMEOUT_SECONDS:-4}"
export HTTP_MAX_CONNECTIONS_PER_IP="${HTTP_MAX_CONNECTIONS_PER_IP:-32}"
# Every request of the suite comes from 127.0.0.1: the hourly per-path budget would turn most of
# schemathesis' requests into 429s (429 itself is documented and checked all the same).
export DEFAULT_MAX_REQUEST_RATE_PER_HOUR=10000000 MAX_REQUEST_RATE_PER_HOUR_CONFIG='{}'
# Fuzzing is not about password-hash cost: cheap hashes keep sign-up and sign-in fuzzing fast.
export PASSWORD_HASH_MEMORY_KIB=1024 PASSWORD_HASH_ITERATIONS=1
# A slow model must not stall the run: requests answer with the contract's error items instead.
export COMPLETION_TIMEOUT_MS=10000 CHAT_TIMEOUT_MS=20000
# The open APIs generate at most 4 tokens a request here: the suite checks their validation and
# shapes, not the model's speed (a 256-token request would take seconds on 2 cores).
export OPEN_API_MAX_NEW_TOKENS=4
start_app "$bin_dir"
export FUZZ_SERVER_PID="$C4M_SERVER_PID"

info "fuzzing the server at 127.0.0.1:$SERVER_PORT (reports: $FUZZ_REPORT_DIR)"
PYTHONDONTWRITEBYTECODE=1 "$FUZZ_PYTHON" "$C4M_ROOT/tests/fuzz/run.py" --report-dir "$FUZZ_REPORT_DIR" "$@" || {
  warn "the fuzzing suite failed (FAIL lines above); the server log's errors follow"
  grep -E '"level":"(ERROR|WARN)"' "$C4M_DATA_DIR/logs/server.log" | tail -n 30 >&2 || true
  kill -0 "$C4M_SERVER_PID" 2>/dev/null || { warn "the server died; its last lines:"; tail -n 30 "$C4M_DATA_DIR/logs/server.log" >&2; }
  exit 1
}
