# Shared by scripts/test and scripts/demo: install the Debian packages sluice needs (only the
# missing ones), then configure and build a tree.
set -euo pipefail

SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="$(nproc 2>/dev/null || echo 2)"

# Build: compiler, cmake, ninja, pkg-config. Runtime: liburing, hwloc; market/: zlib (gzip ITCH
# files). Tests: GoogleTest.
# Examples: CLI11 (flags), gnuplot-nox (--plot of examples/pipeline, scripts/latency). Scripts:
# python3 (scripts/bench, scripts/latency: tables, CSV, JSON). Perf: Google Benchmark and the
# peers measured in the same runs: standalone Asio, atomic_queue, moodycamel ReaderWriterQueue and ConcurrentQueue, Boost.Lockfree (libboost-dev; never
# libboost1.81-dev, which conflicts with the libboost-dev that libatomic-queue-dev needs).
# Fuzzing (scripts/fuzz): clang, libFuzzer, and compiler-rt's sanitizer and fuzzer runtimes
# (libclang-rt-14-dev: only a Recommends of clang, and -fsanitize=fuzzer links from it).
SLUICE_PACKAGES=(g++ cmake ninja-build pkg-config git liburing-dev libhwloc-dev zlib1g-dev
                 libgtest-dev libgmock-dev libbenchmark-dev libasio-dev libcli11-dev gnuplot-nox python3
                 libatomic-queue-dev libreaderwriterqueue-dev libconcurrentqueue-dev libboost-dev
                 clang libfuzzer-14-dev libclang-rt-14-dev)

# What scripts/demo needs: the build tools and the libraries the pipeline links.
SLUICE_DEMO_PACKAGES=(g++ cmake ninja-build pkg-config liburing-dev libhwloc-dev zlib1g-dev
                      libcli11-dev)

# sluice_install_deps [PACKAGE...]: the given packages (default: all of SLUICE_PACKAGES).
sluice_install_deps() {
  local wanted=("$@")
  [ ${#wanted[@]} -eq 0 ] && wanted=("${SLUICE_PACKAGES[@]}")
  local missing=()
  for p in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "[sluice] all Debian packages present"
    return 0
  fi
  echo "[sluice] installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# sluice_build DIR [cmake args...]
sluice_build() {
  local dir="$1"
  shift
  cmake -S "$SLUICE_ROOT" -B "$dir" -G Ninja "$@"
  cmake --build "$dir" -j "$JOBS"
}
