"""docs/math.md in float64 numpy, written from the formulas (not from src/cpu).

The oracle of the binding tests: vectorised where the math is (the attention
score tensor [B, Td, Te, A] is materialised, which is fine at test sizes), a
plain loop over time where the recurrence is. Every function takes float
arrays of any precision and computes in float64.
"""

import numpy as np


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _valid(lengths, batch, steps):
    """[B, steps] bool: position t of row b is inside lengths[b] (all when None)."""
    if lengths is None:
        return np.ones((batch, steps), dtype=bool)
    lengths = np.asarray(lengths).reshape(batch, 1)
    return np.arange(steps)[None, :] < lengths


def masked_softmax(e, valid):
    """Softmax over the last axis among valid positions; a row with none valid is 0."""
    e = np.where(valid, e, -np.inf)
    row_max = e.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    p = np.where(valid, np.exp(e - row_max), 0.0)
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


def project_keys(h, W, bias=None):
    """keys[b,i,:] = h[b,i,:]·W + bias: h [B, Te, He], W [He, A] -> [B, Te, A]."""
    keys = _f64(h) @ _f64(W)
    return keys if bias is None else keys + _f64(bias)


def additive_attention_projected(h, keys, s, U, v, enc_lengths=None, dec_lengths=None):
    """(context [B, Td, He], weights [B, Td, Te]) from keys [B, Te, A]."""
    h, keys, s, U, v = map(_f64, (h, keys, s, U, v))
    B, Te, _ = h.shape
    Td = s.shape[1]
    query = s @ U                                                    # [B, Td, A]
    e = np.tanh(keys[:, None, :, :] + query[:, :, None, :]) @ v      # [B, Td, Te]
    valid = _valid(enc_lengths, B, Te)[:, None, :] & _valid(dec_lengths, B, Td)[:, :, None]
    weights = masked_softmax(e, valid)
    return weights @ h, weights


def additive_attention(h, s, W, U, v, bias=None, enc_lengths=None, dec_lengths=None):
    """Bahdanau attention: h [B, Te, He], s [B, Td, Hd], W [He, A], U [Hd, A], v [A]."""
    return additive_attention_projected(h, project_keys(h, W, bias), s, U, v, enc_lengths,
                                        dec_lengths)


def attention_pooling(x, w, b=None, lengths=None):
    """(out [B, F], a [B, T]): e = tanh(x·w + b[t]), a = softmax_t(e), out = Σ_t a·x."""
    x, w = _f64(x), _f64(w)
    B, T, _ = x.shape
    e = x @ w                                                        # [B, T]
    if b is not None:
        e = e + _f64(b)[None, :]
    a = masked_softmax(np.tanh(e), _valid(lengths, B, T))
    return np.einsum("bt,btf->bf", a, x), a


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_cell_reset_after(x, h, kernel, recurrent_kernel, bias):
    """One step, Keras reset_after: x [B, I], h [B, H] -> h' [B, H]; blocks z, r, h."""
    H = h.shape[1]
    xp = x @ kernel + (0.0 if bias is None else bias[0])
    hp = h @ recurrent_kernel + (0.0 if bias is None else bias[1])
    z = sigmoid(xp[:, :H] + hp[:, :H])
    r = sigmoid(xp[:, H:2 * H] + hp[:, H:2 * H])
    c = np.tanh(xp[:, 2 * H:] + r * hp[:, 2 * H:])
    return z * h + (1.0 - z) * c


def gru_cell_reset_before(x, h, kernel, recurrent_kernel, bias):
    """One step, Keras reset_after=False: bias [3H]; r gates h before the product."""
    H = h.shape[1]
    xp = x @ kernel + (0.0 if bias is None else bias)
    Rz, Rr, Rh = (recurrent_kernel[:, g * H:(g + 1) * H] for g in range(3))
    z = sigmoid(xp[:, :H] + h @ Rz)
    r = sigmoid(xp[:, H:2 * H] + h @ Rr)
    c = np.tanh(xp[:, 2 * H:] + (r * h) @ Rh)
    return z * h + (1.0 - z) * c


def simple_rnn_cell(x, h, kernel, recurrent_kernel, bias):
    pre = x @ kernel + h @ recurrent_kernel
    return np.tanh(pre if bias is None else pre + bias)


def run_rnn(cell, x, kernel, recurrent_kernel, bias=None, lengths=None, h0=None, reverse=False):
    """(outputs [B, T, H], h_last [B, H]) of `cell` over x [B, T, I].

    Row b runs over its valid steps t < lengths[b] only (backwards when
    reverse, outputs staying at their input positions); other steps output 0
    and h_last is the state after the last valid step processed (h0 if none).
    Each row runs on its own so the masking rule is the plain definition.
    """
    x, kernel, recurrent_kernel, bias, h0 = map(_f64, (x, kernel, recurrent_kernel, bias, h0))
    B, T, _ = x.shape
    H = recurrent_kernel.shape[0]
    outputs = np.zeros((B, T, H))
    h_last = np.zeros((B, H)) if h0 is None else h0.copy()
    for b in range(B):
        n = T if lengths is None else int(lengths[b])
        h = h_last[b:b + 1]
        for t in (reversed(range(n)) if reverse else range(n)):
            h = cell(x[b, t:t + 1], h, kernel, recurrent_kernel, bias)
            outputs[b, t] = h[0]
        h_last[b] = h[0]
    return outputs, h_last


def gru(x, kernel, recurrent_kernel, bias=None, variant="reset_after", **kw):
    cell = gru_cell_reset_after if variant == "reset_after" else gru_cell_reset_before
    return run_rnn(cell, x, kernel, recurrent_kernel, bias, **kw)


def simple_rnn(x, kernel, recurrent_kernel, bias=None, **kw):
    return run_rnn(simple_rnn_cell, x, kernel, recurrent_kernel, bias, **kw)


def dense(x, W, b=None, activation="none"):
    """act(x·W + b) over the last axis of x [..., in]; W [in, out]."""
    y = _f64(x) @ _f64(W)
    if b is not None:
        y = y + _f64(b)
    if activation == "tanh":
        return np.tanh(y)
    if activation == "sigmoid":
        return sigmoid(y)
    if activation == "relu":
        return np.maximum(y, 0.0)
    if activation == "softmax":
        p = np.exp(y - y.max(axis=-1, keepdims=True))
        return p / p.sum(axis=-1, keepdims=True)
    assert activation == "none", activation
    return y


def torch_gru(x, weight_ih, weight_hh, bias_ih, bias_hh, h0=None):
    """PyTorch nn.GRU (one layer, batch_first) as its documentation writes it:
    gates r, z, n stacked along the rows of weight_ih [3H, I] and weight_hh [3H, H].

        r = σ(W_ir x + b_ir + W_hr h + b_hr);  z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn));  h' = (1 − z) ⊙ n + z ⊙ h
    """
    x, weight_ih, weight_hh, bias_ih, bias_hh = map(_f64, (x, weight_ih, weight_hh, bias_ih,
                                                          bias_hh))
    B, T, _ = x.shape
    H = weight_hh.shape[1]
    W_ir, W_iz, W_in = weight_ih[:H], weight_ih[H:2 * H], weight_ih[2 * H:]
    W_hr, W_hz, W_hn = weight_hh[:H], weight_hh[H:2 * H], weight_hh[2 * H:]
    b_ir, b_iz, b_in = bias_ih[:H], bias_ih[H:2 * H], bias_ih[2 * H:]
    b_hr, b_hz, b_hn = bias_hh[:H], bias_hh[H:2 * H], bias_hh[2 * H:]
    h = np.zeros((B, H)) if h0 is None else _f64(h0)
    outputs = np.zeros((B, T, H))
    for t in range(T):
        xt = x[:, t]
        r = sigmoid(xt @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = sigmoid(xt @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = np.tanh(xt @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        h = (1.0 - z) * n + z * h
        outputs[:, t] = h
    return outputs, h
