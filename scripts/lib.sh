# shellcheck shell=bash
# Helpers shared by run.sh, test.sh, bench.sh and the provisioning scripts. Source, don't execute.
# Every provisioning step is idempotent: it checks what is there and only does what is missing.

set -euo pipefail

C4M_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export C4M_ROOT
# All runtime state lives under one directory (git-ignored); override to keep it elsewhere.
C4M_DATA_DIR="${C4M_DATA_DIR:-$C4M_ROOT/data}"
export C4M_DATA_DIR
# PostgreSQL refuses to run as root: when we are root, the database runs as this OS user.
C4M_PG_OS_USER="${C4M_PG_OS_USER:-code4me}"
export C4M_PG_OS_USER

info() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
# die MESSAGE [FIX]: stop with what is missing and the command that fixes it.
die() {
  printf '\033[1;31merror:\033[0m %s\n' "$1" >&2
  if [ $# -gt 1 ]; then printf '  fix: %s\n' "$2" >&2; fi
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PKG...: install Debian packages when we are root, otherwise explain how.
apt_install() {
  if is_root && command -v apt-get >/dev/null; then
    info "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; } \
      || die "apt-get could not install: $*" "sudo apt-get update && sudo apt-get install -y $*"
  else
    die "missing Debian packages: $*" "sudo apt-get install -y $*"
  fi
}

# need_cmd CMD PACKAGE: make sure CMD exists, installing PACKAGE with apt-get when possible.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
  command -v "$1" >/dev/null 2>&1 || die "'$1' is still missing after installing $2" "sudo apt-get install -y $2"
}

need_toolchain() {
  command -v cargo >/dev/null || die "Rust (cargo) is not installed" "curl https://sh.rustup.rs -sSf | sh   # then open a new shell"
  command -v python3 >/dev/null || need_cmd python3 python3
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  command -v unzip >/dev/null || need_cmd unzip unzip
}

need_node() {
  command -v node >/dev/null || die "Node.js is not installed (the website is built with Vite)" "sudo apt-get install -y nodejs npm"
  command -v npm >/dev/null || die "npm is not installed" "sudo apt-get install -y npm"
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js $major is too old; the website needs Node.js 20 or newer" "install Node.js 20+ (e.g. from nodesource) and retry"
}

# Load .env (if present) so the scripts and the binaries see the same configuration.
load_env() {
  if [ -f "$C4M_ROOT/.env" ]; then
    set -a
    # shellcheck disable=SC1091
    . "$C4M_ROOT/.env"
    set +a
  fi
  # Local defaults: our own ports, never the system services' 5432/6379.
  export DB_HOST="${DB_HOST:-127.0.0.1}" DB_PORT="${DB_PORT:-55432}" DB_USER="${DB_USER:-code4me}"
  export DB_PASSWORD="${DB_PASSWORD:-code4me}" DB_NAME="${DB_NAME:-code4me}"
  export REDIS_HOST="${REDIS_HOST:-127.0.0.1}" REDIS_PORT="${REDIS_PORT:-56379}"
  export SERVER_HOST="${SERVER_HOST:-127.0.0.1}" SERVER_PORT="${SERVER_PORT:-8008}"
  export MODEL_CACHE_DIR="${MODEL_CACHE_DIR:-$C4M_DATA_DIR/models}"
  export WEBSITE_DIST_DIR="${WEBSITE_DIST_DIR:-$C4M_ROOT/website/dist}"
  export WORKER_METRICS_ADDR="${WORKER_METRICS_ADDR:-127.0.0.1:9187}"
}
