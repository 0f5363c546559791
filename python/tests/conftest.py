"""Shared fixtures: the package from this source tree, a CPU handle, and a
handle on each CPU path (the fast one and the double-precision reference)."""

import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
SOURCE_DIR = PYTHON_DIR.parent
# The tests are of this tree's binding, not of some installed copy.
sys.path.insert(0, str(PYTHON_DIR))

import seqattn  # noqa: E402

# No library, no tests: fail loudly here (a conftest error fails the run)
# rather than skip, so that a broken SEQATTN_LIBRARY cannot pass as green.
seqattn.load_library()


@pytest.fixture(scope="session")
def cpu():
    with seqattn.Handle("cpu") as handle:
        yield handle


# The two CPU paths: "cpu" is the fast one (SIMD, OpenBLAS, OpenMP),
# "reference" the double-precision oracle. Tests of results run on both.
CPU_DEVICES = ("cpu", "reference")


@pytest.fixture(scope="session", params=CPU_DEVICES)
def handle(request):
    with seqattn.Handle(request.param) as h:
        yield h
