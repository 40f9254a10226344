# scripts/common.sh -- shared by train.sh, test.sh and .ci/run: installs the Debian packages the
# build needs (only those missing), then configures and builds one build directory.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# OpenMP threads that wait for work sleep instead of spinning: on a busy or shared machine (and under
# `ctest -j`, where several test programs share the cores) spinning threads steal the cores the
# working ones need, and a 2-thread run becomes many times slower than a 1-thread one. libgomp reads
# this when a program starts, so it is set here, before anything runs.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

# Packages: compiler, CMake + Ninja, OpenBLAS (its OpenMP build: one thread pool), fmt, doctest,
# CLI11 (the examples' command lines), nlohmann-json (the safetensors header).
ATTO_PACKAGES=(g++ cmake ninja-build libopenblas-openmp-dev libfmt-dev doctest-dev libcli11-dev nlohmann-json3-dev libstb-dev zlib1g-dev)

ensure_packages() {
  local missing=()
  for p in "${ATTO_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# configure_and_build BUILD_DIR [cmake options...]
configure_and_build() {
  local dir="$1"; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}
