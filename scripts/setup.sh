#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test seqattn: Debian packages
# (compiler, CMake, GoogleTest, Google Benchmark, nlohmann-json, Google Highway,
# OpenBLAS, clang for the fuzzer; for the Python package's test, Debian's
# python3 with venv, numpy, h5py, pytest and a CPU torch) and the Python test
# tools (numpy, pytest). Installs nothing that is already there, so on a
# prepared machine it needs no network (building the wheel fetches
# scikit-build-core from PyPI). The CUDA toolkit is optional and never
# installed here.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# command-or-header probe : Debian package that provides it
need=()
want() { dpkg -s "$1" >/dev/null 2>&1 || need+=("$1"); }
# libhwy-dev (Google Highway) and OpenBLAS's pthread build are the fast CPU path's;
# the aarch64 cross compiler checks that the path also builds for NEON.
for pkg in cmake ninja-build g++ pkg-config googletest libgtest-dev libbenchmark-dev \
           nlohmann-json3-dev libhwy-dev libopenblas-dev libopenblas-pthread-dev \
           clang python3 python3-pip g++-aarch64-linux-gnu; do
  want "$pkg"
done
# scripts/test_wheel.sh installs the wheel into a venv of Debian's python3
# that sees these: Debian's torch is CPU-only and about 150 MB to download,
# where PyPI's Linux torch pulls gigabytes of CUDA libraries.
for pkg in python3-venv python3-numpy python3-h5py python3-pytest python3-torch; do
  want "$pkg"
done
# libFuzzer's runtime comes with the clang of the distribution's default version.
clang_major=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9]*\)$/\1/p' | head -1)
want "libclang-rt-${clang_major:-14}-dev"
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# h5py: the converter reads Keras files with it (python/tests convert them).
if ! python3 -c 'import numpy, pytest, h5py' >/dev/null 2>&1; then
  echo "setup: installing numpy, pytest and h5py from PyPI"
  python3 -m pip install --quiet numpy pytest h5py \
    || python3 -m pip install --quiet --break-system-packages numpy pytest h5py \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-numpy python3-pytest python3-h5py; }
fi
echo "setup: ready ($(cmake --version | head -1); nvcc: $(command -v nvcc || echo none))"
