#!/usr/bin/env bash
# benchmarks/run.sh -- runs each attograd benchmark beside its PyTorch twins and prints ratio tables.
#
#   benchmarks/run.sh [BUILD_DIR] [gemm|overhead|models|all]     (default: build, all)
#
# BUILD_DIR is a Release build of attograd (the benchmark programs are built here if needed). Use one
# configured with -DATTO_CUDA=OFF: a CUDA build loads cuBLAS at start-up (about 150 MB of peak RSS
# that Debian's CPU-only PyTorch does not carry).
# PyTorch is Debian's (/usr/bin/python3); libtorch twins are built with g++ into BUILD_DIR/libtorch
# and skipped with a message when libtorch-dev is not installed. PyTorch's thread environment must be
# set before it starts, so each configuration is a separate process; the tables compare against the
# fastest configuration:
#   1 thread:   torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1
#   2 threads:  (A) torch.set_num_threads(1) with OPENBLAS_NUM_THREADS=2
#               (B) torch.set_num_threads(2), OMP_NUM_THREADS=2, OPENBLAS_NUM_THREADS=2, OMP_WAIT_POLICY=PASSIVE
# attograd and the direct cblas_sgemm calls run with 2 threads both with libgomp's default wait policy
# and with OMP_WAIT_POLICY=PASSIVE (spinning idle threads can stall a busy or shared machine).
# The raw lines are kept in BUILD_DIR/bench_results.txt. On a machine shared with other work,
# `nice -n -15 benchmarks/run.sh` keeps the measurements from being descheduled.
# The GPU benchmarks (gpu_ops, gpu_models and their PyTorch 2.x twins) are run by
# scripts/gpu-check.sh on a machine with a GPU; report.py prints their tables too.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../scripts/common.sh"
ensure_packages python3-torch libtorch-dev   # the PyTorch twins (Debian's PyTorch 1.13)
BUILD="$(cd "${1:-$HERE/../build}" && pwd)"
WHAT="${2:-all}"
PY=/usr/bin/python3
RESULTS="$BUILD/bench_results.txt"
: > "$RESULTS"

cmake --build "$BUILD" --target gemm overhead models > /dev/null

run() { echo "+ $*" >&2; env "$@" | tee -a "$RESULTS"; }

if [[ "$WHAT" == all || "$WHAT" == gemm ]]; then
  run "$BUILD/benchmarks/gemm" --threads 1,2 --config default
  run OMP_WAIT_POLICY=PASSIVE "$BUILD/benchmarks/gemm" --threads 2 --config PASSIVE
  run OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $PY "$HERE/gemm_torch.py" --threads 1 --config 1-thread
  run OPENBLAS_NUM_THREADS=2 $PY "$HERE/gemm_torch.py" --threads 1 --label-threads 2 --config A
  run OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $PY "$HERE/gemm_torch.py" --threads 2 --config B
fi

if [[ "$WHAT" == all || "$WHAT" == overhead ]]; then
  run "$BUILD/benchmarks/overhead"
  run OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $PY "$HERE/overhead_torch.py" --threads 1 --config 1-thread
  run OPENBLAS_NUM_THREADS=2 $PY "$HERE/overhead_torch.py" --threads 1 --config A
  run OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $PY "$HERE/overhead_torch.py" --threads 2 --config B
  if [[ -f /usr/include/torch/csrc/api/include/torch/torch.h && -e /usr/lib/x86_64-linux-gnu/libtorch.so ]]; then
    LT="$BUILD/libtorch"
    mkdir -p "$LT"
    if [[ ! -x "$LT/overhead_libtorch" || "$HERE/libtorch/overhead_libtorch.cpp" -nt "$LT/overhead_libtorch" ]]; then
      echo "+ building the libtorch twin (about a minute)" >&2
      g++ -O2 -std=c++17 "$HERE/libtorch/overhead_libtorch.cpp" -I/usr/include/torch/csrc/api/include \
        -ltorch -ltorch_cpu -lc10 -o "$LT/overhead_libtorch"
    fi
    run OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$LT/overhead_libtorch" 1 1-thread
    run OPENBLAS_NUM_THREADS=2 "$LT/overhead_libtorch" 1 A
    run OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE "$LT/overhead_libtorch" 2 B
  else
    echo "# libtorch-dev not installed (no /usr/include/torch/csrc/api/include/torch/torch.h): libtorch twin skipped" \
      | tee -a "$RESULTS"
  fi
fi

if [[ "$WHAT" == all || "$WHAT" == models ]]; then
  # One process per model and configuration (the peak RSS is then that model's), attograd and
  # PyTorch back to back so that both see the same load. MODEL_ROUNDS (default 3) repeats the whole
  # sequence; the report keeps each configuration's fastest round, for both alike (on a shared
  # machine a single round's ratio moves by 20-30%).
  for _ in $(seq "${MODEL_ROUNDS:-3}"); do
    for model in lstm mha gpt sentiment; do
      run "$BUILD/benchmarks/models" --model $model --threads 1 --config 1-thread
      run OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $PY "$HERE/models_torch.py" --model $model --threads 1 --config 1-thread
      run "$BUILD/benchmarks/models" --model $model --threads 2 --config default
      run OPENBLAS_NUM_THREADS=2 $PY "$HERE/models_torch.py" --model $model --threads 1 --label-threads 2 --config A
      run OMP_WAIT_POLICY=PASSIVE "$BUILD/benchmarks/models" --model $model --threads 2 --config PASSIVE
      run OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE $PY "$HERE/models_torch.py" --model $model \
        --threads 2 --config B
    done
  done
fi

echo
$PY "$HERE/report.py" < "$RESULTS"
