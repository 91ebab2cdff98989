#!/usr/bin/env bash
# End-to-end suite: starts a throw-away PostgreSQL + Redis, the server and worker (the `stack` profile, as `./run.sh` starts them) against
# them, plays the plugin's start-up (tests/conformance/plugin_startup.mjs) and upstream's whole
# completion/feedback/context/chat flow with model 5 (tests/conformance/plugin_flow.mjs), and drives the
# website and docs in headless Chromium (website/e2e/run.mjs) as a user and as an admin over a
# small set of demo data (`code4me-server demo-data`).
# Screenshots: website/test-results/. Called by ./test.sh after `build_stack`.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$C4M_ROOT/scripts/infra.sh"
cd "$C4M_ROOT"

ensure_postgres_binaries
export WEBSITE_DIST_DIR="$C4M_ROOT/website/dist" LOG_FORMAT=json
start_ephemeral_stack
trap stop_ephemeral_stack EXIT
export ADMIN_EMAIL="e2e-admin@example.com" ADMIN_PASSWORD="E2eAdmin123"
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
BASE_URL="http://127.0.0.1:$SERVER_PORT" E2E_ADMIN_EMAIL="$ADMIN_EMAIL" E2E_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  node website/e2e/run.mjs || {
  warn "browser checks failed; server log follows"
  tail -n 50 "$C4M_DATA_DIR/logs/server.log" >&2
  exit 1
}
