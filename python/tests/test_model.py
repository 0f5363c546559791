"""seqattn.model.Model with the default date model (models/date_model.safetensors):
translations written out here, attention maps that are distributions, scoring
that agrees with greedy decoding, and errors that name the problem, on both
CPU paths (the fast one and the reference). Skips when the model file is
absent."""

import os
from pathlib import Path

import numpy as np
import pytest

import seqattn
from seqattn.model import Model

MODEL = Path(__file__).resolve().parents[2] / "models" / "date_model.safetensors"
pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason=f"{MODEL} is missing")

DATES = [
    ("21 November 2026", "2026-11-21"),
    ("Nov 21, 2026", "2026-11-21"),
    ("saturday, november 21, 2026", "2026-11-21"),
    ("1/3/2026", "2026-03-01"),
    ("1900-01-01", "1900-01-01"),
    ("31.12.2099", "2099-12-31"),
    ("JUL 4 1976", "1976-07-04"),
]


@pytest.fixture(scope="module", params=["cpu", "reference"])
def model(request):
    with seqattn.Handle(request.param) as h, Model(h) as m:
        yield m


def test_translate_dates(model):
    assert model.translate([d for d, _ in DATES]) == [iso for _, iso in DATES]
    assert model.translate("21 Nov 2026") == "2026-11-21"
    assert model.translate([]) == []


def test_default_path_is_the_date_model(model):
    if os.environ.get("SEQATTN_TEST_INSTALLED") == "1":  # the wheel's copy (conftest.py)
        assert model.path.resolve() == Path(seqattn.__file__).resolve().parent / MODEL.name
        assert model.path.read_bytes() == MODEL.read_bytes()
    else:
        assert model.path.resolve() == MODEL.resolve()
    info = model.info
    assert info["name"] == "date-normaliser"
    assert info["tokenization"] == "chars"
    assert info["lowercase_source"] is True
    assert info["source_vocab_size"] == len(model.source_vocab)
    assert info["target_vocab_size"] == len(model.target_vocab)
    assert model.target_vocab[info["target_end"]] == "<end>"


def test_attention(model):
    weights, src, out = model.attention("21 Nov 2026")
    assert src == list("21 nov 2026")           # lower-cased, one token per character
    assert "".join(out) == "2026-11-21"
    assert weights.shape == (len(out), len(src))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    # Writing the year, the decoder looks at the year: "2026" is source 7..10.
    for t in range(4):
        assert weights[t].argmax() == 7 + t, (t, weights[t])


def test_score_agrees_with_translation(model):
    sources = [d for d, _ in DATES]
    targets = [iso for _, iso in DATES]
    probs, att, tgt_out = model.score(sources, targets)
    assert probs.shape[:2] == tgt_out.shape
    for b in range(len(sources)):
        n = int((tgt_out[b] >= 0).sum())
        np.testing.assert_allclose(probs[b, :n].sum(axis=1), 1.0, atol=1e-5)
        # The greedy translation is the argmax at every step, <end> included.
        assert list(probs[b, :n].argmax(axis=1)) == list(tgt_out[b, :n])
        assert (probs[b, n:] == 0).all()
        assert att[b, :n].sum(axis=1) == pytest.approx(1.0, abs=1e-5)


def test_token_level_calls(model):
    ids = model.encode_source("21 Nov")
    assert [model.source_vocab[i] for i in ids] == list("21 nov")
    out, lengths = model.translate_tokens(ids[None, :], [len(ids)], max_steps=3)
    assert out.shape == (1, 3) and lengths[0] == 3
    assert model.decode_target(model.encode_target("2026-11-21")) == "2026-11-21"


def test_errors_name_the_problem(model):
    with pytest.raises(seqattn.SeqattnError, match="src_tokens"):
        model.translate_tokens([[999]])
    with pytest.raises(ValueError, match="src_lengths"):
        model.translate_tokens([[3, 4]], src_lengths=[1, 2])
    with pytest.raises(ValueError, match="target vocabulary"):
        model.encode_target("2026/11/21")
    # A model runs only with the handle it was loaded on (the raw C call).
    with seqattn.Handle("cpu") as other:
        src = np.array([[3]], np.int32)
        out = np.zeros((1, 2), np.int32)
        n = np.zeros(1, np.int32)
        status = seqattn._raw.seqattn_model_translate(
            other, model._m, 1, 1, src.ctypes.data_as(seqattn._raw._i32p), None, 2,
            out.ctypes.data_as(seqattn._raw._i32p), n.ctypes.data_as(seqattn._raw._i32p), None)
        assert status == seqattn.Status.SEQATTN_ERROR_INVALID_ARGUMENT
        assert b"different handle" in seqattn._raw.seqattn_last_error()


@pytest.mark.parametrize("device", ["cpu", "reference"])
def test_bad_files(tmp_path, device):
    with seqattn.Handle(device) as h:
        empty = tmp_path / "empty.safetensors"
        empty.write_bytes(b"")
        with pytest.raises(seqattn.SeqattnError) as e:
            Model(h, empty)
        assert e.value.status == seqattn.Status.SEQATTN_ERROR_FORMAT
        assert "empty.safetensors" in e.value.message
        with pytest.raises(seqattn.SeqattnError) as e:
            Model(h, tmp_path / "missing.safetensors")
        assert e.value.status == seqattn.Status.SEQATTN_ERROR_IO


def test_closed_handle_is_refused():
    h = seqattn.Handle("cpu")
    m = Model(h)
    h.close()
    with pytest.raises(ValueError, match="Handle"):
        m.translate(["21 Nov 2026"])
    m.close()  # leaks rather than frees through a destroyed handle; must not crash
