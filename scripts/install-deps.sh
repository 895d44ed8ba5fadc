#!/usr/bin/env bash
# Installs every package Sylva needs from Debian's archive. Idempotent: packages
# already present are skipped, and nothing is fetched when all are there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev                   # LibTorch (CPU): models, training, TorchScript export
  libopenblas0-openmp            # fast BLAS behind LibTorch; the OpenMP build shares LibTorch's
                                 # thread pool (see BENCHMARKS.md)
  libboost-program-options-dev   # command-line and config-file options
  libtbb-dev                     # worker pool
  libgoogle-perftools-dev        # tcmalloc: reuses freed activations instead of page-faulting fresh ones
  libsqlite3-dev                 # experiment storage
  libpq-dev                      # PostgreSQL client: experiments shared by many hosts
  postgresql                     # a server the tests start in a temporary directory
  libfmt-dev                     # formatting
  nlohmann-json3-dev             # JSON output and export
  zlib1g-dev                     # reading .gz IDX datasets
  libpng-dev                     # PNG images of image-folder datasets
  libjpeg62-turbo-dev            # JPEG images of image-folder datasets (libjpeg-turbo)
  libgtest-dev libgmock-dev      # tests
  libbenchmark-dev               # micro-benchmarks in bench/
  bc                             # arithmetic in bench/run_all.sh
  dataset-fashion-mnist          # the default dataset
  python3-torch                  # export tests load TorchScript files with torch.jit.load
  libjs-chart.js                 # the plots of `sylva report` and `sylva dashboard` (inlined)
  libcpp-httplib-dev             # the dashboard's HTTP server
  chromium                       # tests open the report and the dashboard in a headless browser
  python3-websocket              # the tests drive that browser over its DevTools protocol
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# LibTorch calls whatever libblas.so.3 the alternatives system selects; the
# pthread OpenBLAS outranks the OpenMP one when both are installed.
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
if [ "$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)" != "$blas" ]; then
  echo "selecting $blas"
  $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu "$blas" >/dev/null
fi
