#!/usr/bin/env bash
# Compiles the worker's GPU path (`--features cuda`) without a GPU, so it cannot rot: NVIDIA's
# compiler and headers come from PyPI (CUDA 13.0 wheels: `nvidia-cuda-nvcc` ships a full nvcc,
# `nvidia-cuda-runtime` the runtime headers, `nvidia-cuda-cccl` the libcu++ headers they include), candle's kernels are built to PTX for CUDA_COMPUTE_CAP
# (default 80: no GPU to ask), and cudarc reads the toolkit version from that nvcc. Everything
# is cached outside the checkout (the wheels and a target directory under
# ${XDG_CACHE_HOME:-~/.cache}/code4me-rs), so only the first run pays for compiling the kernels.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$C4M_ROOT"
need_toolchain
cache="${XDG_CACHE_HOME:-$HOME/.cache}/code4me-rs"
venv="$cache/cuda-venv"
if ! "$venv/bin/python" -c "import nvidia" 2>/dev/null || [ ! -x "$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13/bin 2>/dev/null)/nvcc" ] \
  || [ ! -e "$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13/include 2>/dev/null)/nv/target" ] \
  || [ "$("$venv/bin/pip" show nvidia-nvvm 2>/dev/null | awk '/^Version:/ {print $2}')" != 13.0.88 ]; then
  info "installing NVIDIA's CUDA 13.0 compiler and headers from PyPI into $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed" "apt-get install python3-venv"
  # nvvm and crt pinned too: nvcc's own requirement on them is open, and a newer cicc writes PTX
  # that this ptxas refuses ("Unsupported .version").
  "$venv/bin/pip" install --quiet "nvidia-cuda-nvcc==13.0.88" "nvidia-nvvm==13.0.88" "nvidia-cuda-crt==13.0.88" \
    "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-cccl==13.0.85" \
    || die "could not install nvidia-cuda-nvcc/nvidia-cuda-runtime/nvidia-cuda-cccl from PyPI"
fi
cuda="$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu13)"
export PATH="$cuda/bin:$PATH" CUDA_PATH="$cuda" CUDA_HOME="$cuda" CUDA_ROOT="$cuda"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}" CARGO_TARGET_DIR="$cache/cuda-target"
info "cargo check -p code4me-worker --features cuda ($(nvcc --version | tail -1), compute capability $CUDA_COMPUTE_CAP)"
cargo check --locked -p code4me-worker --features cuda --all-targets
