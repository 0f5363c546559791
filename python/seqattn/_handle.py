"""SeqattnError and Handle: the C status and handle, in Python's terms."""

from __future__ import annotations

import ctypes

from . import _raw

Status = _raw.seqattn_status

# "cpu" is the fast CPU path; "reference" the double-precision reference
# (slow: the oracle the other paths are tested against).
_DEVICES = {"cpu": _raw.SEQATTN_DEVICE_CPU, "cuda": _raw.SEQATTN_DEVICE_CUDA,
            "reference": _raw.SEQATTN_DEVICE_CPU_REFERENCE}
_MATHS = {"precise": _raw.SEQATTN_MATH_PRECISE, "fast": _raw.SEQATTN_MATH_FAST}
_INT32_MAX = 2**31 - 1


class SeqattnError(RuntimeError):
    """A call into libseqattn failed: `status` is the seqattn_status (a Status
    member), `message` the library's seqattn_last_error() text, which names
    the offending argument."""

    def __init__(self, status: int, message: str):
        try:
            status = Status(status)
            name = status.name
        except ValueError:  # a status newer than this binding (the enum is append-only)
            name = f"seqattn_status {int(status)}"
        self.status = status
        self.message = message
        super().__init__(f"{name}: {message}" if message else name)

    def __reduce__(self):  # picklable across processes, like other exceptions
        return (type(self), (int(self.status), self.message))


def check_status(status: int) -> None:
    """Raise SeqattnError for a failing status, with this thread's last error text."""
    if status != _raw.SEQATTN_OK:
        # Read at once: the text is thread-local and the next call replaces it.
        detail = _raw.seqattn_last_error()
        raise SeqattnError(status, detail.decode("utf-8", "replace") if detail else "")


def _stream_address(stream) -> int | None:
    """A cudaStream_t as an int from an int, a torch.cuda.Stream or a cupy Stream."""
    if stream is None:
        return None
    for attr in ("cuda_stream", "ptr"):  # torch, cupy
        if hasattr(stream, attr):
            stream = getattr(stream, attr)
            break
    if isinstance(stream, bool) or not isinstance(stream, int):
        raise TypeError("stream must be None, an int cudaStream_t, a torch.cuda.Stream or a "
                        f"cupy.cuda.Stream, got {type(stream).__name__}")
    return stream


class Closeable:
    """Closed by `with`, or at garbage collection; the subclass defines close()."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn down ctypes or _raw
            pass


class Handle(Closeable):
    """A seqattn handle: the device the calls run on, its stream, its math mode.

        with seqattn.Handle() as h:                      # CPU
            ctx, w = seqattn.additive_attention(h, enc, dec, W, U, v)
        with seqattn.Handle("cuda", stream=torch.cuda.current_stream()) as h:
            ...                                          # torch CUDA tensors in and out

    On a CUDA handle with stream=None the library runs on a stream of its
    own, so each call waits for the input's library (torch/CuPy current
    stream) before it starts and synchronizes before it returns. Give the
    stream the inputs are produced on to run asynchronously, in order.
    A handle, and every Model loaded on it, is for one thread at a time: two
    threads calling through one handle (or its models) at once crash in the
    library. Give each thread its own Handle and Models, or hold a lock.
    """

    def __init__(self, device: str = "cpu", ordinal: int = 0, math: str = "precise",
                 stream=None):
        self._h = None  # so that __del__ after a failed __init__ has nothing to free
        if not isinstance(device, str):
            raise TypeError(f"device must be 'cpu', 'reference' or 'cuda', got {device!r}")
        kind, _, suffix = device.partition(":")
        if kind not in _DEVICES or (suffix and kind != "cuda"):
            raise ValueError(
                f"device must be 'cpu', 'reference', 'cuda' or 'cuda:N', got {device!r}")
        if suffix:
            if not suffix.isdigit():
                raise ValueError(f"device {device!r}: the ordinal after 'cuda:' must be a number")
            if ordinal not in (0, int(suffix)):
                raise ValueError(f"device {device!r} disagrees with ordinal={ordinal}")
            ordinal = int(suffix)
        if isinstance(ordinal, bool) or not isinstance(ordinal, int):
            raise TypeError(f"ordinal must be an int, got {type(ordinal).__name__}")
        if not -_INT32_MAX - 1 <= ordinal <= _INT32_MAX:
            raise ValueError(f"ordinal = {ordinal} does not fit in int32")
        if math not in _MATHS:
            raise ValueError(f"math must be 'precise' or 'fast', got {math!r}")
        stream_ptr = _stream_address(stream)
        if stream_ptr is not None and kind != "cuda":
            raise ValueError("stream applies to CUDA handles only")

        options = _raw.seqattn_handle_options()
        _raw.seqattn_handle_options_init(ctypes.byref(options))
        options.device = _DEVICES[kind]
        options.device_ordinal = ordinal
        options.cuda_stream = stream_ptr
        options.math = _MATHS[math]
        handle = _raw.seqattn_handle()
        check_status(_raw.seqattn_handle_create(ctypes.byref(options), ctypes.byref(handle)))
        self._h = handle
        self.device = kind
        self.ordinal = ordinal
        self.math = math
        self.stream = stream_ptr

    @property
    def closed(self) -> bool:
        return self._h is None

    @property
    def _as_parameter_(self):
        # ctypes reads this when a Handle is passed where seqattn_handle is expected.
        if self._h is None:
            raise ValueError("the seqattn Handle is closed")
        return self._h

    @property
    def is_cuda(self) -> bool:
        return self.device == "cuda"

    def synchronize(self) -> None:
        """Wait for the work queued on this handle (a no-op on CPU handles)."""
        if self._h is None:
            raise ValueError("the seqattn Handle is closed")
        check_status(_raw.seqattn_synchronize(self._h))

    def close(self) -> None:
        h, self._h = self._h, None
        if h is not None:
            _raw.seqattn_handle_destroy(h)

    def __repr__(self) -> str:
        where = f"cuda:{self.ordinal}" if self.is_cuda else self.device
        state = "closed" if self.closed else self.math
        return f"<seqattn.Handle {where} {state}>"
