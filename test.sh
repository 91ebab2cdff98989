#!/usr/bin/env bash
# Runs every test suite of the project and exits non-zero on any failure:
#   0. fast gates: cargo fmt --check, the architecture check (scripts/check_layers.py), clippy
#   1. website: type-check, unit tests (vitest), production build
#   2. Rust: unit tests and the integration suite (real PostgreSQL + pgvector, real Redis,
#      the real server and worker on port 0)
#   3. the worker's GPU path compiled without a GPU (scripts/cuda_check.sh: CUDA 13 wheels from PyPI)
#   4. end-to-end: the binaries ./run.sh starts (`stack` profile) on a throw-away stack, checked in
#      headless Chromium, then the fuzzing suite against them
# Provisions what it needs first (Debian packages when root, PostgreSQL/pgvector from PyPI, npm packages).
. "$(dirname "${BASH_SOURCE[0]}")/scripts/lib.sh"
. "$C4M_ROOT/scripts/infra.sh"
cd "$C4M_ROOT"
started=$(date +%s)

need_toolchain
need_node

# Fast gates first: a formatting slip fails in seconds, not after the suites.
cargo fmt --version >/dev/null 2>&1 || die "rustfmt is not installed" "rustup component add rustfmt"
info "cargo fmt --check"
cargo fmt --check || die "Rust sources are not formatted" "cargo fmt"
info "architecture gate: layers, import cycles, SQL only in server/src/db (scripts/check_layers.py)"
python3 scripts/check_layers.py || die "the code breaks the layout ARCHITECTURE.md describes (violations listed above)"
cargo clippy --version >/dev/null 2>&1 || die "clippy is not installed" "rustup component add clippy"
info "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings || die "clippy found problems (listed above)" "cargo clippy --workspace --all-targets --fix"
need_cmd curl curl
need_cmd chromium chromium
# The repository agent's tests clone and push with git inside bubblewrap (AGENT_BUBBLEWRAP=required).
need_cmd git git
need_cmd bwrap bubblewrap
./setup_data_dir.sh
ensure_postgres_binaries
ensure_redis_binary
ensure_models

info "website: type-check, unit tests, build"
build_website
(cd website && npm run --silent typecheck && npm test --silent)

info "Rust: unit and integration tests"
export C4M_PG_BINDIR C4M_PG_OS_USER
# INSTA_UPDATE=no: a response that drifted from its contract snapshot fails; nothing is rewritten.
INSTA_UPDATE=no cargo test --workspace --locked

info "GPU path: cargo check --features cuda with NVIDIA's compiler from PyPI (scripts/cuda_check.sh)"
"$C4M_ROOT/scripts/cuda_check.sh"

info "end-to-end: the stack's binaries + headless Chromium"
build_stack
check_api_client
"$C4M_ROOT/scripts/e2e.sh"
"$C4M_ROOT/scripts/fuzz.sh"

info "all test suites passed in $(( $(date +%s) - started )) s"
