"""The C API of include/seqattn/seqattn.h, one to one, through ctypes.

Every function keeps its C name and signature (argtypes/restype are declared
below, so ctypes converts and checks arguments instead of guessing int), the
enums are IntEnums with the C values and the structs are ctypes Structures
with the C field order. Nothing here checks shapes or translates errors: that
is the friendly layer's job (seqattn/__init__.py); this layer is for callers
who manage their own memory, and for tests of the C boundary itself.

The library is loaded on first use, from the first of:
  1. the file named by the environment variable SEQATTN_LIBRARY (only that
     file: if it cannot be loaded, load() fails rather than fall back),
  2. a libseqattn shared object found relative to this file: inside the
     package (where `pip install .` puts it; any folder of the package, as
     an editable install has two) or beside it,
  3. ctypes.util.find_library("seqattn") (the system's loader paths, e.g. a
     `cmake --install`ed libseqattn).

    from seqattn import _raw
    opts = _raw.seqattn_handle_options()
    _raw.seqattn_handle_options_init(ctypes.byref(opts))
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import os
import sys
import threading
from ctypes import POINTER, Structure, c_char, c_char_p, c_float, c_int, c_int32, c_int64
from ctypes import c_size_t, c_uint32, c_void_p
from pathlib import Path

# ------------------------------------------------------------------ enums


class seqattn_status(enum.IntEnum):  # append-only in C
    SEQATTN_OK = 0
    SEQATTN_ERROR_INVALID_ARGUMENT = 1
    SEQATTN_ERROR_UNSUPPORTED = 2
    SEQATTN_ERROR_NO_DEVICE = 3
    SEQATTN_ERROR_OUT_OF_MEMORY = 4
    SEQATTN_ERROR_DEVICE = 5
    SEQATTN_ERROR_IO = 6
    SEQATTN_ERROR_FORMAT = 7
    SEQATTN_ERROR_INTERNAL = 8


class seqattn_device(enum.IntEnum):
    SEQATTN_DEVICE_CPU = 0
    SEQATTN_DEVICE_CUDA = 1
    SEQATTN_DEVICE_CPU_REFERENCE = 2


class seqattn_math(enum.IntEnum):
    SEQATTN_MATH_PRECISE = 0
    SEQATTN_MATH_FAST = 1


class seqattn_gru_variant(enum.IntEnum):
    SEQATTN_GRU_RESET_AFTER = 0
    SEQATTN_GRU_RESET_BEFORE = 1


class seqattn_activation(enum.IntEnum):
    SEQATTN_ACTIVATION_NONE = 0
    SEQATTN_ACTIVATION_TANH = 1
    SEQATTN_ACTIVATION_SIGMOID = 2
    SEQATTN_ACTIVATION_RELU = 3
    SEQATTN_ACTIVATION_SOFTMAX = 4


class seqattn_tokenization(enum.IntEnum):
    SEQATTN_TOKENIZATION_CHARS = 0  # one token per UTF-8 code point
    SEQATTN_TOKENIZATION_WORDS = 1  # split on ASCII whitespace


class seqattn_decoder_kind(enum.IntEnum):
    SEQATTN_DECODER_ATTENTION_KERAS = 0  # attention over the decoder GRU's outputs
    SEQATTN_DECODER_BAHDANAU = 1  # attention from the previous state into the GRU's input


class seqattn_model_kind(enum.IntEnum):
    SEQATTN_MODEL_SEQ2SEQ = 0        # format "seqattn.seq2seq": translate, score
    SEQATTN_MODEL_SEQUENCE_HEAD = 1  # format "seqattn.sequence_head": predict


# The anonymous enums of the header.
SEQATTN_FEATURE_CUDA = 1
SEQATTN_FEATURE_OPENMP = 2
SEQATTN_RNN_REVERSE = 1

# The enum members as module constants too, as C code spells them.
for _enum in (seqattn_status, seqattn_device, seqattn_math, seqattn_gru_variant,
              seqattn_activation, seqattn_tokenization, seqattn_decoder_kind,
              seqattn_model_kind):
    globals().update(_enum.__members__)
del _enum

# A C enum is passed and returned as an int on every ABI we target.
c_enum = c_int

# ---------------------------------------------------------------- structs


class seqattn_handle_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32),  # sizeof(seqattn_handle_options); set by _init
        ("device", c_enum),
        ("device_ordinal", c_int32),
        ("cuda_stream", c_void_p),  # cudaStream_t; NULL: the handle makes its own
        ("math", c_enum),
    ]


class seqattn_handle_s(Structure):
    """Opaque; only pointers to it exist."""


seqattn_handle = POINTER(seqattn_handle_s)


class seqattn_attention_dims(Structure):
    _fields_ = [(name, c_int32) for name in
                ("batch", "enc_steps", "dec_steps", "enc_dim", "dec_dim", "units")]


class seqattn_pooling_dims(Structure):
    _fields_ = [(name, c_int32) for name in ("batch", "steps", "features")]


class seqattn_rnn_dims(Structure):
    _fields_ = [(name, c_int32) for name in ("batch", "steps", "input_dim", "units")]


class seqattn_model_s(Structure):
    """Opaque; only pointers to it exist."""


seqattn_model = POINTER(seqattn_model_s)


class seqattn_model_info(Structure):
    _fields_ = [
        ("struct_size", c_uint32),  # sizeof(seqattn_model_info); set by _init
        ("source_vocab_size", c_int32),
        ("target_vocab_size", c_int32),
        ("encoder_units", c_int32),
        ("encoder_embedding_dim", c_int32),
        ("bidirectional", c_int32),
        ("encoder_output_dim", c_int32),
        ("decoder_units", c_int32),
        ("decoder_embedding_dim", c_int32),
        ("attention_units", c_int32),
        ("attention_bias", c_int32),
        ("gru_variant", c_enum),
        ("tokenization", c_enum),
        ("lowercase_source", c_int32),
        ("source_pad", c_int32),
        ("source_unk", c_int32),
        ("target_pad", c_int32),
        ("target_start", c_int32),
        ("target_end", c_int32),
        ("max_source_len", c_int32),
        ("max_target_len", c_int32),
        ("name", c_char_p),  # valid while the model lives
        ("description", c_char_p),
        ("decoder_kind", c_enum),  # SEQATTN_DECODER_*
        ("source_padding_pre", c_int32),
        ("source_mask", c_int32),
        ("has_source_vocab", c_int32),
        ("has_target_vocab", c_int32),
        # Appended: the sequence head's (0 for a seq2seq model, except kind).
        ("kind", c_enum),
        ("input_features", c_int32),
        ("steps", c_int32),
        ("output_dim", c_int32),
        ("pooled_dim", c_int32),
        ("rnn_layers", c_int32),
        ("dense_layers", c_int32),
    ]


# -------------------------------------------------------------- functions

_f32p = POINTER(c_float)  # tensors: host or device addresses, per the handle
_i32p = POINTER(c_int32)  # lengths: always host memory
_status = c_enum

_SIGNATURES = {
    "seqattn_version": (c_uint32, []),
    "seqattn_status_string": (c_char_p, [_status]),
    "seqattn_last_error": (c_char_p, []),
    "seqattn_build_features": (c_uint32, []),
    "seqattn_cpu_info": (c_char_p, []),
    "seqattn_handle_options_init": (None, [POINTER(seqattn_handle_options)]),
    "seqattn_handle_create": (_status, [POINTER(seqattn_handle_options),
                                        POINTER(seqattn_handle)]),
    "seqattn_handle_destroy": (None, [seqattn_handle]),
    "seqattn_synchronize": (_status, [seqattn_handle]),
    "seqattn_cuda_device_count": (c_int32, []),
    "seqattn_handle_get_device": (_status, [seqattn_handle, POINTER(c_enum)]),
    "seqattn_malloc": (_status, [seqattn_handle, c_size_t, POINTER(c_void_p)]),
    "seqattn_free": (_status, [seqattn_handle, c_void_p]),
    "seqattn_copy_to_device": (_status, [seqattn_handle, c_void_p, c_void_p, c_size_t]),
    "seqattn_copy_to_host": (_status, [seqattn_handle, c_void_p, c_void_p, c_size_t]),
    "seqattn_additive_attention_forward": (_status, [
        seqattn_handle, POINTER(seqattn_attention_dims),
        _f32p,   # encoder_out [B, Te, He]
        _f32p,   # decoder_out [B, Td, Hd]
        _i32p,   # enc_lengths [B] host, or NULL
        _i32p,   # dec_lengths [B] host, or NULL
        _f32p,   # W [He, A]
        _f32p,   # U [Hd, A]
        _f32p,   # bias [A] or NULL
        _f32p,   # v [A]
        _f32p,   # context_out [B, Td, He]
        _f32p,   # weights_out [B, Td, Te] or NULL
    ]),
    "seqattn_additive_attention_project_keys": (_status, [
        seqattn_handle, POINTER(seqattn_attention_dims),
        _f32p,   # encoder_out [B, Te, He]
        _f32p,   # W [He, A]
        _f32p,   # bias [A] or NULL
        _f32p,   # keys_out [B, Te, A]
    ]),
    "seqattn_additive_attention_forward_projected": (_status, [
        seqattn_handle, POINTER(seqattn_attention_dims),
        _f32p,   # encoder_out [B, Te, He]
        _f32p,   # keys [B, Te, A]
        _f32p,   # decoder_out [B, Td, Hd]
        _i32p,   # enc_lengths [B] host, or NULL
        _i32p,   # dec_lengths [B] host, or NULL
        _f32p,   # U [Hd, A]
        _f32p,   # v [A]
        _f32p,   # context_out [B, Td, He]
        _f32p,   # weights_out [B, Td, Te] or NULL
    ]),
    "seqattn_attention_pooling_forward": (_status, [
        seqattn_handle, POINTER(seqattn_pooling_dims),
        _f32p,   # x [B, T, F]
        _i32p,   # lengths [B] host, or NULL
        _f32p,   # w [F]
        _f32p,   # b [T] or NULL
        _f32p,   # context_out [B, F]
        _f32p,   # weights_out [B, T] or NULL
    ]),
    "seqattn_gru_forward": (_status, [
        seqattn_handle, POINTER(seqattn_rnn_dims), c_enum, c_uint32,
        _f32p,   # x [B, T, I]
        _i32p,   # lengths [B] host, or NULL
        _f32p,   # h0 [B, H] or NULL
        _f32p,   # kernel [I, 3H]
        _f32p,   # recurrent_kernel [H, 3H]
        _f32p,   # bias [2, 3H] / [3H] or NULL
        _f32p,   # outputs [B, T, H] or NULL
        _f32p,   # h_last [B, H] or NULL
    ]),
    "seqattn_simple_rnn_forward": (_status, [
        seqattn_handle, POINTER(seqattn_rnn_dims), c_uint32,
        _f32p,   # x [B, T, I]
        _i32p,   # lengths [B] host, or NULL
        _f32p,   # h0 [B, H] or NULL
        _f32p,   # kernel [I, H]
        _f32p,   # recurrent_kernel [H, H]
        _f32p,   # bias [H] or NULL
        _f32p,   # outputs [B, T, H] or NULL
        _f32p,   # h_last [B, H] or NULL
    ]),
    "seqattn_dense_forward": (_status, [
        seqattn_handle, c_int64, c_int32, c_int32,
        _f32p,   # x [rows, in]
        _f32p,   # W [in, out]
        _f32p,   # b [out] or NULL
        c_enum,  # seqattn_activation
        _f32p,   # y [rows, out]
    ]),
    # Backward passes: gradients are written (never accumulated); the "or
    # NULL" gradient outputs are skipped when NULL.
    "seqattn_additive_attention_backward": (_status, [
        seqattn_handle, POINTER(seqattn_attention_dims),
        _f32p,   # encoder_out [B, Te, He]
        _f32p,   # decoder_out [B, Td, Hd]
        _i32p,   # enc_lengths [B] host, or NULL
        _i32p,   # dec_lengths [B] host, or NULL
        _f32p,   # W [He, A]
        _f32p,   # U [Hd, A]
        _f32p,   # bias [A] or NULL
        _f32p,   # v [A]
        _f32p,   # weights [B, Td, Te]: the forward's weights_out
        _f32p,   # d_context [B, Td, He]
        _f32p,   # d_weights [B, Td, Te] or NULL
        _f32p,   # d_encoder_out [B, Te, He]
        _f32p,   # d_decoder_out [B, Td, Hd]
        _f32p,   # d_W [He, A]
        _f32p,   # d_U [Hd, A]
        _f32p,   # d_bias [A] or NULL
        _f32p,   # d_v [A]
    ]),
    "seqattn_additive_attention_projected_backward": (_status, [
        seqattn_handle, POINTER(seqattn_attention_dims),
        _f32p,   # encoder_out [B, Te, He]
        _f32p,   # keys [B, Te, A]
        _f32p,   # decoder_out [B, Td, Hd]
        _i32p,   # enc_lengths [B] host, or NULL
        _i32p,   # dec_lengths [B] host, or NULL
        _f32p,   # U [Hd, A]
        _f32p,   # v [A]
        _f32p,   # weights [B, Td, Te]: the forward's weights_out
        _f32p,   # d_context [B, Td, He]
        _f32p,   # d_weights [B, Td, Te] or NULL
        _f32p,   # d_encoder_out [B, Te, He] (the values' share)
        _f32p,   # d_keys [B, Te, A]
        _f32p,   # d_decoder_out [B, Td, Hd]
        _f32p,   # d_U [Hd, A]
        _f32p,   # d_v [A]
    ]),
    "seqattn_attention_pooling_backward": (_status, [
        seqattn_handle, POINTER(seqattn_pooling_dims),
        _f32p,   # x [B, T, F]
        _i32p,   # lengths [B] host, or NULL
        _f32p,   # w [F]
        _f32p,   # b [T] or NULL
        _f32p,   # weights [B, T]: the forward's weights_out
        _f32p,   # d_context [B, F]
        _f32p,   # d_weights [B, T] or NULL
        _f32p,   # d_x [B, T, F]
        _f32p,   # d_w [F]
        _f32p,   # d_b [T] or NULL
    ]),
    "seqattn_gru_backward": (_status, [
        seqattn_handle, POINTER(seqattn_rnn_dims), c_enum, c_uint32,
        _f32p,   # x [B, T, I]
        _i32p,   # lengths [B] host, or NULL
        _f32p,   # h0 [B, H] or NULL
        _f32p,   # kernel [I, 3H]
        _f32p,   # recurrent_kernel [H, 3H]
        _f32p,   # bias [2, 3H] / [3H] or NULL
        _f32p,   # outputs [B, T, H]: the forward's outputs
        _f32p,   # d_outputs [B, T, H] or NULL
        _f32p,   # d_h_last [B, H] or NULL
        _f32p,   # d_x [B, T, I]
        _f32p,   # d_h0 [B, H] or NULL
        _f32p,   # d_kernel [I, 3H]
        _f32p,   # d_recurrent_kernel [H, 3H]
        _f32p,   # d_bias (the bias's shape) or NULL
    ]),
    "seqattn_simple_rnn_backward": (_status, [
        seqattn_handle, POINTER(seqattn_rnn_dims), c_uint32,
        _f32p,   # x [B, T, I]
        _i32p,   # lengths [B] host, or NULL
        _f32p,   # h0 [B, H] or NULL
        _f32p,   # kernel [I, H]
        _f32p,   # recurrent_kernel [H, H]
        _f32p,   # bias [H] or NULL
        _f32p,   # outputs [B, T, H]: the forward's outputs
        _f32p,   # d_outputs [B, T, H] or NULL
        _f32p,   # d_h_last [B, H] or NULL
        _f32p,   # d_x [B, T, I]
        _f32p,   # d_h0 [B, H] or NULL
        _f32p,   # d_kernel [I, H]
        _f32p,   # d_recurrent_kernel [H, H]
        _f32p,   # d_bias [H] or NULL
    ]),
    "seqattn_dense_backward": (_status, [
        seqattn_handle, c_int64, c_int32, c_int32,
        _f32p,   # x [rows, in]
        _f32p,   # W [in, out]
        c_enum,  # seqattn_activation
        _f32p,   # y [rows, out]: the forward's output
        _f32p,   # d_y [rows, out]
        _f32p,   # d_x [rows, in]
        _f32p,   # d_W [in, out]
        _f32p,   # d_b [out] or NULL
    ]),
    # Model: token arrays, lengths and outputs are host memory on every device.
    "seqattn_model_info_init": (None, [POINTER(seqattn_model_info)]),
    "seqattn_model_load": (_status, [seqattn_handle, c_char_p, POINTER(seqattn_model)]),
    "seqattn_model_load_from_memory": (_status, [seqattn_handle, c_void_p, c_size_t,
                                                 POINTER(seqattn_model)]),
    "seqattn_model_destroy": (None, [seqattn_model]),
    "seqattn_model_get_info": (_status, [seqattn_model, POINTER(seqattn_model_info)]),
    "seqattn_model_source_vocab_size": (_status, [seqattn_model, POINTER(c_int32)]),
    "seqattn_model_target_vocab_size": (_status, [seqattn_model, POINTER(c_int32)]),
    "seqattn_model_source_token": (_status, [seqattn_model, c_int32, POINTER(c_char_p)]),
    "seqattn_model_target_token": (_status, [seqattn_model, c_int32, POINTER(c_char_p)]),
    "seqattn_model_encode_source": (_status, [
        seqattn_model, c_char_p,
        _i32p,   # ids_out [capacity] or NULL
        c_int32, _i32p]),
    "seqattn_model_decode_target": (_status, [
        seqattn_model,
        _i32p,   # ids [count]
        c_int32,
        POINTER(c_char),  # text_out [capacity] or NULL (a create_string_buffer)
        c_size_t, POINTER(c_size_t)]),
    "seqattn_model_translate": (_status, [
        seqattn_handle, seqattn_model, c_int32, c_int32,
        _i32p,   # src_tokens [B, Ts]
        _i32p,   # src_lengths [B] or NULL
        c_int32,
        _i32p,   # out_tokens [B, max_steps]
        _i32p,   # out_lengths [B]
        _f32p,   # attention_out [B, max_steps, Ts] (host) or NULL
    ]),
    "seqattn_model_score": (_status, [
        seqattn_handle, seqattn_model, c_int32, c_int32,
        _i32p,   # src_tokens [B, Ts]
        _i32p,   # src_lengths [B] or NULL
        c_int32,
        _i32p,   # tgt_in_tokens [B, Td]
        _i32p,   # tgt_lengths [B] or NULL
        _f32p,   # probs_out [B, Td, Vt] (host)
        _f32p,   # attention_out [B, Td, Ts] (host) or NULL
    ]),
    "seqattn_model_source_spans": (_status, [
        seqattn_model, c_char_p,
        _i32p,   # spans_out [capacity, 2]: byte offset, byte length; or NULL
        c_int32, _i32p]),
    "seqattn_model_predict": (_status, [
        seqattn_handle, seqattn_model, c_int32, c_int32, c_int32,
        _f32p,   # x [B, T, F] (host)
        _f32p,   # y_out [B, N] (host)
        _f32p,   # pooling_weights_out [B, T] (host) or NULL
    ]),
}

# ---------------------------------------------------------------- loading

_LIBRARY_NAMES = {
    "linux": ("libseqattn.so", "libseqattn.so.0"),
    "darwin": ("libseqattn.dylib", "libseqattn.0.dylib"),
    "win32": ("seqattn.dll", "libseqattn.dll"),
}.get(sys.platform, ("libseqattn.so",))

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def library_candidates() -> list[str]:
    """Where load() looks, in order (the env var, next to the package, the loader)."""
    found = []
    env = os.environ.get("SEQATTN_LIBRARY")
    if env:
        found.append(env)
    here = Path(__file__).resolve().parent
    # An editable install (pip install -e .) leaves these files in the source
    # tree and puts the library in the package's other folder, in
    # site-packages: every folder of the package counts as inside it.
    package = sys.modules.get(__package__ or "")
    inside = [here] + [Path(p).resolve() for p in getattr(package, "__path__", ())]
    for folder in dict.fromkeys(inside + [here.parent]):
        for name in _LIBRARY_NAMES:
            if (folder / name).is_file():
                found.append(str(folder / name))
    system = ctypes.util.find_library("seqattn")
    if system:
        found.append(system)
    return found


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def load(path: str | os.PathLike | None = None) -> ctypes.CDLL:
    """Load (once) and return the library; `path` overrides the search."""
    global _lib
    with _lock:
        if _lib is not None and path is None:
            return _lib
        if path is not None:
            candidates = [os.fspath(path)]
        else:
            candidates = library_candidates()
            # An explicit SEQATTN_LIBRARY that fails must not silently fall back
            # to some other copy on the system: the caller asked for that file.
            if os.environ.get("SEQATTN_LIBRARY"):
                candidates = candidates[:1]
        if not candidates:
            raise OSError(
                "seqattn: cannot find the seqattn shared library; install the package with "
                "`pip install .` at the repository root (it carries the library), set "
                "SEQATTN_LIBRARY to its path (e.g. build/libseqattn.so), put it next to the "
                "seqattn package, or install it where the system loader finds it")
        errors = []
        for candidate in candidates:
            try:
                lib = ctypes.CDLL(candidate)
                _declare(lib)
            except (OSError, AttributeError) as e:
                errors.append(f"{candidate}: {e}")
                continue
            _lib = lib
            return lib
        raise OSError("seqattn: could not load the library:\n  " + "\n  ".join(errors))


def __getattr__(name: str):
    # Module-level seqattn_* names resolve to the loaded library's functions,
    # so `_raw.seqattn_version()` reads as the C call it is.
    if name in _SIGNATURES:
        return getattr(load(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SIGNATURES))
