"""Hostile and careless input to the Python binding (issue 13): each case is
one that used to reach C as something else (a freed pointer, a wrapped or
truncated integer, a misaligned address, a string cut at a NUL) and is now
refused with an error naming the argument, or made safe."""

import ctypes
from pathlib import Path

import numpy as np
import pytest

import seqattn
from seqattn.model import Model

MODEL = Path(__file__).resolve().parents[2] / "models" / "date_model.safetensors"
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason=f"{MODEL} is missing")


@pytest.fixture(scope="module", params=["cpu", "reference"])
def model(request):
    with seqattn.Handle(request.param) as h, Model(h) as m:
        yield m


# ------------------------------------------------ use after close (item 1)


@needs_model
def test_closed_model_keeps_no_pointer_into_the_freed_model():
    with seqattn.Handle("cpu") as h:
        m = Model(h)
        before = m.info
        m.close()
        # info is a copy made at load: nothing in the Model points into C memory.
        assert not any(isinstance(v, (ctypes.Structure, ctypes.c_char_p))
                       for v in vars(m).values())
        assert m.info == before and m.info["name"] == "date-normaliser"
        assert "closed" in repr(m)
        for call in (lambda: m.encode_target("2026-11-21"), lambda: m.encode_source("1 Nov"),
                     lambda: m.decode_target([3]), lambda: m.translate("1 Nov 2026"),
                     lambda: m.translate_tokens([[3]]), lambda: m.attention("1 Nov"),
                     lambda: m.score(["1 Nov 2026"], ["2026-11-01"])):
            with pytest.raises(ValueError, match="^the seqattn Model is closed$"):
                call()


# ---------------------------------- integers that wrapped or truncated (item 7)


@needs_model
def test_model_token_arrays_must_be_int32_integers(model):
    with pytest.raises(ValueError, match=r"^src_tokens holds values that do not fit in "
                                         r"int32, e\.g\. 4294967306$"):
        model.translate_tokens(np.array([[2**32 + 10]]))  # used to translate token 10
    with pytest.raises(ValueError, match=r"^src_tokens .*int32, e\.g\. -2147483649$"):
        model.translate_tokens([[3, -2**31 - 1]])
    with pytest.raises(TypeError, match="^src_tokens must hold integers, got dtype float64"):
        model.translate_tokens(np.array([[10.9]]))  # used to translate token 10
    with pytest.raises(TypeError, match="^src_tokens must hold integers, got dtype bool"):
        model.translate_tokens([[True]])
    with pytest.raises(ValueError, match=r"^src_lengths .*int32, e\.g\. 4294967297$"):
        model.translate_tokens([[3, 4]], src_lengths=[2**32 + 1])  # used to become 1
    with pytest.raises(TypeError, match="^src_lengths must hold integers"):
        model.translate_tokens([[3, 4]], src_lengths=[1.5])
    with pytest.raises(ValueError, match=r"^ids .*int32, e\.g\. 4294967299$"):
        model.decode_target([2**32 + 3])
    with pytest.raises(TypeError, match="^ids must hold integers"):
        model.decode_target([3.0])
    with pytest.raises(ValueError, match=r"^tgt_in_tokens .*int32"):
        model.score([[3]], [[2**40]])
    with pytest.raises(TypeError, match="^tgt_lengths must hold integers"):
        model.score([[3]], [[3]], tgt_lengths=[1.0])
    # Integer dtypes other than int32 that fit are still welcome.
    out, n = model.translate_tokens(np.array([[3, 4]], np.uint8), np.array([2], np.int64), 2)
    assert out.shape == (1, 2) and n.dtype == np.int32


@needs_model
def test_max_steps_is_checked_before_anything_is_allocated(model, monkeypatch):
    def no_allocation(*args, **kwargs):
        raise AssertionError("allocated before max_steps was checked")
    monkeypatch.setattr(np, "zeros", no_allocation)
    # 2**32 + 3 allocated a 16 GiB array, then passed 3 to C.
    with pytest.raises(ValueError, match=r"^max_steps = 4294967299 is outside "
                                         r"\[1, 2147483647\]$"):
        model.translate_tokens([[3]], max_steps=2**32 + 3)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"^max_steps = {bad} is outside"):
            model.translate_tokens([[3]], max_steps=bad)
    for bad in (3.7, "3", True):
        with pytest.raises(TypeError, match="^max_steps must be an int"):
            model.translate_tokens([[3]], max_steps=bad)
    with pytest.raises(ValueError, match="^max_steps"):
        model.translate("1 Nov 2026", max_steps=2**31)
    with pytest.raises(TypeError, match="^max_steps"):
        model.attention("1 Nov 2026", max_steps=1.0)
    monkeypatch.undo()
    assert model.translate_tokens([[3]], max_steps=np.int64(2))[0].shape == (1, 2)


def test_ops_lengths_name_the_bad_value(cpu):
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"^lengths .*int32, e\.g\. 4294967298$"):
        seqattn.attention_pooling(cpu, x, np.ones(4, np.float32), lengths=[1, 2**32 + 2])


# ---------------------------------------------- misaligned arrays (item 8)


def misaligned(*shape):
    n = int(np.prod(shape))
    a = np.frombuffer(bytearray(n * 4 + 1), offset=1, dtype=np.float32).reshape(shape)
    assert not a.flags.aligned and a.ctypes.data % 4
    return a


@pytest.fixture
def c_addresses(monkeypatch):
    """The addresses of the pointer arguments each C call gets, recorded."""
    seen = []
    run = seqattn._tensors.Call.run

    def spy(self, fn, *args):
        for a in args:
            if isinstance(a, seqattn._tensors.Tensor):
                seen.append(a.address)
            elif isinstance(a, ctypes._Pointer):
                seen.append(ctypes.cast(a, ctypes.c_void_p).value)
        return run(self, fn, *args)
    monkeypatch.setattr(seqattn._tensors.Call, "run", spy)
    return seen


def test_misaligned_inputs_are_copied(handle, c_addresses):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal(4).astype(np.float32)
    bad_x, bad_w = misaligned(2, 3, 4), misaligned(4)
    bad_x[...] = x
    bad_w[...] = w
    expected = seqattn.attention_pooling(handle, x, w)
    got = seqattn.attention_pooling(handle, bad_x, bad_w)
    np.testing.assert_array_equal(got[0], expected[0])
    assert (bad_x == x).all()  # the caller's array is read, never changed
    assert c_addresses and all(a % 4 == 0 for a in c_addresses if a), c_addresses


def attention_args():
    f = np.ones
    return dict(encoder_out=f((2, 5, 4), np.float32), decoder_out=f((2, 3, 6), np.float32),
                W=f((4, 7), np.float32), U=f((6, 7), np.float32), v=f(7, np.float32))


def test_misaligned_outputs_are_refused_before_anything_is_written(cpu):
    out = misaligned(2, 3, 4)
    out[...] = 7.0
    with pytest.raises(ValueError, match="^out is not aligned to 4 bytes"):
        seqattn.additive_attention(cpu, **attention_args(), out=out)
    weights = misaligned(2, 3, 5)
    weights[...] = 7.0
    with pytest.raises(ValueError, match="^weights_out is not aligned to 4 bytes"):
        seqattn.additive_attention(cpu, **attention_args(), weights_out=weights)
    assert (out == 7.0).all() and (weights == 7.0).all()


def test_misaligned_lengths_are_copied(cpu, c_addresses):
    raw = np.frombuffer(bytearray(2 * 4 + 1), offset=1, dtype=np.int32)
    raw[...] = [3, 1]
    assert not raw.flags.aligned
    x = np.ones((2, 3, 4), np.float32)
    got = seqattn.attention_pooling(cpu, x, np.ones(4, np.float32), lengths=raw)
    want = seqattn.attention_pooling(cpu, x, np.ones(4, np.float32), lengths=[3, 1])
    np.testing.assert_array_equal(got[0], want[0])
    assert c_addresses and all(a % 4 == 0 for a in c_addresses if a), c_addresses


@needs_model
def test_misaligned_model_tokens_are_copied(model, monkeypatch):
    raw = np.frombuffer(bytearray(2 * 4 + 1), offset=1, dtype=np.int32).reshape(1, 2)
    ids = model.encode_source("1 Nov")[:2]
    raw[...] = ids
    assert not raw.flags.aligned
    seen = []
    translate = seqattn._raw.seqattn_model_translate

    def spy(*args):
        seen.extend(ctypes.cast(a, ctypes.c_void_p).value for a in args
                    if isinstance(a, ctypes._Pointer))
        return translate(*args)
    monkeypatch.setattr(seqattn._raw, "seqattn_model_translate", spy)
    got = model.translate_tokens(raw, max_steps=4)
    want = model.translate_tokens(ids[None, :], max_steps=4)
    np.testing.assert_array_equal(got[0], want[0])
    assert seen and all(a % 4 == 0 for a in seen), seen


# ------------------------------------------------ embedded NUL bytes (item 9)


@needs_model
def test_text_with_a_nul_byte_is_refused(model):
    # Used to translate "21 Nov 2026", the text before the NUL.
    with pytest.raises(ValueError, match=r"^texts contains a NUL byte \(at byte 11\)"):
        model.translate("21 Nov 2026\x00junk")
    with pytest.raises(ValueError, match=r"^texts\[1\] contains a NUL byte \(at byte 0\)"):
        model.translate(["21 Nov 2026", "\x00"])
    with pytest.raises(ValueError, match="^text contains a NUL byte"):
        model.encode_source("1 Nov\x00")
    with pytest.raises(ValueError, match="^text contains a NUL byte"):
        model.attention("1 Nov\x002026")
    with pytest.raises(ValueError, match=r"^sources\[0\] contains a NUL byte"):
        model.score(["1 Nov\x00"], ["2026-11-01"])
    with pytest.raises(TypeError, match="^text must be a str, got bytes"):
        model.encode_source(b"1 Nov")


@needs_model
def test_path_with_a_nul_byte_is_refused():
    # The C call would open the part before the NUL: here, the real model.
    path = str(MODEL) + "\x00junk"
    with seqattn.Handle("cpu") as h:
        with pytest.raises(ValueError, match="^path contains a NUL byte"):
            Model(h, path)


# ------------------------------------- outputs that overlap inputs (item 6)


def _gru_arrays(H=4):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, H)).astype(np.float32)  # I == H, so out=x has out's shape
    k = rng.standard_normal((H, 3 * H)).astype(np.float32)
    rk = rng.standard_normal((H, 3 * H)).astype(np.float32)
    return x, k, rk


def test_gru_out_aliasing_its_input_is_refused(cpu):
    # The case: out=x used to be zero-filled before x was read (all zeros).
    x, k, rk = _gru_arrays()
    before = x.copy()
    with pytest.raises(ValueError, match=r"^out overlaps x: an output must not share memory"):
        seqattn.gru(cpu, x, k, rk, out=x)
    np.testing.assert_array_equal(x, before)
    # A view into x, and the state written over the sequence output, likewise.
    with pytest.raises(ValueError, match=r"^state_out overlaps x"):
        seqattn.gru(cpu, x, k, rk, state_out=x.reshape(6, 4)[3:5])
    seq = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"^state_out overlaps out"):
        seqattn.gru(cpu, x, k, rk, out=seq, state_out=seq.reshape(6, 4)[4:])
    np.testing.assert_array_equal(x, before)
    # Separate buffers are fine, and give what a fresh call gives.
    out = np.zeros_like(x)
    seqattn.gru(cpu, x, k, rk, out=out, return_state=False)
    np.testing.assert_array_equal(out, seqattn.gru(cpu, x, k, rk, return_state=False))


def test_overlap_reaching_c_is_refused_by_c(cpu):
    # The raw C call, past the binding's check: the library refuses it too.
    from seqattn import _raw
    x, k, rk = _gru_arrays()
    before = x.copy()
    f32 = ctypes.POINTER(ctypes.c_float)
    p = lambda a: a.ctypes.data_as(f32)  # noqa: E731
    dims = _raw.seqattn_rnn_dims(2, 3, 4, 4)
    status = _raw.seqattn_gru_forward(cpu, ctypes.byref(dims), _raw.SEQATTN_GRU_RESET_AFTER, 0,
                                      p(x), None, None, p(k), p(rk), None, p(x), None)
    assert status == seqattn.Status.SEQATTN_ERROR_INVALID_ARGUMENT
    assert _raw.seqattn_last_error().decode() == "outputs overlaps x"
    np.testing.assert_array_equal(x, before)


def test_every_op_refuses_an_output_over_an_input(cpu):
    rng = np.random.default_rng(61)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    h, s, U, v, k = f(2, 3, 4), f(2, 3, 4), f(4, 4), f(4), f(2, 3, 4)
    big = f(40)
    W = big[:16].reshape(4, 4)
    cases = [
        (r"^out overlaps encoder_out",
         lambda: seqattn.additive_attention(cpu, h, s, W, U, v, out=h)),
        (r"^weights_out overlaps decoder_out",  # weights [2, 3, 3] over s's first 18 floats
         lambda: seqattn.additive_attention(cpu, h, s, W, U, v,
                                            weights_out=s.reshape(-1)[:18].reshape(2, 3, 3))),
        (r"^out overlaps W",  # keys [2, 3, 4] over the second half of W
         lambda: seqattn.project_keys(cpu, h, W, out=big[8:32].reshape(2, 3, 4))),
        (r"^out overlaps keys",
         lambda: seqattn.additive_attention_projected(cpu, h, k, s, U, v, out=k)),
        (r"^out overlaps x", lambda: seqattn.attention_pooling(cpu, h, v, out=h[0, :2])),
        (r"^out overlaps x", lambda: seqattn.dense(cpu, h, W, out=h)),
        (r"^out overlaps x", lambda: seqattn.simple_rnn(cpu, h, W, U, out=h)),
    ]
    for pattern, call in cases:
        saved = [a.copy() for a in (h, s, big, U, v, k)]
        with pytest.raises(ValueError, match=pattern):
            call()
        for a, b in zip((h, s, big, U, v, k), saved):
            np.testing.assert_array_equal(a, b)
