#!/usr/bin/env bash
# Downloads, on a Debian 12 machine with apt, the .deb files that
# scripts/gpu-build.sh unpacks on a GPU machine that has no package registry.
#
# Usage: scripts/gpu-fetch-debs.sh [DIR]      (DIR defaults to gpu-debs/ at the
#        repository root, which .gitignore keeps out of git)
#
# The GPU machine brings its own PyTorch (LibTorch with CUDA), CMake, ninja,
# nvcc and C++ compiler; everything else Sylva's CMakeLists.txt finds comes from
# here: the -dev packages below, plus the library packages they depend on,
# resolved with apt-cache. The walk stops at what every Linux machine with a C++
# compiler has (glibc, libstdc++, libgcc and their -dev packages), so those are
# never downloaded. Nothing is installed here: `apt-get download` only fetches
# the files, as any user. DIR ends up holding exactly the listed .deb files
# (stale ones are removed) and a MANIFEST of their names and versions.
#
# DIR travels to the GPU machine with the source tree in one 64 MiB carry, so
# the script fails when DIR passes SYLVA_DEBS_MAX_MIB (default 40).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="${1:-$repo_root/gpu-debs}"
max_mib="${SYLVA_DEBS_MAX_MIB:-40}"

die() { echo "gpu-fetch-debs: $*" >&2; exit 1; }

# What CMakeLists.txt finds, by the package that provides it. LibTorch is not
# here: the GPU machine's PyTorch provides it (never libtorch-dev or python3-torch).
roots=(
  # Boost::program_options. It pulls libboost1.74-dev, every Boost header: a
  # 9.1 MiB .deb (164 MiB unpacked) of which program_options reads 627 headers,
  # 3 MiB. Debian splits Boost's headers no finer; a trimmed repack would save
  # about 8.5 MiB, not worth it while DIR is 26 MiB.
  libboost-program-options1.74-dev
  libtbb-dev                        # TBB::tbb
  libsqlite3-dev                    # SQLite::SQLite3
  libfmt-dev                        # fmt::fmt
  nlohmann-json3-dev                # nlohmann_json::nlohmann_json
  zlib1g-dev                        # ZLIB::ZLIB
  libpng-dev                        # PNG::PNG
  libjpeg62-turbo-dev               # JPEG::JPEG (libjpeg-turbo)
  libgtest-dev                      # GTest::gtest (Debian 12 ships it built: libgtest.a)
  libpq-dev                         # pkg-config libpq
  libcpp-httplib-dev                # pkg-config cpp-httplib
  libgoogle-perftools-dev           # libtcmalloc_minimal.so
  libbenchmark-dev                  # benchmark::benchmark (optional: the bench/ programs)
  libjs-chart.js                    # chart.min.js, embedded in reports
  pkgconf                           # pkg-config, in case the GPU machine has none
)

# Where the walk stops: parts of any Linux machine with a C++ toolchain. The
# binaries built on the GPU machine use its glibc and libstdc++, which must be
# new enough for the Debian 12 libraries (glibc 2.34, GCC 12): see gpu-build.sh.
base_system=(
  libc6 libc6-dev libc-dev libc-dev-bin linux-libc-dev libcrypt1 libcrypt-dev libnsl-dev
  rpcsvc-proto libgcc-s1 gcc-12-base libstdc++6 libstdc++-12-dev debconf dpkg
)
# Dependencies Sylva's build never reads, left out to keep DIR small.
not_needed=(
  googletest               # GoogleTest's sources; libgtest-dev already has the built libraries
  libgoogle-perftools4     # full tcmalloc and the profiler; Sylva links only tcmalloc_minimal
  libunwind-dev            # for static links of libgoogle-perftools4
)

command -v apt-cache >/dev/null || die "apt-cache not found: run this on a Debian 12 machine"
command -v apt-get >/dev/null || die "apt-get not found: run this on a Debian 12 machine"
. /etc/os-release 2>/dev/null || true
if [ "${VERSION_CODENAME:-}" != bookworm ]; then
  echo "gpu-fetch-debs: warning: this is ${PRETTY_NAME:-an unknown OS}, not Debian 12 (bookworm)" >&2
fi
[ "$(dpkg --print-architecture)" = amd64 ] || die "this machine is not amd64"

declare -A skip=()
for p in "${base_system[@]}" "${not_needed[@]}"; do skip[$p]=1; done

# Prints the packages that the packages "$@" need (Depends and Pre-Depends),
# one per line: of alternatives "a | b" the first real one, of a virtual
# package its first provider; nothing for a group that a skipped package
# satisfies. One apt-cache call for the lot: each call reads the whole cache.
deps_of() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "$@" | awk '
    function flush() {
      if (n == 0) return
      chosen = ""
      for (i = 1; i <= n; i++) {
        if (alt[i] in skipped) { chosen = "-"; break }
        if (chosen == "" && alt[i] !~ /^</) chosen = alt[i]
      }
      if (chosen == "") chosen = prov[1]
      if (chosen != "-" && chosen != "") print chosen
      n = 0
    }
    BEGIN { split(skip_list, s, " "); for (k in s) skipped[s[k]] = 1 }
    /^[^ ]/ { flush(); more = 0; next }  # the next package
    /^ [ |](Pre)?Depends: / {
      if (!more) flush()
      more = ($0 ~ /^ \|/)
      n++; alt[n] = $2; prov[n] = ""
      next
    }
    /^    / {  # a provider of the virtual package above
      if (prov[n] == "") prov[n] = $1
      if ($1 in skipped) alt[n] = $1
      next
    }
    END { flush() }
  ' skip_list="${!skip[*]}" | sed 's/:any$//' | sort -u
}

declare -A wanted=()
level=()
if ! apt-cache show --no-all-versions "${roots[@]}" >/dev/null 2>&1; then
  for p in "${roots[@]}"; do
    apt-cache show --no-all-versions "$p" >/dev/null 2>&1 ||
      die "apt knows no package $p (run 'apt-get update', or is this not Debian 12?)"
  done
fi
for p in "${roots[@]}"; do
  wanted[$p]=1
  level+=("$p")
done
while [ ${#level[@]} -gt 0 ]; do
  next=()
  while read -r d; do
    [ -n "$d" ] || continue
    [ -z "${skip[$d]:-}" ] || continue
    [ -z "${wanted[$d]:-}" ] || continue
    wanted[$d]=1
    next+=("$d")
  done < <(deps_of "${level[@]}")
  level=("${next[@]}")
done

# As root, apt-get download would warn that user _apt cannot write DIR.
apt_opts=(-q)
if [ "$(id -u)" -eq 0 ]; then apt_opts+=(-o APT::Sandbox::User=root); fi

mkdir -p "$out_dir"
cd "$out_dir"
mapfile -t packages < <(printf '%s\n' "${!wanted[@]}" | sort)
# The candidates' versions and architectures, in one apt-cache call.
declare -A candidate=()
while read -r p version arch; do
  candidate[$p]="${p}_${version//:/%3a}_${arch}.deb"
done < <(apt-cache show --no-all-versions "${packages[@]}" |
  awk '/^Package: /{p=$2} /^Version: /{v=$2} /^Architecture: /{a=$2}
       /^$/ { if (p != "") print p, v, a; p="" } END { if (p != "") print p, v, a }')
: >MANIFEST.tmp
keep=()
for p in "${packages[@]}"; do
  # The name apt-get download gives the file, e.g.
  # libgmp10_2%3a6.2.1+dfsg1-1.1_amd64.deb (an epoch's ':' written %3a).
  file="${candidate[$p]:-}"
  [ -n "$file" ] || die "apt has no candidate for $p"
  if [ ! -s "$file" ]; then
    apt-get download "${apt_opts[@]}" "$p" >/dev/null || die "apt-get download $p failed"
  fi
  [ -s "$file" ] || die "apt-get download $p did not write $file"
  keep+=("$file")
  printf '%s\t%s\n' "$p" "$(dpkg-deb -f "$file" Version)" >>MANIFEST.tmp
done
mv MANIFEST.tmp MANIFEST
for f in *.deb; do
  [ -e "$f" ] || continue
  if ! printf '%s\n' "${keep[@]}" | grep -qxF "$f"; then
    echo "removing stale $f"
    rm -f -- "$f"
  fi
done

bytes="$(cat -- "${keep[@]}" | wc -c)"
mib="$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')"
ls -S -s -h -- "${keep[@]}"
echo "${#keep[@]} packages, ${mib} MiB in $out_dir"
if [ "$bytes" -gt $((max_mib * 1048576)) ]; then
  die "$out_dir holds ${mib} MiB, over SYLVA_DEBS_MAX_MIB=${max_mib}: it must fit a 64 MiB carry with the sources"
fi
