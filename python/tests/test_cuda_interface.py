"""__cuda_array_interface__ handling, on stand-in objects: pure Python, so it
runs on every machine, GPU or not."""

import numpy as np
import pytest

import cases
import seqattn
from compare import assert_close
from seqattn import _tensors


class FakeDeviceArray:
    """Just the protocol: what CuPy and PyTorch expose, at an address never dereferenced."""

    def __init__(self, shape, typestr="<f4", strides=None, address=0x7000_0000, readonly=False,
                 mask=None):
        self.__cuda_array_interface__ = dict(shape=shape, typestr=typestr, strides=strides,
                                             data=(address, readonly), version=3, mask=mask)


class StandInCudaHandle(seqattn.Handle):
    """A Handle that says it is CUDA without a device, to drive the adapters only."""

    def __init__(self, ordinal=0):
        self._h = object()
        self.device, self.ordinal, self.math, self.stream = "cuda", ordinal, "precise", None

    def close(self):
        self._h = None


def test_cpu_handle_refuses_device_arrays(cpu):
    with pytest.raises(TypeError, match="^x is a CUDA array but the handle is a CPU handle"):
        seqattn.dense(cpu, FakeDeviceArray((3, 4)), np.ones((4, 2), np.float32))


def test_interface_checks():
    check = _tensors._cuda_interface
    assert check("x", FakeDeviceArray((2, 3), address=1234)) == (1234, (2, 3), False)
    # Explicit C strides, and any stride on an extent-1 axis, are contiguous.
    assert check("x", FakeDeviceArray((2, 3), strides=(12, 4)))[1] == (2, 3)
    assert check("x", FakeDeviceArray((2, 1, 3), strides=(12, 999, 4)))[1] == (2, 1, 3)
    with pytest.raises(ValueError, match="^x is not C-contiguous"):
        check("x", FakeDeviceArray((2, 3), strides=(4, 8)))
    with pytest.raises(ValueError, match="^x is not C-contiguous"):
        check("x", FakeDeviceArray((2, 3), strides=(24, 8)))  # every other element
    with pytest.raises(TypeError, match="^x has typestr '<f2'"):
        check("x", FakeDeviceArray((2, 3), typestr="<f2"))
    with pytest.raises(TypeError, match="^x is a masked CUDA array"):
        check("x", FakeDeviceArray((2, 3), mask=FakeDeviceArray((2, 3), typestr="|b1")))


def test_adapters_on_a_cuda_handle():
    handle = StandInCudaHandle()
    call = _tensors.Call(handle)
    x = call.input("x", FakeDeviceArray((2, 3, 4), address=4096), ("B", "T", "F"))
    assert (x.address, x.shape) == (4096, (2, 3, 4))
    with pytest.raises(ValueError, match=r"^w has shape \(5,\) but expected \[F\]"):
        call.input("w", FakeDeviceArray((5,)), ("F",))
    with pytest.raises(TypeError, match="^w: a CUDA handle needs device arrays"):
        call.input("w", np.ones(4, np.float32), ("F",))
    out = call.output("out", FakeDeviceArray((2, 4), address=8192), (2, 4))
    assert out.address == 8192
    with pytest.raises(ValueError, match="^out is read-only"):
        call.output("out", FakeDeviceArray((2, 4), readonly=True), (2, 4))
    with pytest.raises(ValueError, match=r"^out has shape \(4, 2\), expected \(2, 4\)"):
        call.output("out", FakeDeviceArray((4, 2)), (2, 4))
    with pytest.raises(TypeError, match="^out must be a CUDA array"):
        call.output("out", np.ones((2, 4), np.float32), (2, 4))
    # Neither torch nor cupy made the inputs: the binding cannot allocate like them.
    with pytest.raises(TypeError, match="pass out="):
        call.output("out", None, (2, 4))
    assert call.lengths("lengths", [3, 0], 2) is not None  # lengths stay host arrays


def host_backed(array):
    """A stand-in device array over host memory that a CPU C handle can read."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    fake = FakeDeviceArray(array.shape, address=array.ctypes.data)
    fake.host = array  # keeps the memory alive and readable
    return fake


def test_device_path_end_to_end_on_host_memory(cpu):
    # A real CPU C handle that the binding takes for a CUDA one: every tensor
    # then travels by __cuda_array_interface__ (address, shape, strides), so
    # a wrong address or layout in that path shows up as a wrong result.
    with seqattn.Handle("cpu") as handle:
        handle.device = "cuda"
        c = cases.attention_case(9)
        B, Te, He = c["encoder_out"].shape
        Td = c["decoder_out"].shape[1]
        out = host_backed(np.full((B, Td, He), np.nan))
        weights_out = host_backed(np.full((B, Td, Te), np.nan))
        device = {k: host_backed(v) if isinstance(v, np.ndarray) and v.dtype == np.float32
                  else v for k, v in c.items()}
        context, weights = seqattn.additive_attention(handle, **device, out=out,
                                                      weights_out=weights_out)
        assert context is out and weights is weights_out
        want_context, want_weights = seqattn.additive_attention(cpu, **c)
        assert_close(out.host, want_context, "context")
        assert_close(weights_out.host, want_weights, "weights")

        g = cases.gru_case(3)
        B, T, _ = g["x"].shape
        H = g["recurrent_kernel"].shape[0]
        seq, last = host_backed(np.zeros((B, T, H))), host_backed(np.zeros((B, H)))
        device = {k: host_backed(v) if isinstance(v, np.ndarray) and v.dtype == np.float32
                  else v for k, v in g.items()}
        seqattn.gru(handle, **device, out=seq, state_out=last)
        want_seq, want_last = seqattn.gru(cpu, **g)
        assert_close(seq.host, want_seq, "gru outputs")
        assert_close(last.host, want_last, "gru h_last")
