"""Golden fixtures from Keras for the C++ parity tests (tests/fixtures/README.md).

    python tools/make_fixtures.py      # needs models/date_model.safetensors

Writes under tests/fixtures/:
  date_model_parity.safetensors     teacher-forced probs + attention of the date model
  seed_onehot.safetensors           the attention_keras NMT architecture (one-hot, GRU,
                                    no masking), random weights: model + fixture in one file
  seed_onehot_bidir.safetensors     the same with a bidirectional encoder
  embed_reset_before.safetensors    embeddings, unidirectional, reset_before GRUs, attention
                                    bias, masked (right-padded) sources: model + fixture
  forecaster.safetensors            seed 003: SimpleRNN -> attention pooling -> Dense
Then checks every fixture against tools/numpy_forward.py.
"""

import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seq2seq_keras as sk  # noqa: E402  (sets KERAS_BACKEND=jax before keras loads)
import keras  # noqa: E402
from keras import ops  # noqa: E402

import numpy_forward  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
DATE_MODEL = os.path.join(ROOT, "models", "date_model.safetensors")

# Mixed formats, cases and lengths, so the batch is right-padded and masked.
DATE_SOURCES = [
    ("21 November 2026", "2026-11-21"),
    ("saturday, november 21, 2026", "2026-11-21"),
    ("NOV 1 1999", "1999-11-01"),
    ("2/3/1900", "1900-03-02"),
    ("2099-12-31", "2099-12-31"),
    ("Wednesday, 30 September 2026", "2026-09-30"),
    ("fEb 29, 2000", "2000-02-29"),
    ("07.07.1977", "1977-07-07"),
]


def fixture_metadata(description, extra=None):
    meta = {"fixture": description}
    meta.update(sk.versions())
    meta.update(extra or {})
    return meta


def randomize(model, rng, scale):
    """Random weights (biases too) so every term of the math is exercised."""
    for w in model.weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype(np.float32))


def teacher_forced(full_model, src, tgt_in):
    probs, weights = full_model.predict_on_batch([src, tgt_in])
    return np.asarray(probs, np.float32), np.asarray(weights, np.float32)


def fixture_tensors(src, src_lengths, tgt_in, probs, weights):
    return {"fixture.src_tokens": src.astype(np.int32),
            "fixture.src_lengths": np.asarray(src_lengths, np.int32),
            "fixture.tgt_in_tokens": tgt_in.astype(np.int32),
            "fixture.tgt_lengths": np.full(src.shape[0], tgt_in.shape[1], np.int32),
            "fixture.probs": probs, "fixture.attention": weights}


def date_fixture():
    config, _, full_model, _ = sk.load_model(DATE_MODEL)
    sp = config["special_tokens"]
    ids = [sk.encode_source(x, config) for x, _ in DATE_SOURCES]
    src = sk.pad_batch(ids, sp["source_pad"])
    tgt_in = np.array([[sp["target_start"]] + sk.encode_target(y, config) for _, y in DATE_SOURCES],
                      dtype=np.int32)
    probs, weights = teacher_forced(full_model, src, tgt_in)
    with open(DATE_MODEL, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    tensors = fixture_tensors(src, [len(i) for i in ids], tgt_in, probs, weights)
    meta = fixture_metadata(
        "Keras teacher-forced softmax outputs and attention weights of "
        "models/date_model.safetensors; tgt_in = <start> + target",
        {"model": "models/date_model.safetensors", "model_sha256": digest,
         "sources": json.dumps([x for x, _ in DATE_SOURCES]),
         "targets": json.dumps([y for _, y in DATE_SOURCES])})
    path = os.path.join(FIXTURES, "date_model_parity.safetensors")
    sk.save_safetensors(path, tensors, meta)
    return path


def seq2seq_fixture(name, config, batch, src_steps, tgt_steps, src_lengths, seed, scale):
    """A model with random weights plus its Keras fixture, in one file."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    _, full_model, layers = sk.build_model(config)
    randomize(full_model, rng, scale)
    vs, vt = len(config["source_vocab"]), len(config["target_vocab"])
    src = np.zeros((batch, src_steps), np.int32)
    for b, n in enumerate(src_lengths):
        src[b, :n] = rng.integers(2, vs, n)  # real tokens only: not pad, not unk
    tgt_in = rng.integers(3, vt, (batch, tgt_steps)).astype(np.int32)
    tgt_in[:, 0] = config["special_tokens"]["target_start"]
    probs, weights = teacher_forced(full_model, src, tgt_in)
    path = os.path.join(FIXTURES, name)
    sk.export_model(path, config, layers,
                    extra_tensors=fixture_tensors(src, src_lengths, tgt_in, probs, weights),
                    extra_metadata=fixture_metadata(
                        f"{config['description']} Random weights (numpy seed {seed}, "
                        f"normal(0, {scale})); fixture.* from Keras, teacher-forced"))
    return path


def words_config(name, description, encoder, decoder, attention, gru_variant, vs, vt,
                 mask_source):
    return {
        "encoder": encoder, "decoder": decoder, "attention": attention,
        "gru_variant": gru_variant, "tokenization": "words", "lowercase_source": False,
        "source_vocab": ["<pad>", "<unk>"] + [f"s{i}" for i in range(2, vs)],
        "target_vocab": ["<pad>", "<start>", "<end>"] + [f"t{i}" for i in range(3, vt)],
        "special_tokens": {"source_pad": 0, "source_unk": 1,
                           "target_pad": 0, "target_start": 1, "target_end": 2},
        "max_source_len": 16, "max_target_len": 8, "name": name, "description": description,
        "mask_source": mask_source,  # Keras side only; not written to the file
    }


class SeedPooling(keras.layers.Layer):
    """Seed 003's attention layer: e = tanh(x.W + b), a = softmax_t(e), out = sum_t a x.
    W [F, 1], b [T, 1] as in the seed; returns (out, a) for the fixture."""

    def build(self, input_shape):
        self.W = self.add_weight(name="attention_weight", shape=(input_shape[-1], 1),
                                 initializer="random_normal")
        self.b = self.add_weight(name="attention_bias", shape=(input_shape[1], 1),
                                 initializer="zeros")

    def call(self, x):
        e = ops.squeeze(ops.tanh(ops.matmul(x, self.W) + self.b), axis=-1)  # [B, T]
        alpha = ops.softmax(e, axis=-1)
        return ops.sum(x * ops.expand_dims(alpha, -1), axis=1), alpha


def forecaster_fixture(seed=3, batch=4, steps=20, features=1, hidden=2, dense_units=1):
    """Seed 003 exactly: time_steps 20, one feature, SimpleRNN(2, tanh,
    return_sequences) -> attention -> Dense(1, tanh)."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x_in = keras.Input((steps, features))
    rnn = keras.layers.SimpleRNN(hidden, return_sequences=True, activation="tanh")
    pool = SeedPooling()
    dense = keras.layers.Dense(dense_units, activation="tanh")
    rnn_out = rnn(x_in)
    pooled, alpha = pool(rnn_out)
    y = dense(pooled)
    model = keras.Model(x_in, [rnn_out, pooled, alpha, y])
    randomize(model, rng, 0.8)
    x = rng.uniform(0.0, 1.0, (batch, steps, features)).astype(np.float32)  # seed: scaled to [0, 1]
    outs = [np.asarray(o, np.float32) for o in model.predict_on_batch(x)]
    f32 = lambda v: np.asarray(keras.ops.convert_to_numpy(v), np.float32)  # noqa: E731
    tensors = {
        "fixture.x": x,
        "rnn.kernel": f32(rnn.cell.kernel), "rnn.recurrent_kernel": f32(rnn.cell.recurrent_kernel),
        "rnn.bias": f32(rnn.cell.bias),
        "pooling.w": f32(pool.W).reshape(hidden), "pooling.b": f32(pool.b).reshape(steps),
        "dense.kernel": f32(dense.kernel), "dense.bias": f32(dense.bias),
        "fixture.rnn_out": outs[0], "fixture.pooled": outs[1], "fixture.weights": outs[2],
        "fixture.y": outs[3],
    }
    path = os.path.join(FIXTURES, "forecaster.safetensors")
    sk.save_safetensors(path, tensors, fixture_metadata(
        "Seed 003 forecaster: SimpleRNN(tanh, return_sequences) -> attention pooling "
        "e = tanh(x.w + b[t]), a = softmax_t(e), pooled = sum_t a x -> Dense(tanh). "
        f"Random weights (numpy seed {seed}, normal(0, 0.8)); outputs from Keras",
        {"format": "seqattn.fixture.forecaster", "rnn_activation": "tanh",
         "dense_activation": "tanh"}))
    return path


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    paths = [date_fixture()]
    seed_desc = ("The attention_keras NMT example: one-hot inputs, GRU encoder and decoder, "
                 "AttentionLayer (A = He, no bias), concat, TimeDistributed Dense softmax; "
                 "no source masking.")
    paths.append(seq2seq_fixture(
        "seed_onehot.safetensors",
        words_config("seed-onehot", seed_desc,
                     {"units": 16, "bidirectional": False, "embedding_dim": 0},
                     {"units": 16, "embedding_dim": 0}, {"units": 16, "bias": False},
                     "reset_after", vs=13, vt=11, mask_source=False),
        batch=3, src_steps=7, tgt_steps=6, src_lengths=[7, 7, 7], seed=11, scale=0.5))
    paths.append(seq2seq_fixture(
        "seed_onehot_bidir.safetensors",
        words_config("seed-onehot-bidir", seed_desc.replace("GRU encoder", "bidirectional GRU "
                                                            "encoder (concat)"),
                     {"units": 8, "bidirectional": True, "embedding_dim": 0},
                     {"units": 16, "embedding_dim": 0}, {"units": 16, "bias": False},
                     "reset_after", vs=13, vt=11, mask_source=False),
        batch=3, src_steps=7, tgt_steps=6, src_lengths=[7, 7, 7], seed=12, scale=0.5))
    paths.append(seq2seq_fixture(
        "embed_reset_before.safetensors",
        words_config("embed-reset-before",
                     "Embeddings (source mask_zero), unidirectional reset_before GRUs, attention "
                     "with bias (A != He), right-padded sources of lengths 9, 4, 1, 6.",
                     {"units": 12, "bidirectional": False, "embedding_dim": 5},
                     {"units": 12, "embedding_dim": 4}, {"units": 10, "bias": True},
                     "reset_before", vs=15, vt=9, mask_source=True),
        batch=4, src_steps=9, tgt_steps=5, src_lengths=[9, 4, 1, 6], seed=13, scale=0.5))
    paths.append(forecaster_fixture())

    for p in paths:
        print(f"wrote {os.path.relpath(p, ROOT)} ({os.path.getsize(p):,} bytes)")
    checks = {
        "date_model_parity.safetensors":
            lambda p: numpy_forward.check_seq2seq_fixture(p, DATE_MODEL),
        "forecaster.safetensors": numpy_forward.check_forecaster_fixture,
    }
    worst = 0.0
    for p in paths:
        name = os.path.basename(p)
        diffs = checks.get(name, numpy_forward.check_seq2seq_fixture)(p)
        worst = max(worst, *diffs.values())
        print(f"{name}: " + ", ".join(f"max|numpy-keras| {k} {v:.3g}" for k, v in diffs.items()))
    print(f"worst {worst:.3g}")
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
