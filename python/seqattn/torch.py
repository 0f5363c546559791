"""seqattn on torch tensors: the ops of seqattn.ops as functions, and
nn.Modules with the parameters of the models people train.

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

Forward only for now: when a gradient would be needed (grad mode is on and an
input, or a module's parameter, requires grad) the call raises RuntimeError
instead of returning tensors that autograd cannot follow. Run under
torch.no_grad() or torch.inference_mode(), or detach / requires_grad_(False).

Each function takes `handle=` (a seqattn.Handle on the tensors' device, e.g.
Handle("reference") for the double-precision reference) or `math=`
("precise", "fast"); without a handle it uses one of its own per thread,
device, stream and math mode.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch
from torch import nn

from . import ops as _ops
from ._handle import Handle

__all__ = [
    "additive_attention", "project_keys", "additive_attention_projected", "attention_pooling",
    "gru", "simple_rnn", "dense", "BahdanauAttention", "AttentionPooling",
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


def _forward_only(where: str, name: str, tensor: torch.Tensor) -> None:
    if tensor.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(
            f"seqattn.torch.{where}: {name} requires grad, but seqattn computes the forward "
            "pass only (no backward yet); run it under torch.no_grad() or "
            "torch.inference_mode(), or pass tensors that do not require grad "
            "(.detach(), module.requires_grad_(False))")


class _Call:
    """The tensors of one call: checked, and turned into what seqattn.ops takes."""

    def __init__(self, where: str, handle: Handle | None, math: str):
        self.where = where
        self.device: torch.device | None = None
        self.first = ""
        self.handle = handle
        self.math = math

    def tensor(self, name: str, t, optional: bool = False):
        if t is None:
            if optional:
                return None
            raise TypeError(f"seqattn.torch.{self.where}: {name} is required, got None")
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"seqattn.torch.{self.where}: {name} must be a torch.Tensor, "
                            f"got {type(t).__name__}")
        _forward_only(self.where, name, t)
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
        # CPU results are numpy arrays the library wrote: the tensor shares them.
        return torch.from_numpy(out) if not isinstance(out, torch.Tensor) else out


# ---------------------------------------------------------------- functions


def additive_attention(encoder_out, decoder_out, W, U, v, bias=None, enc_lengths=None,
                       dec_lengths=None, return_weights=True, *, handle=None, math="precise"):
    """seqattn.additive_attention on tensors: encoder_out [B, Te, He] (keys
    and values), decoder_out [B, Td, Hd] (queries), W [He, A], U [Hd, A],
    v [A], bias [A] or None, lengths [B] host ints or None. Returns context
    [B, Td, He] and, if return_weights, weights [B, Td, Te]."""
    c = _Call("additive_attention", handle, math)
    args = (c.tensor("encoder_out", encoder_out), c.tensor("decoder_out", decoder_out),
            c.tensor("W", W), c.tensor("U", U), c.tensor("v", v),
            c.tensor("bias", bias, optional=True))
    return c.result(_ops.additive_attention(
        c.get_handle(), *args, enc_lengths=c.lengths("enc_lengths", enc_lengths),
        dec_lengths=c.lengths("dec_lengths", dec_lengths), return_weights=return_weights))


def project_keys(encoder_out, W, bias=None, *, handle=None, math="precise"):
    """keys [B, Te, A] = encoder_out [B, Te, He] · W [He, A] + bias [A]."""
    c = _Call("project_keys", handle, math)
    args = (c.tensor("encoder_out", encoder_out), c.tensor("W", W),
            c.tensor("bias", bias, optional=True))
    return c.result(_ops.project_keys(c.get_handle(), *args))


def additive_attention_projected(encoder_out, keys, decoder_out, U, v, enc_lengths=None,
                                 dec_lengths=None, return_weights=True, *, handle=None,
                                 math="precise"):
    """additive_attention with keys [B, Te, A] from project_keys (step-by-step decoding)."""
    c = _Call("additive_attention_projected", handle, math)
    args = (c.tensor("encoder_out", encoder_out), c.tensor("keys", keys),
            c.tensor("decoder_out", decoder_out), c.tensor("U", U), c.tensor("v", v))
    return c.result(_ops.additive_attention_projected(
        c.get_handle(), *args, enc_lengths=c.lengths("enc_lengths", enc_lengths),
        dec_lengths=c.lengths("dec_lengths", dec_lengths), return_weights=return_weights))


def attention_pooling(x, w, b=None, lengths=None, return_weights=True, *, handle=None,
                      math="precise"):
    """x [B, T, F], w [F], b [T] or None -> context [B, F] (and weights [B, T])."""
    c = _Call("attention_pooling", handle, math)
    args = (c.tensor("x", x), c.tensor("w", w), c.tensor("b", b, optional=True))
    return c.result(_ops.attention_pooling(c.get_handle(), *args,
                                           lengths=c.lengths("lengths", lengths),
                                           return_weights=return_weights))


def gru(x, kernel, recurrent_kernel, bias=None, *, variant="reset_after", reverse=False,
        lengths=None, h0=None, return_sequences=True, return_state=True, handle=None,
        math="precise"):
    """seqattn.gru on tensors, Keras layout (seqattn.torch_gru_to_keras converts
    an nn.GRU's weights). Returns (outputs [B, T, H], h_last [B, H]) or one."""
    c = _Call("gru", handle, math)
    args = (c.tensor("x", x), c.tensor("kernel", kernel),
            c.tensor("recurrent_kernel", recurrent_kernel), c.tensor("bias", bias, optional=True))
    h0 = c.tensor("h0", h0, optional=True)
    return c.result(_ops.gru(c.get_handle(), *args, variant=variant, reverse=reverse,
                             lengths=c.lengths("lengths", lengths), h0=h0,
                             return_sequences=return_sequences, return_state=return_state))


def simple_rnn(x, kernel, recurrent_kernel, bias=None, *, reverse=False, lengths=None, h0=None,
               return_sequences=True, return_state=True, handle=None, math="precise"):
    """seqattn.simple_rnn on tensors: kernel [I, H], recurrent_kernel [H, H], bias [H]."""
    c = _Call("simple_rnn", handle, math)
    args = (c.tensor("x", x), c.tensor("kernel", kernel),
            c.tensor("recurrent_kernel", recurrent_kernel), c.tensor("bias", bias, optional=True))
    h0 = c.tensor("h0", h0, optional=True)
    return c.result(_ops.simple_rnn(c.get_handle(), *args, reverse=reverse,
                                    lengths=c.lengths("lengths", lengths), h0=h0,
                                    return_sequences=return_sequences,
                                    return_state=return_state))


def dense(x, W, b=None, activation="none", *, handle=None, math="precise"):
    """act(x [..., In] · W [In, Out] + b [Out]); W is nn.Linear's weight transposed."""
    c = _Call("dense", handle, math)
    args = (c.tensor("x", x), c.tensor("W", W), c.tensor("b", b, optional=True))
    return c.result(_ops.dense(c.get_handle(), *args, activation=activation))


# ------------------------------------------------------------------ modules


def _check_parameters(module: nn.Module, where: str) -> None:
    for name, p in module.named_parameters():
        _forward_only(where, f"parameter {name}", p)


def _rows(weight: torch.Tensor) -> torch.Tensor:
    # nn.Linear keeps weight [out, in]; seqattn multiplies x [.., in] · W [in, out].
    return weight.detach().t().contiguous()


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
    the softmax cancels, so it is not used. Beyond the tutorial, a query of Td
    steps [B, Td, H] attends for each step at once, and `lengths` [B] (host
    ints) masks keys past each source's length.
    """

    def __init__(self, hidden_size: int, device=None, dtype=None, *, math: str = "precise"):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.Wa = nn.Linear(hidden_size, hidden_size, **factory)
        self.Ua = nn.Linear(hidden_size, hidden_size, **factory)
        self.Va = nn.Linear(hidden_size, 1, **factory)
        self.math = math

    def forward(self, query, keys, lengths=None, *, handle=None):
        _check_parameters(self, "BahdanauAttention")
        for name, t in (("query", query), ("keys", keys)):
            if isinstance(t, torch.Tensor):
                _forward_only("BahdanauAttention", name, t)
        biases = [layer.bias.detach() for layer in (self.Wa, self.Ua) if layer.bias is not None]
        bias = biases[0] + biases[1] if len(biases) == 2 else (biases[0] if biases else None)
        # The tutorial's decoder passes slices of its GRU output; seqattn needs
        # contiguous tensors (a copy only when they are not).
        return additive_attention(
            _contiguous(keys), _contiguous(query), _rows(self.Ua.weight),
            _rows(self.Wa.weight), self.Va.weight.detach()[0], bias, enc_lengths=lengths,
            handle=handle, math=self.math)


class AttentionPooling(nn.Module):
    """The second seed's attention-pooling layer: W [F, 1], b [T, 1].

        e = tanh(x · W + b)       [B, T, 1]
        a = softmax over T of e   [B, T]
        context = Σ_t a[:, t] x[:, t, :]   [B, F]

    forward(x [B, T, F], lengths=None) -> context [B, F], or (context,
    weights [B, T]) with return_weights=True; `lengths` [B] (host ints)
    masks the steps past each sequence's length. Initialised as the Keras
    layer is (W normal with stddev 0.05, b zeros).
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
        _check_parameters(self, "AttentionPooling")
        if isinstance(x, torch.Tensor):
            _forward_only("AttentionPooling", "x", x)
        if isinstance(x, torch.Tensor) and x.dim() == 3 and x.shape[1] != self.b.shape[0]:
            raise ValueError(f"seqattn.torch.AttentionPooling: x has shape {tuple(x.shape)} but "
                             f"the layer was built for {self.b.shape[0]} steps (b is "
                             f"{tuple(self.b.shape)})")
        return attention_pooling(_contiguous(x), self.W.detach()[:, 0],
                                 self.b.detach()[:, 0], lengths=lengths,
                                 return_weights=return_weights, handle=handle, math=self.math)


def _contiguous(t):
    return t.contiguous() if isinstance(t, torch.Tensor) else t
