"""Where the binding finds libseqattn (seqattn/_raw.py): SEQATTN_LIBRARY alone
when it is set, else a library inside the package or beside it, else the
system loader; and what an installed package (pip install .) carries."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import seqattn
from seqattn import _raw

INSTALLED = os.environ.get("SEQATTN_TEST_INSTALLED") == "1"  # see conftest.py
NAME = "libseqattn.so"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the library names below are Linux's")


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """_raw as if it lived in tmp/site/seqattn/, with no system copy to find."""
    package = tmp_path / "site" / "seqattn"
    package.mkdir(parents=True)
    monkeypatch.setattr(_raw, "__file__", str(package / "_raw.py"))
    monkeypatch.setattr(seqattn, "__path__", [str(package)])
    monkeypatch.setattr(_raw.ctypes.util, "find_library", lambda name: None)
    monkeypatch.delenv("SEQATTN_LIBRARY", raising=False)
    return package


def test_a_library_inside_the_package_comes_before_one_beside_it(fake_package):
    beside = fake_package.parent / NAME
    beside.write_bytes(b"")
    assert _raw.library_candidates() == [str(beside)]
    inside = fake_package / NAME
    inside.write_bytes(b"")
    assert _raw.library_candidates() == [str(inside), str(beside)]


def test_every_folder_of_the_package_is_inside_it(fake_package, monkeypatch):
    # pip install -e .: the sources in the tree, the built library in site-packages.
    built = fake_package.parent.parent / "site-packages" / "seqattn"
    built.mkdir(parents=True)
    (built / NAME).write_bytes(b"")
    (fake_package.parent / NAME).write_bytes(b"")
    monkeypatch.setattr(seqattn, "__path__", [str(built), str(fake_package)])
    assert _raw.library_candidates() == [str(built / NAME), str(fake_package.parent / NAME)]


def test_the_system_loader_comes_last(fake_package, monkeypatch):
    monkeypatch.setattr(_raw.ctypes.util, "find_library", lambda name: "libseqattn.so.0")
    assert _raw.library_candidates() == ["libseqattn.so.0"]
    (fake_package / NAME).write_bytes(b"")
    assert _raw.library_candidates() == [str(fake_package / NAME), "libseqattn.so.0"]


def test_seqattn_library_comes_first(fake_package, monkeypatch):
    (fake_package / NAME).write_bytes(b"")
    monkeypatch.setenv("SEQATTN_LIBRARY", "/elsewhere/libseqattn.so")
    assert _raw.library_candidates()[0] == "/elsewhere/libseqattn.so"


def test_a_seqattn_library_that_fails_does_not_fall_back(tmp_path):
    # A fresh interpreter: this one has its library loaded already.
    missing = tmp_path / "no" / NAME
    env = dict(os.environ, SEQATTN_LIBRARY=str(missing))
    code = "import seqattn\ntry:\n    seqattn.load_library()\nexcept OSError as e:\n    print(e)\n"
    path = str(Path(seqattn.__file__).resolve().parents[1])
    env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert "could not load the library" in out and str(missing) in out
    # One line per candidate tried: that file only.
    assert out.strip().splitlines()[1:] == [out.strip().splitlines()[1]]
    assert out.strip().splitlines()[1].strip().startswith(str(missing))


@pytest.mark.skipif(not INSTALLED, reason="tests an installed package (SEQATTN_TEST_INSTALLED=1)")
def test_the_installed_package_carries_its_library_and_model():
    package = Path(seqattn.__file__).resolve().parent
    assert (package / NAME).is_file() and not (package / NAME).is_symlink()
    assert Path(_raw.load()._name).resolve() == package / NAME
    assert (package / "date_model.safetensors").is_file()
    # A fresh interpreter with no SEQATTN_LIBRARY, outside the source tree.
    env = {k: v for k, v in os.environ.items() if k != "SEQATTN_LIBRARY"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, "-c", "import seqattn; print(seqattn.version())"],
                         env=env, cwd=package.parents[1], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == seqattn.version()


def test_cpu_info_is_the_library_s():
    info = seqattn.cpu_info()
    assert info == _raw.seqattn_cpu_info().decode()
    assert info.startswith("simd ") and "threads" in info
