"""An independent numpy forward pass of the seqattn models (docs/math.md), used
to check the Keras fixtures and the exported date model.

It shares no code with seq2seq_keras.py or Keras: it reads the safetensors
files with its own parser, written from the format (8-byte little-endian
header length, JSON header, data offsets), and computes the math in float64.

    python tools/numpy_forward.py            # check every fixture, print max |numpy - keras|
    python tools/numpy_forward.py --heldout  # greedy-decode tests/fixtures/date_heldout.tsv
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = {"F32": np.float32, "I32": np.int32, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    """Returns (tensors: name -> ndarray, metadata: dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == count * dtype.itemsize, name
        assert 0 <= begin <= end <= len(data), name
        spans.append((begin, end, name))
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
    spans.sort()
    for (b0, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        assert e0 <= b1, f"{n0} overlaps {n1}"
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """Writes F32/I32 arrays (name -> ndarray) and string metadata, sorted by name."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}
    header, blobs, offset = {"__metadata__": dict(metadata)}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru(x, lengths, h0, kernel, recurrent_kernel, bias, reset_after=True, reverse=False):
    """x [B, T, I], lengths [B], h0 [B, H] -> outputs [B, T, H], h_last [B, H].

    Steps t >= lengths[b] keep the state and output 0; reverse runs each row
    backwards over its valid steps only (outputs stay aligned with inputs)."""
    B, T, _ = x.shape
    H = recurrent_kernel.shape[0]
    out = np.zeros((B, T, H))
    h_last = np.zeros((B, H))
    for b in range(B):
        h = h0[b].astype(np.float64).copy()
        order = range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])
        for t in order:
            if reset_after:
                xg = x[b, t] @ kernel + bias[0]
                rg = h @ recurrent_kernel + bias[1]
                z = sigmoid(xg[:H] + rg[:H])
                r = sigmoid(xg[H:2 * H] + rg[H:2 * H])
                c = np.tanh(xg[2 * H:] + r * rg[2 * H:])
            else:
                xg = x[b, t] @ kernel + bias
                z = sigmoid(xg[:H] + h @ recurrent_kernel[:, :H])
                r = sigmoid(xg[H:2 * H] + h @ recurrent_kernel[:, H:2 * H])
                c = np.tanh(xg[2 * H:] + (r * h) @ recurrent_kernel[:, 2 * H:])
            h = z * h + (1 - z) * c
            out[b, t] = h
        h_last[b] = h
    return out, h_last


def additive_attention(h, s, enc_lengths, W, U, bias, v):
    """h [B, Ts, He], s [B, Td, Hd] -> context [B, Td, He], weights [B, Td, Ts]."""
    keys = h @ W + (0 if bias is None else bias)  # [B, Ts, A]
    q = s @ U  # [B, Td, A]
    B, Td, Ts = h.shape[0], s.shape[1], h.shape[1]
    weights = np.zeros((B, Td, Ts))
    for b in range(B):
        n = enc_lengths[b]
        if n == 0:
            continue
        e = np.tanh(keys[b, None, :n, :] + q[b, :, None, :]) @ v  # [Td, n]
        e = np.exp(e - e.max(axis=1, keepdims=True))
        weights[b, :, :n] = e / e.sum(axis=1, keepdims=True)
    return weights @ h, weights


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Seq2Seq:
    """The model of docs/model-format.md, from a safetensors file's tensors + config.

    Sources come as the C API takes them (each row's valid tokens first, with
    its length); source_rows() builds what the encoder reads (source_mask,
    source_padding), and the attention weights go back to the caller's
    positions."""

    def __init__(self, tensors, metadata):
        assert metadata["format"] == "seqattn.seq2seq", metadata.get("format")
        assert metadata["format_version"] == "1"
        self.cfg = json.loads(metadata["config"])
        self.t = {k: v.astype(np.float64) for k, v in tensors.items()
                  if not k.startswith("fixture.")}
        self.reset_after = self.cfg["gru_variant"] == "reset_after"
        self.kind = self.cfg["decoder"].get("kind", "attention_keras")
        self.mask = self.cfg.get("source_mask", True)
        self.pre = self.cfg.get("source_padding", "post") == "pre"
        self.vs = (len(self.cfg["source_vocab"]) if "source_vocab" in self.cfg
                   else self.cfg["source_vocab_size"])
        self.vt = (len(self.cfg["target_vocab"]) if "target_vocab" in self.cfg
                   else self.cfg["target_vocab_size"])

    def source_rows(self, src, src_lengths):
        """(rows, lengths, offsets): masked, the caller's rows; unmasked, rows of
        exactly max_source_len with source_pad on the configured side, all valid."""
        src, src_lengths = np.asarray(src), np.asarray(src_lengths)
        B = src.shape[0]
        if self.mask:
            return src, src_lengths, np.zeros(B, np.int64)
        L, pad = self.cfg["max_source_len"], self.cfg["special_tokens"]["source_pad"]
        rows = np.full((B, L), pad, np.int64)
        offsets = np.zeros(B, np.int64)
        for b in range(B):
            n = int(src_lengths[b])
            assert n <= L, "a source longer than max_source_len"
            offsets[b] = L - n if self.pre else 0
            rows[b, offsets[b]:offsets[b] + n] = src[b, :n]
        return rows, np.full(B, L, np.int64), offsets

    @staticmethod
    def caller_weights(weights, src_steps, src_lengths, offsets):
        """[B, Td, L] encoder-row weights -> [B, Td, src_steps] in the caller's positions."""
        out = np.zeros(weights.shape[:2] + (src_steps,))
        for b in range(weights.shape[0]):
            n = int(src_lengths[b])
            out[b, :, :n] = weights[b, :, offsets[b]:offsets[b] + n]
        return out

    def _embed(self, tokens, table, vocab_size):
        if table in self.t:
            return self.t[table][tokens]
        return np.eye(vocab_size)[tokens]  # one-hot: selects kernel rows

    def encode(self, src, src_lengths):
        t, cfg = self.t, self.cfg
        x = self._embed(src, "encoder.embedding", self.vs)
        h0 = np.zeros((src.shape[0], cfg["encoder"]["units"]))
        hf, sf = gru(x, src_lengths, h0, t["encoder.forward.kernel"],
                     t["encoder.forward.recurrent_kernel"], t["encoder.forward.bias"],
                     self.reset_after)
        if not cfg["encoder"]["bidirectional"]:
            return hf, sf
        hb, sb = gru(x, src_lengths, h0, t["encoder.backward.kernel"],
                     t["encoder.backward.recurrent_kernel"], t["encoder.backward.bias"],
                     self.reset_after, reverse=True)
        return np.concatenate([hf, hb], -1), np.concatenate([sf, sb], -1)

    def decode(self, h, state, src_lengths, tgt_in, tgt_lengths):
        """Teacher-forced: returns probs [B, Td, Vt], weights [B, Td, Ts], final state."""
        t, cfg = self.t, self.cfg
        y = self._embed(tgt_in, "decoder.embedding", self.vt)
        s, s_last = gru(y, tgt_lengths, state, t["decoder.kernel"], t["decoder.recurrent_kernel"],
                        t["decoder.bias"], self.reset_after)
        context, weights = additive_attention(h, s, src_lengths, t["attention.W"],
                                              t["attention.U"], t.get("attention.bias"),
                                              t["attention.v"])
        logits = np.concatenate([s, context], -1) @ t["output.kernel"] + t["output.bias"]
        return softmax(logits), weights, s_last

    def bahdanau_step(self, h, state, src_lengths, token):
        """The PyTorch tutorial's AttnDecoderRNN, one step: h [B, Ts, He],
        state s_{t-1} [B, Hd], token y_{t-1} [B] -> (probs [B, Vt], weights
        [B, Ts], s_t). context = attention(h, s_{t-1}); s_t =
        GRU(cat[embed(y), context], s_{t-1}); probs = softmax(out(s_t))."""
        t = self.t
        context, weights = additive_attention(h, state[:, None, :], src_lengths, t["attention.W"],
                                              t["attention.U"], t.get("attention.bias"),
                                              t["attention.v"])
        x = np.concatenate([self._embed(token, "decoder.embedding", self.vt), context[:, 0]], -1)
        ones = np.ones(len(token), np.int64)
        _, s = gru(x[:, None, :], ones, state, t["decoder.kernel"], t["decoder.recurrent_kernel"],
                   t["decoder.bias"], self.reset_after)
        return softmax(s @ t["output.kernel"] + t["output.bias"]), weights[:, 0], s

    def forward(self, src, src_lengths, tgt_in, tgt_lengths):
        """Teacher-forced probs [B, Td, Vt] and attention [B, Td, Ts] (caller's positions)."""
        rows, lengths, offsets = self.source_rows(src, src_lengths)
        h, state = self.encode(rows, lengths)
        if self.kind == "bahdanau":
            tgt_in = np.asarray(tgt_in)
            probs = np.zeros(tgt_in.shape + (self.vt,))
            weights = np.zeros(tgt_in.shape + (rows.shape[1],))
            for step in range(tgt_in.shape[1]):
                probs[:, step], weights[:, step], state = self.bahdanau_step(
                    h, state, lengths, tgt_in[:, step])
        else:
            probs, weights, _ = self.decode(h, state, lengths, tgt_in, tgt_lengths)
        return probs, self.caller_weights(weights, np.asarray(src).shape[1], src_lengths, offsets)

    def greedy(self, src, src_lengths, max_steps):
        """Greedy token ids: (tokens [B, max_steps] padded with target_pad,
        lengths [B], attention [B, max_steps, Ts]), stopping at target_end."""
        sp = self.cfg["special_tokens"]
        rows, lengths, offsets = self.source_rows(src, src_lengths)
        h, state = self.encode(rows, lengths)
        B = rows.shape[0]
        tok = np.full(B, sp["target_start"], np.int64)
        tokens = np.full((B, max_steps), sp["target_pad"], np.int64)
        weights = np.zeros((B, max_steps, rows.shape[1]))
        out_len = np.full(B, -1)
        for step in range(max_steps):
            if self.kind == "bahdanau":
                probs, w, state = self.bahdanau_step(h, state, lengths, tok)
            else:
                p, w3, state = self.decode(h, state, lengths, tok[:, None], np.ones(B, np.int64))
                probs, w = p[:, 0], w3[:, 0]
            tok = probs.argmax(-1)
            for b in range(B):
                if out_len[b] >= 0:
                    continue
                if tok[b] == sp["target_end"]:
                    out_len[b] = step
                else:
                    tokens[b, step] = tok[b]
                    weights[b, step] = w[b]
        out_len[out_len < 0] = max_steps
        src_steps = np.asarray(src).shape[1]
        return tokens, out_len, self.caller_weights(weights, src_steps, src_lengths, offsets)

    def tokenize(self, text):
        cfg = self.cfg
        if cfg["lowercase_source"]:
            text = "".join(c.lower() if "A" <= c <= "Z" else c for c in text)
        vocab = {tok: i for i, tok in enumerate(cfg["source_vocab"])}
        pieces = list(text) if cfg["tokenization"] == "chars" else text.split()
        return [vocab.get(p, cfg["special_tokens"]["source_unk"]) for p in pieces]

    def translate(self, texts, max_steps=None):
        """Greedy decoding one step at a time (the decoder state carried)."""
        cfg, sp = self.cfg, self.cfg["special_tokens"]
        max_steps = max_steps or cfg["max_target_len"]
        ids = [self.tokenize(x) for x in texts]
        B, Ts = len(ids), max(len(i) for i in ids)
        src = np.zeros((B, Ts), dtype=np.int64)
        for i, seq in enumerate(ids):
            src[i, :len(seq)] = seq
        lengths = np.array([len(i) for i in ids])
        h, state = self.encode(src, lengths)
        tok = np.full((B, 1), sp["target_start"])
        done = np.zeros(B, dtype=bool)
        out = [[] for _ in range(B)]
        for _ in range(max_steps):
            probs, _, state = self.decode(h, state, lengths, tok, np.ones(B, dtype=np.int64))
            tok = probs[:, 0].argmax(-1)[:, None]
            for b in range(B):
                if done[b] or tok[b, 0] == sp["target_end"]:
                    done[b] = True
                else:
                    out[b].append(cfg["target_vocab"][tok[b, 0]])
            if done.all():
                break
        sep = "" if cfg["tokenization"] == "chars" else " "
        return [sep.join(o) for o in out]


def forecaster_forward(t):
    """Seed 003: SimpleRNN(tanh, return_sequences) -> attention pooling -> Dense(tanh)."""
    x = t["fixture.x"].astype(np.float64)  # [B, T, F]
    k, rk, bias = (t[n].astype(np.float64) for n in ("rnn.kernel", "rnn.recurrent_kernel",
                                                      "rnn.bias"))
    B, T, _ = x.shape
    h = np.zeros((B, rk.shape[0]))
    rnn_out = np.zeros((B, T, rk.shape[0]))
    for step in range(T):
        h = np.tanh(x[:, step] @ k + h @ rk + bias)
        rnn_out[:, step] = h
    e = np.tanh(rnn_out @ t["pooling.w"].astype(np.float64) + t["pooling.b"])  # [B, T]
    a = softmax(e)
    pooled = np.einsum("bt,btf->bf", a, rnn_out)
    y = np.tanh(pooled @ t["dense.kernel"] + t["dense.bias"])
    return {"fixture.rnn_out": rnn_out, "fixture.weights": a, "fixture.pooled": pooled,
            "fixture.y": y}


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check_seq2seq_fixture(fixture_path, model_path=None):
    ft, fm = read_safetensors(fixture_path)
    mt, mm = read_safetensors(model_path) if model_path else (ft, fm)
    model = Seq2Seq(mt, mm)
    probs, weights = model.forward(ft["fixture.src_tokens"], ft["fixture.src_lengths"],
                                   ft["fixture.tgt_in_tokens"], ft["fixture.tgt_lengths"])
    # Only steps t < tgt_lengths[b] are defined; every fixture uses full lengths.
    diffs = {"probs": max_diff(probs, ft["fixture.probs"]),
             "attention": max_diff(weights, ft["fixture.attention"])}
    if "fixture.greedy_tokens" in ft:  # tools/make_decoder_fixtures.py
        tokens, lengths, att = model.greedy(ft["fixture.src_tokens"], ft["fixture.src_lengths"],
                                            ft["fixture.greedy_tokens"].shape[1])
        diffs["greedy tokens (count differing)"] = float(
            np.sum(tokens != ft["fixture.greedy_tokens"]) +
            np.sum(lengths != ft["fixture.greedy_lengths"]))
        diffs["greedy attention"] = max_diff(att, ft["fixture.greedy_attention"])
    return diffs


def check_forecaster_fixture(path):
    t, _ = read_safetensors(path)
    ours = forecaster_forward(t)
    return {name.split(".", 1)[1]: max_diff(v, t[name]) for name, v in ours.items()}


def heldout_accuracy(model_path, tsv_path):
    t, m = read_safetensors(model_path)
    model = Seq2Seq(t, m)
    with open(tsv_path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    got = []
    for lo in range(0, len(rows), 256):
        got += model.translate([r[0] for r in rows[lo:lo + 256]])
    wrong = [(r[0], r[1], g) for r, g in zip(rows, got) if g != r[1]]
    return 1 - len(wrong) / len(rows), len(rows), wrong


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "date_model.safetensors"))
    ap.add_argument("--heldout", action="store_true", help="held-out accuracy of --model")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args()

    if args.heldout:
        tsv = os.path.join(args.fixtures, "date_heldout.tsv")
        acc, n, wrong = heldout_accuracy(args.model, tsv)
        print(f"held-out exact match (numpy greedy decoding): {acc:.4%} of {n}")
        for src, want, got in wrong[:20]:
            print(f"  {src!r}: expected {want!r}, got {got!r}")
        return 0 if acc >= 0.99 else 1

    worst = 0.0
    checks = [("date_model_parity.safetensors", lambda p: check_seq2seq_fixture(p, args.model)),
              ("seed_onehot.safetensors", check_seq2seq_fixture),
              ("seed_onehot_bidir.safetensors", check_seq2seq_fixture),
              ("embed_reset_before.safetensors", check_seq2seq_fixture),
              ("forecaster.safetensors", check_forecaster_fixture),
              ("bahdanau_tutorial.safetensors", check_seq2seq_fixture),
              ("unpadded_pre.safetensors", check_seq2seq_fixture)]
    for name, check in checks:
        diffs = check(os.path.join(args.fixtures, name))
        worst = max(worst, *diffs.values())
        print(f"{name}: " + ", ".join(f"max|numpy-keras| {k} {v:.3g}" for k, v in diffs.items()))
    print(f"worst {worst:.3g} (tolerance {args.tolerance:g})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
