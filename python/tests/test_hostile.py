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
