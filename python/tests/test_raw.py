"""The C boundary through seqattn._raw: NULLs, bad dims and enums give
SEQATTN_ERROR_INVALID_ARGUMENT with a message naming the argument, and a
refused call writes nothing."""

import ctypes
import importlib.metadata
import os
import re
import threading
from ctypes import byref
from pathlib import Path

import numpy as np
import pytest

import seqattn
from seqattn import _raw

PYTHON_DIR = Path(__file__).resolve().parents[1]
SOURCE_DIR = PYTHON_DIR.parent
INSTALLED = os.environ.get("SEQATTN_TEST_INSTALLED") == "1"  # see conftest.py

INVALID = _raw.SEQATTN_ERROR_INVALID_ARGUMENT
NULL = None


def last_error() -> str:
    return _raw.seqattn_last_error().decode()


def expect(status, name, words=()):
    assert status == INVALID, f"{name}: status {status}, last error {last_error()!r}"
    message = last_error()
    assert name in message, f"{name!r} not in {message!r}"
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def fp(array):
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def ip(array):
    return array.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


@pytest.fixture
def raw_cpu():
    options = _raw.seqattn_handle_options()
    _raw.seqattn_handle_options_init(byref(options))
    handle = _raw.seqattn_handle()
    assert _raw.seqattn_handle_create(byref(options), byref(handle)) == _raw.SEQATTN_OK
    yield handle
    _raw.seqattn_handle_destroy(handle)


# ----------------------------------------------------------- library facts


def test_version_agrees_everywhere():
    header = (SOURCE_DIR / "include/seqattn/seqattn.h").read_text()
    parts = [re.search(rf"#define SEQATTN_VERSION_{p} (\d+)", header).group(1)
             for p in ("MAJOR", "MINOR", "PATCH")]
    assert seqattn.version() == ".".join(parts)
    major, minor, patch = map(int, parts)
    assert _raw.seqattn_version() == major * 10000 + minor * 100 + patch
    assert seqattn.__version__ == seqattn.version()
    # The package's version is read from the header too (pyproject.toml), and
    # an installed package's metadata says the same.
    pyproject = (SOURCE_DIR / "pyproject.toml").read_text()
    assert 'input = "include/seqattn/seqattn.h"' in pyproject
    if INSTALLED:
        assert importlib.metadata.version("seqattn") == seqattn.version()


def test_status_strings_match_the_enum():
    for status in _raw.seqattn_status:
        assert _raw.seqattn_status_string(status).decode() == status.name
    assert _raw.seqattn_status_string(99).decode() == "SEQATTN_ERROR_UNKNOWN_STATUS"


def test_options_init_and_struct_size():
    options = _raw.seqattn_handle_options()
    options.device, options.device_ordinal, options.math = 1, 7, 1
    _raw.seqattn_handle_options_init(byref(options))
    # The C side writes sizeof() as it sees it: the ctypes mirror has the same layout.
    assert options.struct_size == ctypes.sizeof(_raw.seqattn_handle_options)
    assert (options.device, options.device_ordinal, options.cuda_stream, options.math) == \
        (_raw.SEQATTN_DEVICE_CPU, 0, None, _raw.SEQATTN_MATH_PRECISE)
    _raw.seqattn_handle_options_init(NULL)  # documented no-op, must not crash


def test_build_features_and_device_count():
    features = _raw.seqattn_build_features()
    assert features & ~(_raw.SEQATTN_FEATURE_CUDA | _raw.SEQATTN_FEATURE_OPENMP) == 0
    assert seqattn.build_features() == {"cuda": bool(features & 1), "openmp": bool(features & 2)}
    count = seqattn.cuda_device_count()
    assert count >= 0
    if not features & _raw.SEQATTN_FEATURE_CUDA:
        assert count == 0


def header_declarations():
    """{name: (return type, [parameter types])} of every SEQATTN_API function."""
    text = (SOURCE_DIR / "include/seqattn/seqattn.h").read_text()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    found = {}
    declaration = r"SEQATTN_API\s+([^;(]*?)\b(seqattn_\w+)\s*\(([^;]*?)\)\s*;"
    for ret, name, params in re.findall(declaration, text, flags=re.S):
        params = [] if params.strip() in ("", "void") else params.split(",")
        # Drop each parameter's name: what is left is its type.
        types = [re.sub(r"\b\w+\s*$", "", p.strip()) for p in params]
        found[name] = (ret, types)
    return found


def ctypes_of(c_type):
    """The ctypes type a C type maps to, as _raw is meant to spell it."""
    t = " ".join(c_type.replace("*", " * ").split())
    const_char = t.startswith("const char")
    t = t.replace("const ", "").replace(" *", "*").strip()
    scalars = {"void": None, "float": ctypes.c_float, "int32_t": ctypes.c_int32,
               "uint32_t": ctypes.c_uint32, "int64_t": ctypes.c_int64, "size_t": ctypes.c_size_t}
    enums = {e.__name__ for e in (_raw.seqattn_status, _raw.seqattn_device, _raw.seqattn_math,
                                  _raw.seqattn_gru_variant, _raw.seqattn_activation,
                                  _raw.seqattn_tokenization)}
    base, stars = t.rstrip("*"), len(t) - len(t.rstrip("*"))
    if base == "char" and stars:
        # const char* is a string in; char* is a buffer out.
        ctype = ctypes.c_char_p if const_char else ctypes.POINTER(ctypes.c_char)
        stars -= 1
    elif base == "void" and stars:
        ctype, stars = ctypes.c_void_p, stars - 1
    elif base in scalars:
        ctype = scalars[base]
    elif base in enums:
        ctype = _raw.c_enum
    else:
        ctype = getattr(_raw, base)  # handles, models, structs
    for _ in range(stars):
        ctype = ctypes.POINTER(ctype)
    return ctype


def test_raw_mirrors_every_header_function():
    declared = header_declarations()
    assert len(declared) >= 20, "the header parse found too little; fix the regex"
    lib = _raw.load()
    assert set(declared) == set(_raw._SIGNATURES), \
        f"header-only: {set(declared) - set(_raw._SIGNATURES)}, " \
        f"_raw-only: {set(_raw._SIGNATURES) - set(declared)}"
    for name, (ret, params) in declared.items():
        fn = getattr(lib, name)
        assert fn.restype == ctypes_of(ret), f"{name}: restype {fn.restype} for {ret!r}"
        want = [ctypes_of(p) for p in params]
        assert list(fn.argtypes) == want, f"{name}: argtypes {fn.argtypes} for {params}"


def test_struct_sizes_match_the_library():
    info = _raw.seqattn_model_info()
    _raw.seqattn_model_info_init(byref(info))
    assert info.struct_size == ctypes.sizeof(_raw.seqattn_model_info)


# ---------------------------------------------------------------- handles


def test_handle_create_refusals():
    handle = _raw.seqattn_handle()
    options = _raw.seqattn_handle_options()
    _raw.seqattn_handle_options_init(byref(options))
    expect(_raw.seqattn_handle_create(NULL, byref(handle)), "options")
    expect(_raw.seqattn_handle_create(byref(options), NULL), "out")
    for field, value, name in [("struct_size", 8, "options->struct_size"),
                               ("device", 5, "options->device"),
                               ("math", 2, "options->math"),
                               ("device_ordinal", -3, "options->device_ordinal")]:
        bad = _raw.seqattn_handle_options()
        _raw.seqattn_handle_options_init(byref(bad))
        setattr(bad, field, value)
        expect(_raw.seqattn_handle_create(byref(bad), byref(handle)), name)
        assert not handle, "a refused create wrote the handle"


def test_null_handle_everywhere():
    dims = _raw.seqattn_attention_dims(1, 1, 1, 1, 1, 1)
    one = np.ones(1, np.float32)
    calls = {
        "synchronize": lambda: _raw.seqattn_synchronize(NULL),
        "get_device": lambda: _raw.seqattn_handle_get_device(NULL, byref(ctypes.c_int())),
        "malloc": lambda: _raw.seqattn_malloc(NULL, 4, byref(ctypes.c_void_p())),
        "attention": lambda: _raw.seqattn_additive_attention_forward(
            NULL, byref(dims), fp(one), fp(one), NULL, NULL, fp(one), fp(one), NULL, fp(one),
            fp(one), NULL),
        "dense": lambda: _raw.seqattn_dense_forward(NULL, 1, 1, 1, fp(one), fp(one), NULL, 0,
                                                    fp(one)),
    }
    for call in calls.values():
        expect(call(), "handle")
    _raw.seqattn_handle_destroy(NULL)  # documented no-op


def test_handle_device_and_synchronize(raw_cpu):
    device = ctypes.c_int(-1)
    assert _raw.seqattn_handle_get_device(raw_cpu, byref(device)) == _raw.SEQATTN_OK
    assert device.value == _raw.SEQATTN_DEVICE_CPU
    expect(_raw.seqattn_handle_get_device(raw_cpu, NULL), "out")
    assert _raw.seqattn_synchronize(raw_cpu) == _raw.SEQATTN_OK


def test_memory_round_trip(raw_cpu):
    src = np.arange(10, dtype=np.float32)
    dst = np.zeros(10, dtype=np.float32)
    ptr = ctypes.c_void_p()
    assert _raw.seqattn_malloc(raw_cpu, src.nbytes, byref(ptr)) == _raw.SEQATTN_OK and ptr
    assert _raw.seqattn_copy_to_device(raw_cpu, ptr, src.ctypes.data, src.nbytes) == 0
    assert _raw.seqattn_copy_to_host(raw_cpu, dst.ctypes.data, ptr, dst.nbytes) == 0
    np.testing.assert_array_equal(dst, src)
    expect(_raw.seqattn_copy_to_device(raw_cpu, NULL, src.ctypes.data, 4), "dst")
    expect(_raw.seqattn_copy_to_host(raw_cpu, dst.ctypes.data, NULL, 4), "src")
    assert _raw.seqattn_free(raw_cpu, ptr) == _raw.SEQATTN_OK
    expect(_raw.seqattn_free(raw_cpu, ptr), "ptr", ["already freed"])
    expect(_raw.seqattn_free(raw_cpu, src.ctypes.data), "ptr")  # never ours
    assert _raw.seqattn_free(raw_cpu, NULL) == _raw.SEQATTN_OK
    zero = ctypes.c_void_p(1)
    assert _raw.seqattn_malloc(raw_cpu, 0, byref(zero)) == _raw.SEQATTN_OK and not zero
    expect(_raw.seqattn_malloc(raw_cpu, 4, NULL), "out")


# --------------------------------------------------------------------- ops


class Attention:
    """Valid arguments for the attention entry points, to break one at a time."""

    def __init__(self, B=2, Te=3, Td=4, He=5, Hd=6, A=7):
        self.dims = _raw.seqattn_attention_dims(B, Te, Td, He, Hd, A)
        self.h = np.ones((B, Te, He), np.float32)
        self.s = np.ones((B, Td, Hd), np.float32)
        self.W = np.ones((He, A), np.float32)
        self.U = np.ones((Hd, A), np.float32)
        self.v = np.ones(A, np.float32)
        self.keys = np.ones((B, Te, A), np.float32)
        self.context = np.full((B, Td, He), 3.0, np.float32)
        self.weights = np.full((B, Td, Te), 3.0, np.float32)

    def forward(self, handle, **over):
        a = dict(dims=byref(self.dims), h=fp(self.h), s=fp(self.s), el=NULL, dl=NULL,
                 W=fp(self.W), U=fp(self.U), bias=NULL, v=fp(self.v), ctx=fp(self.context),
                 w=fp(self.weights))
        a.update(over)
        return _raw.seqattn_additive_attention_forward(handle, *a.values())

    def projected(self, handle, **over):
        a = dict(dims=byref(self.dims), h=fp(self.h), keys=fp(self.keys), s=fp(self.s),
                 el=NULL, dl=NULL, U=fp(self.U), v=fp(self.v), ctx=fp(self.context),
                 w=fp(self.weights))
        a.update(over)
        return _raw.seqattn_additive_attention_forward_projected(handle, *a.values())

    def untouched(self):
        return (self.context == 3.0).all() and (self.weights == 3.0).all()


@pytest.mark.parametrize("arg,name", [("dims", "dims"), ("h", "encoder_out"),
                                      ("s", "decoder_out"), ("W", "W"), ("U", "U"),
                                      ("v", "v"), ("ctx", "context_out")])
def test_attention_nulls(raw_cpu, arg, name):
    a = Attention()
    expect(a.forward(raw_cpu, **{arg: NULL}), name, ["NULL"] if arg != "dims" else [])
    assert a.untouched()


@pytest.mark.parametrize("field", ["batch", "enc_steps", "dec_steps", "enc_dim", "dec_dim",
                                   "units"])
def test_attention_dims_must_be_positive(raw_cpu, field):
    for value in (0, -1):
        a = Attention()
        setattr(a.dims, field, value)
        expect(a.forward(raw_cpu), f"dims->{field}", [f"= {value}"])
        assert a.untouched()


def test_attention_lengths(raw_cpu):
    a = Attention()
    bad = np.array([3, 4], np.int32)
    expect(a.forward(raw_cpu, el=ip(bad)), "enc_lengths[1]", ["= 4", "dims->enc_steps = 3"])
    expect(a.forward(raw_cpu, dl=ip(np.array([-2, 0], np.int32))), "dec_lengths[0]",
           ["negative"])
    assert a.untouched()
    ok = np.array([3, 0], np.int32)
    assert a.forward(raw_cpu, el=ip(ok), weights=NULL) == _raw.SEQATTN_OK
    assert not a.context[1].any()  # length 0: zeros


def test_dims_overflow(raw_cpu):
    big = 2**31 - 1
    a = Attention()
    a.dims.batch, a.dims.enc_steps, a.dims.enc_dim = big, big, big
    expect(a.forward(raw_cpu), "encoder_out [B, Te, He]", ["overflows"])


@pytest.mark.parametrize("arg,name", [("h", "encoder_out"), ("keys", "keys"),
                                      ("s", "decoder_out"), ("U", "U"), ("v", "v"),
                                      ("ctx", "context_out")])
def test_projected_nulls(raw_cpu, arg, name):
    a = Attention()
    expect(a.projected(raw_cpu, **{arg: NULL}), name)
    assert a.untouched()


def test_project_keys_nulls(raw_cpu):
    a = Attention()
    keys = np.full(a.keys.shape, 3.0, np.float32)
    d = byref(a.dims)
    expect(_raw.seqattn_additive_attention_project_keys(raw_cpu, d, NULL, fp(a.W), NULL,
                                                        fp(keys)), "encoder_out")
    expect(_raw.seqattn_additive_attention_project_keys(raw_cpu, d, fp(a.h), NULL, NULL,
                                                        fp(keys)), "W")
    expect(_raw.seqattn_additive_attention_project_keys(raw_cpu, d, fp(a.h), fp(a.W), NULL,
                                                        NULL), "keys_out")
    expect(_raw.seqattn_additive_attention_project_keys(raw_cpu, NULL, fp(a.h), fp(a.W), NULL,
                                                        fp(keys)), "dims")
    assert (keys == 3.0).all()


def test_pooling_nulls(raw_cpu):
    dims = _raw.seqattn_pooling_dims(2, 3, 4)
    x, w = np.ones((2, 3, 4), np.float32), np.ones(4, np.float32)
    out = np.full((2, 4), 3.0, np.float32)
    call = _raw.seqattn_attention_pooling_forward
    expect(call(raw_cpu, byref(dims), NULL, NULL, fp(w), NULL, fp(out), NULL), "x")
    expect(call(raw_cpu, byref(dims), fp(x), NULL, NULL, NULL, fp(out), NULL), "w")
    expect(call(raw_cpu, byref(dims), fp(x), NULL, fp(w), NULL, NULL, NULL), "context_out")
    expect(call(raw_cpu, NULL, fp(x), NULL, fp(w), NULL, fp(out), NULL), "dims")
    dims.features = 0
    expect(call(raw_cpu, byref(dims), fp(x), NULL, fp(w), NULL, fp(out), NULL),
           "dims->features")
    assert (out == 3.0).all()


def test_rnn_refusals(raw_cpu):
    B, T, I, H = 2, 3, 4, 5
    dims = _raw.seqattn_rnn_dims(B, T, I, H)
    x = np.ones((B, T, I), np.float32)
    k, rk = np.ones((I, 3 * H), np.float32), np.ones((H, 3 * H), np.float32)
    out = np.full((B, T, H), 3.0, np.float32)

    def gru(variant=0, flags=0, **over):
        a = dict(dims=byref(dims), x=fp(x), lengths=NULL, h0=NULL, k=fp(k), rk=fp(rk),
                 bias=NULL, out=fp(out), last=NULL)
        a.update(over)
        d = a.pop("dims")
        return _raw.seqattn_gru_forward(raw_cpu, d, variant, flags, *a.values())

    expect(gru(x=NULL), "x")
    expect(gru(k=NULL), "kernel")
    expect(gru(rk=NULL), "recurrent_kernel")
    expect(gru(dims=NULL), "dims")
    expect(gru(variant=2), "variant", ["seqattn_gru_variant"])
    expect(gru(flags=2), "flags", ["unknown bits"])
    expect(gru(lengths=ip(np.array([0, 4], np.int32))), "lengths[1]", ["dims->steps = 3"])
    assert (out == 3.0).all()
    # Both outputs NULL is allowed: nothing asked, nothing written.
    assert gru(out=NULL) == _raw.SEQATTN_OK

    k1, rk1 = np.ones((I, H), np.float32), np.ones((H, H), np.float32)
    call = _raw.seqattn_simple_rnn_forward
    expect(call(raw_cpu, byref(dims), 0, NULL, NULL, NULL, fp(k1), fp(rk1), NULL, fp(out), NULL),
           "x")
    expect(call(raw_cpu, byref(dims), 4, fp(x), NULL, NULL, fp(k1), fp(rk1), NULL, fp(out),
                NULL), "flags")
    dims.units = 0
    expect(call(raw_cpu, byref(dims), 0, fp(x), NULL, NULL, fp(k1), fp(rk1), NULL, fp(out),
                NULL), "dims->units")
    assert (out == 3.0).all()


def test_dense_refusals(raw_cpu):
    x, W = np.ones((3, 4), np.float32), np.ones((4, 2), np.float32)
    y = np.full((3, 2), 3.0, np.float32)
    call = _raw.seqattn_dense_forward
    expect(call(raw_cpu, 3, 4, 2, NULL, fp(W), NULL, 0, fp(y)), "x")
    expect(call(raw_cpu, 3, 4, 2, fp(x), NULL, NULL, 0, fp(y)), "W")
    expect(call(raw_cpu, 3, 4, 2, fp(x), fp(W), NULL, 0, NULL), "y")
    expect(call(raw_cpu, 0, 4, 2, fp(x), fp(W), NULL, 0, fp(y)), "rows")
    expect(call(raw_cpu, 3, -4, 2, fp(x), fp(W), NULL, 0, fp(y)), "in_dim")
    expect(call(raw_cpu, 3, 4, 0, fp(x), fp(W), NULL, 0, fp(y)), "out_dim")
    expect(call(raw_cpu, 3, 4, 2, fp(x), fp(W), NULL, 5, fp(y)), "activation")
    expect(call(raw_cpu, 3, 4, 2, fp(x), fp(W), NULL, -1, fp(y)), "activation")
    expect(call(raw_cpu, 2**62, 4, 2, fp(x), fp(W), NULL, 0, fp(y)), "x [rows, in_dim]",
           ["overflows"])
    assert (y == 3.0).all()


def test_last_error_is_per_thread(raw_cpu):
    expect(_raw.seqattn_synchronize(NULL), "handle")
    seen = []

    def other():
        seen.append(last_error())
        _raw.seqattn_dense_forward(raw_cpu, 0, 1, 1, NULL, NULL, NULL, 0, NULL)
        seen.append(last_error())

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert seen[0] == ""  # a fresh thread has failed nothing yet
    assert "rows" in seen[1]
    assert "handle" in last_error()  # untouched by the other thread's failure
