#!/usr/bin/env bash
# Creates the runtime data layout (idempotent):
#   $C4M_DATA_DIR/postgres   database cluster, owned by the unprivileged database OS user
#   $C4M_DATA_DIR/pgserver   PostgreSQL 16 + pgvector unpacked from PyPI (when the system has no pgvector)
#   $C4M_DATA_DIR/redis      Redis AOF + RDB files
#   $C4M_DATA_DIR/models     model weights (GGUF, safetensors) and the downloaded wheels
#   $C4M_DATA_DIR/logs       process logs written by run.sh
#   $C4M_DATA_DIR/run        sockets and pid files
. "$(dirname "${BASH_SOURCE[0]}")/scripts/lib.sh"

mkdir -p "$C4M_DATA_DIR"/{postgres,pgserver,redis,models,logs,run,wheels}

if is_root; then
  if ! id "$C4M_PG_OS_USER" >/dev/null 2>&1; then
    info "creating system user '$C4M_PG_OS_USER' to run PostgreSQL (it refuses to run as root)"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$C4M_PG_OS_USER" \
      || die "could not create the system user $C4M_PG_OS_USER" "sudo useradd --system $C4M_PG_OS_USER"
  fi
  chown "$C4M_PG_OS_USER" "$C4M_DATA_DIR/postgres" "$C4M_DATA_DIR/run"
  chmod 700 "$C4M_DATA_DIR/postgres"
  # The database user must be able to reach its directories and the PostgreSQL binaries.
  d="$C4M_DATA_DIR"
  while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  chmod -R o+rX "$C4M_DATA_DIR/pgserver"
fi
