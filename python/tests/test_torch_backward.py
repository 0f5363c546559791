"""seqattn.torch's backward passes (the autograd Functions over the library's
*_backward calls) on both CPU paths:

- torch.autograd.gradcheck of each op on small odd shapes with masks and
  lengths (0 and full), on the float32 functions, with eps and tolerances
  derived from float32 rounding (see GradcheckBudget);
- the gradients against PyTorch autograd, in float64, of the naive math (the
  tutorial's attention in plain torch ops, a plain-torch GRU / SimpleRNN cell
  loop in the Keras layout, Dense, pooling) on the same float32 inputs;
- what autograd keeps for the backward (never [B, Td, Te, A]), losses on only
  some outputs, and modules that train with torch optimisers.

Until the fast CPU path's backward lands, its tests skip on exactly the
library's UNSUPPORTED status (anything else fails).
"""

import math
import os
import warnings

import pytest

if os.environ.get("SEQATTN_TEST_INSTALLED") == "1":
    import torch
else:
    torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import seqattn  # noqa: E402
import seqattn.torch as st  # noqa: E402
from torch_tutorial import TutorialBahdanauAttention  # noqa: E402

U32 = 2.0 ** -24  # float32 unit roundoff


@pytest.fixture(scope="module", params=["reference", "cpu"])
def handle(request):
    with seqattn.Handle(request.param) as h:
        yield h


def unsupported_skips(handle, run):
    """run(); on the fast CPU device a backward it does not have yet
    (SEQATTN_ERROR_UNSUPPORTED) skips the test, naming it. Any other error,
    or UNSUPPORTED from the reference, fails."""
    try:
        return run()
    except seqattn.SeqattnError as e:
        if handle.device == "cpu" and e.status == seqattn.Status.SEQATTN_ERROR_UNSUPPORTED:
            pytest.skip(f"the fast CPU path has no backward for this op yet: {e}")
        raise


# ------------------------------------------------------------ the naive math
# Written from docs/math.md in plain torch ops, run in float64 by autograd.


def valid(lengths, batch, steps):
    """[B, steps] bool: step t of row b is inside lengths[b] (all when None)."""
    if lengths is None:
        return torch.ones(batch, steps, dtype=torch.bool)
    return torch.arange(steps)[None, :] < torch.as_tensor(lengths).reshape(batch, 1)


def masked_softmax(e, mask):
    # A large finite fill, not -inf: a row with nothing valid gives a uniform
    # softmax that the mask then zeroes, with zero gradient (never NaN).
    p = torch.softmax(torch.where(mask, e, torch.full_like(e, -1e300)), dim=-1)
    return p * mask


def naive_attention(encoder_out, decoder_out, W, U, v, bias=None, enc_lengths=None,
                    dec_lengths=None):
    """The tutorial's scores, softmax(v · tanh(h W + bias + s U)), with masks."""
    h, s = encoder_out, decoder_out
    keys = h @ W if bias is None else h @ W + bias
    B, Te, Td = h.shape[0], h.shape[1], s.shape[1]
    e = (torch.tanh(keys[:, None, :, :] + (s @ U)[:, :, None, :]) * v).sum(-1)  # [B, Td, Te]
    mask = valid(enc_lengths, B, Te)[:, None, :] & valid(dec_lengths, B, Td)[:, :, None]
    w = masked_softmax(e, mask)
    return w @ h, w


def naive_pooling(x, w, b=None, lengths=None):
    e = x @ w if b is None else x @ w + b
    a = masked_softmax(torch.tanh(e), valid(lengths, x.shape[0], x.shape[1]))
    return (a[:, :, None] * x).sum(1), a


def gru_cell(variant):
    def cell(x, h, kernel, recurrent_kernel, bias):
        H = h.shape[1]
        if variant == "reset_after":
            xp = x @ kernel + (0 if bias is None else bias[0])
            hp = h @ recurrent_kernel + (0 if bias is None else bias[1])
            z = torch.sigmoid(xp[:, :H] + hp[:, :H])
            r = torch.sigmoid(xp[:, H:2 * H] + hp[:, H:2 * H])
            c = torch.tanh(xp[:, 2 * H:] + r * hp[:, 2 * H:])
        else:
            xp = x @ kernel + (0 if bias is None else bias)
            z = torch.sigmoid(xp[:, :H] + h @ recurrent_kernel[:, :H])
            r = torch.sigmoid(xp[:, H:2 * H] + h @ recurrent_kernel[:, H:2 * H])
            c = torch.tanh(xp[:, 2 * H:] + (r * h) @ recurrent_kernel[:, 2 * H:])
        return z * h + (1 - z) * c
    return cell


def simple_cell(x, h, kernel, recurrent_kernel, bias):
    pre = x @ kernel + h @ recurrent_kernel
    return torch.tanh(pre if bias is None else pre + bias)


def naive_rnn(cell, x, kernel, recurrent_kernel, bias=None, lengths=None, h0=None,
              reverse=False):
    """(outputs, h_last): steps t >= lengths[b] keep the state and output 0;
    reverse visits t = T-1 ... 0, i.e. each row's valid steps backwards."""
    B, T = x.shape[:2]
    H = recurrent_kernel.shape[0]
    h = x.new_zeros(B, H) if h0 is None else h0
    mask = valid(lengths, B, T)
    outputs = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        m = mask[:, t:t + 1]
        new = cell(x[:, t], h, kernel, recurrent_kernel, bias)
        h = torch.where(m, new, h)
        outputs[t] = torch.where(m, new, torch.zeros_like(new))
    return torch.stack(outputs, 1), h


def naive_dense(x, W, b=None, activation="none"):
    y = x @ W if b is None else x @ W + b
    return {"none": lambda: y, "tanh": lambda: torch.tanh(y), "sigmoid": lambda: torch.sigmoid(y),
            "relu": lambda: torch.relu(y), "softmax": lambda: torch.softmax(y, -1)}[activation]()


# ------------------------------------------------------------------ cases


def rand(gen, *shape, scale=1.0):
    return (torch.randn(*shape, generator=gen) * scale).float()


def attention_case(index):
    """(tensors, options): odd shapes; lengths with 0, 1 and full."""
    gen = torch.Generator().manual_seed(100 + index)
    B, Te, Td, He, Hd, A, bias, el, dl = [
        (3, 5, 4, 3, 2, 5, True, [5, 2, 0], [4, 1, 3]),
        (1, 1, 1, 1, 1, 1, False, None, None),
        (2, 7, 3, 4, 5, 3, True, [7, 3], None),
    ][index]
    tensors = {"encoder_out": rand(gen, B, Te, He), "decoder_out": rand(gen, B, Td, Hd),
               "W": rand(gen, He, A, scale=0.6), "U": rand(gen, Hd, A, scale=0.6),
               "v": rand(gen, A), "bias": rand(gen, A, scale=0.3) if bias else None}
    return tensors, {"enc_lengths": el, "dec_lengths": dl}


def pooling_case(index):
    gen = torch.Generator().manual_seed(200 + index)
    B, T, Fe, bias, lengths = [(3, 5, 4, True, [5, 0, 3]), (1, 1, 1, False, None),
                               (2, 6, 3, True, [1, 6])][index]
    return ({"x": rand(gen, B, T, Fe), "w": rand(gen, Fe), "b": rand(gen, T, scale=0.5)
             if bias else None}, {"lengths": lengths})


RNN_CASES = [  # kind, variant, reverse, lengths, h0, bias
    ("gru", "reset_after", False, [4, 0, 2], True, True),
    ("gru", "reset_after", True, [4, 0, 2], True, True),
    ("gru", "reset_before", False, None, False, True),
    ("gru", "reset_before", True, [1, 4, 3], True, False),
    ("simple_rnn", None, False, [4, 0, 2], True, True),
    ("simple_rnn", None, True, None, False, False),
]


def rnn_case(index):
    kind, variant, reverse, lengths, h0, bias = RNN_CASES[index]
    gen = torch.Generator().manual_seed(300 + index)
    B, T, I, H = 3, 4, 2, 3
    G = 3 if kind == "gru" else 1
    bias_shape = (2, G * H) if variant == "reset_after" else (G * H,)
    tensors = {"x": rand(gen, B, T, I), "kernel": rand(gen, I, G * H, scale=0.7),
               "recurrent_kernel": rand(gen, H, G * H, scale=0.5),
               "bias": rand(gen, *bias_shape, scale=0.3) if bias else None,
               "h0": rand(gen, B, H, scale=0.5) if h0 else None}
    options = {"reverse": reverse, "lengths": lengths}
    if variant is not None:
        options["variant"] = variant
    return kind, tensors, options


ACTIVATIONS = ["none", "tanh", "sigmoid", "relu", "softmax"]


def dense_case(activation):
    gen = torch.Generator().manual_seed(400 + ACTIVATIONS.index(activation))
    while True:
        x, W, b = rand(gen, 2, 3, 4), rand(gen, 4, 5, scale=0.6), rand(gen, 5, scale=0.3)
        # relu has a kink at 0: keep every pre-activation further from it than
        # any finite-difference step below, so the derivative is defined there.
        if activation != "relu" or float((x.double() @ W.double() + b).abs().min()) > 0.05:
            return {"x": x, "W": W, "b": b}


# ------------------------------------------------------------- gradcheck


class GradcheckBudget:
    """eps, atol and rtol for torch.autograd.gradcheck on a float32 function.

    gradcheck compares each entry of the backward's Jacobian J with the
    central difference n = (f(x + eps) - f(x - eps)) / (2 eps), computed in
    float32. Its error, for outputs bounded by |f| <= Fmax and inputs by
    |x| <= Xmax:
      - each forward output carries an error of at most d(f), so n carries
        2 d / (2 eps) = d / eps;
      - x +- eps is rounded to float32: each step is off by up to
        u (|x| + eps), u = 2^-24, a relative error of 2 u (Xmax + eps) / eps
        in n (plus u for the final division): that is rtol;
      - truncation: eps^2 / 6 |f'''|; at these scales (weights <= ~1, O(1)
        inputs through tanh / sigmoid / softmax) |f'''| <= 60, i.e. 10 eps^2;
      - the backward's own rounding (float32 results of sums of <= 100
        terms of magnitude <= ~1): 1e-5.
    On the reference, outputs are double results rounded once: d = u |f|,
    and eps = 2^-10 balances the rounding term against truncation. On the
    fast CPU path d is the PRECISE contract (1e-5 + 1e-4 |f| against the
    reference, plus the reference's u |f|), which needs a larger step,
    eps = 2^-7, and still leaves an atol near 0.03: loose, but a wrong
    gradient (a missing term, a transposed block, a mask) is off by O(1).
    """

    def __init__(self, device, inputs, outputs):
        fmax = max(float(o.abs().max()) for o in outputs if o.numel())
        xmax = max(float(t.abs().max()) for t in inputs if t.numel())
        if device == "reference":
            self.eps = 2.0 ** -10
            d = U32 * fmax
        else:
            self.eps = 2.0 ** -7
            d = 1e-5 + (1e-4 + U32) * fmax
        self.atol = d / self.eps + 10 * self.eps ** 2 + 1e-5
        self.rtol = 2 * U32 * (xmax + self.eps) / self.eps + U32
        # gradcheck also runs the backward twice and wants equal results: the
        # reference is deterministic; the fast path promises the contract,
        # not bitwise repeatability across its threads' reduction orders.
        self.nondet_tol = 0.0 if device == "reference" else 1e-5


def gradcheck(handle, fn, tensors):
    """gradcheck of fn(*tensors) (each returning a tuple of float32 outputs)
    on the requires-grad copies of the non-None `tensors`."""
    names = [n for n, t in tensors.items() if t is not None]
    inputs = [tensors[n].clone().requires_grad_() for n in names]

    def call(*xs):
        kw = dict(tensors)
        kw.update(zip(names, xs))
        out = fn(**kw)
        return out if isinstance(out, tuple) else (out,)

    with torch.no_grad():
        outputs = call(*inputs)
    budget = GradcheckBudget(handle.device, inputs, outputs)
    unsupported_skips(handle, lambda: call(*inputs)[0].sum().backward())
    with warnings.catch_warnings():
        # "Input #0 ... is not a double precision floating point": float32 on
        # purpose (the library's type), with the budget above instead.
        warnings.simplefilter("ignore", UserWarning)
        assert torch.autograd.gradcheck(call, inputs, eps=budget.eps, atol=budget.atol,
                                        rtol=budget.rtol, nondet_tol=budget.nondet_tol,
                                        check_undefined_grad=True)


@pytest.mark.parametrize("index", range(3))
def test_gradcheck_additive_attention(handle, index):
    tensors, options = attention_case(index)
    gradcheck(handle, lambda **t: st.additive_attention(**t, **options, handle=handle), tensors)


@pytest.mark.parametrize("index", range(3))
def test_gradcheck_projected_attention_and_project_keys(handle, index):
    tensors, options = attention_case(index)

    def two_phase(encoder_out, decoder_out, W, U, v, bias):
        keys = st.project_keys(encoder_out, W, bias, handle=handle)
        return st.additive_attention_projected(encoder_out, keys, decoder_out, U, v, **options,
                                               handle=handle)
    gradcheck(handle, two_phase, tensors)


@pytest.mark.parametrize("index", range(3))
def test_gradcheck_attention_pooling(handle, index):
    tensors, options = pooling_case(index)
    gradcheck(handle, lambda **t: st.attention_pooling(**t, **options, handle=handle), tensors)


@pytest.mark.parametrize("index", range(len(RNN_CASES)))
def test_gradcheck_rnn(handle, index):
    kind, tensors, options = rnn_case(index)
    run = getattr(st, kind)
    gradcheck(handle, lambda **t: run(**t, **options, handle=handle), tensors)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradcheck_dense(handle, activation):
    gradcheck(handle, lambda **t: st.dense(**t, activation=activation, handle=handle),
              dense_case(activation))


# ------------------------------------------------ against torch autograd (float64)

# The library's gradients against float64 autograd of the naive math at the
# same float32 inputs, within the PRECISE contract of seqattn.h (docs/math.md
# "Tolerances"), 1e-5 + 1e-4·|g|: the reference computes in double but reads
# the forward's float32 weights / outputs (relative error u = 6e-8 each) and
# writes float32, and its gradients are sums of <= ~100 such terms of
# magnitude <= ~1, so <= ~1e-5 apart; the fast path is held to the same
# contract against the reference.
ATOL, RTOL = 1e-5, 1e-4


def assert_grads_close(got, want, what):
    for name in want:
        g, w = got[name], want[name]
        assert (g is None) == (w is None), f"{what}: gradient of {name}: {g} vs {w}"
        if g is None:
            continue
        g, w = g.double(), w.double()
        assert g.shape == w.shape, f"{what}: d{name} shape {tuple(g.shape)} vs {tuple(w.shape)}"
        bad = ~((g - w).abs() <= ATOL + RTOL * w.abs())
        if bool(bad.any()):
            first = tuple(int(i) for i in bad.nonzero()[0])
            pytest.fail(f"{what}: d{name}: {int(bad.sum())} of {bad.numel()} differ; first at "
                        f"{first}: got {float(g[first])!r}, autograd {float(w[first])!r}")


def loss_weights(outputs, which, seed):
    """Random weights r for loss = Σ r·output, per output; None where `which`
    puts no loss (the gradient autograd then passes is None)."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(o.shape, generator=gen, dtype=torch.float64) if use else None
            for o, use in zip(outputs, which)]


def grads_of(fn, tensors, weights, double):
    """{name: gradient} of Σ weights·fn(tensors) for every non-None tensor."""
    leaves = {n: (t.double() if double else t).clone().requires_grad_()
              for n, t in tensors.items() if t is not None}
    kw = dict(tensors)
    kw.update(leaves)
    out = fn(**kw)
    out = out if isinstance(out, tuple) else (out,)
    loss = sum((o.double() * r).sum() for o, r in zip(out, weights) if r is not None)
    loss.backward()
    return {n: leaf.grad for n, leaf in leaves.items()}


def compare(handle, ours, naive, tensors, which, seed, what):
    with torch.no_grad():
        outputs = naive(**{n: (t.double() if t is not None else None)
                           for n, t in tensors.items()})
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    weights = loss_weights(outputs, which, seed)
    want = grads_of(naive, tensors, weights, double=True)
    got = unsupported_skips(handle, lambda: grads_of(ours, tensors, weights, double=False))
    assert_grads_close(got, want, what)
    return got


LOSSES = {"context": (True, False), "weights": (False, True), "both": (True, True)}


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("index", range(3))
def test_attention_matches_autograd(handle, index, loss):
    tensors, options = attention_case(index)
    compare(handle, lambda **t: st.additive_attention(**t, **options, handle=handle),
            lambda **t: naive_attention(**t, **options), tensors, LOSSES[loss], index,
            f"attention case {index}, loss on {loss}")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("index", range(3))
def test_projected_attention_matches_autograd(handle, index, loss):
    tensors, options = attention_case(index)

    def ours(encoder_out, decoder_out, W, U, v, bias):
        keys = st.project_keys(encoder_out, W, bias, handle=handle)
        return st.additive_attention_projected(encoder_out, keys, decoder_out, U, v, **options,
                                               handle=handle)
    # encoder_out's gradient is the sum of its two uses (values, and keys
    # through project_keys), which autograd adds.
    compare(handle, ours, lambda **t: naive_attention(**t, **options), tensors, LOSSES[loss],
            index, f"projected attention case {index}, loss on {loss}")


def test_projected_attention_step_by_step(handle):
    # The decoding loop: keys projected once, one attention call per decoder
    # step; the gradients of keys and encoder_out sum over the steps.
    tensors, options = attention_case(0)
    Td = tensors["decoder_out"].shape[1]

    def ours(encoder_out, decoder_out, W, U, v, bias):
        keys = st.project_keys(encoder_out, W, bias, handle=handle)
        steps = [st.additive_attention_projected(
            encoder_out, keys, decoder_out[:, t:t + 1].contiguous(), U, v,
            enc_lengths=options["enc_lengths"], handle=handle) for t in range(Td)]
        return torch.cat([c for c, _ in steps], 1), torch.cat([w for _, w in steps], 1)
    compare(handle, ours, lambda **t: naive_attention(**t, enc_lengths=options["enc_lengths"]),
            tensors, (True, True), 7, "step-by-step attention")


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("index", range(3))
def test_pooling_matches_autograd(handle, index, loss):
    tensors, options = pooling_case(index)
    compare(handle, lambda **t: st.attention_pooling(**t, **options, handle=handle),
            lambda **t: naive_pooling(**t, **options), tensors, LOSSES[loss], index,
            f"pooling case {index}, loss on {loss}")


RNN_LOSSES = {"outputs": (True, False), "state": (False, True), "both": (True, True)}


@pytest.mark.parametrize("loss", RNN_LOSSES)
@pytest.mark.parametrize("index", range(len(RNN_CASES)))
def test_rnn_matches_autograd(handle, index, loss):
    kind, tensors, options = rnn_case(index)
    cell = gru_cell(options.get("variant")) if kind == "gru" else simple_cell
    naive_options = {"reverse": options["reverse"], "lengths": options["lengths"]}
    compare(handle, lambda **t: getattr(st, kind)(**t, **options, handle=handle),
            lambda **t: naive_rnn(cell, **t, **naive_options), tensors, RNN_LOSSES[loss], index,
            f"{RNN_CASES[index]}, loss on {loss}")


def test_rnn_state_only(handle):
    # return_sequences=False still trains: the forward keeps the outputs the
    # backward reads, and the loss on h_last alone reaches every parameter.
    kind, tensors, options = rnn_case(0)
    got = compare(handle, lambda **t: (st.gru(**t, **options, return_sequences=False,
                                              handle=handle),),
                  lambda **t: (naive_rnn(gru_cell("reset_after"), **t,
                                         reverse=False, lengths=options["lengths"])[1],),
                  tensors, (True,), 11, "gru, state only")
    assert float(got["recurrent_kernel"].abs().sum()) > 0


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_matches_autograd(handle, activation):
    compare(handle, lambda **t: st.dense(**t, activation=activation, handle=handle),
            lambda **t: naive_dense(**t, activation=activation), dense_case(activation),
            (True,), 5, f"dense {activation}")


def test_masked_positions_get_zero_gradient(handle):
    # Encoder steps past enc_lengths, decoder rows past dec_lengths and RNN
    # steps past lengths get exactly zero gradient.
    tensors, options = attention_case(0)
    got = compare(handle, lambda **t: st.additive_attention(**t, **options, handle=handle),
                  lambda **t: naive_attention(**t, **options), tensors, (True, True), 3,
                  "attention masks")
    for b, (L, Ld) in enumerate(zip(options["enc_lengths"], options["dec_lengths"])):
        assert bool((got["encoder_out"][b, L:] == 0).all()), f"encoder_out row {b} past {L}"
        assert bool((got["decoder_out"][b, Ld:] == 0).all()), f"decoder_out row {b} past {Ld}"
    assert bool((got["decoder_out"][2] == 0).all())  # enc_lengths 0: the row passes nothing
    kind, tensors, options = rnn_case(0)
    got = compare(handle, lambda **t: st.gru(**t, **options, handle=handle),
                  lambda **t: naive_rnn(gru_cell("reset_after"), **t, lengths=options["lengths"]),
                  tensors, (True, True), 4, "gru masks")
    for b, L in enumerate(options["lengths"]):
        assert bool((got["x"][b, L:] == 0).all()), f"x row {b} past {L}"


# --------------------------------------------------- what autograd keeps


def saved_elements(output):
    return sum(t.numel() for t in output.grad_fn.saved_tensors if t is not None)


def test_saves_only_inputs_and_weights():
    B, Te, Td, He, Hd, A = 2, 9, 7, 5, 6, 11
    h, s = torch.randn(B, Te, He), torch.randn(B, Td, Hd)
    W, U, v, bias = (torch.randn(*shape, requires_grad=True)
                     for shape in ((He, A), (Hd, A), (A,), (A,)))
    context, weights = st.additive_attention(h, s, W, U, v, bias)
    kept = saved_elements(context)
    inputs = h.numel() + s.numel() + W.numel() + U.numel() + v.numel() + bias.numel()
    assert kept == inputs + weights.numel()  # never B·Td·Te·A (= 1386 here)
    x = torch.randn(B, Te, He)
    k = torch.randn(He, 3 * A, requires_grad=True)
    rk = torch.randn(A, 3 * A, requires_grad=True)
    state = st.gru(x, k, rk, return_sequences=False)
    # The inputs and the outputs [B, T, H]: the gates are recomputed.
    assert saved_elements(state) == x.numel() + k.numel() + rk.numel() + B * Te * A


def test_grad_mode_decides_whether_a_graph_is_recorded():
    attn = st.BahdanauAttention(4)
    query, keys = torch.randn(1, 1, 4), torch.randn(1, 3, 4)
    context, weights = attn(query, keys)  # the parameters require grad
    assert context.grad_fn is not None and weights.grad_fn is not None
    with torch.no_grad():
        assert attn(query, keys)[0].grad_fn is None
    with torch.inference_mode():
        assert attn(query, keys)[0].grad_fn is None
    attn.requires_grad_(False)
    assert attn(query, keys)[0].grad_fn is None
    out = attn(query.requires_grad_(), keys)[0]
    assert out.grad_fn is not None


def test_second_derivatives_are_refused():
    x = torch.randn(2, 3, 4)
    W = torch.randn(4, 5, requires_grad=True)
    with seqattn.Handle("reference") as h:
        y = st.dense(x, W, activation="tanh", handle=h)
        # A gradient that carries a graph (here through d_y) is refused when
        # differentiated again, rather than treated as a constant.
        d_y = torch.ones_like(y, requires_grad=True)
        (g,) = torch.autograd.grad(y, W, d_y, create_graph=True)
        with pytest.raises(RuntimeError, match="once_differentiable"):
            g.sum().backward()


def test_the_fast_path_until_it_has_a_backward():
    # Documents the state of the fast CPU path: its backward either works
    # or refuses with UNSUPPORTED (which the tests above skip on), nothing else.
    x = torch.randn(2, 3, 4)
    W = torch.randn(4, 5, requires_grad=True)
    with seqattn.Handle("cpu") as h:
        y = st.dense(x, W, handle=h)
        try:
            y.sum().backward()
        except seqattn.SeqattnError as e:
            assert e.status == seqattn.Status.SEQATTN_ERROR_UNSUPPORTED
        else:
            assert torch.allclose(W.grad, x.sum((0, 1))[:, None].expand(4, 5), atol=1e-5)


# ------------------------------------------------------------------ modules


def test_bahdanau_module_gradients_match_the_tutorial(handle):
    torch.manual_seed(12)
    B, Te, H = 3, 7, 5
    tutorial = TutorialBahdanauAttention(H).double()
    ours = st.BahdanauAttention(H)
    ours.load_state_dict({k: v.float() for k, v in tutorial.state_dict().items()})
    query, keys = torch.randn(B, 1, H), torch.randn(B, Te, H)
    q64, k64 = (t.double().requires_grad_() for t in (query, keys))
    q32, k32 = (t.clone().requires_grad_() for t in (query, keys))
    r_ctx, r_w = torch.randn(B, 1, H, dtype=torch.float64), torch.randn(B, 1, Te,
                                                                        dtype=torch.float64)
    # The float32 parameters as float64, so both sides start from the same point.
    tutorial.load_state_dict({k: v.double() for k, v in ours.state_dict().items()})
    ctx, w = tutorial(q64, k64)
    ((ctx * r_ctx).sum() + (w * r_w).sum()).backward()

    def ours_backward():
        ctx, w = ours(q32, k32, handle=handle)
        ((ctx.double() * r_ctx).sum() + (w.double() * r_w).sum()).backward()
    unsupported_skips(handle, ours_backward)
    got = {"query": q32.grad, "keys": k32.grad}
    want = {"query": q64.grad, "keys": k64.grad}
    for name, p in ours.named_parameters():
        if name == "Va.bias":
            # The softmax cancels it: no gradient here, ~0 in the tutorial.
            assert p.grad is None
            assert float(dict(tutorial.named_parameters())[name].grad.abs().max()) < 1e-12
            continue
        got[name], want[name] = p.grad, dict(tutorial.named_parameters())[name].grad
    assert_grads_close(got, want, "BahdanauAttention")


class NaiveHead(nn.Module):
    """GRU -> attention pooling -> Dense softmax, in plain torch (float64),
    from a Head's parameters ("gru.kernel" here is gru_kernel)."""

    def __init__(self, head):
        super().__init__()
        for name, p in head.named_parameters():
            self.register_parameter(name.replace(".", "_"), nn.Parameter(p.detach().double()))

    def forward(self, x, lengths):
        outputs, _ = naive_rnn(gru_cell("reset_after"), x, self.gru_kernel,
                               self.gru_recurrent_kernel, self.gru_bias, lengths)
        pooled, _ = naive_pooling(outputs, self.pool_W[:, 0], self.pool_b[:, 0], lengths)
        return naive_dense(pooled, self.out_kernel, self.out_bias, "softmax")


class Head(nn.Module):
    def __init__(self, I, H, T, N):
        super().__init__()
        self.gru = st.GRU(I, H)
        self.pool = st.AttentionPooling(H, T)
        self.out = st.Dense(H, N, "softmax")

    def forward(self, x, lengths, handle=None):
        outputs, _ = self.gru(x, lengths, handle=handle)
        return self.out(self.pool(outputs, lengths, handle=handle), handle=handle)


def test_modules_train_like_plain_torch(handle):
    # Three SGD-with-momentum steps of a GRU + pooling + Dense head: the
    # seqattn modules and the same model in plain float64 torch get the same
    # gradients at each step and end at the same parameters.
    torch.manual_seed(13)
    I, H, T, N, B = 3, 4, 5, 3, 4
    ours = Head(I, H, T, N)
    with torch.no_grad():
        for p in ours.parameters():  # away from the zero init, so every path matters
            p.add_(torch.randn(p.shape) * 0.3)
    naive = NaiveHead(ours)
    x, y, lengths = torch.randn(B, T, I), torch.randint(0, N, (B,)), [5, 2, 1, 4]
    lr, momentum, steps = 0.1, 0.9, 3
    opt = torch.optim.SGD(ours.parameters(), lr=lr, momentum=momentum)
    opt64 = torch.optim.SGD(naive.parameters(), lr=lr, momentum=momentum)
    gmax = 0.0
    for step in range(steps):
        opt.zero_grad()
        opt64.zero_grad()
        unsupported_skips(handle, lambda: F.nll_loss(
            torch.log(ours(x, lengths, handle=handle)), y).backward())
        F.nll_loss(torch.log(naive(x.double(), lengths)), y).backward()
        assert_grads_close({n: p.grad for n, p in ours.named_parameters()},
                           {n: getattr(naive, n.replace(".", "_")).grad
                            for n, _ in ours.named_parameters()}, f"step {step}")
        gmax = max(gmax, max(float(p.grad.abs().max()) for p in naive.parameters()))
        opt.step()
        opt64.step()
    # With momentum the k-th step moves a parameter by lr·Σ_j momentum^j·g,
    # so gradients within ATOL + RTOL·gmax move the parameters apart by at
    # most lr·(1 + 1.9 + 2.71)·(ATOL + RTOL·gmax) after 3 steps, plus the
    # float32 rounding of the parameters themselves.
    bound = lr * sum(sum(momentum ** j for j in range(k + 1)) for k in range(steps)) * (
        ATOL + RTOL * gmax)
    for name, p in ours.named_parameters():
        want = getattr(naive, name.replace(".", "_"))
        diff = float((p.double() - want).abs().max())
        assert diff <= bound + U32 * float(want.abs().max()), (name, diff, bound)


def test_training_lowers_the_loss():
    # A toy task on the reference: the class is the sign of the sum of the
    # first feature over each row's valid steps. 60 Adam steps.
    torch.manual_seed(14)
    I, H, T, N, B = 2, 8, 6, 2, 32
    model = Head(I, H, T, N)
    x = torch.randn(B, T, I)
    lengths = torch.randint(1, T + 1, (B,))
    mask = torch.arange(T)[None, :] < lengths[:, None]
    y = ((x[:, :, 0] * mask).sum(1) > 0).long()
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    with seqattn.Handle("reference") as h:
        losses = []
        for _ in range(60):
            opt.zero_grad()
            loss = F.nll_loss(torch.log(model(x, lengths, handle=h)), y)
            loss.backward()
            opt.step()
            losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    assert all(math.isfinite(v) for v in losses)


def test_module_parameters_and_layouts():
    g = st.GRU(3, 4)
    assert [n for n, _ in g.named_parameters()] == ["kernel", "recurrent_kernel", "bias"]
    assert g.kernel.shape == (3, 12) and g.recurrent_kernel.shape == (4, 12)
    assert g.bias.shape == (2, 12) and st.GRU(3, 4, variant="reset_before").bias.shape == (12,)
    assert st.GRU(3, 4, bias=False).bias is None
    assert st.SimpleRNN(3, 4).recurrent_kernel.shape == (4, 4)
    d = st.Dense(4, 6, "relu")
    assert d.kernel.shape == (4, 6) and d.bias.shape == (6,)
    with pytest.raises(ValueError, match="activation must be one of"):
        st.Dense(4, 6, "gelu")
    with pytest.raises(ValueError, match="variant must be"):
        st.GRU(3, 4, variant="cudnn")
    # nn.GRU's weights through torch_gru_to_keras give the same outputs.
    torch.manual_seed(15)
    ref = nn.GRU(3, 4, batch_first=True)
    ours = st.GRU(3, 4)
    with torch.no_grad():
        for p, a in zip((ours.kernel, ours.recurrent_kernel, ours.bias),
                        seqattn.torch_gru_to_keras(ref.weight_ih_l0, ref.weight_hh_l0,
                                                   ref.bias_ih_l0, ref.bias_hh_l0)):
            p.copy_(torch.from_numpy(a))
        x = torch.randn(2, 5, 3)
        assert torch.allclose(ours(x)[0], ref(x)[0], atol=1e-5)


# ------------------------------------------------------------------- CUDA

def _cuda_ready():
    if not torch.cuda.is_available():
        return "torch sees no CUDA device"
    if not seqattn.build_features()["cuda"]:
        return "libseqattn was built without CUDA"
    if seqattn.cuda_device_count() == 0:
        return "libseqattn sees no CUDA device"
    return None


@pytest.mark.skipif(_cuda_ready() is not None, reason=str(_cuda_ready()))
@pytest.mark.parametrize("side_stream", [False, True])
def test_cuda_gradients_match_the_reference(side_stream):
    # The same head on CUDA (the handles of torch's current stream, in the
    # forward and in autograd's backward thread) and on the reference.
    torch.manual_seed(16)
    I, H, T, N, B = 3, 8, 6, 4, 5
    model = Head(I, H, T, N)
    x, y, lengths = torch.randn(B, T, I), torch.randint(0, N, (B,)), [6, 1, 0, 3, 6]
    with seqattn.Handle("reference") as h:
        F.nll_loss(torch.log(model(x, lengths, handle=h) + 1e-9), y).backward()
    want = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.cuda()
    stream = torch.cuda.Stream() if side_stream else torch.cuda.current_stream()
    with torch.cuda.stream(stream):
        def run():
            loss = F.nll_loss(torch.log(model(x.cuda(), lengths) + 1e-9), y.cuda())
            loss.backward()
        unsupported_cuda = None
        try:
            run()
        except seqattn.SeqattnError as e:
            unsupported_cuda = e
    stream.synchronize()
    if unsupported_cuda is not None:
        if unsupported_cuda.status == seqattn.Status.SEQATTN_ERROR_UNSUPPORTED:
            pytest.skip(f"the CUDA path has no backward for this op yet: {unsupported_cuda}")
        raise unsupported_cuda
    assert_grads_close({n: p.grad.cpu() for n, p in model.named_parameters()}, want, "cuda")
