#!/usr/bin/env bash
# The Python package as a user gets it: `pip wheel .` at the repository root
# (scikit-build-core over the project's CMake, the CPU path only to stay quick;
# more --config-settings=... as arguments), installed into a fresh virtual
# environment, then python/tests run against the installed package from
# outside the source tree (SEQATTN_TEST_INSTALLED=1: no SEQATTN_LIBRARY; the
# tests fail unless they import the installed package and load the library
# inside it).
#
# The environment is Debian's python3 with its site packages (numpy, h5py,
# pytest, and torch so that seqattn.torch's tests run for real on the CPU:
# PyPI's Linux torch brings gigabytes of CUDA libraries); scripts/setup.sh
# installs them. seqattn itself is in the virtual environment only.
# SEQATTN_WHEEL_PYTHON names another interpreter (it must see those packages).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/wheel
python=${SEQATTN_WHEEL_PYTHON:-/usr/bin/python3}

rm -rf "$out"
mkdir -p "$out"
start=$SECONDS
"$python" -m venv --system-site-packages "$out/venv"
venv=$out/venv/bin
CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
  "$venv/pip" wheel --quiet --no-deps --wheel-dir "$out/dist" \
  --config-settings=cmake.define.SEQATTN_ENABLE_CUDA=OFF \
  --config-settings=build-dir="$out/build" "$@" .
built=$SECONDS
wheel=$(ls "$out"/dist/seqattn-*.whl)
# --no-deps: Debian names h5py's metadata h5py._debian_h5py_serial, which pip
# does not take for h5py; the import below checks the requirements instead.
"$venv/pip" install --quiet --no-index --no-deps "$wheel"
"$venv/python" -c 'import numpy, h5py, pytest, torch'

elsewhere=$(mktemp -d)
trap 'rm -rf "$elsewhere"' EXIT
cd "$elsewhere"
"$venv/python" -c 'import seqattn; print("wheel:", seqattn.__file__, seqattn.version(),
seqattn.build_features())'
env -u SEQATTN_LIBRARY SEQATTN_TEST_INSTALLED=1 PYTHONDONTWRITEBYTECODE=1 \
  OMP_WAIT_POLICY=PASSIVE "$venv/python" -m pytest -q -p no:cacheprovider "$root/python/tests"
echo "wheel: $(basename "$wheel") built in $((built - start)) s, installed and tested in" \
     "$((SECONDS - built)) s"
