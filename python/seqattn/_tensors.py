"""Turning Python arrays into the pointers and dims of one C call.

A `Call` collects the tensors of one library call. Each tensor is checked
against a shape spec whose symbols ("B", "Te", ...) are bound by the first
tensor that has them, so a mismatch is reported against the argument that set
the size. CPU handles take numpy arrays (or what np.asarray accepts) and
convert floating inputs to float32 C order; CUDA handles take objects exposing
__cuda_array_interface__ (CuPy arrays, PyTorch CUDA tensors), which must
already be float32 and C-contiguous since converting them would be a silent
device copy. Outputs are allocated by numpy, or by the library of the first
CUDA input (torch or cupy), unless the caller passes them.
"""

from __future__ import annotations

import ctypes
import numbers
import sys
from typing import Sequence, Union

import numpy as np

from ._handle import Handle, check_status

_INT32_MAX = 2**31 - 1
_F32P = ctypes.POINTER(ctypes.c_float)
_I32P = ctypes.POINTER(ctypes.c_int32)

# A shape spec entry: an exact extent, a symbol, or (k, symbol) for k*symbol;
# a leading "..." takes any number of leading dims (dense's rows).
Spec = Sequence[Union[int, str, tuple]]


def int32_array(name: str, obj) -> np.ndarray:
    """`obj` as a C-ordered, aligned host int32 array for a C call: integer
    dtypes only (TypeError: a float token or length is a bug, and truncating it
    would hide it), every value in int32 (ValueError with the first bad one,
    which the cast would wrap)."""
    array = np.asarray(obj)
    if array.dtype.kind not in "iu" and array.size:
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.size:
        low, high = array.min(), array.max()
        if low < -_INT32_MAX - 1 or high > _INT32_MAX:
            bad = high if high > _INT32_MAX else low
            raise ValueError(f"{name} holds values that do not fit in int32, e.g. {int(bad)}")
    array = np.ascontiguousarray(array, dtype=np.int32)
    # A view at an odd offset stays misaligned through ascontiguousarray.
    return array if array.flags.aligned else array.copy()


def int32_value(name: str, value, low: int = -_INT32_MAX - 1) -> int:
    """An int (Python or numpy, not bool) in [low, int32 max], as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if not low <= value <= _INT32_MAX:
        raise ValueError(f"{name} = {value} is outside [{low}, {_INT32_MAX}]")
    return value


def _spec_text(spec: Spec) -> str:
    parts = []
    for e in spec:
        parts.append(f"{e[0]}{e[1]}" if isinstance(e, tuple) else str(e))
    return "[" + ", ".join(parts) + "]"


class Tensor:
    """A checked tensor: the object the caller sees (`array`) and its address."""

    __slots__ = ("array", "address", "shape", "_as_parameter_")

    def __init__(self, array, address: int, shape: tuple):
        self.array = array
        self.address = address
        self.shape = shape
        # What ctypes passes for a float* argument.
        self._as_parameter_ = ctypes.cast(address, _F32P) if address else None


def _cuda_interface(name: str, obj) -> tuple[int, tuple, bool]:
    """(address, shape, readonly) of a float32 C-contiguous CUDA array."""
    cai = obj.__cuda_array_interface__
    shape = tuple(int(d) for d in cai["shape"])
    if cai.get("typestr") != "<f4":
        raise TypeError(f"{name} has typestr {cai.get('typestr')!r}; seqattn needs float32 "
                        "('<f4'): convert it first (torch: .float(), cupy: .astype('float32'))")
    if cai.get("mask") is not None:
        raise TypeError(f"{name} is a masked CUDA array; seqattn takes plain arrays")
    strides = cai.get("strides")
    if strides is not None:
        expected = 4
        for extent, stride in zip(reversed(shape), reversed(tuple(strides))):
            # Extents of 1 never step, so their stride is free (torch leaves odd ones).
            if extent != 1 and stride != expected:
                raise ValueError(f"{name} is not C-contiguous (shape {shape}, strides "
                                 f"{tuple(strides)}); torch: .contiguous(), "
                                 "cupy: cupy.ascontiguousarray()")
            expected *= extent
    address, readonly = cai["data"]
    return int(address or 0), shape, bool(readonly)


def _device_index(obj) -> int | None:
    dev = getattr(obj, "device", None)
    for attr in ("index", "id"):  # torch.device, cupy.cuda.Device
        index = getattr(dev, attr, None)
        if isinstance(index, int):
            return index
    return None


def _library_of(obj) -> str:
    return type(obj).__module__.split(".")[0]


class Call:
    def __init__(self, handle: Handle):
        if not isinstance(handle, Handle):
            raise TypeError(f"handle must be a seqattn.Handle, got {type(handle).__name__}")
        if handle.closed:
            raise ValueError("the seqattn Handle is closed")
        self.handle = handle
        self.cuda = handle.is_cuda
        self._sizes: dict[str, tuple[int, str]] = {}  # symbol -> (extent, argument that set it)
        self._template = None  # first CUDA input: where outputs are allocated
        self._keep: list = []  # converted arrays and lengths, alive until the call returns

    # ------------------------------------------------------------- shapes

    def size(self, symbol: str) -> int:
        return self._sizes[symbol][0]

    def sizes(self, *symbols: str) -> list[int]:
        return [self.size(s) for s in symbols]

    def _bind(self, name: str, shape: tuple, spec: Spec) -> tuple:
        """Check `shape` against `spec`, binding new symbols; returns the leading dims of '...'."""
        lead: tuple = ()
        if spec and spec[0] == "...":
            spec = spec[1:]
            if len(shape) < len(spec):
                raise ValueError(f"{name} must have at least {len(spec)} dimension(s) "
                                 f"[..., {_spec_text(spec)[1:]}, got shape {shape}")
            lead, shape = shape[:len(shape) - len(spec)], shape[len(shape) - len(spec):]
        elif len(shape) != len(spec):
            raise ValueError(f"{name} must have {len(spec)} dimension(s) {_spec_text(spec)}, "
                             f"got shape {shape}")
        for axis, (extent, entry) in enumerate(zip(shape, spec)):
            if extent > _INT32_MAX:
                raise ValueError(f"{name}: extent {extent} on axis {axis} exceeds the C API's "
                                 f"int32 limit {_INT32_MAX}")
            k, symbol = entry if isinstance(entry, tuple) else (1, entry)
            if isinstance(symbol, int):
                want, source = symbol, None
            elif symbol in self._sizes:
                want, source = k * self._sizes[symbol][0], self._sizes[symbol][1]
            else:
                if extent % k:
                    raise ValueError(f"{name} has shape {shape}: axis {axis} ({extent}) must be "
                                     f"{k}{symbol}, a multiple of {k}, for {_spec_text(spec)}")
                self._sizes[symbol] = (extent // k, name)
                continue
            if extent != want:
                why = ""
                if source is not None:
                    term = f"{k}{symbol}" if k != 1 else symbol
                    why = f" = {term}" + (f", {symbol} = {want // k}" if k != 1 else "")
                    why += f" from {source}" if source != name else ""
                raise ValueError(f"{name} has shape {tuple(lead) + tuple(shape)} but expected "
                                 f"{_spec_text(spec)}: axis {axis + len(lead)} is {extent}, "
                                 f"expected {want}{why}")
        return tuple(lead)

    # ------------------------------------------------------------ tensors

    def input(self, name: str, obj, spec: Spec, optional: bool = False) -> Tensor | None:
        if obj is None:
            if optional:
                return None
            raise TypeError(f"{name} is required, got None")
        if self.cuda:
            if not hasattr(obj, "__cuda_array_interface__"):
                raise TypeError(f"{name}: a CUDA handle needs device arrays exposing "
                                "__cuda_array_interface__ (CuPy arrays, PyTorch CUDA tensors), "
                                f"got {type(obj).__name__}")
            address, shape, _ = _cuda_interface(name, obj)
            self._check_device(name, obj)
            if self._template is None:
                self._template = obj
            self._bind(name, shape, spec)
            return Tensor(obj, address, shape)
        if hasattr(obj, "__cuda_array_interface__"):
            raise TypeError(f"{name} is a CUDA array but the handle is a CPU handle; pass a "
                            "numpy array, or create the handle with Handle('cuda')")
        array = np.asarray(obj)
        if array.dtype.kind != "f":
            # Integers, booleans, complex or objects as activations are a bug at the
            # call site more often than an intent; converting them would hide it.
            raise TypeError(f"{name} must hold floating-point values (float32; float16 and "
                            f"float64 are converted), got dtype {array.dtype}")
        # Shape first: a broadcast view of a wrong or huge shape fails before it is copied.
        self._bind(name, array.shape, spec)
        array = np.ascontiguousarray(array, dtype=np.float32)
        if not array.flags.aligned:  # e.g. a frombuffer view at an odd offset
            array = array.copy()
        self._keep.append(array)
        return Tensor(array, array.ctypes.data, array.shape)

    def output(self, name: str, out, shape: tuple) -> Tensor:
        """An output of `shape`: the caller's `out`, checked, or a new array."""
        shape = tuple(int(d) for d in shape)
        if out is None:
            return self._allocate(shape)
        if self.cuda:
            if not hasattr(out, "__cuda_array_interface__"):
                raise TypeError(f"{name} must be a CUDA array (CuPy, PyTorch) for a CUDA "
                                f"handle, got {type(out).__name__}")
            address, got, readonly = _cuda_interface(name, out)
            self._check_device(name, out)
        else:
            if not isinstance(out, np.ndarray):
                raise TypeError(f"{name} must be a numpy.ndarray for a CPU handle, "
                                f"got {type(out).__name__}")
            if out.dtype != np.float32:
                raise TypeError(f"{name} must have dtype float32, got {out.dtype}")
            if not out.flags.c_contiguous:
                raise ValueError(f"{name} must be C-contiguous")
            if not out.flags.aligned:  # an output cannot be silently copied
                raise ValueError(f"{name} is not aligned to 4 bytes (address "
                                 f"{out.ctypes.data:#x}); pass an array numpy allocated")
            address, got, readonly = out.ctypes.data, out.shape, not out.flags.writeable
        if got != shape:
            raise ValueError(f"{name} has shape {got}, expected {shape}")
        if readonly:
            raise ValueError(f"{name} is read-only")
        return Tensor(out, address, shape)

    def _allocate(self, shape: tuple) -> Tensor:
        if not self.cuda:
            array = np.empty(shape, dtype=np.float32)
            return Tensor(array, array.ctypes.data, shape)
        library = _library_of(self._template)
        if library == "torch":
            torch = sys.modules["torch"]
            array = torch.empty(shape, dtype=torch.float32, device=self._template.device)
        elif library == "cupy":
            cupy = sys.modules["cupy"]
            with cupy.cuda.Device(self.handle.ordinal):
                array = cupy.empty(shape, dtype=cupy.float32)
        else:
            raise TypeError(f"cannot allocate outputs like a {type(self._template).__name__}: "
                            "pass out= (and the other outputs) as CUDA arrays")
        address, _, _ = _cuda_interface("output", array)
        return Tensor(array, address, shape)

    def _check_device(self, name: str, obj) -> None:
        index = _device_index(obj)
        if index is not None and index != self.handle.ordinal:
            raise ValueError(f"{name} is on CUDA device {index} but the handle runs on "
                             f"device {self.handle.ordinal}")

    def lengths(self, name: str, obj, batch: int):
        """A host int32 [B] array for the C call, or None."""
        if obj is None:
            return None
        if hasattr(obj, "__cuda_array_interface__"):
            raise TypeError(f"{name} must be host memory (a list or numpy array of ints): "
                            "the library reads lengths on the host to schedule the work")
        array = int32_array(name, obj)
        if array.shape != (batch,):
            raise ValueError(f"{name} must have shape [B] = ({batch},), got {array.shape}")
        # Range checks against the steps are the C layer's, so that the
        # message names the bound the same way for every caller.
        self._keep.append(array)
        return array.ctypes.data_as(_I32P)

    # --------------------------------------------------------------- call

    def run(self, fn, *args) -> None:
        own_stream = self.cuda and self.handle.stream is None
        if own_stream:
            self._wait_for_producer()
        check_status(fn(self.handle, *args))
        if own_stream:
            # The caller's library reads the outputs on its own stream next.
            self.handle.synchronize()

    def _wait_for_producer(self) -> None:
        # The inputs may still be being written on their library's current
        # stream, which the handle's own stream does not wait for.
        if self._template is None:
            return
        library = _library_of(self._template)
        if library == "torch":
            sys.modules["torch"].cuda.current_stream(self._template.device).synchronize()
        elif library == "cupy":
            sys.modules["cupy"].cuda.get_current_stream().synchronize()
