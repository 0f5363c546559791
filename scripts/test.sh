#!/usr/bin/env bash
# Set up a fresh machine, build, and run every test: the release build (the
# CUDA backend too when nvcc exists; GPU tests skip without a GPU), the CPU path
# under ASan+UBSan, and a bounded fuzzing run of the model-file reader.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"

bash scripts/setup.sh
# The fuzzer first, so that the run ends with ctest's summary.
tests/fuzz/run_fuzz.sh "${SEQATTN_FUZZ_SECONDS:-60}"
cmake --workflow --preset release
cmake --workflow --preset sanitize
