"""seqattn.Model(handle, path).predict(x) on sequence-head files
(tests/fixtures/, written by tools/make_sequence_head.py): seed 003's forecaster
gives Keras's forecasts and pooling weights, the GRU head its float64 numpy
forward pass, on both CPU paths; bad inputs and the wrong model kind are
refused by name."""

from pathlib import Path

import numpy as np
import pytest

import seqattn
from seqattn.model import Model


FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
FORECASTER = FIXTURES / "forecaster_head.safetensors"
GRU_HEAD = FIXTURES / "sequence_head_gru.safetensors"
SEQ2SEQ = FIXTURES / "seed_onehot.safetensors"


def _read(path):
    """The fixture.* tensors of a safetensors file (F32 only), with numpy."""
    import json
    import struct
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name.startswith("fixture.") and info["dtype"] == "F32":
            b, e = info["data_offsets"]
            out[name] = np.frombuffer(data[b:e], "<f4").reshape(info["shape"])
    return out


@pytest.mark.parametrize("path", [FORECASTER, GRU_HEAD], ids=["keras_forecaster", "numpy_gru"])
def test_predict_matches_the_framework(handle, path):
    t = _read(path)
    with Model(handle, path) as m:
        assert m.info["kind"] == "sequence_head"
        x = t["fixture.x"]
        assert (m.info["steps"], m.info["input_features"]) == x.shape[1:]
        y = m.predict(x)
        assert y.dtype == np.float32 and y.shape == t["fixture.y"].shape
        np.testing.assert_allclose(y, t["fixture.y"], atol=1e-5, rtol=0)
        y2, w = m.predict(x, pooling_weights=True)
        np.testing.assert_array_equal(y2, y)
        np.testing.assert_allclose(w, t["fixture.weights"], atol=1e-5, rtol=0)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
        # float64 and non-contiguous inputs are converted, not refused.
        np.testing.assert_allclose(m.predict(np.asfortranarray(x.astype(np.float64))), y,
                                   atol=1e-6)


def test_forecaster_info(cpu):
    with Model(cpu, FORECASTER) as m:
        i = m.info
        assert (i["steps"], i["input_features"], i["output_dim"]) == (20, 1, 1)
        assert (i["rnn_layers"], i["dense_layers"], i["pooled_dim"]) == (1, 1, 2)
        assert i["name"] == "seed-003-forecaster"
        assert "source_vocab_size" not in i and "gru_variant" not in i  # the seq2seq kind's
        assert m.source_vocab is None and m.target_vocab is None


def test_predict_refusals_name_the_problem(cpu):
    x = _read(FORECASTER)["fixture.x"]
    with Model(cpu, FORECASTER) as m:
        with pytest.raises(seqattn.SeqattnError, match="steps = 19 but the model takes steps = 20"):
            m.predict(x[:, :19])
        with pytest.raises(seqattn.SeqattnError, match="features = 2 but the model takes"):
            m.predict(np.concatenate([x, x], axis=2))
        with pytest.raises(seqattn.SeqattnError, match="batch = 0"):
            m.predict(x[:0])
        with pytest.raises(ValueError, match=r"x must be \[batch, steps, features\]"):
            m.predict(x[0])
        with pytest.raises(TypeError, match="floating-point"):
            m.predict(x.astype(np.int32))
        for call in (lambda: m.translate("12 3"), lambda: m.translate_tokens([[1, 2]]),
                     lambda: m.score(["1 2"], ["3"]), lambda: m.attention("1 2")):
            with pytest.raises(seqattn.SeqattnError, match="model is a sequence head"):
                call()


def test_a_seq2seq_model_refuses_predict(cpu):
    with Model(cpu, SEQ2SEQ) as m:
        assert m.info["kind"] == "seq2seq"
        assert "steps" not in m.info and m.info["source_vocab_size"] == 13
        with pytest.raises(seqattn.SeqattnError, match="model is a seq2seq model"):
            m.predict(np.zeros((1, 3, 2), np.float32))
