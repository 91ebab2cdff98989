#!/usr/bin/env bash
# End-to-end suite: starts a throw-away PostgreSQL + Redis, the server and worker (the `stack` profile, as `./run.sh` starts them) against
# them, plays the plugin's start-up (tests/conformance/plugin_startup.mjs) and upstream's whole
# completion/feedback/context/chat flow with model 5 (tests/conformance/plugin_flow.mjs), the
# OpenAI-compatible API with the official openai SDK (tests/conformance/openai_sdk.mjs), and drives the
# website and docs in headless Chromium (website/e2e/run.mjs) as a user and as an admin over a
# small set of demo data (`code4me-server demo-data`), then checks that the logs hold none of the API
# keys and auth tokens the browser run used.
# Screenshots: website/test-results/. Called by ./test.sh after `build_stack`.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$C4M_ROOT/scripts/infra.sh"
cd "$C4M_ROOT"

ensure_postgres_binaries
export WEBSITE_DIST_DIR="$C4M_ROOT/website/dist" LOG_FORMAT=json
start_ephemeral_stack
# A second server process on the same PostgreSQL and Redis, for the editor's cross-server rooms.
SERVER2_PORT="$(free_port)"
C4M_SERVER2_PID=""
stop_second_server() { [ -z "$C4M_SERVER2_PID" ] || { kill -TERM "$C4M_SERVER2_PID" 2>/dev/null; wait "$C4M_SERVER2_PID" 2>/dev/null; } || true; }
trap 'stop_second_server; stop_ephemeral_stack; rm -rf "${AGENT_SANDBOX_DIR:-}" "${agent_repo:-}"' EXIT
# The browser opens WebSockets from both servers' pages: both origins are allowed.
export CORS_ALLOWED_ORIGINS="http://127.0.0.1:$SERVER_PORT,http://127.0.0.1:$SERVER2_PORT"
export ADMIN_EMAIL="e2e-admin@example.com" ADMIN_PASSWORD="E2eAdmin123"
# The agent page's check runs on a local repository: this stack allows local paths.
export AGENT_ALLOW_LOCAL=true AGENT_MAX_NEW_TOKENS=64
# Its own sandbox directory, so it never meets another stack's runs on this machine.
export AGENT_SANDBOX_DIR; AGENT_SANDBOX_DIR="$(mktemp -d -t c4m-agent-sandbox-XXXXXX)"
target/$C4M_STACK_PROFILE/code4me-server demo-data --users 12 --days 14 --queries-per-day 12 >/dev/null
start_app "$C4M_STACK_PROFILE"
node tests/conformance/plugin_startup.mjs "http://127.0.0.1:$SERVER_PORT" || {
  warn "plugin conformance failed; server log follows"
  tail -n 50 "$C4M_DATA_DIR/logs/server.log" >&2
  exit 1
}
node tests/conformance/plugin_flow.mjs "http://127.0.0.1:$SERVER_PORT" || {
  warn "the upstream end-to-end flow failed; server and worker logs follow"
  tail -n 30 "$C4M_DATA_DIR/logs/server.log" "$C4M_DATA_DIR/logs/worker.log" >&2
  exit 1
}
# The browser run notes every key and auth token it used here (inside the throw-away data directory);
# so does the OpenAI SDK check below.
secrets="$C4M_DATA_DIR/e2e-secrets.txt"
: >"$secrets"
# The OpenAI-compatible API (/v1) driven by the official `openai` npm package with an API key, as a
# user's script or editor would (tests/conformance/openai_sdk.mjs).
need_node
(cd tests/conformance && npm ci --no-audit --no-fund >/dev/null)
openai_email="e2e-openai@example.com"
curl -fsS -o /dev/null -H 'content-type: application/json' \
  -d "{\"email\":\"$openai_email\",\"name\":\"SDK\",\"password\":\"OpenAiSdk123\",\"config_id\":1}" "http://127.0.0.1:$SERVER_PORT/api/user/create"
openai_token="$(curl -fsS -H 'content-type: application/json' -d "{\"email\":\"$openai_email\",\"password\":\"OpenAiSdk123\"}" \
  "http://127.0.0.1:$SERVER_PORT/api/user/authenticate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["auth_token"])')"
openai_key="$(curl -fsS -H 'content-type: application/json' -H "Cookie: auth_token=$openai_token" -d '{"name":"openai sdk"}' \
  "http://127.0.0.1:$SERVER_PORT/api/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
printf '%s\n%s\n' "$openai_key" "$openai_token" >>"$secrets"
node tests/conformance/openai_sdk.mjs "http://127.0.0.1:$SERVER_PORT" "$openai_key" || {
  warn "the openai SDK checks failed; server and worker logs follow"
  tail -n 30 "$C4M_DATA_DIR/logs/server.log" "$C4M_DATA_DIR/logs/worker.log" >&2
  exit 1
}
BASE_URL="http://127.0.0.1:$SERVER_PORT" E2E_ADMIN_EMAIL="$ADMIN_EMAIL" E2E_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  E2E_SECRETS_FILE="$secrets" node website/e2e/run.mjs || {
  warn "browser checks failed; server log follows"
  tail -n 50 "$C4M_DATA_DIR/logs/server.log" >&2
  exit 1
}

# The web editor (website/e2e/editor.mjs): the owner on server 1, a member on server 2, then server
# 1 (and the worker) restarted and the document checked on both.
SERVER_PORT="$SERVER2_PORT" target/$C4M_STACK_PROFILE/code4me-server >>"$C4M_DATA_DIR/logs/server2.log" 2>&1 &
C4M_SERVER2_PID=$!
for _ in $(seq 600); do
  curl -fsS -o /dev/null "http://127.0.0.1:$SERVER2_PORT/api/health" 2>/dev/null && break
  kill -0 "$C4M_SERVER2_PID" 2>/dev/null || die "the second server exited during start-up (see $C4M_DATA_DIR/logs/server2.log)"
  sleep 0.1
done
editor_check() {
  E2E_PHASE="$1" BASE_URL="http://127.0.0.1:$SERVER_PORT" BASE_URL_2="http://127.0.0.1:$SERVER2_PORT" \
    E2E_STATE_FILE="$C4M_DATA_DIR/editor-state.json" E2E_SECRETS_FILE="$secrets" E2E_PSQL="$C4M_PG_BINDIR/psql" node website/e2e/editor.mjs || {
    warn "editor checks ($1) failed; server and worker logs follow"
    tail -n 30 "$C4M_DATA_DIR/logs/server.log" "$C4M_DATA_DIR/logs/server2.log" "$C4M_DATA_DIR/logs/worker.log" >&2
    exit 1
  }
}
editor_check live

# The repository agent's page (website/e2e/agent.mjs): a run on a local bare repository the
# sandbox account may write, with the real local model; then the worker's own metrics list its stages.
agent_repo="$(mktemp -d -t c4m-agent-e2e-XXXXXX)"
chmod 755 "$agent_repo"
git -C "$agent_repo" init -q -b main work
printf '# Calc\n\nAdds numbers.\n' >"$agent_repo/work/README.md"
printf 'def add(a, b):\n    return a + b\n' >"$agent_repo/work/calc.py"
git -C "$agent_repo/work" add -A
git -C "$agent_repo/work" -c user.name=E2E -c user.email=e2e@example.com commit -q -m "Initial commit"
git clone -q --bare "$agent_repo/work" "$agent_repo/calc.git"
if is_root; then chown -R "${AGENT_SANDBOX_USER:-nobody}" "$agent_repo/calc.git"; fi
BASE_URL="http://127.0.0.1:$SERVER_PORT" E2E_AGENT_REPO="$agent_repo/calc.git" node website/e2e/agent.mjs || {
  warn "agent page checks failed; server and worker logs follow"
  tail -n 30 "$C4M_DATA_DIR/logs/server.log" "$C4M_DATA_DIR/logs/worker.log" >&2
  exit 1
}
# Read the whole page before matching: `curl | grep -q` fails under pipefail
# whenever grep exits on its match before curl has written the rest.
worker_metrics="$(curl -fsS "http://$WORKER_METRICS_ADDR/metrics")" \
  || die "the worker's /metrics ($WORKER_METRICS_ADDR) did not answer"
grep -q '^agent_stage_seconds_count{stage="push"} 1' <<<"$worker_metrics" \
  || die "the worker's /metrics ($WORKER_METRICS_ADDR) does not count the agent run's push stage"
rm -rf "$agent_repo"
stop_app
start_app "$C4M_STACK_PROFILE"
editor_check after-restart

# Logs never hold keys or tokens: no `c4m_` key anywhere in the server's or worker's log, and none of
# the auth tokens the browser run saw. Matches are reported by file and line, never printed.
check_logs_hold_no_secrets() {
  # (grep finds nothing with status 1: `|| true` keeps `set -e` from ending the script there.)
  local logs=("$C4M_DATA_DIR/logs/server.log" "$C4M_DATA_DIR/logs/server2.log" "$C4M_DATA_DIR/logs/worker.log") log secret found
  for log in "${logs[@]}"; do
    [ -s "$log" ] || die "$log is missing or empty: the log check would prove nothing"
  done
  found="$(grep -n -o -E 'c4m_[A-Za-z0-9]{40}' "${logs[@]}" | cut -d: -f1,2 | sort -u | tr '\n' ' ' || true)"
  [ -z "$found" ] || die "an API key (c4m_ and 40 characters) is in the logs at: $found" \
    "find the log line that prints the key and log its id or prefix instead"
  grep -q '^c4m_' "$secrets" && grep -q -v '^c4m_' "$secrets" \
    || die "the browser run recorded no API key or no auth token to look for in the logs"
  while IFS= read -r secret; do
    [ -n "$secret" ] || continue
    found="$(grep -n -F -e "$secret" "${logs[@]}" | cut -d: -f1,2 | sort -u | tr '\n' ' ' || true)"
    [ -z "$found" ] || die "a key or auth token of the browser run (${secret:0:6}…) is in the logs at: $found" \
      "find the log line that prints it and leave it out (or redact it)"
  done <"$secrets"
  info "the logs hold none of the $(grep -c . "$secrets") keys and auth tokens the browser run used"
}
check_logs_hold_no_secrets
