"""Fixtures for the config options of issue 10, expected values from the
independent float64 numpy forward pass of tools/numpy_forward.py (no
framework needed; the converter's tests add files saved by PyTorch and Keras).

    python tools/make_decoder_fixtures.py

Writes under tests/fixtures/ (model + fixture.* tensors in one file):
  bahdanau_tutorial.safetensors  decoder.kind "bahdanau": the PyTorch seq2seq
                                 tutorial's EncoderRNN + AttnDecoderRNN (embeddings,
                                 GRU, BahdanauAttention with bias), sources padded
                                 after to max_source_len without a mask, as the
                                 tutorial's data loader does; no vocabularies;
                                 target_start == target_pad (SOS = 0), EOS = 1
  unpadded_pre.safetensors       the attention_keras seed's input handling: one-hot
                                 GRUs, sources pre-padded (pad_sequences' default) to
                                 max_source_len, no mask; target_end == target_pad (0)
Each holds src_tokens [B, Ts] (valid tokens first), src_lengths, tgt_in_tokens,
tgt_lengths, probs [B, Td, Vt], attention [B, Td, Ts] (the caller's positions),
greedy_tokens [B, max_target_len], greedy_lengths, greedy_attention.
Deterministic: the same numpy gives the same bytes.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_forward as nf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def random_tensors(config, rng, scale):
    """Weights uniform in [-scale, scale], float32, the shapes of docs/model-format.md."""
    enc, dec, att = config["encoder"], config["decoder"], config["attention"]
    vs = config.get("source_vocab_size") or len(config["source_vocab"])
    vt = config.get("target_vocab_size") or len(config["target_vocab"])
    h, hd, a = enc["units"], dec["units"], att["units"]
    he = 2 * h if enc["bidirectional"] else h
    es = enc["embedding_dim"] or vs
    et = dec["embedding_dim"] or vt
    bahdanau = dec.get("kind") == "bahdanau"
    reset_after = config["gru_variant"] == "reset_after"
    shapes = {}
    if enc["embedding_dim"]:
        shapes["encoder.embedding"] = (vs, es)
    dirs = ["forward", "backward"] if enc["bidirectional"] else ["forward"]
    for prefix, i, u in [(f"encoder.{d}.", es, h) for d in dirs] + [
            ("decoder.", et + he if bahdanau else et, hd)]:
        shapes[prefix + "kernel"] = (i, 3 * u)
        shapes[prefix + "recurrent_kernel"] = (u, 3 * u)
        shapes[prefix + "bias"] = (2, 3 * u) if reset_after else (3 * u,)
    if dec["embedding_dim"]:
        shapes["decoder.embedding"] = (vt, et)
    shapes.update({"attention.W": (he, a), "attention.U": (hd, a), "attention.v": (a,),
                   "output.kernel": (hd if bahdanau else hd + he, vt), "output.bias": (vt,)})
    if att["bias"]:
        shapes["attention.bias"] = (a,)
    return {n: rng.uniform(-scale, scale, s).astype(np.float32) for n, s in sorted(shapes.items())}


def fixture(name, description, config, src_lengths, src_steps, tgt_steps, seed, scale,
            output_gain, end_bias):
    rng = np.random.default_rng(seed)
    tensors = random_tensors(config, rng, scale)
    # A larger output kernel, so the argmax follows the state rather than the
    # bias, and a push to the end token, so some rows end early and some not.
    tensors["output.kernel"] *= output_gain
    tensors["output.bias"][config["special_tokens"]["target_end"]] += end_bias
    meta = {"format": "seqattn.seq2seq", "format_version": "1",
            "config": json.dumps(config, separators=(",", ":"))}
    model = nf.Seq2Seq(tensors, meta)
    sp = config["special_tokens"]
    B = len(src_lengths)
    src = np.full((B, src_steps), sp["source_pad"], np.int32)
    for b, n in enumerate(src_lengths):
        src[b, :n] = rng.integers(2, model.vs, n)  # not the pad
    tgt_in = rng.integers(2, model.vt, (B, tgt_steps)).astype(np.int32)
    tgt_in[:, 0] = sp["target_start"]
    tgt_len = np.full(B, tgt_steps, np.int32)
    probs, att = model.forward(src, np.array(src_lengths), tgt_in, tgt_len)
    tokens, lengths, g_att = model.greedy(src, np.array(src_lengths), config["max_target_len"])
    tensors.update({
        "fixture.src_tokens": src, "fixture.src_lengths": np.array(src_lengths, np.int32),
        "fixture.tgt_in_tokens": tgt_in, "fixture.tgt_lengths": tgt_len,
        "fixture.probs": probs.astype(np.float32), "fixture.attention": att.astype(np.float32),
        "fixture.greedy_tokens": tokens.astype(np.int32),
        "fixture.greedy_lengths": lengths.astype(np.int32),
        "fixture.greedy_attention": g_att.astype(np.float32)})
    meta.update({"fixture": description + f" Random weights (numpy seed {seed}, uniform "
                 f"[-{scale}, {scale}]); fixture.* from tools/numpy_forward.py in float64.",
                 "numpy_version": np.__version__})
    path = os.path.join(FIXTURES, name)
    nf.write_safetensors(path, tensors, meta)
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path):,} bytes); "
          f"greedy lengths {lengths.tolist()}")
    return path


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    paths = [fixture(
        "bahdanau_tutorial.safetensors",
        "The PyTorch seq2seq tutorial's EncoderRNN + AttnDecoderRNN (decoder.kind bahdanau): "
        "embeddings, GRU encoder, attention from the previous decoder state, GRU input "
        "cat[embedded, context], Linear output; sources padded after to max_source_len, "
        "unmasked.",
        {"encoder": {"units": 6, "bidirectional": False, "embedding_dim": 5},
         "decoder": {"kind": "bahdanau", "units": 6, "embedding_dim": 4},
         "attention": {"units": 7, "bias": True}, "gru_variant": "reset_after",
         "source_vocab_size": 13, "target_vocab_size": 11,
         "special_tokens": {"source_pad": 0, "target_pad": 0, "target_start": 0,
                            "target_end": 1},
         "source_mask": False, "source_padding": "post",
         "max_source_len": 10, "max_target_len": 8, "name": "bahdanau-tutorial"},
        src_lengths=[9, 5, 2, 7], src_steps=9, tgt_steps=6, seed=31, scale=1.5, output_gain=2, end_bias=1),
        fixture(
        "unpadded_pre.safetensors",
        "The attention_keras seed's input handling: one-hot GRU encoder and decoder, "
        "AttentionLayer (A = He, no bias), concat, Dense softmax; sources pre-padded "
        "(pad_sequences' default) to max_source_len with no mask; end == pad.",
        {"encoder": {"units": 8, "bidirectional": False, "embedding_dim": 0},
         "decoder": {"units": 8, "embedding_dim": 0},
         "attention": {"units": 8, "bias": False}, "gru_variant": "reset_after",
         "tokenization": "words", "lowercase_source": False,
         "source_vocab": ["<pad>", "<unk>"] + [f"s{i}" for i in range(2, 12)],
         "target_vocab": ["<end>", "<start>"] + [f"t{i}" for i in range(2, 10)],
         "special_tokens": {"source_pad": 0, "source_unk": 1, "target_pad": 0,
                            "target_start": 1, "target_end": 0},
         "source_mask": False, "source_padding": "pre",
         "max_source_len": 8, "max_target_len": 7, "name": "unpadded-pre"},
        src_lengths=[8, 5, 2], src_steps=8, tgt_steps=5, seed=31, scale=1.0, output_gain=4, end_bias=2)]
    worst = 0.0
    for p in paths:
        diffs = nf.check_seq2seq_fixture(p)
        worst = max(worst, *diffs.values())
        print(f"{os.path.basename(p)} re-read: " +
              ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()))
    return 0 if worst < 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
