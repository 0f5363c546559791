"""A float64 numpy forward of converted model files (docs/model-format.md), written
from the format's math, independent of the library: it tells whether a
conversion is right even where the library lacks the feature (the bahdanau
decoder, the sequence head).

    read(path) -> (tensors, metadata)
    seq2seq_score(t, config, src, src_lengths, tgt_in) -> probs, attention
    seq2seq_greedy(t, config, src, src_lengths, steps) -> tokens, lengths
    head_predict(t, config, x) -> y
"""

import json
import struct

import numpy as np


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    t = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        t[name] = np.frombuffer(data[b:e], "<f4").reshape(info["shape"]).astype(np.float64)
    return t, meta


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def gru_step(x, h, k, rk, b, reset_after):
    H = rk.shape[0]
    if reset_after:
        xi = x @ k + b[0]
        hh = h @ rk + b[1]
        z = sigmoid(xi[:, :H] + hh[:, :H])
        r = sigmoid(xi[:, H:2 * H] + hh[:, H:2 * H])
        n = np.tanh(xi[:, 2 * H:] + r * hh[:, 2 * H:])
    else:
        xi = x @ k + b
        z = sigmoid(xi[:, :H] + h @ rk[:, :H])
        r = sigmoid(xi[:, H:2 * H] + h @ rk[:, H:2 * H])
        n = np.tanh(xi[:, 2 * H:] + (r * h) @ rk[:, 2 * H:])
    return z * h + (1 - z) * n


def gru(x, lengths, h0, k, rk, b, reset_after, reverse=False):
    """x [B, T, I]; steps past a row's length keep the state and output 0."""
    B, T, _ = x.shape
    H = rk.shape[0]
    out = np.zeros((B, T, H))
    h = np.zeros((B, H)) if h0 is None else h0.copy()
    for bi in range(B):
        hb = h[bi:bi + 1]
        steps = range(lengths[bi])
        for t in (reversed(steps) if reverse else steps):
            hb = gru_step(x[bi:bi + 1, t], hb, k, rk, b, reset_after)
            out[bi, t] = hb[0]
        h[bi] = hb[0]
    return out, h


def _embed(t, name, tokens, vocab):
    if name in t:
        return t[name][tokens]
    return np.eye(vocab)[tokens]


def encode(t, c, src, lengths):
    ra = c["gru_variant"] == "reset_after"
    Vs = c.get("source_vocab_size") or len(c["source_vocab"])
    x = _embed(t, "encoder.embedding", src, Vs)
    f = [t[f"encoder.forward.{n}"] for n in ("kernel", "recurrent_kernel", "bias")]
    h, state = gru(x, lengths, None, *f, ra)
    if c["encoder"]["bidirectional"]:
        bk = [t[f"encoder.backward.{n}"] for n in ("kernel", "recurrent_kernel", "bias")]
        hb, sb = gru(x, lengths, None, *bk, ra, reverse=True)
        h, state = np.concatenate([h, hb], -1), np.concatenate([state, sb], -1)
    return h, state


def attend(t, h, lengths, q):
    """q [B, Hd] -> weights [B, Ts], context [B, He]."""
    keys = h @ t["attention.W"] + t.get("attention.bias", 0.0)
    e = np.tanh(keys + (q @ t["attention.U"])[:, None, :]) @ t["attention.v"]
    valid = np.arange(h.shape[1])[None, :] < lengths[:, None]
    e = np.where(valid, e, -np.inf)
    w = softmax(e, -1)
    return w, np.einsum("bi,bih->bh", w, h)


def _decode(t, c, h, state, lengths, token_at):
    """Runs the decoder; token_at(step, previous probs) gives each step's input token."""
    ra = c["gru_variant"] == "reset_after"
    kind = c["decoder"].get("kind", "attention_keras")
    Vt = c.get("target_vocab_size") or len(c["target_vocab"])
    d = [t[f"decoder.{n}"] for n in ("kernel", "recurrent_kernel", "bias")]
    s, probs, weights, step, p = state, [], [], 0, None
    while True:
        tok = token_at(step, p)
        if tok is None:
            break
        y = _embed(t, "decoder.embedding", tok, Vt)
        if kind == "bahdanau":
            w, ctx = attend(t, h, lengths, s)
            s = gru_step(np.concatenate([y, ctx], -1), s, *d, ra)
            logits = s @ t["output.kernel"] + t["output.bias"]
        else:
            s = gru_step(y, s, *d, ra)
            w, ctx = attend(t, h, lengths, s)
            logits = np.concatenate([s, ctx], -1) @ t["output.kernel"] + t["output.bias"]
        p = softmax(logits, -1)
        probs.append(p)
        weights.append(w)
        step += 1
    return np.stack(probs, 1), np.stack(weights, 1)


def seq2seq_score(t, c, src, lengths, tgt_in):
    h, state = encode(t, c, src, lengths)
    return _decode(t, c, h, state, lengths,
                   lambda i, p: tgt_in[:, i] if i < tgt_in.shape[1] else None)


def seq2seq_greedy(t, c, src, lengths, steps):
    sp = c["special_tokens"]
    h, state = encode(t, c, src, lengths)
    B = src.shape[0]

    def token_at(i, p):
        if i >= steps:
            return None
        return np.full(B, sp["target_start"]) if p is None else p.argmax(-1)

    probs, _ = _decode(t, c, h, state, lengths, token_at)
    g = probs.argmax(-1)
    tokens = np.full((B, steps), sp["target_pad"], np.int32)
    out_len = np.zeros(B, np.int32)
    for b in range(B):
        for i in range(steps):
            if g[b, i] == sp["target_end"]:
                break
            tokens[b, i], out_len[b] = g[b, i], i + 1
    return tokens, out_len


def head_predict(t, c, x):
    r = x.astype(np.float64)
    B, T, _ = r.shape
    for i, layer in enumerate(c["rnn"]):
        k, rk, b = (t[f"rnn.{i}.{n}"] for n in ("kernel", "recurrent_kernel", "bias"))
        H = rk.shape[0]
        h, out = np.zeros((B, H)), np.zeros((B, T, H))
        act = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "linear": lambda v: v,
               "sigmoid": sigmoid}[layer.get("activation", "tanh")]
        for s in range(T):
            if layer["cell"] == "gru":
                h = gru_step(r[:, s], h, k, rk, b, layer["gru_variant"] == "reset_after")
            else:
                h = act(r[:, s] @ k + h @ rk + b)
            out[:, s] = h
        r = out
    w = softmax(np.tanh(r @ t["pooling.w"] + t["pooling.b"]), -1)
    y = np.einsum("bt,bth->bh", w, r)
    for j, d in enumerate(c["dense"]):
        y = y @ t[f"dense.{j}.kernel"] + t[f"dense.{j}.bias"]
        y = {"linear": lambda v: v, "tanh": np.tanh, "relu": lambda v: np.maximum(v, 0),
             "sigmoid": sigmoid, "softmax": softmax}[d["activation"]](y)
    return y
