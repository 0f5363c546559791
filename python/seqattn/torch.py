"""seqattn on torch tensors: the ops of seqattn.ops as differentiable
functions, and nn.Modules with the parameters of the models people train.

    import torch, seqattn.torch as st
    attn = st.BahdanauAttention(256)                 # the PyTorch tutorial's parameters
    attn.load_state_dict(trained.attention.state_dict())
    with torch.inference_mode():
        context, weights = attn(query, keys)         # [B, 1, H], [B, 1, Te]

Tensors are CPU or CUDA float32 tensors, passed without a copy: CPU tensors
through .numpy() (a view of the same memory), CUDA tensors through
__cuda_array_interface__ (their data_ptr); outputs are new tensors on the
inputs' device. All tensors of one call must be on one device. CUDA calls run
on torch's current stream of that device, asynchronously, like torch's own
ops (on the default stream, seqattn's handle uses a blocking stream of its
own, which CUDA orders with the default stream both ways).

Training: when grad mode is on and a tensor input requires grad, a call is
recorded for autograd (a torch.autograd.Function per op) and its backward
runs the library's backward pass (seqattn.ops.*_backward) on the same
device, so the modules below train with any torch optimiser. What is kept
for the backward is the forward's inputs and its outputs (the attention or
pooling weights [B, Td, Te] / [B, T], the RNN outputs [B, T, H], the Dense
output): never the [B, Td, Te, A] energies, which the backward recomputes.
Gradients flow to the tensors, not to lengths. There are no second
derivatives: differentiating a gradient that went through these ops raises
(torch's once_differentiable). With grad needed the RNN
functions compute their outputs [B, T, H] even for return_sequences=False
(the backward reads them) and the attention functions their weights.

Each function takes `handle=` (a seqattn.Handle on the tensors' device, e.g.
Handle("reference") for the double-precision reference) or `math=`
("precise", "fast"); without a handle it uses one of its own per thread,
device, stream and math mode, and the backward does the same on the thread
and stream autograd runs it on. A given handle runs the backward too: on
CUDA, autograd calls it from its own thread while the thread that called
.backward() waits, so one thread at a time still uses it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from . import ops as _ops
from ._handle import Handle

__all__ = [
    "additive_attention", "project_keys", "additive_attention_projected", "attention_pooling",
    "gru", "simple_rnn", "dense", "BahdanauAttention", "AttentionPooling", "GRU", "SimpleRNN",
    "Dense",
]

# ------------------------------------------------------------------ handles

# A handle is for one thread at a time and its CUDA stream is fixed when it is
# made, so the handles are per thread and keyed by device, stream and math.
_local = threading.local()
_MAX_HANDLES = 8  # per thread; the least recently used one is closed beyond that


def _own_handle(device: torch.device, math: str) -> Handle:
    if device.type == "cpu":
        key = ("cpu", 0, None, math)
    else:
        index = device.index if device.index is not None else torch.cuda.current_device()
        # 0 is torch's default (legacy) stream; given 0 the library makes a
        # blocking stream, which the legacy stream orders with both ways.
        key = ("cuda", index, int(torch.cuda.current_stream(index).cuda_stream), math)
    handles = getattr(_local, "handles", None)
    if handles is None:
        handles = _local.handles = OrderedDict()
    handle = handles.get(key)
    if handle is not None and not handle.closed:
        handles.move_to_end(key)
        return handle
    while len(handles) >= _MAX_HANDLES:
        handles.popitem(last=False)[1].close()
    kind, ordinal, stream, _ = key
    handle = Handle(kind, ordinal=ordinal, math=math, stream=stream)
    handles[key] = handle
    return handle


class _Call:
    """The tensors of one call: checked, and turned into what seqattn.ops takes."""

    def __init__(self, where: str, handle: Handle | None, math: str):
        self.where = where
        self.device: torch.device | None = None
        self.first = ""
        self.handle = handle
        self.math = math

    def again(self) -> "_Call":
        """A fresh call for the backward: same op, handle and math, no tensors yet."""
        return _Call(self.where, self.handle, self.math)

    def tensor(self, name: str, t, optional: bool = False):
        if t is None:
            if optional:
                return None
            raise TypeError(f"seqattn.torch.{self.where}: {name} is required, got None")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"seqattn.torch.{self.where}: {name} must be a torch.Tensor, "
                            f"got {type(t).__name__}")
        if t.device.type not in ("cpu", "cuda"):
            raise ValueError(f"seqattn.torch.{self.where}: {name} is on {t.device}; seqattn "
                             "runs on CPU and CUDA tensors")
        if self.device is None:
            self.device, self.first = t.device, name
        elif t.device != self.device:
            raise ValueError(f"seqattn.torch.{self.where}: {name} is on {t.device} but "
                             f"{self.first} is on {self.device}; move them to one device")
        if t.dtype != torch.float32:
            # A silent conversion would be a copy (on the device, a hidden one).
            raise TypeError(f"seqattn.torch.{self.where}: {name} has dtype {t.dtype}; "
                            "seqattn takes float32 (convert with .float())")
        t = t.detach()
        return t.numpy() if t.device.type == "cpu" else t

    def grad(self, name: str, g):
        """A gradient autograd passed to a backward (None: no loss on that output).
        The gradient of a sum or a broadcast is an expanded view, which the
        library cannot read: made contiguous (a copy only when it is not)."""
        return None if g is None else self.tensor(name, g.contiguous())

    def lengths(self, name: str, lengths):
        # Lengths are host ints for the library; a CPU int tensor is read in place
        # and a CUDA one is refused by seqattn.ops, naming the argument.
        if isinstance(lengths, torch.Tensor) and lengths.device.type == "cpu":
            return lengths.detach().numpy()
        return lengths

    def get_handle(self) -> Handle:
        if self.handle is None:
            return _own_handle(self.device, self.math)
        if not isinstance(self.handle, Handle):
            raise TypeError(f"seqattn.torch.{self.where}: handle must be a seqattn.Handle, "
                            f"got {type(self.handle).__name__}")
        on_cuda = self.device.type == "cuda"
        if on_cuda:
            index = self.device.index
            index = torch.cuda.current_device() if index is None else index
        if self.handle.is_cuda != on_cuda or (on_cuda and self.handle.ordinal != index):
            raise ValueError(f"seqattn.torch.{self.where}: the tensors are on {self.device} "
                             f"but the handle is {self.handle!r}")
        return self.handle

    def result(self, out):
        if isinstance(out, tuple):
            return tuple(self.result(o) for o in out)
        if out is None:
            return None
        # CPU results are numpy arrays the library wrote: the tensor shares them.
        return torch.from_numpy(out) if not isinstance(out, torch.Tensor) else out


def _needs_grad(*tensors) -> bool:
    return torch.is_grad_enabled() and any(
        isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)


def _kept_lengths(lengths):
    # The backward must mask as the forward did even if the caller refills the
    # array in between: a [B] copy.
    if isinstance(lengths, np.ndarray):
        return lengths.copy()
    if isinstance(lengths, list):
        return tuple(lengths)
    return lengths


def _wanted(ctx, *grads):
    """The gradients autograd asked for (needs_input_grad), None for the rest."""
    return tuple(g if need else None for g, need in zip(grads, ctx.needs_input_grad))


# --------------------------------------------------------- autograd functions
#
# forward(ctx, call, <non-tensor options>, <tensors>) runs the op through
# seqattn.ops and saves the inputs and outputs its backward reads; backward
# runs the matching seqattn.ops.*_backward. Gradients of outputs nobody used
# arrive as None (set_materialize_grads(False)) and reach the library as NULL
# (d_weights, d_outputs, d_h_last), or as zeros where it needs one (d_context).


class _AdditiveAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c, enc_lengths, dec_lengths, encoder_out, decoder_out, W, U, v, bias):
        ctx.set_materialize_grads(False)
        args = (c.tensor("encoder_out", encoder_out), c.tensor("decoder_out", decoder_out),
                c.tensor("W", W), c.tensor("U", U), c.tensor("v", v),
                c.tensor("bias", bias, optional=True))
        context, weights = c.result(_ops.additive_attention(
            c.get_handle(), *args, enc_lengths=enc_lengths, dec_lengths=dec_lengths,
            return_weights=True))
        ctx.call, ctx.enc_lengths, ctx.dec_lengths = c, enc_lengths, dec_lengths
        ctx.save_for_backward(encoder_out, decoder_out, W, U, v, bias, weights)
        return context, weights

    @staticmethod
    @once_differentiable
    def backward(ctx, d_context, d_weights):
        h, s, W, U, v, bias, weights = ctx.saved_tensors
        if d_context is None and d_weights is None:
            return (None,) * 9
        if d_context is None:  # a loss on the weights only
            d_context = h.new_zeros(s.shape[0], s.shape[1], h.shape[2])
        c = ctx.call.again()
        args = (c.tensor("encoder_out", h), c.tensor("decoder_out", s), c.tensor("W", W),
                c.tensor("U", U), c.tensor("v", v), c.tensor("weights", weights),
                c.grad("d_context", d_context))
        dh, ds, dW, dU, db, dv = c.result(_ops.additive_attention_backward(
            c.get_handle(), *args, bias=c.tensor("bias", bias, optional=True),
            enc_lengths=ctx.enc_lengths, dec_lengths=ctx.dec_lengths,
            d_weights=c.grad("d_weights", d_weights)))
        return _wanted(ctx, None, None, None, dh, ds, dW, dU, dv, db)


class _ProjectKeys(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c, encoder_out, W, bias):
        args = (c.tensor("encoder_out", encoder_out), c.tensor("W", W),
                c.tensor("bias", bias, optional=True))
        keys = c.result(_ops.project_keys(c.get_handle(), *args))
        ctx.call, ctx.has_bias = c, bias is not None
        ctx.save_for_backward(encoder_out, W, keys)
        return keys

    @staticmethod
    @once_differentiable
    def backward(ctx, d_keys):
        h, W, keys = ctx.saved_tensors
        c = ctx.call.again()
        args = (c.tensor("encoder_out", h), c.tensor("W", W), c.tensor("keys", keys),
                c.grad("d_keys", d_keys))
        dh, dW, db = c.result(_ops.project_keys_backward(c.get_handle(), *args,
                                                         bias_grad=ctx.has_bias))
        return _wanted(ctx, None, dh, dW, db)


class _AdditiveAttentionProjected(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c, enc_lengths, dec_lengths, encoder_out, keys, decoder_out, U, v):
        ctx.set_materialize_grads(False)
        args = (c.tensor("encoder_out", encoder_out), c.tensor("keys", keys),
                c.tensor("decoder_out", decoder_out), c.tensor("U", U), c.tensor("v", v))
        context, weights = c.result(_ops.additive_attention_projected(
            c.get_handle(), *args, enc_lengths=enc_lengths, dec_lengths=dec_lengths,
            return_weights=True))
        ctx.call, ctx.enc_lengths, ctx.dec_lengths = c, enc_lengths, dec_lengths
        ctx.save_for_backward(encoder_out, keys, decoder_out, U, v, weights)
        return context, weights

    @staticmethod
    @once_differentiable
    def backward(ctx, d_context, d_weights):
        h, k, s, U, v, weights = ctx.saved_tensors
        if d_context is None and d_weights is None:
            return (None,) * 8
        if d_context is None:
            d_context = h.new_zeros(s.shape[0], s.shape[1], h.shape[2])
        c = ctx.call.again()
        args = (c.tensor("encoder_out", h), c.tensor("keys", k), c.tensor("decoder_out", s),
                c.tensor("U", U), c.tensor("v", v), c.tensor("weights", weights),
                c.grad("d_context", d_context))
        dh, dk, ds, dU, dv = c.result(_ops.additive_attention_projected_backward(
            c.get_handle(), *args, enc_lengths=ctx.enc_lengths, dec_lengths=ctx.dec_lengths,
            d_weights=c.grad("d_weights", d_weights)))
        return _wanted(ctx, None, None, None, dh, dk, ds, dU, dv)


class _AttentionPooling(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c, lengths, x, w, b):
        ctx.set_materialize_grads(False)
        args = (c.tensor("x", x), c.tensor("w", w), c.tensor("b", b, optional=True))
        context, weights = c.result(_ops.attention_pooling(c.get_handle(), *args,
                                                           lengths=lengths, return_weights=True))
        ctx.call, ctx.lengths = c, lengths
        ctx.save_for_backward(x, w, b, weights)
        return context, weights

    @staticmethod
    @once_differentiable
    def backward(ctx, d_context, d_weights):
        x, w, b, weights = ctx.saved_tensors
        if d_context is None and d_weights is None:
            return (None,) * 5
        if d_context is None:
            d_context = x.new_zeros(x.shape[0], x.shape[2])
        c = ctx.call.again()
        args = (c.tensor("x", x), c.tensor("w", w), c.tensor("weights", weights),
                c.grad("d_context", d_context))
        dx, dw, db = c.result(_ops.attention_pooling_backward(
            c.get_handle(), *args, b=c.tensor("b", b, optional=True), lengths=ctx.lengths,
            d_weights=c.grad("d_weights", d_weights)))
        return _wanted(ctx, None, None, dx, dw, db)


class _Rnn(torch.autograd.Function):
    """gru and simple_rnn: `variant` is a GRU variant, or None for the SimpleRNN."""

    @staticmethod
    def forward(ctx, c, variant, reverse, lengths, x, kernel, recurrent_kernel, bias, h0):
        ctx.set_materialize_grads(False)
        args = (c.tensor("x", x), c.tensor("kernel", kernel),
                c.tensor("recurrent_kernel", recurrent_kernel),
                c.tensor("bias", bias, optional=True))
        options = {"reverse": reverse, "lengths": lengths,
                   "h0": c.tensor("h0", h0, optional=True)}
        if variant is not None:
            options["variant"] = variant
        run = _ops.gru if variant is not None else _ops.simple_rnn
        # The outputs too when only the state is asked for: the backward reads them.
        outputs, h_last = c.result(run(c.get_handle(), *args, return_sequences=True,
                                       return_state=True, **options))
        ctx.call, ctx.variant, ctx.reverse, ctx.lengths = c, variant, reverse, lengths
        ctx.save_for_backward(x, kernel, recurrent_kernel, bias, h0, outputs)
        return outputs, h_last

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs, d_h_last):
        x, kernel, recurrent_kernel, bias, h0, outputs = ctx.saved_tensors
        if d_outputs is None and d_h_last is None:
            return (None,) * 9
        c = ctx.call.again()
        args = (c.tensor("x", x), c.tensor("kernel", kernel),
                c.tensor("recurrent_kernel", recurrent_kernel), c.tensor("outputs", outputs),
                c.tensor("bias", bias, optional=True))
        options = {"reverse": ctx.reverse, "lengths": ctx.lengths,
                   "h0": c.tensor("h0", h0, optional=True),
                   "d_outputs": c.grad("d_outputs", d_outputs),
                   "d_h_last": c.grad("d_h_last", d_h_last)}
        if ctx.variant is not None:
            options["variant"] = ctx.variant
        run = _ops.gru_backward if ctx.variant is not None else _ops.simple_rnn_backward
        dx, dh0, dk, drk, db = c.result(run(c.get_handle(), *args, **options))
        return _wanted(ctx, None, None, None, None, dx, dk, drk, db, dh0)


class _Dense(torch.autograd.Function):
    @staticmethod
    def forward(ctx, c, activation, x, W, b):
        args = (c.tensor("x", x), c.tensor("W", W), c.tensor("b", b, optional=True))
        y = c.result(_ops.dense(c.get_handle(), *args, activation=activation))
        ctx.call, ctx.activation, ctx.has_bias = c, activation, b is not None
        ctx.save_for_backward(x, W, y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, d_y):
        x, W, y = ctx.saved_tensors
        c = ctx.call.again()
        args = (c.tensor("x", x), c.tensor("W", W), c.tensor("y", y), c.grad("d_y", d_y))
        dx, dW, db = c.result(_ops.dense_backward(c.get_handle(), *args, ctx.activation,
                                                  bias_grad=ctx.has_bias))
        return _wanted(ctx, None, None, dx, dW, db)


# ---------------------------------------------------------------- functions


def additive_attention(encoder_out, decoder_out, W, U, v, bias=None, enc_lengths=None,
                       dec_lengths=None, return_weights=True, *, handle=None, math="precise"):
    """seqattn.additive_attention on tensors: encoder_out [B, Te, He] (keys
    and values), decoder_out [B, Td, Hd] (queries), W [He, A], U [Hd, A],
    v [A], bias [A] or None, lengths [B] host ints or None. Returns context
    [B, Td, He] and, if return_weights, weights [B, Td, Te]. Differentiable
    in every tensor (and in the weights, when a loss reads them)."""
    c = _Call("additive_attention", handle, math)
    el, dl = c.lengths("enc_lengths", enc_lengths), c.lengths("dec_lengths", dec_lengths)
    tensors = (encoder_out, decoder_out, W, U, v, bias)
    if _needs_grad(*tensors):
        context, weights = _AdditiveAttention.apply(c, _kept_lengths(el), _kept_lengths(dl),
                                                    *tensors)
        return (context, weights) if return_weights else context
    args = (c.tensor("encoder_out", encoder_out), c.tensor("decoder_out", decoder_out),
            c.tensor("W", W), c.tensor("U", U), c.tensor("v", v),
            c.tensor("bias", bias, optional=True))
    return c.result(_ops.additive_attention(c.get_handle(), *args, enc_lengths=el,
                                            dec_lengths=dl, return_weights=return_weights))


def project_keys(encoder_out, W, bias=None, *, handle=None, math="precise"):
    """keys [B, Te, A] = encoder_out [B, Te, He] · W [He, A] + bias [A]."""
    c = _Call("project_keys", handle, math)
    if _needs_grad(encoder_out, W, bias):
        return _ProjectKeys.apply(c, encoder_out, W, bias)
    args = (c.tensor("encoder_out", encoder_out), c.tensor("W", W),
            c.tensor("bias", bias, optional=True))
    return c.result(_ops.project_keys(c.get_handle(), *args))


def additive_attention_projected(encoder_out, keys, decoder_out, U, v, enc_lengths=None,
                                 dec_lengths=None, return_weights=True, *, handle=None,
                                 math="precise"):
    """additive_attention with keys [B, Te, A] from project_keys (step-by-step
    decoding: project once per source, attend once per step; autograd sums
    the keys' and encoder_out's gradients over the steps)."""
    c = _Call("additive_attention_projected", handle, math)
    el, dl = c.lengths("enc_lengths", enc_lengths), c.lengths("dec_lengths", dec_lengths)
    tensors = (encoder_out, keys, decoder_out, U, v)
    if _needs_grad(*tensors):
        context, weights = _AdditiveAttentionProjected.apply(c, _kept_lengths(el),
                                                             _kept_lengths(dl), *tensors)
        return (context, weights) if return_weights else context
    args = (c.tensor("encoder_out", encoder_out), c.tensor("keys", keys),
            c.tensor("decoder_out", decoder_out), c.tensor("U", U), c.tensor("v", v))
    return c.result(_ops.additive_attention_projected(
        c.get_handle(), *args, enc_lengths=el, dec_lengths=dl, return_weights=return_weights))


def attention_pooling(x, w, b=None, lengths=None, return_weights=True, *, handle=None,
                      math="precise"):
    """x [B, T, F], w [F], b [T] or None -> context [B, F] (and weights [B, T])."""
    c = _Call("attention_pooling", handle, math)
    lens = c.lengths("lengths", lengths)
    if _needs_grad(x, w, b):
        context, weights = _AttentionPooling.apply(c, _kept_lengths(lens), x, w, b)
        return (context, weights) if return_weights else context
    args = (c.tensor("x", x), c.tensor("w", w), c.tensor("b", b, optional=True))
    return c.result(_ops.attention_pooling(c.get_handle(), *args, lengths=lens,
                                           return_weights=return_weights))


def _rnn(where, variant, x, kernel, recurrent_kernel, bias, reverse, lengths, h0,
         return_sequences, return_state, handle, math):
    c = _Call(where, handle, math)
    lens = c.lengths("lengths", lengths)
    if _needs_grad(x, kernel, recurrent_kernel, bias, h0):
        if not (return_sequences or return_state):
            raise ValueError("return_sequences and return_state are both False: nothing to "
                             "return")
        outputs, h_last = _Rnn.apply(c, variant, reverse, _kept_lengths(lens), x, kernel,
                                     recurrent_kernel, bias, h0)
        if return_sequences and return_state:
            return outputs, h_last
        return outputs if return_sequences else h_last
    args = (c.tensor("x", x), c.tensor("kernel", kernel),
            c.tensor("recurrent_kernel", recurrent_kernel), c.tensor("bias", bias, optional=True))
    options = {"reverse": reverse, "lengths": lens, "h0": c.tensor("h0", h0, optional=True),
               "return_sequences": return_sequences, "return_state": return_state}
    if variant is not None:
        return c.result(_ops.gru(c.get_handle(), *args, variant=variant, **options))
    return c.result(_ops.simple_rnn(c.get_handle(), *args, **options))


def gru(x, kernel, recurrent_kernel, bias=None, *, variant="reset_after", reverse=False,
        lengths=None, h0=None, return_sequences=True, return_state=True, handle=None,
        math="precise"):
    """seqattn.gru on tensors, Keras layout (seqattn.torch_gru_to_keras converts
    an nn.GRU's weights). Returns (outputs [B, T, H], h_last [B, H]) or one.
    Differentiable in x, the weights and h0."""
    if variant not in ("reset_after", "reset_before"):
        # Checked here too: the autograd path would otherwise report it late.
        raise ValueError(f"variant must be 'reset_after' or 'reset_before', got {variant!r}")
    return _rnn("gru", variant, x, kernel, recurrent_kernel, bias, reverse, lengths, h0,
                return_sequences, return_state, handle, math)


def simple_rnn(x, kernel, recurrent_kernel, bias=None, *, reverse=False, lengths=None, h0=None,
               return_sequences=True, return_state=True, handle=None, math="precise"):
    """seqattn.simple_rnn on tensors: kernel [I, H], recurrent_kernel [H, H], bias [H]."""
    return _rnn("simple_rnn", None, x, kernel, recurrent_kernel, bias, reverse, lengths, h0,
                return_sequences, return_state, handle, math)


def dense(x, W, b=None, activation="none", *, handle=None, math="precise"):
    """act(x [..., In] · W [In, Out] + b [Out]); W is nn.Linear's weight transposed."""
    c = _Call("dense", handle, math)
    if _needs_grad(x, W, b):
        return _Dense.apply(c, activation, x, W, b)
    args = (c.tensor("x", x), c.tensor("W", W), c.tensor("b", b, optional=True))
    return c.result(_ops.dense(c.get_handle(), *args, activation=activation))


# ------------------------------------------------------------------ modules


def _rows(weight: torch.Tensor) -> torch.Tensor:
    # nn.Linear keeps weight [out, in]; seqattn multiplies x [.., in] · W [in, out].
    # Differentiable: the gradient reaches the Linear's weight through the transpose.
    return weight.t().contiguous()


def _contiguous(t):
    return t.contiguous() if isinstance(t, torch.Tensor) else t


class BahdanauAttention(nn.Module):
    """The PyTorch seq2seq tutorial's BahdanauAttention, run by seqattn.

    The same parameters (Wa, Ua: nn.Linear(hidden_size, hidden_size), Va:
    nn.Linear(hidden_size, 1)), so a trained module's state_dict loads as it
    is, and the same forward(query [B, 1, H], keys [B, Te, H]) -> (context
    [B, 1, H], weights [B, 1, Te]):

        weights = softmax(Va(tanh(Wa(query) + Ua(keys))))    context = weights · keys

    That is seqattn's additive attention with the keys projected by Ua (W =
    Ua.weight^T), the query by Wa (U = Wa.weight^T), bias = Wa.bias + Ua.bias
    and v = Va.weight; Va.bias adds one constant to every score of a row, which
    the softmax cancels, so it is not used (and gets no gradient: its .grad
    stays None, which optimisers skip). Beyond the tutorial, a query of Td
    steps [B, Td, H] attends for each step at once, and `lengths` [B] (host
    ints) masks keys past each source's length. Trainable: the gradients
    reach Wa, Ua, Va.weight, query and keys.
    """

    def __init__(self, hidden_size: int, device=None, dtype=None, *, math: str = "precise"):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.Wa = nn.Linear(hidden_size, hidden_size, **factory)
        self.Ua = nn.Linear(hidden_size, hidden_size, **factory)
        self.Va = nn.Linear(hidden_size, 1, **factory)
        self.math = math

    def forward(self, query, keys, lengths=None, *, handle=None):
        biases = [layer.bias for layer in (self.Wa, self.Ua) if layer.bias is not None]
        bias = biases[0] + biases[1] if len(biases) == 2 else (biases[0] if biases else None)
        # The tutorial's decoder passes slices of its GRU output; seqattn needs
        # contiguous tensors (a copy only when they are not).
        return additive_attention(
            _contiguous(keys), _contiguous(query), _rows(self.Ua.weight), _rows(self.Wa.weight),
            self.Va.weight[0], bias, enc_lengths=lengths, handle=handle, math=self.math)


class AttentionPooling(nn.Module):
    """The second seed's attention-pooling layer: W [F, 1], b [T, 1].

        e = tanh(x · W + b)       [B, T, 1]
        a = softmax over T of e   [B, T]
        context = Σ_t a[:, t] x[:, t, :]   [B, F]

    forward(x [B, T, F], lengths=None) -> context [B, F], or (context,
    weights [B, T]) with return_weights=True; `lengths` [B] (host ints)
    masks the steps past each sequence's length. Initialised as the Keras
    layer is (W normal with stddev 0.05, b zeros). Trainable (W, b, x).
    """

    def __init__(self, features: int, steps: int, device=None, dtype=None, *,
                 math: str = "precise"):
        super().__init__()
        self.W = nn.Parameter(torch.empty(features, 1, device=device, dtype=dtype))
        self.b = nn.Parameter(torch.empty(steps, 1, device=device, dtype=dtype))
        self.math = math
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.W, std=0.05)
        nn.init.zeros_(self.b)

    def forward(self, x, lengths=None, return_weights=False, *, handle=None):
        if isinstance(x, torch.Tensor) and x.dim() == 3 and x.shape[1] != self.b.shape[0]:
            raise ValueError(f"seqattn.torch.AttentionPooling: x has shape {tuple(x.shape)} but "
                             f"the layer was built for {self.b.shape[0]} steps (b is "
                             f"{tuple(self.b.shape)})")
        # W[:, 0] and b[:, 0] are contiguous views ([F, 1] and [T, 1] step by 1).
        return attention_pooling(_contiguous(x), self.W[:, 0], self.b[:, 0], lengths=lengths,
                                 return_weights=return_weights, handle=handle, math=self.math)


class _Recurrent(nn.Module):
    """A recurrent layer's parameters in the Keras layout and its forward;
    initialised as Keras does (kernel glorot_uniform, recurrent_kernel
    orthogonal, bias zeros)."""

    def __init__(self, input_size: int, units: int, gates: int, bias_shape, reverse: bool,
                 device, dtype, math: str):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.units, self.reverse, self.math = input_size, units, reverse, math
        self.kernel = nn.Parameter(torch.empty(input_size, gates * units, **factory))
        self.recurrent_kernel = nn.Parameter(torch.empty(units, gates * units, **factory))
        if bias_shape is None:
            self.register_parameter("bias", None)
        else:
            self.bias = nn.Parameter(torch.empty(bias_shape, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.kernel)
        nn.init.orthogonal_(self.recurrent_kernel)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.units}, bias={self.bias is not None}, "
                f"reverse={self.reverse}")


class GRU(_Recurrent):
    """A Keras-layout GRU layer: kernel [I, 3H], recurrent_kernel [H, 3H]
    (column blocks z, r, h), bias [2, 3H] (variant "reset_after", Keras'
    default and PyTorch's math) or [3H] ("reset_before"), or none.

    forward(x [B, T, I], lengths=None, h0=None) -> (outputs [B, T, H],
    h_last [B, H]), as seqattn.gru: steps past a row's length output 0 and
    keep the state. `reverse=True` runs each row's valid steps backwards
    (the backward half of a bidirectional encoder). seqattn.torch_gru_to_keras
    converts an nn.GRU's weights into these parameters.
    """

    def __init__(self, input_size: int, units: int, *, variant: str = "reset_after",
                 bias: bool = True, reverse: bool = False, device=None, dtype=None,
                 math: str = "precise"):
        if variant not in ("reset_after", "reset_before"):
            raise ValueError(f"variant must be 'reset_after' or 'reset_before', got {variant!r}")
        shape = ((2, 3 * units) if variant == "reset_after" else (3 * units,)) if bias else None
        super().__init__(input_size, units, 3, shape, reverse, device, dtype, math)
        self.variant = variant

    def forward(self, x, lengths=None, h0=None, *, handle=None):
        return gru(_contiguous(x), self.kernel, self.recurrent_kernel, self.bias,
                   variant=self.variant, reverse=self.reverse, lengths=lengths,
                   h0=_contiguous(h0), handle=handle, math=self.math)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", variant={self.variant!r}"


class SimpleRNN(_Recurrent):
    """A Keras-layout SimpleRNN layer, h' = tanh(x·kernel + h·recurrent_kernel + bias):
    kernel [I, H], recurrent_kernel [H, H], bias [H]. forward as GRU's."""

    def __init__(self, input_size: int, units: int, *, bias: bool = True,
                 reverse: bool = False, device=None, dtype=None, math: str = "precise"):
        super().__init__(input_size, units, 1, (units,) if bias else None, reverse, device,
                         dtype, math)

    def forward(self, x, lengths=None, h0=None, *, handle=None):
        return simple_rnn(_contiguous(x), self.kernel, self.recurrent_kernel, self.bias,
                          reverse=self.reverse, lengths=lengths, h0=_contiguous(h0),
                          handle=handle, math=self.math)


class Dense(nn.Module):
    """A Keras-layout Dense layer, y = act(x · kernel + bias): kernel [In, Out]
    (nn.Linear's weight transposed), bias [Out] or none; activation "none",
    "tanh", "sigmoid", "relu" or "softmax" (over the last axis). Initialised
    as Keras does (kernel glorot_uniform, bias zeros). forward(x [..., In])."""

    def __init__(self, in_features: int, out_features: int, activation: str = "none", *,
                 bias: bool = True, device=None, dtype=None, math: str = "precise"):
        super().__init__()
        _ops._activation(activation)  # refused here, not at the first forward
        factory = {"device": device, "dtype": dtype}
        self.in_features, self.out_features = in_features, out_features
        self.activation, self.math = activation, math
        self.kernel = nn.Parameter(torch.empty(in_features, out_features, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.kernel)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x, *, handle=None):
        return dense(_contiguous(x), self.kernel, self.bias, self.activation, handle=handle,
                     math=self.math)

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, activation={self.activation!r}, "
                f"bias={self.bias is not None}")
