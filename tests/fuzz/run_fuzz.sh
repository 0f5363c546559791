#!/usr/bin/env bash
# Builds the safetensors reader's libFuzzer target and runs it for a bounded time.
#
#   tests/fuzz/run_fuzz.sh [SECONDS] [extra libFuzzer flags...]     (default 60 s)
#
# Works from any directory. Needs clang++ with the fuzzer and sanitizer runtimes
# (Debian: clang-14 and libclang-rt-14-dev); override the compiler with CXX_FUZZ.
# The committed seed corpus is copied to a temporary directory, so the run never
# writes into the checkout. Exits 0 when the fuzzer finds nothing; otherwise
# exits non-zero and keeps the work directory with the crashing input
# (artifacts/) and the log, printing where they are.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-60}"
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds == 0 )); then
  echo "usage: $0 [SECONDS > 0] [libFuzzer flags...]" >&2
  exit 2
fi

cxx="${CXX_FUZZ:-}"
if [[ -z "$cxx" ]]; then
  for c in clang++ clang++-14; do
    if command -v "$c" >/dev/null; then cxx="$c"; break; fi
  done
fi
if [[ -z "$cxx" ]]; then
  echo "run_fuzz.sh: no clang++ found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/seqattn-fuzz.XXXXXX")"
keep=0
cleanup() { if (( keep == 0 )); then rm -rf "$work"; fi; }
trap cleanup EXIT

echo "run_fuzz.sh: building with $cxx in $work"
if ! "$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$root/include" -I "$root/src" \
    "$here/fuzz_safetensors.cpp" "$root/src/model/safetensors.cpp" \
    -o "$work/fuzz_safetensors"; then
  echo "run_fuzz.sh: build failed; clang++ needs the fuzzer runtime" \
       "(Debian: libclang-rt-14-dev)" >&2
  exit 2
fi

mkdir -p "$work/corpus" "$work/artifacts"
cp "$here"/corpus/* "$work/corpus/"

# -max_len: inputs up to 1 MB reach headers of tens of thousands of entries,
# where a parser slower than linear takes longer than -timeout (a quadratic one
# took minutes for 5 MB); the seed corpus has a 100 KB header to start from.
status=0
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:${ASAN_OPTIONS:-}" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
  "$work/fuzz_safetensors" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
    -dict="$here/safetensors.dict" -artifact_prefix="$work/artifacts/" \
    -print_final_stats=1 "$@" "$work/corpus" 2>&1 | tee "$work/fuzz.log" || status=$?

if (( status != 0 )) || [[ -n "$(ls -A "$work/artifacts")" ]]; then
  keep=1
  echo "run_fuzz.sh: FINDING (exit status $status); inputs in $work/artifacts, log in $work/fuzz.log" >&2
  exit $(( status != 0 ? status : 1 ))
fi
echo "run_fuzz.sh: no findings in ${seconds} s"
