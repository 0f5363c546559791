"""seqattn.ops' backward functions on numpy arrays, without torch: their
gradients against float64 central differences of the numpy oracle
(reference_np, written from docs/math.md), on both CPU paths; and the
friendly layer's checks (shapes named by argument, optional gradients,
caller-given outputs, overlap refusals).

The fast CPU path's backward is another change: until it lands its tests
here skip on exactly the library's UNSUPPORTED status."""

import numpy as np
import pytest

import reference_np as ref
import seqattn
from seqattn import ops

# The PRECISE contract of seqattn.h (docs/math.md "Tolerances"), per gradient
# element: the reference computes in double from the forward's float32
# weights/outputs and writes float32 (sums of <= ~100 terms of relative
# error 6e-8 each stay well inside); the fast path is held to the same bound.
ATOL, RTOL = 1e-5, 1e-4
EPS = 1e-6  # float64 central differences: truncation ~EPS², rounding ~1e-16/EPS


@pytest.fixture(scope="module", params=["reference", "cpu"])
def handle(request):
    with seqattn.Handle(request.param) as h:
        yield h


def skip_unsupported(handle, run):
    try:
        return run()
    except seqattn.SeqattnError as e:
        if handle.device == "cpu" and e.status == seqattn.Status.SEQATTN_ERROR_UNSUPPORTED:
            pytest.skip(f"the fast CPU path has no backward for this op yet: {e}")
        raise


def normal(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def check_directional(f, inputs, grads, d_outs, what, seed=0):
    """For each input: Σ grad·u (the library's) against the float64 central
    difference of L(θ) = Σ_k Σ d_out_k·f_k(θ) along a random direction u.
    The library's gradient g is within ATOL + RTOL·|g| per element of the
    exact one, so the two differ by at most Σ |u|·(ATOL + RTOL·|g|)."""
    rng = np.random.default_rng(seed)

    def loss(values):
        return sum(float((np.asarray(o) * d).sum())
                   for o, d in zip(f(values), d_outs) if d is not None)

    base = {n: np.asarray(v, np.float64) for n, v in inputs.items() if v is not None}
    for name, g in grads.items():
        u = rng.standard_normal(base[name].shape)
        plus, minus = dict(base), dict(base)
        plus[name], minus[name] = base[name] + EPS * u, base[name] - EPS * u
        numeric = (loss(plus) - loss(minus)) / (2 * EPS)
        analytic = float((np.asarray(g, np.float64) * u).sum())
        bound = float((np.abs(u) * (ATOL + RTOL * np.abs(g))).sum()) + 1e-7
        assert abs(analytic - numeric) <= bound, (
            f"{what}: d{name}·u = {analytic!r}, central difference {numeric!r} "
            f"(bound {bound:.3g})")


@pytest.mark.parametrize("use_weights", [False, True])
def test_attention_backward(handle, use_weights):
    rng = np.random.default_rng(1)
    B, Te, Td, He, Hd, A = 3, 5, 4, 3, 2, 7
    t = {"h": normal(rng, B, Te, He), "s": normal(rng, B, Td, Hd),
         "W": normal(rng, He, A, scale=0.6), "U": normal(rng, Hd, A, scale=0.6),
         "v": normal(rng, A), "bias": normal(rng, A, scale=0.3)}
    el, dl = [5, 2, 0], [4, 1, 3]
    _, weights = ops.additive_attention(handle, t["h"], t["s"], t["W"], t["U"], t["v"],
                                        t["bias"], el, dl)
    d_ctx = normal(rng, B, Td, He)
    d_w = normal(rng, B, Td, Te) if use_weights else None
    dh, ds, dW, dU, db, dv = skip_unsupported(handle, lambda: ops.additive_attention_backward(
        handle, t["h"], t["s"], t["W"], t["U"], t["v"], weights, d_ctx, t["bias"], el, dl,
        d_w))
    check_directional(
        lambda x: ref.additive_attention(x["h"], x["s"], x["W"], x["U"], x["v"], x["bias"],
                                         el, dl),
        t, {"h": dh, "s": ds, "W": dW, "U": dU, "bias": db, "v": dv}, [d_ctx, d_w],
        "additive_attention_backward")
    assert not dh[1, 2:].any() and not dh[2].any() and not ds[2].any() and not ds[1, 1:].any()


def test_projected_attention_and_project_keys_backward(handle):
    rng = np.random.default_rng(2)
    B, Te, Td, He, Hd, A = 2, 7, 3, 4, 5, 3
    h, s = normal(rng, B, Te, He), normal(rng, B, Td, Hd)
    W, bias = normal(rng, He, A, scale=0.6), normal(rng, A, scale=0.3)
    U, v = normal(rng, Hd, A, scale=0.6), normal(rng, A)
    el = [7, 3]
    keys = ops.project_keys(handle, h, W, bias)
    _, weights = ops.additive_attention_projected(handle, h, keys, s, U, v, el)
    d_ctx, d_w = normal(rng, B, Td, He), normal(rng, B, Td, Te)

    def run():
        dh_values, dk, ds, dU, dv = ops.additive_attention_projected_backward(
            handle, h, keys, s, U, v, weights, d_ctx, el, None, d_w)
        dh_keys, dW, db = ops.project_keys_backward(handle, h, W, keys, dk)
        return dh_values + dh_keys, ds, dW, db, dU, dv
    dh, ds, dW, db, dU, dv = skip_unsupported(handle, run)
    check_directional(
        lambda x: ref.additive_attention(x["h"], x["s"], x["W"], x["U"], x["v"], x["bias"], el),
        {"h": h, "s": s, "W": W, "U": U, "v": v, "bias": bias},
        {"h": dh, "s": ds, "W": dW, "U": dU, "bias": db, "v": dv}, [d_ctx, d_w],
        "projected backward + project_keys_backward")


def test_pooling_backward(handle):
    rng = np.random.default_rng(3)
    B, T, F = 3, 5, 4
    x, w, b = normal(rng, B, T, F), normal(rng, F), normal(rng, T, scale=0.5)
    lengths = [5, 0, 3]
    _, weights = ops.attention_pooling(handle, x, w, b, lengths)
    d_ctx, d_w = normal(rng, B, F), normal(rng, B, T)
    dx, dw, db = skip_unsupported(handle, lambda: ops.attention_pooling_backward(
        handle, x, w, weights, d_ctx, b, lengths, d_w))
    check_directional(lambda t: ref.attention_pooling(t["x"], t["w"], t["b"], lengths),
                      {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db}, [d_ctx, d_w],
                      "attention_pooling_backward")
    assert not dx[1].any() and not dx[2, 3:].any()


@pytest.mark.parametrize("kind,variant,reverse", [
    ("gru", "reset_after", False), ("gru", "reset_after", True),
    ("gru", "reset_before", False), ("gru", "reset_before", True),
    ("simple_rnn", None, False), ("simple_rnn", None, True)])
def test_rnn_backward(handle, kind, variant, reverse):
    rng = np.random.default_rng(4)
    B, T, I, H = 3, 4, 2, 3
    G = 3 if kind == "gru" else 1
    bias_shape = (2, G * H) if variant == "reset_after" else (G * H,)
    t = {"x": normal(rng, B, T, I), "kernel": normal(rng, I, G * H, scale=0.7),
         "recurrent_kernel": normal(rng, H, G * H, scale=0.5),
         "bias": normal(rng, *bias_shape, scale=0.3), "h0": normal(rng, B, H, scale=0.5)}
    lengths = [4, 0, 2]
    extra = {"variant": variant} if kind == "gru" else {}
    forward = getattr(ops, kind)
    outputs, _ = forward(handle, t["x"], t["kernel"], t["recurrent_kernel"], t["bias"],
                         reverse=reverse, lengths=lengths, h0=t["h0"], **extra)
    d_out, d_last = normal(rng, B, T, H), normal(rng, B, H)
    backward = getattr(ops, kind + "_backward")
    dx, dh0, dk, drk, db = skip_unsupported(handle, lambda: backward(
        handle, t["x"], t["kernel"], t["recurrent_kernel"], outputs, t["bias"], reverse=reverse,
        lengths=lengths, h0=t["h0"], d_outputs=d_out, d_h_last=d_last, **extra))
    oracle = getattr(ref, kind)
    # The oracle's outputs past a row's length are 0 whatever the loss there,
    # so d_outputs there (which the library ignores) add nothing to L either.
    check_directional(
        lambda x: oracle(x["x"], x["kernel"], x["recurrent_kernel"], x["bias"],
                         lengths=lengths, h0=x["h0"], reverse=reverse, **extra),
        t, {"x": dx, "h0": dh0, "kernel": dk, "recurrent_kernel": drk, "bias": db},
        [d_out, d_last], f"{kind}_backward {variant} reverse={reverse}")
    assert not dx[1].any() and not dx[2, 2:].any()
    assert np.array_equal(dh0[1], d_last[1])  # length 0: h_last is h0


@pytest.mark.parametrize("activation", ["none", "tanh", "sigmoid", "relu", "softmax"])
def test_dense_backward(handle, activation):
    rng = np.random.default_rng(5)
    x, W, b = normal(rng, 2, 3, 4), normal(rng, 4, 5, scale=0.6), normal(rng, 5, scale=0.3)
    if activation == "relu":
        # Away from the kink by far more than EPS·|u| moves a pre-activation.
        pre = x.astype(np.float64) @ W + b
        x = x + np.where(np.abs(pre) < 1e-3, 0.01, 0).sum(-1, keepdims=True).astype(np.float32)
    y = ops.dense(handle, x, W, b, activation)
    d_y = normal(rng, *y.shape)
    dx, dW, db = skip_unsupported(handle, lambda: ops.dense_backward(handle, x, W, y, d_y,
                                                                     activation))
    check_directional(lambda t: [ref.dense(t["x"], t["W"], t["b"], activation)],
                      {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db}, [d_y],
                      f"dense_backward {activation}")


# ------------------------------------------------------- the friendly layer


def f32(*shape):
    return np.ones(shape, dtype=np.float32)


def test_backward_shapes_are_named(cpu):
    h, s, W, U, v = f32(2, 5, 4), f32(2, 3, 6), f32(4, 7), f32(6, 7), f32(7)
    with pytest.raises(ValueError, match=r"^weights has shape \(2, 3, 4\) but expected "
                                         r"\[B, Td, Te\]: axis 2 is 4, expected 5"):
        ops.additive_attention_backward(cpu, h, s, W, U, v, f32(2, 3, 4), f32(2, 3, 4))
    with pytest.raises(ValueError, match=r"^d_context has shape"):
        ops.additive_attention_backward(cpu, h, s, W, U, v, f32(2, 3, 5), f32(2, 3, 5))
    with pytest.raises(ValueError, match=r"^d_weights has shape"):
        ops.additive_attention_backward(cpu, h, s, W, U, v, f32(2, 3, 5), f32(2, 3, 4),
                                        d_weights=f32(2, 3, 4))
    with pytest.raises(ValueError, match=r"^outputs has shape .*expected \[B, T, H\]"):
        ops.gru_backward(cpu, f32(2, 3, 4), f32(4, 15), f32(5, 15), f32(2, 3, 4))
    with pytest.raises(ValueError, match=r"^d_h_last has shape"):
        ops.simple_rnn_backward(cpu, f32(2, 3, 4), f32(4, 5), f32(5, 5), f32(2, 3, 5),
                                d_h_last=f32(3, 5))
    with pytest.raises(ValueError, match=r"^y has shape"):
        ops.dense_backward(cpu, f32(2, 3, 4), f32(4, 5), f32(2, 4, 5), f32(2, 3, 5))
    with pytest.raises(ValueError, match=r"^keys has shape"):
        ops.project_keys_backward(cpu, h, W, f32(2, 5, 6), f32(2, 5, 6))
    with pytest.raises(ValueError, match=r"^d_keys has shape"):
        ops.project_keys_backward(cpu, h, W, f32(2, 5, 7), f32(2, 5, 6))
    with pytest.raises(ValueError, match=r"^d_b was given but b is None"):
        ops.attention_pooling_backward(cpu, f32(2, 3, 4), f32(4), f32(2, 3), f32(2, 4),
                                       d_b=f32(3))
    with pytest.raises(ValueError, match=r"^d_h0 was given but h0 is None"):
        ops.gru_backward(cpu, f32(2, 3, 4), f32(4, 15), f32(5, 15), f32(2, 3, 5),
                         d_h0=f32(2, 5))
    with pytest.raises(ValueError, match="activation must be one of"):
        ops.dense_backward(cpu, f32(2, 4), f32(4, 5), f32(2, 5), f32(2, 5), "gelu")


def test_backward_overlaps_are_refused(cpu):
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"^d_x overlaps x: an output must not share memory"):
        ops.dense_backward(cpu, x, f32(4, 5), f32(2, 3, 5), f32(2, 3, 5), d_x=x)
    buf = np.zeros(64, np.float32)
    with pytest.raises(ValueError, match=r"^d_W overlaps d_x"):
        ops.dense_backward(cpu, x, f32(4, 5), f32(2, 3, 5), f32(2, 3, 5),
                           d_x=buf[:24].reshape(2, 3, 4), d_W=buf[20:40].reshape(4, 5))
    pool_x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"^d_x overlaps d_context"):
        both = np.zeros(32, np.float32)
        ops.attention_pooling_backward(cpu, pool_x, f32(4), f32(2, 3), both[:8].reshape(2, 4),
                                       d_x=both[:24].reshape(2, 3, 4))
    outputs = np.ones((2, 3, 5), np.float32)
    with pytest.raises(ValueError, match=r"^d_x overlaps outputs"):
        ops.simple_rnn_backward(cpu, f32(2, 3, 5), f32(5, 5), f32(5, 5), outputs,
                                d_x=outputs)


def test_backward_writes_given_outputs_and_skips_optional_ones(handle):
    rng = np.random.default_rng(6)
    x, W = normal(rng, 3, 4), normal(rng, 4, 2)
    y = ops.dense(handle, x, W, None, "tanh")
    d_x, d_W = np.empty((3, 4), np.float32), np.empty((4, 2), np.float32)
    got = skip_unsupported(handle, lambda: ops.dense_backward(
        handle, x, W, y, np.ones_like(y), "tanh", bias_grad=False, d_x=d_x, d_W=d_W))
    assert got[0] is d_x and got[1] is d_W and got[2] is None
    dz = 1.0 - y.astype(np.float64) ** 2
    np.testing.assert_allclose(d_W, x.T.astype(np.float64) @ dz, atol=ATOL, rtol=RTOL)
    # No bias / no h0 in the forward: no such gradient, None in its place.
    xr = normal(rng, 2, 3, 4)
    k, rk = normal(rng, 4, 15, scale=0.5), normal(rng, 5, 15, scale=0.5)
    outputs, _ = ops.gru(handle, xr, k, rk)
    dx, dh0, dk, drk, db = skip_unsupported(handle, lambda: ops.gru_backward(
        handle, xr, k, rk, outputs, d_h_last=np.ones((2, 5), np.float32)))
    assert dh0 is None and db is None and dx.shape == xr.shape and drk.shape == rk.shape
