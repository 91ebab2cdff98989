#!/usr/bin/env bash
# Benchmarks: ./bench.sh NAME. Each prints progress to stderr and a final JSON line on stdout.
# Figures are reported as ratios against a reference measured in the same run (absolute numbers on
# shared machines are noisy), with medians over repeated rounds.
#   health   requests/s on GET /api/health (PostgreSQL + Redis probe per request), against
#            GET /api/ping (answered 405 by the same middleware stack, no dependency I/O) as the
#            reference; wrk on loopback. (wrk cannot time HEAD: it waits for a body that never comes.)
. "$(dirname "${BASH_SOURCE[0]}")/scripts/lib.sh"
. "$C4M_ROOT/scripts/infra.sh"
cd "$C4M_ROOT"

usage() { echo "usage: ./bench.sh health" >&2; exit 2; }
[ $# -ge 1 ] || usage

bench_health() {
  need_cmd wrk wrk
  need_cmd curl curl
  need_toolchain
  ensure_postgres_binaries
  ensure_redis_binary
  info "building the release server"
  cargo build --release --locked -p code4me-server -p code4me-worker >&2
  export LOG_FORMAT=json RUST_LOG=warn WEBSITE_DIST_DIR="$C4M_ROOT/website/dist"
  start_ephemeral_stack >&2
  trap stop_ephemeral_stack EXIT
  start_app release
  local base="http://127.0.0.1:$SERVER_PORT"
  local threads="${BENCH_THREADS:-2}" connections="${BENCH_CONNECTIONS:-64}" duration="${BENCH_DURATION:-5s}" rounds="${BENCH_ROUNDS:-3}"
  info "warm-up"
  wrk -t"$threads" -c"$connections" -d2s "$base/api/health" >/dev/null
  local health=() ping=() health_p50=() health_p99=()
  for round in $(seq "$rounds"); do
    info "round $round/$rounds"
    local out
    out="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$base/api/health")"
    health+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
    health_p50+=("$(awk '$1=="50%" {print $2}' <<<"$out")")
    health_p99+=("$(awk '$1=="99%" {print $2}' <<<"$out")")
    out="$(wrk -t"$threads" -c"$connections" -d"$duration" "$base/api/ping")"
    ping+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
  done
  python3 "$C4M_ROOT/bench/summarize.py" health \
    --series health_rps "${health[*]}" --series ping_rps "${ping[*]}" \
    --series health_p50 "${health_p50[*]}" --series health_p99 "${health_p99[*]}" \
    --meta threads="$threads" connections="$connections" duration="$duration" rounds="$rounds" cores="$(nproc)"
}

case "$1" in
  health) bench_health ;;
  *) usage ;;
esac
