#!/usr/bin/env bash
# Set up a fresh machine, build, and run every test: the release build (the
# CUDA backend too when nvcc exists; GPU tests skip without a GPU), the CPU path
# under ASan+UBSan, a bounded fuzzing run of the model-file reader, and the
# Python package built by pip and tested as installed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"

bash scripts/setup.sh
# The fuzzer and the Python package first, so that the run ends with ctest's summary.
tests/fuzz/run_fuzz.sh "${SEQATTN_FUZZ_SECONDS:-60}"
# pip wheel . into a fresh virtual environment, python/tests against it.
bash scripts/test_wheel.sh
cmake --workflow --preset release
cmake --workflow --preset sanitize
