"""The layers of docs/math.md as Python functions over a Handle.

Each function checks shapes and dtypes (ValueError/TypeError naming the
argument), allocates its outputs unless given `out=` (and `weights_out=`,
`state_out=`), calls the C function and raises SeqattnError if the library
refuses. Tensors are numpy arrays for CPU handles and CUDA arrays (CuPy,
PyTorch) for CUDA handles; lengths are always host integers.
"""

from __future__ import annotations

import ctypes

from . import _raw
from ._handle import Handle
from ._tensors import Call

_GRU_VARIANTS = {
    "reset_after": _raw.SEQATTN_GRU_RESET_AFTER,
    "reset_before": _raw.SEQATTN_GRU_RESET_BEFORE,
}
_ACTIVATIONS = {
    None: _raw.SEQATTN_ACTIVATION_NONE,
    "none": _raw.SEQATTN_ACTIVATION_NONE,
    "linear": _raw.SEQATTN_ACTIVATION_NONE,  # Keras' name for it
    "tanh": _raw.SEQATTN_ACTIVATION_TANH,
    "sigmoid": _raw.SEQATTN_ACTIVATION_SIGMOID,
    "relu": _raw.SEQATTN_ACTIVATION_RELU,
    "softmax": _raw.SEQATTN_ACTIVATION_SOFTMAX,
}


def _refuse_overlap(outputs, inputs) -> None:
    """No op computes in place: an output that shares memory with an input or
    another output (``gru(h, x, k, rk, out=x)``) would be written before it is
    read. Refused here by the Python names (the C library refuses it too, by
    its own names); (name, Tensor or None) pairs, extents from the shapes."""
    def extent(t):
        n = 4  # float32
        for e in t.shape:
            n *= e
        return t.address, t.address + n

    outs = [(n, t) for n, t in outputs if t is not None and t.address]
    ins = [(n, t) for n, t in inputs if t is not None and t.address]
    for i, (name, t) in enumerate(outs):
        a0, a1 = extent(t)
        for other, u in ins + outs[:i]:
            b0, b1 = extent(u)
            if a0 < b1 and b0 < a1:
                raise ValueError(f"{name} overlaps {other}: an output must not share memory "
                                 f"with an input or another output (no op runs in place)")


def _weights_output(call: Call, return_weights: bool, weights_out, shape):
    if weights_out is not None and not return_weights:
        raise ValueError("weights_out was given but return_weights=False")
    return call.output("weights_out", weights_out, shape) if return_weights else None


def additive_attention(handle: Handle, encoder_out, decoder_out, W, U, v, bias=None,
                       enc_lengths=None, dec_lengths=None, return_weights=True, *,
                       out=None, weights_out=None):
    """Bahdanau attention over all decoder steps at once.

    encoder_out [B, Te, He], decoder_out [B, Td, Hd], W [He, A], U [Hd, A],
    v [A], bias [A] or None, enc_lengths/dec_lengths [B] host ints or None.
    Returns context [B, Td, He] and, if return_weights, weights [B, Td, Te].
    """
    call = Call(handle)
    h = call.input("encoder_out", encoder_out, ("B", "Te", "He"))
    s = call.input("decoder_out", decoder_out, ("B", "Td", "Hd"))
    W_ = call.input("W", W, ("He", "A"))
    U_ = call.input("U", U, ("Hd", "A"))
    v_ = call.input("v", v, ("A",))
    b_ = call.input("bias", bias, ("A",), optional=True)
    B, Te, Td, He = call.sizes("B", "Te", "Td", "He")
    el = call.lengths("enc_lengths", enc_lengths, B)
    dl = call.lengths("dec_lengths", dec_lengths, B)
    ctx = call.output("out", out, (B, Td, He))
    w = _weights_output(call, return_weights, weights_out, (B, Td, Te))
    _refuse_overlap([("out", ctx), ("weights_out", w)],
                    [("encoder_out", h), ("decoder_out", s), ("W", W_), ("U", U_), ("v", v_),
                     ("bias", b_)])
    dims = _raw.seqattn_attention_dims(*call.sizes("B", "Te", "Td", "He", "Hd", "A"))
    call.run(_raw.seqattn_additive_attention_forward, ctypes.byref(dims), h, s, el, dl,
             W_, U_, b_, v_, ctx, w)
    return (ctx.array, w.array) if return_weights else ctx.array


def project_keys(handle: Handle, encoder_out, W, bias=None, *, out=None):
    """keys [B, Te, A] = encoder_out [B, Te, He] · W [He, A] + bias [A], once per source."""
    call = Call(handle)
    h = call.input("encoder_out", encoder_out, ("B", "Te", "He"))
    W_ = call.input("W", W, ("He", "A"))
    b_ = call.input("bias", bias, ("A",), optional=True)
    B, Te, He, A = call.sizes("B", "Te", "He", "A")
    keys = call.output("out", out, (B, Te, A))
    _refuse_overlap([("out", keys)], [("encoder_out", h), ("W", W_), ("bias", b_)])
    # The projection reads only B, Te, He and A; the decoder extents just have to be valid.
    dims = _raw.seqattn_attention_dims(B, Te, 1, He, 1, A)
    call.run(_raw.seqattn_additive_attention_project_keys, ctypes.byref(dims), h, W_, b_, keys)
    return keys.array


def additive_attention_projected(handle: Handle, encoder_out, keys, decoder_out, U, v,
                                 enc_lengths=None, dec_lengths=None, return_weights=True, *,
                                 out=None, weights_out=None):
    """additive_attention with keys [B, Te, A] from project_keys (step-by-step decoding)."""
    call = Call(handle)
    h = call.input("encoder_out", encoder_out, ("B", "Te", "He"))
    k = call.input("keys", keys, ("B", "Te", "A"))
    s = call.input("decoder_out", decoder_out, ("B", "Td", "Hd"))
    U_ = call.input("U", U, ("Hd", "A"))
    v_ = call.input("v", v, ("A",))
    B, Te, Td, He = call.sizes("B", "Te", "Td", "He")
    el = call.lengths("enc_lengths", enc_lengths, B)
    dl = call.lengths("dec_lengths", dec_lengths, B)
    ctx = call.output("out", out, (B, Td, He))
    w = _weights_output(call, return_weights, weights_out, (B, Td, Te))
    _refuse_overlap([("out", ctx), ("weights_out", w)],
                    [("encoder_out", h), ("keys", k), ("decoder_out", s), ("U", U_), ("v", v_)])
    dims = _raw.seqattn_attention_dims(*call.sizes("B", "Te", "Td", "He", "Hd", "A"))
    call.run(_raw.seqattn_additive_attention_forward_projected, ctypes.byref(dims), h, k, s,
             el, dl, U_, v_, ctx, w)
    return (ctx.array, w.array) if return_weights else ctx.array


def attention_pooling(handle: Handle, x, w, b=None, lengths=None, return_weights=True, *,
                      out=None, weights_out=None):
    """Attention pooling over time: x [B, T, F], w [F], b [T] or None.

    Returns context [B, F] and, if return_weights, weights [B, T].
    """
    call = Call(handle)
    x_ = call.input("x", x, ("B", "T", "F"))
    w_ = call.input("w", w, ("F",))
    b_ = call.input("b", b, ("T",), optional=True)
    B, T, F = call.sizes("B", "T", "F")
    lens = call.lengths("lengths", lengths, B)
    ctx = call.output("out", out, (B, F))
    wts = _weights_output(call, return_weights, weights_out, (B, T))
    _refuse_overlap([("out", ctx), ("weights_out", wts)], [("x", x_), ("w", w_), ("b", b_)])
    dims = _raw.seqattn_pooling_dims(B, T, F)
    call.run(_raw.seqattn_attention_pooling_forward, ctypes.byref(dims), x_, lens, w_, b_, ctx,
             wts)
    return (ctx.array, wts.array) if return_weights else ctx.array


def _rnn(call: Call, x, kernel, recurrent_kernel, gates: int, bias, bias_spec, lengths, h0,
         reverse: bool, return_sequences: bool, return_state: bool, out, state_out):
    if not (return_sequences or return_state):
        raise ValueError("return_sequences and return_state are both False: nothing to return")
    if out is not None and not return_sequences:
        raise ValueError("out was given but return_sequences=False")
    if state_out is not None and not return_state:
        raise ValueError("state_out was given but return_state=False")
    x_ = call.input("x", x, ("B", "T", "I"))
    # recurrent_kernel first: its leading axis fixes H, so kernel and bias are
    # reported against it.
    rk = call.input("recurrent_kernel", recurrent_kernel, ("H", (gates, "H")))
    k = call.input("kernel", kernel, ("I", (gates, "H")))
    b_ = call.input("bias", bias, bias_spec, optional=True)
    B, T, I, H = call.sizes("B", "T", "I", "H")
    h0_ = call.input("h0", h0, ("B", "H"), optional=True)
    lens = call.lengths("lengths", lengths, B)
    seq = call.output("out", out, (B, T, H)) if return_sequences else None
    last = call.output("state_out", state_out, (B, H)) if return_state else None
    _refuse_overlap([("out", seq), ("state_out", last)],
                    [("x", x_), ("h0", h0_), ("kernel", k), ("recurrent_kernel", rk),
                     ("bias", b_)])
    dims = _raw.seqattn_rnn_dims(B, T, I, H)
    flags = _raw.SEQATTN_RNN_REVERSE if reverse else 0
    return dims, flags, x_, lens, h0_, k, rk, b_, seq, last


def _rnn_result(seq, last, return_sequences: bool, return_state: bool):
    if return_sequences and return_state:
        return seq.array, last.array
    return seq.array if return_sequences else last.array


def gru(handle: Handle, x, kernel, recurrent_kernel, bias=None, *, variant="reset_after",
        reverse=False, lengths=None, h0=None, return_sequences=True, return_state=True,
        out=None, state_out=None):
    """A GRU layer in the Keras layout (column blocks z, r, h).

    x [B, T, I], kernel [I, 3H], recurrent_kernel [H, 3H], bias [2, 3H] for
    variant="reset_after" (Keras default, cuDNN/PyTorch math) or [3H] for
    "reset_before", or None; h0 [B, H] or None (zeros); lengths [B] host ints.
    Returns (outputs [B, T, H], h_last [B, H]), or one of them when
    return_sequences / return_state is False.
    """
    if variant not in _GRU_VARIANTS:
        raise ValueError(f"variant must be 'reset_after' or 'reset_before', got {variant!r}")
    bias_spec = (2, (3, "H")) if variant == "reset_after" else ((3, "H"),)
    call = Call(handle)
    dims, flags, *tensors = _rnn(call, x, kernel, recurrent_kernel, 3, bias, bias_spec, lengths,
                                 h0, reverse, return_sequences, return_state, out, state_out)
    call.run(_raw.seqattn_gru_forward, ctypes.byref(dims), _GRU_VARIANTS[variant], flags,
             *tensors)
    return _rnn_result(tensors[-2], tensors[-1], return_sequences, return_state)


def simple_rnn(handle: Handle, x, kernel, recurrent_kernel, bias=None, *, reverse=False,
               lengths=None, h0=None, return_sequences=True, return_state=True, out=None,
               state_out=None):
    """h' = tanh(x·kernel + h·recurrent_kernel + bias): x [B, T, I], kernel [I, H],
    recurrent_kernel [H, H], bias [H] or None. Returns as gru()."""
    call = Call(handle)
    dims, flags, *tensors = _rnn(call, x, kernel, recurrent_kernel, 1, bias, ("H",), lengths,
                                 h0, reverse, return_sequences, return_state, out, state_out)
    call.run(_raw.seqattn_simple_rnn_forward, ctypes.byref(dims), flags, *tensors)
    return _rnn_result(tensors[-2], tensors[-1], return_sequences, return_state)


def dense(handle: Handle, x, W, b=None, activation="none", *, out=None):
    """y [..., out] = act(x [..., in] · W [in, out] + b [out]).

    activation: "none" (or None, "linear"), "tanh", "sigmoid", "relu",
    "softmax" (over the last axis), or a seqattn_activation value.
    """
    act = _activation(activation)
    call = Call(handle)
    x_ = call.input("x", x, ("...", "In"))
    W_ = call.input("W", W, ("In", "Out"))
    b_ = call.input("b", b, ("Out",), optional=True)
    lead = x_.shape[:-1]
    rows = 1
    for extent in lead:
        rows *= extent
    In, Out = call.sizes("In", "Out")
    y = call.output("out", out, lead + (Out,))
    _refuse_overlap([("out", y)], [("x", x_), ("W", W_), ("b", b_)])
    call.run(_raw.seqattn_dense_forward, rows, In, Out, x_, W_, b_, int(act), y)
    return y.array


# ---------------------------------------------------------- backward passes
#
# Each backward takes the forward's inputs, what its forward returned (the
# weights, the RNN outputs, the Dense output) and the gradients of the loss
# with respect to those outputs (d_*), and returns the gradients with respect
# to the forward's inputs, in the C function's order. The gradients are
# written, never accumulated. A gradient that the C API computes "or NULL" is
# computed when its input was given (bias, b, h0; dense: bias_grad=True) and is
# None in the result otherwise; gradient arguments that may be None (d_weights,
# d_outputs, d_h_last) mean no loss on that output. Outputs are allocated unless
# given by name (d_encoder_out=..., as the C parameters are called).


def _activation(activation):
    if isinstance(activation, _raw.seqattn_activation):
        return activation
    if isinstance(activation, str) or activation is None:
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of none, linear, tanh, sigmoid, relu, "
                             f"softmax, got {activation!r}")
        return _ACTIVATIONS[activation]
    raise TypeError(f"activation must be a str or seqattn_activation, got "
                    f"{type(activation).__name__}")


def additive_attention_backward(handle: Handle, encoder_out, decoder_out, W, U, v, weights,
                                d_context, bias=None, enc_lengths=None, dec_lengths=None,
                                d_weights=None, *, d_encoder_out=None, d_decoder_out=None,
                                d_W=None, d_U=None, d_bias=None, d_v=None):
    """The gradients of additive_attention.

    The forward's inputs, its weights [B, Td, Te] (return_weights=True), and
    d_context [B, Td, He], d_weights [B, Td, Te] or None (no loss on the
    weights). Returns (d_encoder_out [B, Te, He], d_decoder_out [B, Td, Hd],
    d_W [He, A], d_U [Hd, A], d_bias [A] or None when bias is None, d_v [A]).
    """
    call = Call(handle)
    h = call.input("encoder_out", encoder_out, ("B", "Te", "He"))
    s = call.input("decoder_out", decoder_out, ("B", "Td", "Hd"))
    W_ = call.input("W", W, ("He", "A"))
    U_ = call.input("U", U, ("Hd", "A"))
    v_ = call.input("v", v, ("A",))
    b_ = call.input("bias", bias, ("A",), optional=True)
    w = call.input("weights", weights, ("B", "Td", "Te"))
    dc = call.input("d_context", d_context, ("B", "Td", "He"))
    dw = call.input("d_weights", d_weights, ("B", "Td", "Te"), optional=True)
    B, Te, Td, He, Hd, A = call.sizes("B", "Te", "Td", "He", "Hd", "A")
    el = call.lengths("enc_lengths", enc_lengths, B)
    dl = call.lengths("dec_lengths", dec_lengths, B)
    if d_bias is not None and b_ is None:
        raise ValueError("d_bias was given but bias is None: there is no bias gradient")
    outs = [("d_encoder_out", call.output("d_encoder_out", d_encoder_out, (B, Te, He))),
            ("d_decoder_out", call.output("d_decoder_out", d_decoder_out, (B, Td, Hd))),
            ("d_W", call.output("d_W", d_W, (He, A))),
            ("d_U", call.output("d_U", d_U, (Hd, A))),
            ("d_bias", call.output("d_bias", d_bias, (A,)) if b_ is not None else None),
            ("d_v", call.output("d_v", d_v, (A,)))]
    _refuse_overlap(outs, [("encoder_out", h), ("decoder_out", s), ("W", W_), ("U", U_),
                           ("v", v_), ("bias", b_), ("weights", w), ("d_context", dc),
                           ("d_weights", dw)])
    dims = _raw.seqattn_attention_dims(B, Te, Td, He, Hd, A)
    call.run(_raw.seqattn_additive_attention_backward, ctypes.byref(dims), h, s, el, dl, W_, U_,
             b_, v_, w, dc, dw, *(t for _, t in outs))
    return tuple(t.array if t is not None else None for _, t in outs)


def additive_attention_projected_backward(handle: Handle, encoder_out, keys, decoder_out, U, v,
                                          weights, d_context, enc_lengths=None,
                                          dec_lengths=None, d_weights=None, *,
                                          d_encoder_out=None, d_keys=None, d_decoder_out=None,
                                          d_U=None, d_v=None):
    """The gradients of additive_attention_projected: (d_encoder_out [B, Te, He]
    (the values' share only), d_keys [B, Te, A], d_decoder_out [B, Td, Hd],
    d_U [Hd, A], d_v [A]). d_keys goes on to project_keys_backward."""
    call = Call(handle)
    h = call.input("encoder_out", encoder_out, ("B", "Te", "He"))
    k = call.input("keys", keys, ("B", "Te", "A"))
    s = call.input("decoder_out", decoder_out, ("B", "Td", "Hd"))
    U_ = call.input("U", U, ("Hd", "A"))
    v_ = call.input("v", v, ("A",))
    w = call.input("weights", weights, ("B", "Td", "Te"))
    dc = call.input("d_context", d_context, ("B", "Td", "He"))
    dw = call.input("d_weights", d_weights, ("B", "Td", "Te"), optional=True)
    B, Te, Td, He, Hd, A = call.sizes("B", "Te", "Td", "He", "Hd", "A")
    el = call.lengths("enc_lengths", enc_lengths, B)
    dl = call.lengths("dec_lengths", dec_lengths, B)
    outs = [("d_encoder_out", call.output("d_encoder_out", d_encoder_out, (B, Te, He))),
            ("d_keys", call.output("d_keys", d_keys, (B, Te, A))),
            ("d_decoder_out", call.output("d_decoder_out", d_decoder_out, (B, Td, Hd))),
            ("d_U", call.output("d_U", d_U, (Hd, A))),
            ("d_v", call.output("d_v", d_v, (A,)))]
    _refuse_overlap(outs, [("encoder_out", h), ("keys", k), ("decoder_out", s), ("U", U_),
                           ("v", v_), ("weights", w), ("d_context", dc), ("d_weights", dw)])
    dims = _raw.seqattn_attention_dims(B, Te, Td, He, Hd, A)
    call.run(_raw.seqattn_additive_attention_projected_backward, ctypes.byref(dims), h, k, s,
             el, dl, U_, v_, w, dc, dw, *(t for _, t in outs))
    return tuple(t.array for _, t in outs)


def attention_pooling_backward(handle: Handle, x, w, weights, d_context, b=None, lengths=None,
                               d_weights=None, *, d_x=None, d_w=None, d_b=None):
    """The gradients of attention_pooling, from its weights [B, T] and
    d_context [B, F] (d_weights [B, T] or None): (d_x [B, T, F], d_w [F],
    d_b [T] or None when b is None)."""
    call = Call(handle)
    x_ = call.input("x", x, ("B", "T", "F"))
    w_ = call.input("w", w, ("F",))
    b_ = call.input("b", b, ("T",), optional=True)
    a = call.input("weights", weights, ("B", "T"))
    dc = call.input("d_context", d_context, ("B", "F"))
    da = call.input("d_weights", d_weights, ("B", "T"), optional=True)
    B, T, F = call.sizes("B", "T", "F")
    lens = call.lengths("lengths", lengths, B)
    if d_b is not None and b_ is None:
        raise ValueError("d_b was given but b is None: there is no bias gradient")
    outs = [("d_x", call.output("d_x", d_x, (B, T, F))),
            ("d_w", call.output("d_w", d_w, (F,))),
            ("d_b", call.output("d_b", d_b, (T,)) if b_ is not None else None)]
    _refuse_overlap(outs, [("x", x_), ("w", w_), ("b", b_), ("weights", a), ("d_context", dc),
                           ("d_weights", da)])
    dims = _raw.seqattn_pooling_dims(B, T, F)
    call.run(_raw.seqattn_attention_pooling_backward, ctypes.byref(dims), x_, lens, w_, b_, a,
             dc, da, *(t for _, t in outs))
    return tuple(t.array if t is not None else None for _, t in outs)


def _rnn_backward(call: Call, x, kernel, recurrent_kernel, gates: int, bias, bias_spec, lengths,
                  h0, reverse: bool, outputs, d_outputs, d_h_last, d_x, d_h0, d_kernel,
                  d_recurrent_kernel, d_bias):
    x_ = call.input("x", x, ("B", "T", "I"))
    rk = call.input("recurrent_kernel", recurrent_kernel, ("H", (gates, "H")))
    k = call.input("kernel", kernel, ("I", (gates, "H")))
    b_ = call.input("bias", bias, bias_spec, optional=True)
    B, T, I, H = call.sizes("B", "T", "I", "H")
    h0_ = call.input("h0", h0, ("B", "H"), optional=True)
    seq = call.input("outputs", outputs, ("B", "T", "H"))
    dseq = call.input("d_outputs", d_outputs, ("B", "T", "H"), optional=True)
    dlast = call.input("d_h_last", d_h_last, ("B", "H"), optional=True)
    lens = call.lengths("lengths", lengths, B)
    for name, given, source in (("d_h0", d_h0, h0_), ("d_bias", d_bias, b_)):
        if given is not None and source is None:
            raise ValueError(f"{name} was given but {name[2:]} is None: there is no such "
                             "gradient")
    outs = [("d_x", call.output("d_x", d_x, (B, T, I))),
            ("d_h0", call.output("d_h0", d_h0, (B, H)) if h0_ is not None else None),
            ("d_kernel", call.output("d_kernel", d_kernel, k.shape)),
            ("d_recurrent_kernel", call.output("d_recurrent_kernel", d_recurrent_kernel,
                                               rk.shape)),
            ("d_bias", call.output("d_bias", d_bias, b_.shape) if b_ is not None else None)]
    _refuse_overlap(outs, [("x", x_), ("h0", h0_), ("kernel", k), ("recurrent_kernel", rk),
                           ("bias", b_), ("outputs", seq), ("d_outputs", dseq),
                           ("d_h_last", dlast)])
    dims = _raw.seqattn_rnn_dims(B, T, I, H)
    flags = _raw.SEQATTN_RNN_REVERSE if reverse else 0
    return dims, flags, [x_, lens, h0_, k, rk, b_, seq, dseq, dlast] + [t for _, t in outs]


def gru_backward(handle: Handle, x, kernel, recurrent_kernel, outputs, bias=None, *,
                 variant="reset_after", reverse=False, lengths=None, h0=None, d_outputs=None,
                 d_h_last=None, d_x=None, d_h0=None, d_kernel=None, d_recurrent_kernel=None,
                 d_bias=None):
    """The gradients of gru, through time, from its outputs [B, T, H] (the
    forward with return_sequences=True) and d_outputs [B, T, H] and/or
    d_h_last [B, H] (either may be None: no loss there). Same variant, reverse,
    lengths and h0 as the forward. Returns (d_x [B, T, I], d_h0 [B, H] or None
    when h0 is None, d_kernel [I, 3H], d_recurrent_kernel [H, 3H], d_bias (the
    bias's shape) or None when bias is None)."""
    if variant not in _GRU_VARIANTS:
        raise ValueError(f"variant must be 'reset_after' or 'reset_before', got {variant!r}")
    bias_spec = (2, (3, "H")) if variant == "reset_after" else ((3, "H"),)
    call = Call(handle)
    dims, flags, tensors = _rnn_backward(call, x, kernel, recurrent_kernel, 3, bias, bias_spec,
                                         lengths, h0, reverse, outputs, d_outputs, d_h_last,
                                         d_x, d_h0, d_kernel, d_recurrent_kernel, d_bias)
    call.run(_raw.seqattn_gru_backward, ctypes.byref(dims), _GRU_VARIANTS[variant], flags,
             *tensors)
    return tuple(t.array if t is not None else None for t in tensors[-5:])


def simple_rnn_backward(handle: Handle, x, kernel, recurrent_kernel, outputs, bias=None, *,
                        reverse=False, lengths=None, h0=None, d_outputs=None, d_h_last=None,
                        d_x=None, d_h0=None, d_kernel=None, d_recurrent_kernel=None,
                        d_bias=None):
    """The gradients of simple_rnn, as gru_backward: (d_x [B, T, I], d_h0 [B, H]
    or None, d_kernel [I, H], d_recurrent_kernel [H, H], d_bias [H] or None)."""
    call = Call(handle)
    dims, flags, tensors = _rnn_backward(call, x, kernel, recurrent_kernel, 1, bias, ("H",),
                                         lengths, h0, reverse, outputs, d_outputs, d_h_last,
                                         d_x, d_h0, d_kernel, d_recurrent_kernel, d_bias)
    call.run(_raw.seqattn_simple_rnn_backward, ctypes.byref(dims), flags, *tensors)
    return tuple(t.array if t is not None else None for t in tensors[-5:])


def _dense_backward(handle: Handle, names, x, W, y, d_y, act, bias_grad: bool, d_x, d_W,
                    d_b):
    # names: what the caller calls x, W, y, d_y, d_x, d_W, d_b (project_keys'
    # are encoder_out, W, keys, ...), so that a refusal names its argument.
    nx, nW, ny, ndy, ndx, ndW, ndb = names
    call = Call(handle)
    x_ = call.input(nx, x, ("...", "In"))
    W_ = call.input(nW, W, ("In", "Out"))
    lead = x_.shape[:-1]
    In, Out = call.sizes("In", "Out")
    y_ = call.input(ny, y, lead + ("Out",))
    dy = call.input(ndy, d_y, y_.shape)
    rows = 1
    for extent in lead:
        rows *= extent
    if d_b is not None and not bias_grad:
        raise ValueError(f"{ndb} was given but bias_grad=False")
    outs = [(ndx, call.output(ndx, d_x, x_.shape)),
            (ndW, call.output(ndW, d_W, (In, Out))),
            (ndb, call.output(ndb, d_b, (Out,)) if bias_grad else None)]
    _refuse_overlap(outs, [(nx, x_), (nW, W_), (ny, y_), (ndy, dy)])
    call.run(_raw.seqattn_dense_backward, rows, In, Out, x_, W_, int(act), y_, dy,
             *(t for _, t in outs))
    return tuple(t.array if t is not None else None for _, t in outs)


def dense_backward(handle: Handle, x, W, y, d_y, activation="none", *, bias_grad=True, d_x=None,
                   d_W=None, d_b=None):
    """The gradients of dense, from its output y [..., Out] and d_y [..., Out]
    (same activation): (d_x [..., In], d_W [In, Out], d_b [Out], or None with
    bias_grad=False)."""
    return _dense_backward(handle, ("x", "W", "y", "d_y", "d_x", "d_W", "d_b"), x, W, y, d_y,
                           _activation(activation), bias_grad, d_x, d_W, d_b)


def project_keys_backward(handle: Handle, encoder_out, W, keys, d_keys, *, bias_grad=True,
                          d_encoder_out=None, d_W=None, d_bias=None):
    """The gradients of project_keys (a Dense without activation), from its
    keys [B, Te, A] and d_keys [B, Te, A] (additive_attention_projected_backward's):
    (d_encoder_out [B, Te, He] (the keys' share), d_W [He, A], d_bias [A], or
    None with bias_grad=False)."""
    return _dense_backward(handle, ("encoder_out", "W", "keys", "d_keys", "d_encoder_out", "d_W",
                                    "d_bias"), encoder_out, W, keys, d_keys,
                           _raw.SEQATTN_ACTIVATION_NONE, bias_grad, d_encoder_out, d_W, d_bias)
