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
