"""CUDA handles with device arrays from CuPy or PyTorch, against the CPU handle.

The whole module skips, saying why, without CuPy/PyTorch, a CUDA build or a
GPU; test_cuda_interface.py checks the array handling without any of them.
"""

import importlib

import numpy as np
import pytest

import cases
import seqattn
from compare import assert_close

# ------------------------------------------------ what this machine offers


def _array_library(name):
    try:
        module = importlib.import_module(name)
    except Exception:  # ImportError, or a broken CUDA install failing at import
        return None
    if name == "torch" and not module.cuda.is_available():
        return None
    return module


LIBRARIES = {name: _array_library(name) for name in ("cupy", "torch")}


def _gpu_skip_reason():
    if not any(LIBRARIES.values()):
        return "neither CuPy nor PyTorch with CUDA is importable"
    if not seqattn.build_features()["cuda"]:
        return "this libseqattn was built without CUDA"
    if seqattn.cuda_device_count() == 0:
        return "seqattn.cuda_device_count() == 0: no usable GPU"
    return None


GPU_SKIP = _gpu_skip_reason()
if GPU_SKIP:
    pytest.skip(GPU_SKIP, allow_module_level=True)


@pytest.fixture(params=["cupy", "torch"])
def xp(request):
    """(library name, to_device, to_host) for each importable array library."""
    name = request.param
    lib = LIBRARIES[name]
    if lib is None:
        pytest.skip(f"{name} is not importable (or has no CUDA)")
    if name == "cupy":
        return name, lambda a: lib.asarray(a), lambda a: lib.asnumpy(a)
    return (name, lambda a: lib.from_numpy(np.ascontiguousarray(a)).cuda(),
            lambda a: a.cpu().numpy())


@pytest.fixture(scope="module", params=["precise", "fast"])
def gpu(request):
    with seqattn.Handle("cuda", math=request.param) as handle:
        yield handle


def assert_attention_close(handle, c, context, weights, want_context, want_weights, name):
    """PRECISE: the usual tolerance. FAST changes only the attention kernel's tanh
    and exp, and kernels/attention.cu derives its bound on top of PRECISE's:
    weights within rho*w and the context within rho*sum_i w_i*|h[b,i,:]|, where
    rho = e^(2*delta) - 1 and delta = 1.001 * 2^-10.987 * sum|v| + 2^-22."""
    if handle.math == "precise":
        assert_close(weights, want_weights, f"{name} weights")
        assert_close(context, want_context, f"{name} context")
        return
    delta = 1.001 * 2.0 ** -10.987 * np.abs(c["v"].astype(np.float64)).sum() + 2.0 ** -22
    rho = np.expm1(2 * delta)
    w = np.asarray(want_weights, dtype=np.float64)                       # [B, Td, Te]
    h = np.abs(np.asarray(c["encoder_out"], dtype=np.float64))           # [B, Te, He]
    for got, want, extra, what in ((weights, w, rho * w, "weights"),
                                   (context, want_context, rho * (w @ h), "context")):
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        bad = ~(np.abs(got - want) <= 3e-5 + 3e-4 * np.abs(want) + extra)
        assert not bad.any(), (f"{name} {what} (fast): {int(bad.sum())} elements outside the "
                               f"bound; first at {tuple(np.argwhere(bad)[0])}")


def device_args(case, to_device):
    return {k: to_device(v) if isinstance(v, np.ndarray) and v.dtype == np.float32 else v
            for k, v in case.items()}


GPU_CASES = range(0, cases.N_CASES, 4)


# ------------------------------------------------------ GPU against CPU


@pytest.mark.parametrize("index", GPU_CASES)
def test_additive_attention(gpu, cpu, xp, index):
    name, to_device, to_host = xp
    c = cases.attention_case(index)
    want_context, want_weights = seqattn.additive_attention(cpu, **c)
    context, weights = seqattn.additive_attention(gpu, **device_args(c, to_device))
    assert type(context).__module__.split(".")[0] == name
    assert_attention_close(gpu, c, to_host(context), to_host(weights), want_context,
                           want_weights, f"case {index}")


@pytest.mark.parametrize("index", GPU_CASES)
def test_two_phase_attention(gpu, cpu, xp, index):
    _, to_device, to_host = xp
    c = cases.attention_case(index)
    d = device_args(c, to_device)
    keys = seqattn.project_keys(gpu, d["encoder_out"], d["W"], d["bias"])
    want_keys = seqattn.project_keys(cpu, c["encoder_out"], c["W"], c["bias"])
    assert_close(to_host(keys), want_keys, f"case {index} keys")
    context, weights = seqattn.additive_attention_projected(
        gpu, d["encoder_out"], keys, d["decoder_out"], d["U"], d["v"], c["enc_lengths"],
        c["dec_lengths"])
    want_context, want_weights = seqattn.additive_attention_projected(
        cpu, c["encoder_out"], want_keys, c["decoder_out"], c["U"], c["v"], c["enc_lengths"],
        c["dec_lengths"])
    assert_attention_close(gpu, c, to_host(context), to_host(weights), want_context,
                           want_weights, f"case {index}")


@pytest.mark.parametrize("index", GPU_CASES)
def test_attention_pooling(gpu, cpu, xp, index):
    _, to_device, to_host = xp
    c = cases.pooling_case(index)
    want_context, want_weights = seqattn.attention_pooling(cpu, **c)
    context, weights = seqattn.attention_pooling(gpu, **device_args(c, to_device))
    assert_close(to_host(weights), want_weights, f"case {index} weights")
    assert_close(to_host(context), want_context, f"case {index} context")


@pytest.mark.parametrize("op", ["gru", "simple_rnn"])
@pytest.mark.parametrize("index", GPU_CASES)
def test_rnn(gpu, cpu, xp, op, index):
    _, to_device, to_host = xp
    c = cases.gru_case(index) if op == "gru" else cases.simple_rnn_case(index)
    fn = getattr(seqattn, op)
    want_outputs, want_last = fn(cpu, **c)
    outputs, h_last = fn(gpu, **device_args(c, to_device))
    assert_close(to_host(outputs), want_outputs, f"{op} case {index} outputs")
    assert_close(to_host(h_last), want_last, f"{op} case {index} h_last")


@pytest.mark.parametrize("index", GPU_CASES)
def test_dense(gpu, cpu, xp, index):
    _, to_device, to_host = xp
    c = cases.dense_case(index)
    want = seqattn.dense(cpu, **c)
    assert_close(to_host(seqattn.dense(gpu, **device_args(c, to_device))), want,
                 f"case {index} ({c['activation']})")


def test_caller_buffers_and_explicit_stream(cpu, xp):
    name, to_device, to_host = xp
    lib = LIBRARIES[name]
    stream = lib.cuda.current_stream() if name == "torch" else lib.cuda.get_current_stream()
    c = cases.attention_case(9)
    B, Te, He = c["encoder_out"].shape
    Td = c["decoder_out"].shape[1]
    out = to_device(np.full((B, Td, He), np.nan, np.float32))
    weights_out = to_device(np.full((B, Td, Te), np.nan, np.float32))
    with seqattn.Handle("cuda", stream=stream) as h:
        context, weights = seqattn.additive_attention(h, **device_args(c, to_device), out=out,
                                                      weights_out=weights_out)
        assert context is out and weights is weights_out
        stream.synchronize()
    want_context, want_weights = seqattn.additive_attention(cpu, **c)
    assert_close(to_host(weights), want_weights, "weights")
    assert_close(to_host(context), want_context, "context")


def test_device_argument_mistakes(xp):
    _, to_device, _ = xp
    with seqattn.Handle("cuda") as h:
        x, W = np.ones((3, 4), np.float32), np.ones((4, 2), np.float32)
        with pytest.raises(TypeError, match="^x: a CUDA handle needs device arrays"):
            seqattn.dense(h, x, to_device(W))
        with pytest.raises(TypeError, match="^W has typestr '<f8'"):
            seqattn.dense(h, to_device(x), to_device(W.astype(np.float64)))
        with pytest.raises(ValueError, match="^x is not C-contiguous"):
            seqattn.dense(h, to_device(np.ones((4, 3), np.float32)).T, to_device(np.ones((4, 2),
                                                                               np.float32)))
        with pytest.raises(TypeError, match="^lengths must be host memory"):
            seqattn.gru(h, to_device(np.ones((2, 3, 4), np.float32)),
                        to_device(np.ones((4, 15), np.float32)),
                        to_device(np.ones((5, 15), np.float32)),
                        lengths=to_device(np.ones(2, np.float32)))
