#!/usr/bin/env bash
# Set up a fresh machine, build seqattn, and run its demo on the embedded
# default model (on the GPU too when there is one).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/cuda/bin"

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target seqattn_cli
exec build/release/apps/seqattn demo "$@"
