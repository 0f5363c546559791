"""seqattn.model.Model on a model file without vocabularies (token ids in and
out), with the bahdanau decoder and unmasked, post-padded sources:
tests/fixtures/bahdanau_tutorial.safetensors, whose expected values come from
the float64 numpy pass of tools/numpy_forward.py. Also the pre-padded
fixture's Keras-like result through the binding."""

from pathlib import Path

import numpy as np
import pytest

import seqattn
from seqattn.model import Model

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
TUTORIAL = FIXTURES / "bahdanau_tutorial.safetensors"
PRE = FIXTURES / "unpadded_pre.safetensors"
pytestmark = pytest.mark.skipif(not TUTORIAL.is_file() or not PRE.is_file(),
                                reason="tests/fixtures/ lacks the decoder fixtures")


def fixture_tensors(path):
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import numpy_forward
    return numpy_forward.read_safetensors(str(path))[0]


@pytest.fixture(scope="module", params=["cpu", "reference"])
def handle(request):
    with seqattn.Handle(request.param) as h:
        yield h


def sources(t):
    return [" ".join(str(i) for i in row[:n])
            for row, n in zip(t["fixture.src_tokens"], t["fixture.src_lengths"])]


def test_info_and_vocabularies(handle):
    with Model(handle, TUTORIAL) as m:
        info = m.info
        assert info["decoder_kind"] == "bahdanau"
        assert info["source_mask"] is False and info["source_padding"] == "post"
        assert info["has_source_vocab"] is False and info["has_target_vocab"] is False
        assert (info["source_vocab_size"], info["target_vocab_size"]) == (13, 11)
        assert m.source_vocab is None and m.target_vocab is None
    with Model(handle, PRE) as m:
        assert m.info["source_padding"] == "pre" and m.info["decoder_kind"] == "attention_keras"
        assert m.info["target_end"] == m.info["target_pad"] == 0
        assert len(m.source_vocab) == 12


def test_translate_ids_matches_numpy(handle):
    t = fixture_tensors(TUTORIAL)
    want = [" ".join(str(i) for i in row[:n])
            for row, n in zip(t["fixture.greedy_tokens"], t["fixture.greedy_lengths"])]
    with Model(handle, TUTORIAL) as m:
        assert m.translate(sources(t)) == want
        assert m.translate(sources(t)[1]) == want[1]
        # A source as a list of ints works as well as its string.
        first = [int(i) for i in sources(t)[0].split()]
        assert m.translate([first]) == want[:1]
        weights, src, out = m.attention(sources(t)[2])
        assert src == [int(i) for i in sources(t)[2].split()]
        assert " ".join(map(str, out)) == want[2]
        n = int(t["fixture.src_lengths"][2])
        np.testing.assert_allclose(weights, t["fixture.greedy_attention"][2, :len(out), :n],
                                   atol=1e-5, rtol=1e-4)


def test_score_ids_matches_numpy(handle):
    t = fixture_tensors(TUTORIAL)
    with Model(handle, TUTORIAL) as m:
        probs, att = m.score(t["fixture.src_tokens"], t["fixture.tgt_in_tokens"],
                             t["fixture.src_lengths"], t["fixture.tgt_lengths"])
        np.testing.assert_allclose(probs, t["fixture.probs"], atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(att, t["fixture.attention"], atol=1e-5, rtol=1e-4)
        # The text form takes id strings on both sides: <start> + target, then <end>.
        tgt = [" ".join(str(i) for i in row[1:]) for row in t["fixture.tgt_in_tokens"]]
        probs2, _, tgt_out = m.score(sources(t), tgt)
        np.testing.assert_allclose(probs2[:, :probs.shape[1]], probs, atol=1e-5, rtol=1e-4)
        assert tgt_out[0, -1] == m.info["target_end"]


def test_text_is_refused_without_a_vocabulary(handle):
    with Model(handle, TUTORIAL) as m:
        with pytest.raises(ValueError, match="'five' is not a token id"):
            m.translate(["5 five"])
        with pytest.raises(seqattn.SeqattnError, match="no target vocabulary"):
            m.decode_target([3, 4])
        with pytest.raises(seqattn.SeqattnError, match="outside the source vocabulary"):
            m.translate(["5 13"])
        with pytest.raises(seqattn.SeqattnError, match="max_source_len 10"):
            m.translate([" ".join(["3"] * 11)])


def test_pre_padding_is_keras_like(handle):
    t = fixture_tensors(PRE)
    with Model(handle, PRE) as m:
        probs, att = m.score(t["fixture.src_tokens"], t["fixture.tgt_in_tokens"],
                             t["fixture.src_lengths"], t["fixture.tgt_lengths"])
        np.testing.assert_allclose(probs, t["fixture.probs"], atol=1e-5, rtol=1e-4)
        np.testing.assert_allclose(att, t["fixture.attention"], atol=1e-5, rtol=1e-4)
        # Text goes through the vocabulary and is pre-padded by the library.
        texts = [" ".join(m.source_vocab[i] for i in row[:n])
                 for row, n in zip(t["fixture.src_tokens"], t["fixture.src_lengths"])]
        got = m.translate_tokens(t["fixture.src_tokens"], t["fixture.src_lengths"])
        np.testing.assert_array_equal(got[0], t["fixture.greedy_tokens"])
        assert len(m.translate(texts)) == len(texts)
