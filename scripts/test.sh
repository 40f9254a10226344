#!/usr/bin/env bash
# The README's second command: builds and runs the whole test suite (installs what is missing first).
#   bash scripts/test.sh                 default build: OpenBLAS + OpenMP (+ CUDA backend when nvcc exists)
#   bash scripts/test.sh embedded        no BLAS, no OpenMP, no CUDA: the embedded profile
#   bash scripts/test.sh sanitize        AddressSanitizer + UndefinedBehaviorSanitizer
source "$(dirname "$0")/common.sh"
profile="${1:-default}"
ensure_packages
case "$profile" in
  default)  dir="$ROOT/build";          opts=() ;;
  embedded) dir="$ROOT/build-embedded"; opts=(-DATTO_BLAS=none -DATTO_OPENMP=OFF -DATTO_CUDA=OFF -DATTO_BUILD_BENCHMARKS=OFF) ;;
  sanitize) dir="$ROOT/build-sanitize"; opts=(-DATTO_SANITIZE=address,undefined -DATTO_CUDA=OFF -DATTO_BUILD_BENCHMARKS=OFF
                                             -DATTO_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g") ;;
  *) echo "unknown profile '$profile' (default, embedded, sanitize)" >&2; exit 2 ;;
esac
echo "== test profile: $profile ($dir)"
configure_and_build "$dir" "${opts[@]}"
cd "$dir" && ctest --output-on-failure -j "$(nproc)"
