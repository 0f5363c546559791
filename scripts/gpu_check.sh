#!/usr/bin/env bash
# Verifies the GPU path on a machine with an NVIDIA GPU, in one command and in
# at most 8 minutes (an H100/H200 with 16 cores): builds for the local GPU's
# architecture only, runs the whole test suite (no GPU test may skip), runs
# compute-sanitizer memcheck over the GPU tests and racecheck/synccheck over the
# attention and pooling tests, runs the benchmark rows at the reference shape
# (and bench/compare_torch.py when PyTorch is there), and writes one markdown
# record of it all.
#
#   scripts/gpu_check.sh [RECORD.md]    # default bench/results/<date>-<gpu>.md
#
# Every stage has a time limit, and the limits are cut to what is left of an
# overall budget (SEQATTN_GPU_CHECK_BUDGET_S, 480 s), so the run ends in time
# even when a stage hangs. A failed stage is recorded and the next one runs;
# the exit status is 1 if any stage failed. Without a GPU it stops at once with
# exit status 2. Logs stay in <build>/gpu-check-logs.
#
# Environment:
#   SEQATTN_GPU_CHECK_NVIDIA_SMI  the nvidia-smi to ask (default: nvidia-smi on PATH)
#   SEQATTN_GPU_CHECK_BUILD_DIR   build directory (default: build/gpu-check)
#   SEQATTN_GPU_CHECK_BUDGET_S    overall time budget in seconds (default: 480)
#   SEQATTN_GPU_CHECK_MEMCHECK_FILTER, SEQATTN_GPU_CHECK_RACE_FILTER
#                                 gtest filters for the sanitizer runs
# The stage_* functions run through "stage_$NAME", which shellcheck cannot follow.
# shellcheck disable=SC2317
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/gpu_check.sh"
export PATH="$PATH:/usr/local/cuda/bin"

say() { printf '[gpu-check] %s\n' "$*"; }

# ------------------------------------------------------------------ stages
# Each runs as `bash gpu_check.sh __stage NAME` under `timeout`, output in
# $LOGS/NAME.log. Exit 0 ok, 77 skipped (not a failure), anything else failed.
# A stage may write one line of summary to $LOGS/NAME.note.

note() { printf '%s\n' "$*" >"$LOGS/$STAGE.note"; }

# Runs the tests (ctest's json-v1 listing) to find the GoogleTest binaries of
# the GPU tests (label cuda), so no binary name is written down here.
gpu_test_binaries() {
  python3 "$ROOT/scripts/gpu_record.py" gpu-binaries "$LOGS/tests.json"
}

stage_configure() {
  local gen=(-G Ninja)
  if ! command -v ninja >/dev/null 2>&1; then
    echo "ninja not found: using Unix Makefiles"
    gen=(-G "Unix Makefiles")
  fi
  configure_once() {
    rm -f "$BUILD/CMakeCache.txt"
    cmake -S "$ROOT" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DSEQATTN_ENABLE_CUDA=ON -DSEQATTN_BUILD_TESTS=ON \
      -DSEQATTN_BUILD_BENCH=ON -DSEQATTN_WERROR=ON
  }
  if ! configure_once; then
    # What CMake could not find, in its own words; setup.sh knows the packages.
    local missing
    missing=$(grep -hoE 'Could NOT find [A-Za-z0-9_]+|provided by "[^"]+"|(No package|Package) '"'"'[^'"'"']+'"'"'' \
              "$LOGS/configure.log" | sort -u | tr '\n' ';')
    echo "configure failed; missing: ${missing:-see above}"
    echo "trying scripts/setup.sh (it installs what is missing; it needs network to do so)"
    if ! timeout -k 10 120 bash "$ROOT/scripts/setup.sh" </dev/null; then
      note "configure failed, missing: ${missing:-?}; scripts/setup.sh could not install them (no network?)"
      return 1
    fi
    configure_once || { note "configure failed after setup.sh; missing: ${missing:-?}"; return 1; }
  fi
  if ! grep -q 'CUDA backend ON' "$LOGS/configure.log"; then
    note "configured without the CUDA backend (nvcc missing or older than CUDA 12): nothing to check"
    return 1
  fi
  note "sm_$ARCH, $(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$BUILD/CMakeCache.txt"), $(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/CUDA \1/p')"
}

stage_build() {
  cmake --build "$BUILD" -j "$JOBS" || return 1
  note "$JOBS jobs"
}

# The whole suite. Everything in parallel but the tests that compare the
# device's free memory before and after (another process allocating at the
# same time would fail them), which run afterwards on their own.
stage_ctest() {
  local serial='AllocateNothing' rc=0
  ctest --test-dir "$BUILD" --show-only=json-v1 >"$LOGS/tests.json" || return 1
  ctest --test-dir "$BUILD" -j "$JOBS" -E "$serial" --output-on-failure --timeout 300 \
    --output-junit "$LOGS/ctest-parallel.xml" || rc=1
  ctest --test-dir "$BUILD" -R "$serial" --output-on-failure --timeout 300 \
    --output-junit "$LOGS/ctest-serial.xml" || rc=1
  # A GPU test that skipped did not test the GPU: that fails the stage.
  python3 "$ROOT/scripts/gpu_record.py" skips "$LOGS/tests.json" \
    "$LOGS/ctest-parallel.xml" "$LOGS/ctest-serial.xml" >"$LOGS/skips.txt" || rc=1
  cat "$LOGS/skips.txt"
  note "$(grep -hE 'tests passed' "$LOGS/ctest.log" | paste -sd ';' -); $(head -1 "$LOGS/skips.txt")"
  return "$rc"
}

# compute-sanitizer TOOL FILTER over every GPU test binary that has a test in
# FILTER. Fails on a nonzero error count or exit status.
sanitize() {
  local tool=$1 filter=$2 rc=0 bin listed
  local san
  san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  [ -x "$san" ] || { note "compute-sanitizer not found"; return 1; }
  [ -s "$LOGS/tests.json" ] || ctest --test-dir "$BUILD" --show-only=json-v1 >"$LOGS/tests.json"
  local bins
  bins=$(gpu_test_binaries) || { note "no GPU test binaries found"; return 1; }
  for bin in $bins; do
    listed=$("$bin" --gtest_list_tests --gtest_filter="$filter" | grep -c '^  ')
    if [ "$listed" = 0 ]; then echo "$(basename "$bin"): no test in $filter"; continue; fi
    echo "== $tool: $(basename "$bin") --gtest_filter=$filter ($listed tests)"
    "$san" --tool "$tool" --error-exitcode 1 --print-limit 20 "$bin" --gtest_filter="$filter" ||
      rc=1
  done
  local summary
  summary=$(grep -hoE '(ERROR|RACECHECK) SUMMARY: .*' "$LOGS/$STAGE.log" | sort | uniq -c |
            sed 's/^ *//' | paste -sd ';' -)
  # Under the sanitizer too, a GPU test that skips has not run on the GPU.
  local skipped
  skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$LOGS/$STAGE.log")
  note "${summary:-no summary printed}; $skipped tests skipped"
  [ "$skipped" = 0 ] || rc=1
  grep -qE 'ERROR SUMMARY: [1-9]|RACECHECK SUMMARY: .*\([1-9][0-9]* errors' "$LOGS/$STAGE.log" && rc=1
  return "$rc"
}

# The GPU binaries also hold CPU cases (tests/backends runs every backend):
# the sanitizers take the CUDA ones, whose names say so.
stage_memcheck() { sanitize memcheck "${SEQATTN_GPU_CHECK_MEMCHECK_FILTER:-*cuda_*:*Cuda*}"; }
stage_racecheck() { sanitize racecheck "$RACE_FILTER"; }
stage_synccheck() { sanitize synccheck "$RACE_FILTER"; }

# The GPU rows at the reference shape (B = 64, Td = Te = 128, He = Hd = A = 256),
# the Dense rows and the decoding rows; the bench's correctness checks first.
stage_bench() {
  local bench
  bench=$(find "$BUILD" -name seqattn_bench -type f -perm -u+x | head -1)
  [ -n "$bench" ] || { note "seqattn_bench not built"; return 1; }
  local filter='^(attention|gru)/[a-z0-9_]*(cuda|cublas|cudnn)[a-z0-9_]*/B:64/T:128/(A:256/)?H:256/|^dense/seqattn_cuda|^decode/seqattn_cuda'
  "$bench" --benchmark_filter="$filter" --benchmark_min_time=0.2 \
    --benchmark_out="$LOGS/bench.json" --benchmark_out_format=json || return 1
  # Every row runs on an H100/H200: no GPU row, or a row that stopped with an
  # error (SkipWithError), fails the stage.
  local rows errors
  rows=$(grep -c '"run_name": "[a-z]*/[a-z0-9_]*\(cuda\|cublas\|cudnn\)' "$LOGS/bench.json")
  errors=$(grep -c '"error_occurred": true' "$LOGS/bench.json")
  note "$rows GPU rows, $errors with an error"
  [ "$rows" -gt 0 ] && [ "$errors" = 0 ]
}

stage_torch() {
  if ! python3 -c 'import torch' >/dev/null 2>&1; then
    note "PyTorch not installed"
    return 77
  fi
  local lib
  lib=$(find "$BUILD" -maxdepth 2 -name 'libseqattn.so*' -type f | head -1)
  SEQATTN_LIBRARY="$lib" python3 "$ROOT/bench/compare_torch.py" --quick --out "$LOGS/torch.md"
}

# ------------------------------------------------------------------ driver

if [ "${1:-}" = __stage ]; then
  STAGE=$2
  "stage_$STAGE"
  exit $?
fi

case "${1:-}" in
  -h | --help) sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$SELF"; exit 0 ;;
esac

# No GPU, no check: say so at once.
NVSMI=${SEQATTN_GPU_CHECK_NVIDIA_SMI:-nvidia-smi}
no_gpu() {
  echo "gpu_check: no NVIDIA GPU here ($1); this script verifies the GPU path and needs one." >&2
  echo "gpu_check: for the CPU path run: cmake --workflow --preset cpu" >&2
  exit 2
}
command -v "$NVSMI" >/dev/null 2>&1 || no_gpu "$NVSMI not found"
caps=$("$NVSMI" --query-gpu=compute_cap --format=csv,noheader 2>&1) \
  || no_gpu "$NVSMI failed: $(printf '%s' "$caps" | head -1)"
cap=$(printf '%s\n' "$caps" | head -1 | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
[[ "$cap" =~ ^[0-9]+\.[0-9]+$ ]] || no_gpu "$NVSMI lists no device${cap:+ (it said: $cap)}"
ARCH=${cap/./}
query() { "$NVSMI" --query-gpu="$1" --format=csv,noheader 2>/dev/null | head -1 | sed 's/ *$//'; }
GPU_NAME=$(query name)

START=$(date +%s)

BUILD=${SEQATTN_GPU_CHECK_BUILD_DIR:-$ROOT/build/gpu-check}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
LOGS="$BUILD/gpu-check-logs"
JOBS=$(nproc)
BUDGET=${SEQATTN_GPU_CHECK_BUDGET_S:-480}
RACE_FILTER=${SEQATTN_GPU_CHECK_RACE_FILTER:-*AttentionBackend*/cuda_*:*PoolingBackend*/cuda_*:AttentionCuda.*}
DATE=$(date -u +%Y-%m-%d)
SLUG=$(printf '%s' "$GPU_NAME" | tr '[:upper:]' '[:lower:]' | sed -e 's/^nvidia //' -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')
RECORD=${1:-$ROOT/bench/results/$DATE-${SLUG:-gpu}.md}
export ROOT BUILD LOGS ARCH JOBS RACE_FILTER PATH
mkdir -p "$BUILD"
rm -rf "$LOGS"
mkdir -p "$LOGS"

{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "gpu=$GPU_NAME"
  echo "gpu_count=$(printf '%s\n' "$caps" | grep -c .)"
  echo "compute_cap=$cap"
  echo "driver=$(query driver_version)"
  echo "memory=$(query memory.total)"
  echo "sm_clock_max=$(query clocks.max.sm)"
  echo "cuda_driver=$("$NVSMI" 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)"
  echo "cuda_toolkit=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\), V\([0-9.]*\).*/\2/p')"
  echo "commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "dirty=$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -qv '^??' && echo yes || echo no)"
  echo "host=$(hostname)"
  echo "cores=$JOBS"
  echo "budget_s=$BUDGET"
} >"$LOGS/meta.txt"

say "$GPU_NAME (sm_$ARCH), $JOBS cores; build in $BUILD, logs in $LOGS"

# What the stages need, checked first so that a missing piece is named.
for tool in cmake nvcc python3 c++; do
  command -v "$tool" >/dev/null 2>&1 || say "missing: $tool"
done
if ! command -v cmake >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1 ||
   ! command -v python3 >/dev/null 2>&1 || ! command -v ninja >/dev/null 2>&1; then
  say "trying scripts/setup.sh for the missing tools (it needs network to install)"
  timeout -k 10 120 bash "$ROOT/scripts/setup.sh" </dev/null >"$LOGS/setup.log" 2>&1 ||
    say "setup.sh failed (see $LOGS/setup.log); going on with what is here"
fi
command -v nvcc >/dev/null 2>&1 ||
  say "nvcc not found (not on PATH nor in /usr/local/cuda/bin): the CUDA toolkit is needed; setup.sh does not install it"
command -v python3 >/dev/null 2>&1 ||
  { echo "gpu_check: python3 is needed for the record and was not found" >&2; exit 1; }

failed=0
: >"$LOGS/stages.tsv"
# run_stage NAME LIMIT_S [PREREQUISITE_STAGE]
run_stage() {
  local name=$1 limit=$2 needs=${3:-} left status rc t0 secs
  left=$((BUDGET - ($(date +%s) - START) - 15))  # 15 s kept for the record
  t0=$(date +%s)
  if [ -n "$needs" ] && ! grep -q "^$needs	ok	" "$LOGS/stages.tsv"; then
    status="FAIL"; rc=1
    printf 'not run: %s did not pass\n' "$needs" >"$LOGS/$name.note"
  elif [ "$left" -lt 5 ]; then
    status="FAIL"; rc=1
    printf 'not run: the %s s budget is spent\n' "$BUDGET" >"$LOGS/$name.note"
  else
    [ "$limit" -gt "$left" ] && limit=$left
    say "$name (limit ${limit} s) ..."
    timeout -k 10 "$limit" bash "$SELF" __stage "$name" >"$LOGS/$name.log" 2>&1
    rc=$?
    case $rc in
      0) status=ok ;;
      77) status=skipped ;;
      124 | 137) status=FAIL; printf 'timed out after %s s\n' "$limit" >>"$LOGS/$name.note" ;;
      *) status=FAIL ;;
    esac
  fi
  secs=$(($(date +%s) - t0))
  local text
  text=$(paste -sd ';' "$LOGS/$name.note" 2>/dev/null)
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$text" >>"$LOGS/stages.tsv"
  say "$name: $status (${secs} s)${text:+ — $text}"
  if [ "$status" = FAIL ]; then
    failed=1
    [ -s "$LOGS/$name.log" ] && tail -n 15 "$LOGS/$name.log" | sed 's/^/    /'
  fi
}

run_stage configure 120
run_stage build 300 configure
run_stage ctest 150 build
run_stage memcheck 120 build
run_stage racecheck 60 build
run_stage synccheck 45 build
run_stage bench 90 build
run_stage torch 120 build

total=$(($(date +%s) - START))
mkdir -p "$(dirname "$RECORD")"
if python3 "$ROOT/scripts/gpu_record.py" record --logs "$LOGS" --total "$total" --out "$RECORD"; then
  say "record written to $RECORD"
else
  say "writing the record failed"
  failed=1
fi
say "total ${total} s (budget ${BUDGET} s); $([ $failed = 0 ] && echo 'every stage passed' || echo 'a stage FAILED')"
exit $failed
