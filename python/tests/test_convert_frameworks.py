"""seqattn.convert on files saved by the real frameworks (tests/fixtures/frameworks,
made by tools/make_framework_fixtures.py with tf.keras 2.15, Keras 3 and PyTorch):
each converted file gives the framework's probabilities, attention weights and
greedy tokens (exact) within 1e-5, through the library and through an
independent float64 numpy forward of the file (convert_reference.py); broken
inputs give one clear error and no output file."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import convert_reference as ref
import seqattn
from seqattn import convert as sc

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "frameworks"
CASES = sorted(p.stem for p in FIXTURES.glob("*.json"))
TOL = 1e-5

try:
    import h5py
except ImportError:  # the Keras tests skip, saying why; the PyTorch ones still run
    h5py = None


def need_h5py():
    if h5py is None:
        pytest.skip("the Keras converters read .h5 with h5py (a dependency of the package), "
                    "which is not installed")


def _meta(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _convert(name, tmp_path):
    m = _meta(name)
    if any(s.endswith((".h5", ".keras")) for s in m["sources"]):
        need_h5py()
    if m.get("needs_torch"):
        pytest.importorskip("torch", reason=".pt files are read with torch")
    out = tmp_path / f"{name}.safetensors"
    result = sc.convert([FIXTURES / s for s in m["sources"]], out, m["options"])
    return m, out, result, np.load(FIXTURES / f"{name}.expected.npz")


def test_every_framework_has_fixtures():
    kinds = {_meta(n)["versions"]["framework"] for n in CASES}
    assert {"tf.keras", "keras", "pytorch"} <= kinds, kinds


@pytest.mark.parametrize("name", CASES)
def test_converted_file_reproduces_the_framework_numpy(name, tmp_path):
    m, out, result, ex = _convert(name, tmp_path)
    t, meta = ref.read(out)
    config = json.loads(meta["config"])
    assert meta["format"] == result["format"]
    if m["kind"] == "sequence_head":
        assert meta["format"] == "seqattn.sequence_head"
        np.testing.assert_allclose(ref.head_predict(t, config, ex["x"]), ex["y"], atol=TOL, rtol=0)
        return
    assert config["decoder"]["kind"] == m["decoder_kind"]
    probs, att = ref.seq2seq_score(t, config, ex["src"], ex["src_lengths"], ex["tgt_in"])
    np.testing.assert_allclose(probs, ex["probs"], atol=TOL, rtol=0)
    np.testing.assert_allclose(att, ex["attention"], atol=TOL, rtol=0)
    tokens, lengths = ref.seq2seq_greedy(t, config, ex["src"], ex["src_lengths"],
                                         ex["greedy_tokens"].shape[1])
    np.testing.assert_array_equal(lengths, ex["greedy_lengths"])
    np.testing.assert_array_equal(tokens, ex["greedy_tokens"])


@pytest.mark.parametrize("name", CASES)
def test_converted_file_reproduces_the_framework_library(cpu, name, tmp_path):
    m, out, _, ex = _convert(name, tmp_path)
    with seqattn.Model(cpu, out) as model:
        if m["kind"] == "sequence_head":
            np.testing.assert_allclose(model.predict(ex["x"]), ex["y"], atol=TOL, rtol=0)
            return
        probs, att = model.score(ex["src"], ex["tgt_in"], ex["src_lengths"],
                                 np.full(len(ex["src"]), ex["tgt_in"].shape[1], np.int32))
        np.testing.assert_allclose(probs, ex["probs"], atol=TOL, rtol=0)
        np.testing.assert_allclose(att, ex["attention"], atol=TOL, rtol=0)
        tokens, lengths = model.translate_tokens(ex["src"], ex["src_lengths"],
                                                 max_steps=ex["greedy_tokens"].shape[1])
        np.testing.assert_array_equal(lengths, ex["greedy_lengths"])
        np.testing.assert_array_equal(tokens, ex["greedy_tokens"])


# ------------------------------------------------------------------ refusals

def _refused(tmp_path, sources, match, options=None):
    out = tmp_path / "out.safetensors"
    with pytest.raises(sc.ConversionError, match=match):
        sc.convert(sources, out, options if options is not None else {})
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".seqattn")] == []


def _edit_config(path, edit):
    need_h5py()
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        edit(config["config"]["layers"])
        f.attrs["model_config"] = json.dumps(config)


def test_unsupported_layer_is_named(tmp_path):
    src = tmp_path / "m.h5"
    shutil.copy(FIXTURES / "tf2_forecaster.h5", src)

    def to_lstm(layers):
        for layer in layers:
            if layer["class_name"] == "SimpleRNN":
                layer["class_name"] = "LSTM"
    _edit_config(src, to_lstm)
    _refused(tmp_path, [src], r"layer 'simple_rnn' \(LSTM\)")


def test_unknown_custom_layer_is_named(tmp_path):
    need_h5py()
    src = tmp_path / "m.h5"
    shutil.copy(FIXTURES / "tf2_nmt_onehot.h5", src)
    with h5py.File(src, "r+") as f:  # V_a [He, 1] -> [He, 2]: no known attention layer
        g = f["model_weights"]["attention_layer"]
        name = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]][2]
        del g[name]
        g[name] = np.zeros((4, 2), np.float32)
    _refused(tmp_path, [src], r"layer 'attention_layer' \(AttentionLayer\).*match no supported")


@pytest.mark.parametrize("fixture", ["tf2_nmt_onehot.h5", "tf2_nmt_embed_bidir.keras"])
def test_truncated_file(tmp_path, fixture):
    need_h5py()
    src = tmp_path / fixture
    raw = (FIXTURES / fixture).read_bytes()
    src.write_bytes(raw[:len(raw) // 2])
    _refused(tmp_path, [src], "cannot be read")


def test_mismatched_shapes(tmp_path):
    need_h5py()
    src = tmp_path / "m.h5"
    shutil.copy(FIXTURES / "tf2_nmt_onehot.h5", src)
    with h5py.File(src, "r+") as f:  # the output Dense: 7 rows instead of Hd + He = 8
        g = f["model_weights"]["time_distributed"]
        name = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]][0]
        k = g[name][()]
        del g[name]
        g[name] = k[:-1]
    _refused(tmp_path, [src], r"time_distributed.*kernel rows 7 != 8")


def test_vocabulary_of_the_wrong_size(tmp_path):
    need_h5py()
    m = _meta("tf2_nmt_onehot")
    options = dict(m["options"], target_vocab=["a", "b"])
    _refused(tmp_path, [FIXTURES / s for s in m["sources"]], "target_vocab: 2 entries.* has 8",
             options)


def test_torch_state_dict_without_attention(tmp_path):
    t, _ = ref.read(FIXTURES / "torch_tutorial_decoder.safetensors")
    t = {k: v for k, v in t.items() if not k.startswith("attention.")}
    dec = tmp_path / "dec.safetensors"
    sc.write_safetensors(dec, t, {})
    _refused(tmp_path, [FIXTURES / "torch_tutorial_encoder.safetensors", dec],
             "BahdanauAttention")


def test_cli(tmp_path):
    need_h5py()
    m = _meta("tf2_additive_scale")
    opts = tmp_path / "opts.json"
    opts.write_text(json.dumps(m["options"]))
    out = tmp_path / "m.safetensors"
    cmd = [sys.executable, "-m", "seqattn.convert", str(FIXTURES / m["sources"][0]), str(out),
           "--options", str(opts), "--set", "name=cli", "--set", "special_tokens.target_end=3"]
    # The package under test (this tree's, or the installed one) first on the path.
    env = dict(os.environ, PYTHONPATH=str(Path(seqattn.__file__).resolve().parents[1]))
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "seqattn.seq2seq" in r.stdout
    config = json.loads(ref.read(out)[1]["config"])
    assert config["name"] == "cli" and config["special_tokens"]["target_end"] == 3

    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    out2 = tmp_path / "m2.safetensors"
    r = subprocess.run([sys.executable, "-m", "seqattn.convert", str(bad), str(out2)],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "bad.h5: cannot be read as HDF5" in r.stderr
    assert not out2.exists()


def test_output_folder_missing(tmp_path):
    need_h5py()
    m = _meta("tf2_forecaster")
    with pytest.raises(sc.ConversionError, match="no such folder"):
        sc.convert(FIXTURES / m["sources"][0], tmp_path / "nope" / "m.safetensors", {})


@pytest.mark.parametrize("name", ["tf2_nmt_embed_bidir", "torch_tutorial"])
def test_unmasked_model_pads_a_short_source_as_the_framework(cpu, name, tmp_path):
    # Row 1 of these fixtures ends in two pad tokens that the framework ran
    # through its encoder (no mask). Given only the valid tokens, the library
    # pads the row to max_source_len itself (source_mask false, padding post)
    # and must reproduce the framework's outputs.
    _, out, result, ex = _convert(name, tmp_path)
    assert result["config"]["source_mask"] is False
    assert result["config"]["source_padding"] == "post"
    src, lengths = ex["src"].copy(), ex["src_lengths"].copy()
    assert (src[1, -2:] == 0).all() and lengths[1] == src.shape[1]
    lengths[1] -= 2
    src[1, -2:] = 5  # past the length: ignored, the library writes source_pad there
    with seqattn.Model(cpu, out) as model:
        probs, att = model.score(src, ex["tgt_in"], lengths,
                                 np.full(len(src), ex["tgt_in"].shape[1], np.int32))
        tokens, tlen = model.translate_tokens(src, lengths, max_steps=ex["greedy_tokens"].shape[1])
    np.testing.assert_allclose(probs, ex["probs"], atol=TOL, rtol=0)
    np.testing.assert_allclose(att[1, :, :4], ex["attention"][1, :, :4], atol=TOL, rtol=0)
    np.testing.assert_allclose(att[[0, 2]], ex["attention"][[0, 2]], atol=TOL, rtol=0)
    np.testing.assert_array_equal(tokens, ex["greedy_tokens"])
    np.testing.assert_array_equal(tlen, ex["greedy_lengths"])


def test_sequential_model_converts_as_the_functional_one(tmp_path):
    # The forecaster's config rewritten as tf.keras writes a Sequential model
    # (layers in order, no inbound_nodes): the same file must come out.
    need_h5py()
    src = tmp_path / "seq.h5"
    shutil.copy(FIXTURES / "tf2_forecaster.h5", src)
    with h5py.File(src, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["class_name"] = "Sequential"
        for layer in config["config"]["layers"]:
            layer.pop("inbound_nodes", None)
        f.attrs["model_config"] = json.dumps(config)
    sc.convert(src, tmp_path / "seq.safetensors", {})
    sc.convert(FIXTURES / "tf2_forecaster.h5", tmp_path / "fun.safetensors", {})
    a, b = ref.read(tmp_path / "seq.safetensors"), ref.read(tmp_path / "fun.safetensors")
    assert a[1]["config"] == b[1]["config"]
    assert a[0].keys() == b[0].keys()
    for k in a[0]:
        np.testing.assert_array_equal(a[0][k], b[0][k])


def test_without_vocabularies_the_model_works_on_ids(cpu, tmp_path):
    need_h5py()
    m = _meta("keras3_project_layer")
    options = {k: v for k, v in m["options"].items() if not k.endswith("_vocab")}
    out = tmp_path / "ids.safetensors"
    config = sc.convert(FIXTURES / m["sources"][0], out, options)["config"]
    assert "source_vocab" not in config and config["source_vocab_size"] == 7
    assert config["target_vocab_size"] == 8
    ex = np.load(FIXTURES / "keras3_project_layer.expected.npz")
    with seqattn.Model(cpu, out) as model:
        assert model.source_vocab is None and model.target_vocab is None
        probs, att = model.score(ex["src"], ex["tgt_in"], ex["src_lengths"],
                                 np.full(len(ex["src"]), ex["tgt_in"].shape[1], np.int32))
        tokens, lengths = model.translate_tokens(ex["src"], ex["src_lengths"], max_steps=6)
    np.testing.assert_allclose(probs, ex["probs"], atol=TOL, rtol=0)
    np.testing.assert_allclose(att, ex["attention"], atol=TOL, rtol=0)
    np.testing.assert_array_equal(tokens, ex["greedy_tokens"])
