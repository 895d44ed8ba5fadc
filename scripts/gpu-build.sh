#!/usr/bin/env bash
# Builds Sylva on a GPU machine with no package registry and runs its CUDA
# tests, then an optional bench command. Run it from anywhere: it works in the
# repository root, and relative paths in its options are from where it started.
#
# Usage: scripts/gpu-build.sh [options] [--] [BENCH COMMAND...]
#   --debs DIR        the .deb files from scripts/gpu-fetch-debs.sh (default gpu-debs/)
#   --prefix DIR      where they are unpacked (default /tmp/sylva-prefix)
#   --build DIR       the build directory (default build-gpu/)
#   --jobs N          ninja -j N (default: ninja's own)
#   --target T        build T instead of everything (repeatable)
#   --cuda-tests-only build only the test programs that hold *_CUDA tests
#   --configure-only  unpack and configure, build nothing, run nothing
#   --no-tests        skip ctest -R _CUDA
# The bench command runs from the repository root with the libraries found, e.g.
#   scripts/gpu-build.sh --cuda-tests-only --target sylva -- build-gpu/sylva --help
# Afterwards `source build-gpu/sylva-env.sh` sets the same LD_LIBRARY_PATH.
#
# Environment: PYTHON (default python3), the Python whose torch is used;
# SYLVA_TORCH_CMAKE_PREFIX, a directory holding Torch/TorchConfig.cmake
# (default: that torch's torch.utils.cmake_prefix_path).
#
# What the machine must have: x86_64 Linux, CMake >= 3.18, ninja, a C++17
# compiler, python3 with a CUDA PyTorch (its LibTorch is used, never a .deb),
# and nvcc (PyTorch's CMake config looks for the CUDA toolkit). Everything else
# comes from the Debian 12 .deb files, unpacked with `dpkg-deb -x` (or Python's
# ar/tar readers where dpkg-deb is missing) into the prefix, never into /.
#
# Risks, because the machine's OS is unknown:
# - glibc and libstdc++: they come from the machine, and the Debian 12
#   libraries need at least glibc 2.34 and GCC 12's libstdc++ (GLIBCXX_3.4.30;
#   measured on these debs). Ubuntu 22.04 and newer have both; RHEL
#   8 (glibc 2.28) or an older GCC cannot load some of them. The script prints a
#   warning line when the machine's versions are older.
# - C++ ABI: Debian's C++ libraries (Boost, fmt, TBB, GoogleTest, benchmark,
#   cpp-httplib) use the C++11 std::string ABI; a LibTorch built with the old
#   ABI (_GLIBCXX_USE_CXX11_ABI=0, e.g. pip wheels before PyTorch 2.7) cannot
#   link with them, so the script refuses it up front.
# - The libraries load from the prefix through RUNPATH (direct dependencies)
#   and LD_LIBRARY_PATH (their own dependencies: OpenSSL, Kerberos, GnuTLS...).
#   LD_LIBRARY_PATH is set only for the tests and the bench command, so the
#   compiler and CMake never load the prefix's zlib or OpenSSL.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Relative paths in the options are from where the script was started.
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

die() { echo "gpu-build: $*" >&2; exit 1; }
note() { echo "gpu-build: $*"; }

debs_dir="$repo_root/gpu-debs"
prefix=/tmp/sylva-prefix
build_dir="$repo_root/build-gpu"
jobs=""
targets=()
cuda_tests_only=0
configure_only=0
run_tests=1
while [ $# -gt 0 ]; do
  case "$1" in
    --debs) debs_dir="$(abspath "${2:?--debs needs a directory}")"; shift 2 ;;
    --prefix) prefix="$(abspath "${2:?--prefix needs a directory}")"; shift 2 ;;
    --build) build_dir="$(abspath "${2:?--build needs a directory}")"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --target) targets+=("${2:?--target needs a target}"); shift 2 ;;
    --cuda-tests-only) cuda_tests_only=1; shift ;;
    --configure-only) configure_only=1; shift ;;
    --no-tests) run_tests=0; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
bench=("$@")
python="${PYTHON:-python3}"
cd "$repo_root"

# ---- The machine's tools.
[ "$(uname -m)" = x86_64 ] || die "this is $(uname -m): the .deb files are for x86_64 (amd64)"
command -v cmake >/dev/null || die "cmake not found on PATH (CMake >= 3.18 is needed)"
command -v ninja >/dev/null || die "ninja not found on PATH"
cmake_version="$(cmake --version | awk 'NR == 1 { print $3 }')"
[ "$(printf '%s\n3.18\n' "$cmake_version" | sort -V | head -1)" = 3.18 ] ||
  die "cmake $cmake_version is too old: Sylva needs CMake >= 3.18"
cxx="${CXX:-$(command -v c++ || command -v g++ || command -v clang++ || true)}"
[ -n "$cxx" ] && command -v "$cxx" >/dev/null || die "no C++ compiler found (set CXX)"
command -v "$python" >/dev/null || die "$python not found (set PYTHON to the Python that has PyTorch)"
[ -d "$debs_dir" ] || die "$debs_dir/ not found: run scripts/gpu-fetch-debs.sh on a Debian 12 machine and carry it here"
debs_dir="$(cd "$debs_dir" && pwd)"
shopt -s nullglob
debs=("$debs_dir"/*.deb)
shopt -u nullglob
[ ${#debs[@]} -gt 0 ] || die "$debs_dir/ holds no .deb files: run scripts/gpu-fetch-debs.sh"

# ---- PyTorch: where its CMake config and libraries are, its ABI, its GPU.
torch_info="$("$python" - 2>&1 <<'EOF'
import os
import torch
print("version", torch.__version__)
print("cmake_prefix", torch.utils.cmake_prefix_path)
print("cxx11_abi", int(torch._C._GLIBCXX_USE_CXX11_ABI))
print("cuda", torch.version.cuda or "")
lib = os.path.join(os.path.dirname(torch.__file__), "lib")
print("lib", lib if os.path.isdir(lib) else "")
EOF
)" || die "$python cannot import torch: $(echo "$torch_info" | tail -1)"
torch_field() { echo "$torch_info" | awk -v k="$1" '$1 == k { sub(/^[^ ]+ ?/, ""); print; exit }'; }
torch_version="$(torch_field version)"
torch_cmake_prefix="${SYLVA_TORCH_CMAKE_PREFIX:-$(torch_field cmake_prefix)}"
torch_cuda="$(torch_field cuda)"
torch_lib="$(torch_field lib)"
[ -f "$torch_cmake_prefix/Torch/TorchConfig.cmake" ] ||
  die "no Torch/TorchConfig.cmake under $torch_cmake_prefix (PyTorch $torch_version ships no LibTorch CMake files? set SYLVA_TORCH_CMAKE_PREFIX)"
if [ "$(torch_field cxx11_abi)" != 1 ]; then
  die "PyTorch $torch_version uses the old C++ ABI (_GLIBCXX_USE_CXX11_ABI=0) but the Debian libraries use the C++11 ABI, so linking would fail: use a PyTorch built with the C++11 ABI (pip wheels from 2.7 on, NGC containers)"
fi
note "PyTorch $torch_version (CUDA ${torch_cuda:-none}), LibTorch CMake files in $torch_cmake_prefix"

cuda_args=()
if [ -n "$torch_cuda" ]; then
  nvcc="$(command -v nvcc || true)"
  for dir in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    if [ -z "$nvcc" ] && [ -n "$dir" ] && [ -x "$dir/bin/nvcc" ]; then nvcc="$dir/bin/nvcc"; fi
  done
  [ -n "$nvcc" ] || die "nvcc not found (PATH, CUDA_HOME, /usr/local/cuda): PyTorch's CMake config needs the CUDA toolkit"
  cuda_root="$(cd "$(dirname "$(readlink -f "$nvcc")")/.." && pwd)"
  export PATH="$cuda_root/bin:$PATH"
  cuda_args=(-DCMAKE_CUDA_COMPILER="$nvcc" -DCUDAToolkit_ROOT="$cuda_root"
    -DCUDA_TOOLKIT_ROOT_DIR="$cuda_root")
  note "CUDA toolkit $cuda_root ($("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
fi

# Without a GPU the _CUDA tests skip themselves and would pass: refuse now,
# before the build.
if [ "$configure_only" = 0 ] && [ "$run_tests" = 1 ]; then
  gpu="$("$python" -c 'import torch
print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>/dev/null || true)"
  [ -n "$gpu" ] || die "torch.cuda.is_available() is False here: the _CUDA tests would only skip themselves (pass --no-tests to build anyway)"
fi

# ---- Unpack the .deb files into the prefix, once per set of files.
prefix="${prefix%/}"
[ -n "$prefix" ] && [ "$prefix" != /usr ] && [ "$prefix" != /usr/local ] || die "refusing prefix '${prefix:-/}'"
stamp="$prefix/.sylva-prefix"
want_stamp="$(cd "$debs_dir" && ls -l -- *.deb | awk '{ print $5, $NF }')"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; then
  note "prefix $prefix is up to date"
else
  if [ -e "$prefix" ]; then
    [ -f "$stamp" ] || [ -z "$(ls -A "$prefix")" ] ||
      die "$prefix exists and was not made by gpu-build.sh: remove it or pass --prefix"
    rm -rf -- "$prefix"
  fi
  mkdir -p "$prefix"
  note "unpacking ${#debs[@]} .deb files into $prefix"
  for deb in "${debs[@]}"; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$prefix" || die "dpkg-deb -x $deb failed"
    else
      # A .deb is an ar archive holding data.tar.{xz,gz,zst}.
      "$python" - "$deb" "$prefix" <<'EOF' || die "cannot unpack $deb without dpkg-deb"
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", "not an ar archive"
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58])
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            if hasattr(tarfile, "fully_trusted_filter"):
                tar.extractall(dest, filter="fully_trusted")
            else:
                tar.extractall(dest)
        break
else:
    sys.exit("no data.tar member")
EOF
    fi
  done
  # Absolute symlinks (e.g. libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13)
  # would point into the machine's own /: point them into the prefix.
  while IFS= read -r -d '' link; do
    target="$(readlink "$link")"
    case "$target" in /*) ln -sfn "$prefix$target" "$link" ;; esac
  done < <(find "$prefix" -type l -print0)
  # pkg-config files say prefix=/usr (or libdir=/usr/..., -I/usr/...).
  while IFS= read -r -d '' pc; do
    sed -i -E -e "s|^([A-Za-z_][A-Za-z0-9_.]*)=/|\\1=$prefix/|" \
      -e "s#(^|[[:space:]])-([IL])/#\\1-\\2$prefix/#g" "$pc"
  done < <(find "$prefix" -name '*.pc' -print0)
  # A pkg-config for machines without one: the prefix's pkgconf, with its library.
  mkdir -p "$prefix/bin"
  cat >"$prefix/bin/pkg-config" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$prefix/usr/bin/pkgconf" "\$@"
EOF
  chmod +x "$prefix/bin/pkg-config"
  echo "$want_stamp" >"$stamp"
fi

lib_dirs="$prefix/usr/lib/x86_64-linux-gnu:$prefix/lib/x86_64-linux-gnu"
run_lib_path="$lib_dirs${torch_lib:+:$torch_lib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# glibc and libstdc++: the newest symbol versions the prefix's programs and
# libraries need, against what this machine has.
newest() { sort -u -V | tail -1; }
elf_files() { find "$prefix/usr/lib" "$prefix/lib" "$prefix/usr/bin" -type f \( -name '*.so*' -o -path '*/bin/*' \) 2>/dev/null; }
need_glibc="$(elf_files | xargs -r grep -aoh 'GLIBC_2\.[0-9]*' 2>/dev/null | sed 's/GLIBC_//' | newest)"
have_glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')"
if [ -n "$need_glibc" ] && [ -n "$have_glibc" ] &&
   [ "$(printf '%s\n%s\n' "$need_glibc" "$have_glibc" | newest)" != "$have_glibc" ]; then
  note "warning: the Debian 12 libraries need glibc $need_glibc but this machine has glibc $have_glibc: some will not load"
fi
libstdcxx="$("$cxx" -print-file-name=libstdc++.so.6)"
if [ -f "$libstdcxx" ]; then
  need_cxx="$(elf_files | xargs -r grep -aoh 'GLIBCXX_3\.4\.[0-9]*' 2>/dev/null | sed 's/GLIBCXX_//' | newest)"
  have_cxx="$(grep -aoh 'GLIBCXX_3\.4\.[0-9]*' "$(readlink -f "$libstdcxx")" | sed 's/GLIBCXX_//' | newest)"
  if [ -n "$need_cxx" ] && [ "$(printf '%s\n%s\n' "$need_cxx" "$have_cxx" | newest)" != "$have_cxx" ]; then
    note "warning: the Debian 12 libraries need GLIBCXX_$need_cxx but $libstdcxx has GLIBCXX_$have_cxx: some will not load"
  fi
fi

# ---- Configure.
pkg_config="$prefix/bin/pkg-config"
if ! "$pkg_config" --version >/dev/null 2>&1; then
  pkg_config="$(command -v pkg-config || command -v pkgconf || true)"
  [ -n "$pkg_config" ] || die "the prefix's pkgconf does not run here and the machine has no pkg-config"
fi
# Only the prefix's .pc files, never the machine's.
export PKG_CONFIG_LIBDIR="$prefix/usr/lib/x86_64-linux-gnu/pkgconfig:$prefix/usr/share/pkgconfig:$prefix/usr/lib/pkgconfig"
unset PKG_CONFIG_PATH
link_flags="-Wl,-rpath-link,$lib_dirs"
note "configuring $build_dir"
cmake -S "$repo_root" -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$prefix/usr;$prefix/usr/lib/x86_64-linux-gnu/cmake;$torch_cmake_prefix" \
  -DCMAKE_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu;$prefix/lib/x86_64-linux-gnu" \
  -DCMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES="$prefix/usr/include/x86_64-linux-gnu" \
  -DCMAKE_EXE_LINKER_FLAGS="$link_flags" \
  -DCMAKE_SHARED_LINKER_FLAGS="$link_flags" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DPKG_CONFIG_EXECUTABLE="$pkg_config" \
  -DCHART_JS="$prefix/usr/share/javascript/chart.js/chart.min.js" \
  -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST \
  "${cuda_args[@]}" ||
  die "cmake configure failed (see above and $build_dir/CMakeFiles/CMakeError.log)"

cat >"$build_dir/sylva-env.sh" <<EOF
# Sourced before running what $build_dir holds: the prefix's and torch's libraries.
export LD_LIBRARY_PATH="$lib_dirs${torch_lib:+:$torch_lib}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
EOF
[ "$configure_only" = 0 ] || { note "configured $build_dir (--configure-only)"; exit 0; }

# ---- Build.
if [ "$cuda_tests_only" = 1 ]; then
  # sylva_test(NAME DIR ...) in CMakeLists.txt: NAME's sources are tests/DIR.
  while read -r name dir; do
    if grep -rqs '_CUDA)' "tests/$dir"; then targets+=("$name"); fi
  done < <(sed -n 's/^sylva_test(\([A-Za-z0-9_]*\) \([A-Za-z0-9_/]*\).*/\1 \2/p' CMakeLists.txt)
fi
note "building ${targets[*]:-everything} in $build_dir"
ninja -C "$build_dir" ${jobs:+-j "$jobs"} "${targets[@]}" || die "the build failed (see above)"

# ---- The CUDA tests.
if [ "$run_tests" = 1 ]; then
  note "running ctest -R _CUDA on $gpu"
  log="$build_dir/gpu-ctest.log"
  (cd "$build_dir" && LD_LIBRARY_PATH="$run_lib_path" ctest -R _CUDA --no-tests=error -V) 2>&1 |
    tee "$log" || die "CUDA tests failed (log: $log)"
  skipped="$(grep -c '\[  SKIPPED \]' "$log" || true)"
  [ "$skipped" = 0 ] || die "$skipped _CUDA test(s) skipped themselves although torch sees $gpu (log: $log)"
fi

# ---- The bench command.
if [ ${#bench[@]} -gt 0 ]; then
  note "running ${bench[*]}"
  rc=0
  LD_LIBRARY_PATH="$run_lib_path" "${bench[@]}" || rc=$?
  [ "$rc" = 0 ] || die "the bench command exited with $rc: ${bench[*]}"
fi
note "done"
