#!/usr/bin/env bash
# Set up a fresh machine, build, and run every test: the release build (the
# CUDA backend too when nvcc exists; GPU tests skip without a GPU), the CPU path
# under ASan+UBSan, and a bounded fuzzing run of the model-file reader.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"

bash scripts/setup.sh
cmake --workflow --preset release
cmake --workflow --preset sanitize
if [ -x tests/fuzz/run_fuzz.sh ]; then
  tests/fuzz/run_fuzz.sh "${SEQATTN_FUZZ_SECONDS:-60}"
fi
echo "scripts/test.sh: all tests passed"
