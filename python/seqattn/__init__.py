"""seqattn: fused additive attention and the recurrent layers around it.

A ctypes binding over libseqattn's C API (include/seqattn/seqattn.h). Tensors
are numpy arrays on CPU handles and CUDA arrays (CuPy, PyTorch) on CUDA
handles; the math of each function is docs/math.md.

    import numpy as np, seqattn
    with seqattn.Handle() as h:
        context, weights = seqattn.additive_attention(h, enc, dec, W, U, v,
                                                      enc_lengths=[7, 3])

`pip install .` puts the library inside this package, where it is found
first after SEQATTN_LIBRARY (then beside the package, then the system loader;
see seqattn._raw). `seqattn._raw` is the C API one to one; `seqattn.torch`
(imported on first use, needs torch) has the ops on torch tensors and
nn.Modules with the parameters of the PyTorch tutorial's BahdanauAttention.
"""

from __future__ import annotations

from . import _raw
from ._handle import Handle, SeqattnError, Status
from ._convert import torch_gru_to_keras
from .ops import (additive_attention, additive_attention_backward, additive_attention_projected,
                  additive_attention_projected_backward, attention_pooling,
                  attention_pooling_backward, dense, dense_backward, gru, gru_backward,
                  project_keys, project_keys_backward, simple_rnn, simple_rnn_backward)
from .model import Model

__version__ = "0.1.0"  # the Python package; version() is the loaded library's

__all__ = [
    "Handle", "SeqattnError", "Status", "Model",
    "additive_attention", "project_keys", "additive_attention_projected", "attention_pooling",
    "gru", "simple_rnn", "dense", "torch_gru_to_keras",
    "additive_attention_backward", "project_keys_backward",
    "additive_attention_projected_backward", "attention_pooling_backward", "gru_backward",
    "simple_rnn_backward", "dense_backward",
    "version", "build_features", "cpu_info", "cuda_device_count", "load_library",
]


def load_library(path=None):
    """Load libseqattn now (from `path`, or by the usual search) and return the CDLL."""
    return _raw.load(path)


def version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    v = int(_raw.seqattn_version())
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}"


def build_features() -> dict:
    """What the loaded library was built with: {"cuda": bool, "openmp": bool}."""
    f = int(_raw.seqattn_build_features())
    return {"cuda": bool(f & _raw.SEQATTN_FEATURE_CUDA),
            "openmp": bool(f & _raw.SEQATTN_FEATURE_OPENMP)}


def cpu_info() -> str:
    """The fast CPU path's setup: the SIMD target picked, OpenBLAS's build and kernels, threads."""
    return _raw.seqattn_cpu_info().decode("utf-8", "replace")


def cuda_device_count() -> int:
    """Usable CUDA devices; 0 without a driver, a GPU, or CUDA in the build."""
    return int(_raw.seqattn_cuda_device_count())


def __getattr__(name: str):
    # seqattn.torch on first use: torch is optional and slow to import.
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
