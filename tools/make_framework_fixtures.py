"""Fixtures saved by the real frameworks, for the converter tests (python/tests/test_convert.py).

Each framework runs in its own virtual environment (none is needed by the
library, its tests or the converter; see tools/README.md):

    /work/venvs/tf2/bin/python    tools/make_framework_fixtures.py tf2     # tensorflow-cpu 2.15 (tf.keras 2.x)
    /work/venvs/keras3/bin/python tools/make_framework_fixtures.py keras3  # tools/requirements.txt (jax)
    /work/venvs/torch/bin/python  tools/make_framework_fixtures.py torch   # torch + safetensors

Writes, under tests/fixtures/frameworks/, for every fixture NAME:
  NAME.<ext>           the model as the framework saved it (.h5, .keras, .safetensors, .pt)
  NAME.expected.npz    the framework's outputs on fixed inputs: seq2seq models
                       src, src_lengths, tgt_in, probs [B, Td, Vt], attention [B, Td, Ts],
                       greedy_tokens [B, max_steps] (target_pad past greedy_lengths);
                       sequence heads x [B, T, F] and y [B, N]
  NAME.json            what the test needs: sources, converter options, kind, and the
                       versions of the framework that produced it
Tiny models with random weights (every weight, biases too, drawn N(0, 0.5)),
so that every term of the math shows in the outputs.

The attention layers are written here from the math of the layers they stand
for (attention_keras' AttentionLayer with weights W_a, U_a, V_a; the second
seed's pooling layer with W [F, 1], b [T, 1]), with the same weight shapes and
order: the converter must recognise them by shapes, not by code.
"""

import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "frameworks")

# Shared sizes: B sources of Ts tokens, Td teacher-forced steps.
B, TS, TD, VS, VT, H, E = 3, 6, 5, 7, 8, 4, 3
START, END, PAD = 1, 2, 0
MAX_STEPS = 6


def write(name, expected, meta):
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, f"{name}.expected.npz"), **expected)
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", name)


def seq2seq_inputs(rng, masked):
    """src [B, Ts] (right-padded with 0 when masked, lengths vary), lengths, tgt_in [B, Td]."""
    src = rng.integers(3, VS, (B, TS)).astype(np.int32)
    lengths = np.full(B, TS, np.int32)
    if masked:
        lengths = np.array([TS, TS - 2, 2], np.int32)
        for b in range(B):
            src[b, lengths[b]:] = PAD
    else:
        src[1, -2:] = PAD           # pads run through the encoder: no mask in the model
    tgt_in = rng.integers(3, VT, (B, TD)).astype(np.int32)
    tgt_in[:, 0] = START
    return src, lengths, tgt_in


def greedy(step_probs, src):
    """Greedy decoding with a teacher-forced scorer: step_probs(src, tgt_in) -> probs.
    The decoder is causal, so the probabilities at step t only depend on tgt_in[:, :t+1]."""
    tokens = np.full((B, MAX_STEPS), PAD, np.int32)
    lengths = np.zeros(B, np.int32)
    tgt = np.full((B, MAX_STEPS), PAD, np.int32)
    tgt[:, 0] = START
    done = np.zeros(B, bool)
    for t in range(MAX_STEPS):
        p = step_probs(src, tgt)[:, t]
        nxt = p.argmax(-1)
        for b in range(B):
            if done[b]:
                continue
            if nxt[b] == END:
                done[b] = True
                continue
            tokens[b, t] = nxt[b]
            lengths[b] = t + 1
        if t + 1 < MAX_STEPS:
            tgt[:, t + 1] = nxt
    return tokens, lengths


def seq2seq_options(max_source_len=TS):
    return {"special_tokens": {"source_pad": PAD, "source_unk": 1, "target_pad": PAD,
                               "target_start": START, "target_end": END},
            "max_source_len": max_source_len, "max_target_len": MAX_STEPS,
            "source_vocab": [f"s{i}" for i in range(VS)],
            "target_vocab": [f"t{i}" for i in range(VT)]}


# --------------------------------------------------------------------------- Keras (both)

def keras_fixtures(flavour):
    if flavour == "tf2":
        import tensorflow as tf
        import keras as keras_pkg  # the keras 2.15 package tf.keras is
        keras = tf.keras
        versions = {"framework": "tf.keras", "tensorflow_version": tf.__version__,
                    "keras_version": keras_pkg.__version__}
        K = tf
        matmul, tanh, softmax = tf.matmul, tf.tanh, tf.nn.softmax
        squeeze, rsum = tf.squeeze, tf.reduce_sum
    else:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import jax
        import keras
        from keras import ops as K
        versions = {"framework": "keras", "keras_version": keras.__version__,
                    "keras_backend": keras.backend.backend(), "jax_version": jax.__version__}
        matmul, tanh, softmax = K.matmul, K.tanh, K.softmax
        squeeze, rsum = K.squeeze, K.sum
    versions["numpy_version"] = np.__version__
    L = keras.layers

    class AttentionLayer(L.Layer):
        """attention_keras' layer, from its math: e = softmax_i(V_a . tanh(W_a h_i + U_a s_t)),
        c_t = sum_i e_ti h_i. Inputs [encoder outputs, decoder outputs]; returns [c, e]."""

        def build(self, input_shape):
            he, hd = input_shape[0][-1], input_shape[1][-1]
            self.W_a = self.add_weight(name="W_a", shape=(he, he), initializer="uniform")
            self.U_a = self.add_weight(name="U_a", shape=(hd, he), initializer="uniform")
            self.V_a = self.add_weight(name="V_a", shape=(he, 1), initializer="uniform")
            super().build(input_shape)

        def call(self, inputs):
            h, s = inputs
            keys = matmul(h, self.W_a)[:, None, :, :]        # [B, 1, Ts, He]
            query = matmul(s, self.U_a)[:, :, None, :]       # [B, Td, 1, He]
            e = squeeze(matmul(tanh(keys + query), self.V_a), -1)   # [B, Td, Ts]
            e = softmax(e, axis=-1)
            return [matmul(e, h), e]

        def compute_output_shape(self, input_shape):
            h, s = input_shape
            return [(s[0], s[1], h[2]), (s[0], s[1], h[1])]

    class attention(L.Layer):  # noqa: N801  (the second seed's class name)
        """The second seed's pooling: a = softmax_t(tanh(x_t . W + b_t)), out = sum_t a_t x_t."""

        def build(self, input_shape):
            self.W = self.add_weight(name="attention_weight", shape=(input_shape[-1], 1),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(name="attention_bias", shape=(input_shape[1], 1),
                                     initializer="zeros", trainable=True)
            super().build(input_shape)

        def call(self, x):
            e = squeeze(tanh(matmul(x, self.W) + self.b), -1)
            a = softmax(e, axis=-1)[:, :, None]
            return rsum(x * a, axis=1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[2])

    def randomize(model, rng):
        for w in model.weights:
            w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype(np.float32))

    def onehot(tokens, depth):
        return np.eye(depth, dtype=np.float32)[tokens]

    def nmt(onehot_inputs, bidirectional):
        """The attention_keras NMT example: GRU encoder (or Bidirectional), GRU decoder from
        the encoder state, AttentionLayer, Concatenate, TimeDistributed(Dense(softmax))."""
        if onehot_inputs:
            src = keras.Input(shape=(TS, VS), name="encoder_inputs")
            tgt = keras.Input(shape=(None, VT), name="decoder_inputs")
            x, y = src, tgt
        else:
            src = keras.Input(shape=(TS,), dtype="int32", name="encoder_inputs")
            tgt = keras.Input(shape=(None,), dtype="int32", name="decoder_inputs")
            x, y = L.Embedding(VS, E, name="enc_emb")(src), L.Embedding(VT, E, name="dec_emb")(tgt)
        if bidirectional:
            enc = L.Bidirectional(L.GRU(H, return_sequences=True, return_state=True),
                                  name="encoder_bigru")
            enc_out, fwd, bwd = enc(x)
            state = L.Concatenate(axis=-1, name="enc_state")([fwd, bwd])
            hd = 2 * H
        else:
            enc_out, state = L.GRU(H, return_sequences=True, return_state=True,
                                   name="encoder_gru")(x)
            hd = H
        dec_out, _ = L.GRU(hd, return_sequences=True, return_state=True,
                           name="decoder_gru")(y, initial_state=state)
        attn_out, attn_states = AttentionLayer(name="attention_layer")([enc_out, dec_out])
        cat = L.Concatenate(axis=-1, name="concat_layer")([dec_out, attn_out])
        probs = L.TimeDistributed(L.Dense(VT, activation="softmax"), name="time_distributed")(cat)
        return keras.Model([src, tgt], [probs, attn_states]), onehot_inputs

    def keras_additive(use_scale, masked):
        src = keras.Input(shape=(None,), dtype="int32", name="src")
        tgt = keras.Input(shape=(None,), dtype="int32", name="tgt")
        x = L.Embedding(VS, E, mask_zero=masked, name="e1")(src)
        h, state = L.GRU(H, return_sequences=True, return_state=True, name="g1")(x)
        s = L.GRU(H, return_sequences=True, name="g2")(L.Embedding(VT, E, name="e2")(tgt),
                                                       initial_state=state)
        context, scores = L.AdditiveAttention(use_scale=use_scale, name="add")(
            [s, h], return_attention_scores=True)
        probs = L.Dense(VT, activation="softmax", name="d")(L.Concatenate()([s, context]))
        return keras.Model([src, tgt], [probs, scores]), False

    def save_seq2seq(name, model_and_onehot, ext, rng, masked, extra_meta=None):
        model, oh = model_and_onehot
        randomize(model, rng)
        src, lengths, tgt_in = seq2seq_inputs(rng, masked)

        def run(s, t):
            if oh:
                return model.predict([onehot(s, VS), onehot(t, VT)], verbose=0)
            return model.predict([s, t], verbose=0)

        probs, att = run(src, tgt_in)
        tokens, tlen = greedy(lambda s, t: run(s, t)[0], src)
        path = os.path.join(OUT, f"{name}.{ext}")
        model.save(path)
        options = seq2seq_options()
        write(name, {"src": src, "src_lengths": lengths, "tgt_in": tgt_in,
                     "probs": np.asarray(probs, np.float32),
                     "attention": np.asarray(att, np.float32),
                     "greedy_tokens": tokens, "greedy_lengths": tlen},
              {"kind": "seq2seq", "sources": [f"{name}.{ext}"], "options": options,
               "decoder_kind": "attention_keras", "masked": masked, "versions": versions,
               **(extra_meta or {})})

    def save_head(name, cell, ext, rng, n_layers=1, dense=(("tanh", 3), ("linear", 1))):
        T, F = 5, 2
        x_in = keras.Input(shape=(T, F))
        x = x_in
        for i in range(n_layers):
            x = (L.SimpleRNN(3, return_sequences=True, activation="tanh") if cell == "simple_rnn"
                 else L.GRU(3, return_sequences=True))(x)
        x = attention()(x)
        for act, n in dense:
            x = L.Dense(n, activation=act)(x)
        model = keras.Model(x_in, x)
        randomize(model, rng)
        xs = rng.normal(0, 1, (B, T, F)).astype(np.float32)
        y = np.asarray(model.predict(xs, verbose=0), np.float32)
        model.save(os.path.join(OUT, f"{name}.{ext}"))
        write(name, {"x": xs, "y": y}, {"kind": "sequence_head", "sources": [f"{name}.{ext}"],
                                         "options": {}, "versions": versions})

    rng = np.random.default_rng(1 if flavour == "tf2" else 3)
    if flavour == "tf2":
        save_seq2seq("tf2_nmt_onehot", nmt(True, False), "h5", rng, masked=False)
        save_seq2seq("tf2_nmt_embed_bidir", nmt(False, True), "keras", rng, masked=False)
        save_seq2seq("tf2_additive_scale", keras_additive(True, True), "h5", rng, masked=True)
        save_head("tf2_forecaster", "simple_rnn", "h5", rng)
    else:
        save_seq2seq("keras3_nmt_onehot_bidir", nmt(True, True), "keras", rng, masked=False)
        save_seq2seq("keras3_additive", keras_additive(False, True), "keras", rng, masked=True)
        save_seq2seq("keras3_additive_h5", keras_additive(True, False), "h5", rng, masked=False)
        save_head("keras3_forecaster_gru", "gru", "keras", rng, n_layers=2,
                  dense=(("relu", 4), ("linear", 2)))
        project_layer(rng, versions)


def project_layer(rng, versions):
    """The project's own Keras model (tools/seq2seq_keras.py), saved as .keras."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import seq2seq_keras as sk
    cfg = {"encoder": {"units": H, "bidirectional": True, "embedding_dim": E},
           "decoder": {"units": 2 * H, "embedding_dim": E},
           "attention": {"units": 5, "bias": True}, "gru_variant": "reset_before",
           "source_vocab": [f"s{i}" for i in range(VS)],
           "target_vocab": [f"t{i}" for i in range(VT)]}
    _, full, _ = sk.build_model(cfg)
    for w in full.weights:
        w.assign(rng.normal(0.0, 0.5, tuple(w.shape)).astype(np.float32))
    src, lengths, tgt_in = seq2seq_inputs(rng, masked=True)
    probs, att = full.predict([src, tgt_in], verbose=0)
    tokens, tlen = greedy(lambda s, t: full.predict([s, t], verbose=0)[0], src)
    name = "keras3_project_layer"
    full.save(os.path.join(OUT, f"{name}.keras"))
    write(name, {"src": src, "src_lengths": lengths, "tgt_in": tgt_in,
                 "probs": np.asarray(probs, np.float32), "attention": np.asarray(att, np.float32),
                 "greedy_tokens": tokens, "greedy_lengths": tlen},
          {"kind": "seq2seq", "sources": [f"{name}.keras"], "options": seq2seq_options(),
           "decoder_kind": "attention_keras", "masked": True, "versions": versions})


# --------------------------------------------------------------------------- PyTorch

def torch_fixtures():
    import safetensors
    import torch
    from safetensors.torch import save_file
    from torch import nn
    import torch.nn.functional as Fn

    versions = {"framework": "pytorch", "torch_version": torch.__version__,
                "safetensors_version": safetensors.__version__, "numpy_version": np.__version__}

    class EncoderRNN(nn.Module):  # the tutorial's module layout
        def __init__(self, vocab, hidden):
            super().__init__()
            self.embedding = nn.Embedding(vocab, hidden)
            self.gru = nn.GRU(hidden, hidden, batch_first=True)
            self.dropout = nn.Dropout(0.1)

        def forward(self, x):
            return self.gru(self.dropout(self.embedding(x)))

    class BahdanauAttention(nn.Module):
        def __init__(self, hidden):
            super().__init__()
            self.Wa = nn.Linear(hidden, hidden)
            self.Ua = nn.Linear(hidden, hidden)
            self.Va = nn.Linear(hidden, 1)

        def forward(self, query, keys):
            scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)
            weights = Fn.softmax(scores, dim=-1)
            return torch.bmm(weights, keys), weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden, vocab):
            super().__init__()
            self.embedding = nn.Embedding(vocab, hidden)
            self.attention = BahdanauAttention(hidden)
            self.gru = nn.GRU(2 * hidden, hidden, batch_first=True)
            self.out = nn.Linear(hidden, vocab)
            self.dropout = nn.Dropout(0.1)

        def step(self, token, hidden, enc_out):
            embedded = self.dropout(self.embedding(token))        # [B, 1, H]
            context, w = self.attention(hidden.permute(1, 0, 2), enc_out)
            output, hidden = self.gru(torch.cat((embedded, context), dim=2), hidden)
            return self.out(output), hidden, w

        def run(self, enc_out, enc_hidden, tgt_in=None, steps=None):
            """Teacher-forced over tgt_in, or greedy for `steps` (argmax fed back)."""
            hidden, token = enc_hidden, torch.full((enc_out.shape[0], 1), START)
            logits, weights = [], []
            for t in range(tgt_in.shape[1] if tgt_in is not None else steps):
                if tgt_in is not None:
                    token = tgt_in[:, t:t + 1]
                out, hidden, w = self.step(token, hidden, enc_out)
                logits.append(out)
                weights.append(w)
                token = out.argmax(-1)
            return torch.cat(logits, 1), torch.cat(weights, 1)

    torch.manual_seed(5)
    rng = np.random.default_rng(5)
    hidden = 4
    enc, dec = EncoderRNN(VS, hidden).eval(), AttnDecoderRNN(hidden, VT).eval()
    with torch.no_grad():
        for p in list(enc.parameters()) + list(dec.parameters()):
            p.copy_(torch.from_numpy(rng.normal(0.0, 0.5, tuple(p.shape)).astype(np.float32)))
        src, lengths, tgt_in = seq2seq_inputs(rng, masked=False)
        enc_out, enc_h = enc(torch.from_numpy(src.astype(np.int64)))
        logits, att = dec.run(enc_out, enc_h, tgt_in=torch.from_numpy(tgt_in.astype(np.int64)))
        probs = Fn.softmax(logits, -1).numpy()
        g_logits, _ = dec.run(enc_out, enc_h, steps=MAX_STEPS)
    g = g_logits.argmax(-1).numpy()
    tokens = np.full((B, MAX_STEPS), PAD, np.int32)
    tlen = np.zeros(B, np.int32)
    for b in range(B):
        for t in range(MAX_STEPS):
            if g[b, t] == END:
                break
            tokens[b, t], tlen[b] = g[b, t], t + 1
    options = seq2seq_options()
    options["special_tokens"].update({"target_start": START, "target_end": END})
    expected = {"src": src, "src_lengths": lengths, "tgt_in": tgt_in, "probs": probs,
                "attention": att.numpy(), "greedy_tokens": tokens, "greedy_lengths": tlen}
    # Two state dicts, as the tutorial keeps them, saved with safetensors ...
    save_file(enc.state_dict(), os.path.join(OUT, "torch_tutorial_encoder.safetensors"))
    save_file(dec.state_dict(), os.path.join(OUT, "torch_tutorial_decoder.safetensors"))
    write("torch_tutorial", expected,
          {"kind": "seq2seq", "sources": ["torch_tutorial_encoder.safetensors",
                                          "torch_tutorial_decoder.safetensors"],
           "options": options, "decoder_kind": "bahdanau", "masked": False,
           "versions": versions})
    # ... and one .pt holding both under prefixes.
    both = {f"encoder.{k}": v for k, v in enc.state_dict().items()}
    both.update({f"decoder.{k}": v for k, v in dec.state_dict().items()})
    torch.save(both, os.path.join(OUT, "torch_tutorial_both.pt"))
    write("torch_tutorial_pt", expected,
          {"kind": "seq2seq", "sources": ["torch_tutorial_both.pt"], "options": options,
           "decoder_kind": "bahdanau", "masked": False, "versions": versions,
           "needs_torch": True})


if __name__ == "__main__":
    which = sys.argv[1:] or ["tf2"]
    for w in which:
        if w == "torch":
            torch_fixtures()
        elif w in ("tf2", "keras3"):
            keras_fixtures(w)
        else:
            sys.exit(f"unknown framework {w!r}: tf2, keras3 or torch")
