"""Shared fixtures: the package under test, a CPU handle, and a handle on each
CPU path (the fast one and the double-precision reference).

By default the package is this source tree's (python/seqattn) with the library
that SEQATTN_LIBRARY names (ctest sets it to the build's). With
SEQATTN_TEST_INSTALLED=1 the tests are of the installed package instead (what
`pip install .` put in the environment, its own libseqattn inside it), and the
run fails at once if that is not what it imports and loads."""

import os
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
SOURCE_DIR = PYTHON_DIR.parent
INSTALLED = os.environ.get("SEQATTN_TEST_INSTALLED") == "1"
if not INSTALLED:
    # The tests are of this tree's binding, not of some installed copy.
    sys.path.insert(0, str(PYTHON_DIR))

import seqattn  # noqa: E402

PACKAGE_DIR = Path(seqattn.__file__).resolve().parent
if INSTALLED:
    if PACKAGE_DIR == PYTHON_DIR / "seqattn":
        raise RuntimeError(f"SEQATTN_TEST_INSTALLED=1 but seqattn was imported from the source "
                           f"tree ({PACKAGE_DIR}); run pytest from outside it, in the "
                           "environment the package was installed into")
    if os.environ.get("SEQATTN_LIBRARY"):
        raise RuntimeError("SEQATTN_TEST_INSTALLED=1 tests the library inside the installed "
                           "package: unset SEQATTN_LIBRARY")

# No library, no tests: fail loudly here (a conftest error fails the run)
# rather than skip, so that a broken SEQATTN_LIBRARY cannot pass as green.
_library = seqattn.load_library()
if INSTALLED and Path(_library._name).resolve().parent != PACKAGE_DIR:
    raise RuntimeError(f"the installed package loaded {_library._name}, not the library "
                       f"inside it ({PACKAGE_DIR})")


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
