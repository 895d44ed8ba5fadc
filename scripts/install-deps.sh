#!/usr/bin/env bash
# Installs every package Sylva needs from Debian's archive. Idempotent: packages
# already present are skipped, and nothing is fetched when all are there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev                   # LibTorch (CPU): models, training, TorchScript export
  libopenblas0-pthread           # fast BLAS behind LibTorch's matmuls and convolutions
  libboost-program-options-dev   # command-line and config-file options
  libtbb-dev                     # worker pool
  libgoogle-perftools-dev        # tcmalloc: reuses freed activations instead of page-faulting fresh ones
  libsqlite3-dev                 # experiment storage
  libfmt-dev                     # formatting
  nlohmann-json3-dev             # JSON output and export
  zlib1g-dev                     # reading .gz IDX datasets
  libgtest-dev libgmock-dev      # tests
  libbenchmark-dev               # micro-benchmarks in bench/
  dataset-fashion-mnist          # the default dataset
  python3-torch                  # export tests load TorchScript files with torch.jit.load
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
