"""seqattn.torch against plain torch: the PyTorch seq2seq tutorial's
BahdanauAttention and the second seed's attention-pooling layer written out
as their authors wrote them (the naive math, in torch), nn.GRU, nn.Linear;
state_dict loading both ways; CUDA (skipped without a GPU). The backward
passes are test_torch_backward.py's.

torch is optional for the source tree's tests (skipped without it), and
required when testing the installed package (SEQATTN_TEST_INSTALLED=1, as
scripts/test_wheel.sh does): there a missing torch fails the run."""

import os
import threading

import numpy as np
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

TOL = 1e-5


class SeedAttentionPooling(nn.Module):
    """The second seed's attention layer (a Keras layer there), in torch."""

    def __init__(self, features, steps):
        super().__init__()
        self.W = nn.Parameter(torch.randn(features, 1) * 0.5)
        self.b = nn.Parameter(torch.randn(steps, 1) * 0.5)

    def forward(self, x):
        e = torch.tanh(x @ self.W + self.b).squeeze(-1)
        alpha = F.softmax(e, dim=1).unsqueeze(-1)
        return (x * alpha).sum(dim=1), alpha.squeeze(-1)


def close(actual, expected, what):
    actual, expected = actual.detach().double().cpu(), expected.detach().double().cpu()
    assert actual.shape == expected.shape, f"{what}: {actual.shape} vs {expected.shape}"
    err = (actual - expected).abs().flatten()
    if err.numel():
        worst = int(err.argmax())
        assert float(err[worst]) <= TOL, (
            f"{what}: max |diff| {float(err[worst]):.3g} at flat index {worst}: "
            f"{float(actual.flatten()[worst])} vs {float(expected.flatten()[worst])}")


@pytest.fixture(params=["cpu", "reference"])
def cpu_handle(request):
    with seqattn.Handle(request.param) as h:
        yield h


SHAPES = [(1, 1, 1), (2, 7, 16), (3, 13, 33), (4, 5, 64)]  # B, Te, H


@pytest.mark.parametrize("B,Te,H", SHAPES)
def test_bahdanau_matches_the_tutorial(cpu_handle, B, Te, H):
    torch.manual_seed(B * 100 + Te)
    tutorial = TutorialBahdanauAttention(H)
    ours = st.BahdanauAttention(H)
    ours.load_state_dict(tutorial.state_dict())
    query, keys = torch.randn(B, 1, H), torch.randn(B, Te, H)
    with torch.no_grad():
        want_ctx, want_w = tutorial(query, keys)
        ctx, w = ours(query, keys, handle=cpu_handle)
    assert ctx.dtype == torch.float32 and ctx.device.type == "cpu"
    close(ctx, want_ctx, "context")
    close(w, want_w, "weights")


def test_bahdanau_query_steps_and_lengths(cpu_handle):
    # Td query steps at once = the tutorial once per step; lengths = the
    # tutorial on each source cut to its length (the tutorial has no mask).
    torch.manual_seed(3)
    B, Td, Te, H = 3, 4, 9, 24
    tutorial = TutorialBahdanauAttention(H)
    ours = st.BahdanauAttention(H)
    ours.load_state_dict(tutorial.state_dict())
    query, keys = torch.randn(B, Td, H), torch.randn(B, Te, H)
    lengths = [9, 1, 5]
    with torch.inference_mode():
        ctx, w = ours(query, keys, lengths=lengths, handle=cpu_handle)
        for b, L in enumerate(lengths):
            for t in range(Td):
                want_ctx, want_w = tutorial(query[b:b + 1, t:t + 1], keys[b:b + 1, :L])
                close(ctx[b, t], want_ctx[0, 0], f"context[{b}, {t}]")
                close(w[b, t, :L], want_w[0, 0], f"weights[{b}, {t}]")
                assert bool((w[b, t, L:] == 0).all())


def test_bahdanau_takes_slices_of_a_gru_output():
    # The tutorial's decoder feeds non-contiguous views; they are copied, not refused.
    torch.manual_seed(4)
    H = 8
    tutorial, ours = TutorialBahdanauAttention(H), st.BahdanauAttention(H)
    ours.load_state_dict(tutorial.state_dict())
    out = torch.randn(2, 5, 2 * H)
    query, keys = out[:, 2:3, :H], out[:, :, H:]
    assert not keys.is_contiguous()
    with torch.no_grad():
        close(ours(query, keys)[0], tutorial(query, keys)[0], "context")


def test_state_dicts_load_both_ways():
    tutorial, ours = TutorialBahdanauAttention(12), st.BahdanauAttention(12)
    assert list(ours.state_dict()) == list(tutorial.state_dict())
    ours.load_state_dict(tutorial.state_dict())  # strict: same names and shapes
    tutorial.load_state_dict(st.BahdanauAttention(12).state_dict())
    with pytest.raises(RuntimeError, match="size mismatch"):
        st.BahdanauAttention(13).load_state_dict(tutorial.state_dict())
    seed, pooling = SeedAttentionPooling(6, 10), st.AttentionPooling(6, 10)
    assert list(pooling.state_dict()) == ["W", "b"]
    pooling.load_state_dict(seed.state_dict())
    assert torch.equal(pooling.W, seed.W) and torch.equal(pooling.b, seed.b)


def test_va_bias_cancels():
    torch.manual_seed(5)
    ours = st.BahdanauAttention(8)
    query, keys = torch.randn(2, 1, 8), torch.randn(2, 6, 8)
    with torch.no_grad():
        before = ours(query, keys)
        ours.Va.bias.add_(3.0)
        after = ours(query, keys)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


@pytest.mark.parametrize("B,T,Fe", [(1, 1, 1), (2, 10, 6), (5, 17, 33)])
def test_pooling_matches_the_seed_layer(cpu_handle, B, T, Fe):
    torch.manual_seed(T)
    seed, ours = SeedAttentionPooling(Fe, T), st.AttentionPooling(Fe, T)
    ours.load_state_dict(seed.state_dict())
    x = torch.randn(B, T, Fe)
    with torch.no_grad():
        want_ctx, want_w = seed(x)
        ctx = ours(x, handle=cpu_handle)
        ctx2, w = ours(x, return_weights=True, handle=cpu_handle)
    close(ctx, want_ctx, "context")
    assert torch.equal(ctx, ctx2)
    close(w, want_w, "weights")


def test_pooling_lengths_and_steps():
    torch.manual_seed(6)
    T, Fe = 8, 5
    seed, ours = SeedAttentionPooling(Fe, T), st.AttentionPooling(Fe, T)
    ours.load_state_dict(seed.state_dict())
    x = torch.randn(2, T, Fe)
    with torch.no_grad():
        ctx, w = ours(x, lengths=torch.tensor([3, 8]), return_weights=True)
        cut = SeedAttentionPooling(Fe, 3)
        cut.W.copy_(seed.W)
        cut.b.copy_(seed.b[:3])
        close(ctx[0], cut(x[:1, :3])[0][0], "context[0] (length 3)")
        close(ctx[1], seed(x[1:])[0][0], "context[1] (full)")
        assert bool((w[0, 3:] == 0).all())
        with pytest.raises(ValueError, match=r"x has shape \(2, 7, 5\) but the layer was "
                                             r"built for 8 steps"):
            ours(x[:, :7])


def test_functions_match_the_numpy_ops_and_torch(cpu):
    torch.manual_seed(7)
    B, Te, Td, He, Hd, A = 2, 6, 3, 5, 7, 9
    enc, dec = torch.randn(B, Te, He), torch.randn(B, Td, Hd)
    W, U, v, bias = torch.randn(He, A), torch.randn(Hd, A), torch.randn(A), torch.randn(A)
    ctx, w = st.additive_attention(enc, dec, W, U, v, bias, enc_lengths=[6, 2], handle=cpu)
    want = seqattn.additive_attention(cpu, enc.numpy(), dec.numpy(), W.numpy(), U.numpy(),
                                      v.numpy(), bias.numpy(), enc_lengths=[6, 2])
    assert isinstance(ctx, torch.Tensor) and isinstance(w, torch.Tensor)
    assert np.array_equal(ctx.numpy(), want[0]) and np.array_equal(w.numpy(), want[1])
    keys = st.project_keys(enc, W, bias, handle=cpu)
    close(keys, enc @ W + bias, "keys")
    ctx2 = st.additive_attention_projected(enc, keys, dec, U, v, enc_lengths=[6, 2],
                                           return_weights=False, handle=cpu)
    close(ctx2, ctx, "projected context")

    # nn.GRU through torch_gru_to_keras; nn.Linear + softmax through dense.
    gru = nn.GRU(4, 6, batch_first=True)
    x, h0 = torch.randn(3, 5, 4), torch.randn(1, 3, 6)
    with torch.no_grad():
        want_out, want_h = gru(x, h0)
        kernel, recurrent, b = (torch.from_numpy(a) for a in seqattn.torch_gru_to_keras(
            gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0))
        out, h = st.gru(x, kernel, recurrent, b, h0=h0[0])
        close(out, want_out, "gru outputs")
        close(h, want_h[0], "gru state")
        linear = nn.Linear(6, 11)
        close(st.dense(out, linear.weight.t().contiguous(), linear.bias, "softmax"),
              F.softmax(linear(out), dim=-1), "dense softmax")
        rnn = nn.RNN(4, 6, batch_first=True)
        want_out, _ = rnn(x)
        out = st.simple_rnn(x, rnn.weight_ih_l0.t().contiguous(),
                            rnn.weight_hh_l0.t().contiguous(), rnn.bias_ih_l0 + rnn.bias_hh_l0,
                            return_state=False)
        close(out, want_out, "simple_rnn outputs")


def test_bad_tensors_are_named():
    x, w = torch.randn(2, 3, 4), torch.randn(4)
    with pytest.raises(TypeError, match=r"attention_pooling: w has dtype torch\.float64; "
                                        r"seqattn takes float32"):
        st.attention_pooling(x, w.double())
    with pytest.raises(TypeError, match="attention_pooling: x must be a torch.Tensor, got "
                                        "ndarray"):
        st.attention_pooling(x.numpy(), w)
    with pytest.raises(ValueError, match="attention_pooling: w is on meta; seqattn runs on CPU "
                                         "and CUDA tensors"):
        st.attention_pooling(x, torch.empty(4, device="meta"))
    with pytest.raises(ValueError, match=r"w has shape \(5,\) but expected \[F\]"):
        st.attention_pooling(x, torch.randn(5))
    with pytest.raises(TypeError, match="lengths must hold integers"):
        st.attention_pooling(x, w, lengths=torch.tensor([1.0, 2.0]))
    with seqattn.Handle("cpu") as h:
        pass
    with pytest.raises(ValueError, match="closed"):
        st.attention_pooling(x, w, handle=h)


def test_outputs_are_the_library_s_arrays_without_a_copy(monkeypatch):
    # CPU inputs reach the library as views of the tensors' memory.
    seen = []
    real = st._ops.attention_pooling

    def spy(handle, x, w, b=None, **kw):
        seen.append((x.ctypes.data, w.ctypes.data))
        return real(handle, x, w, b, **kw)

    monkeypatch.setattr(st._ops, "attention_pooling", spy)
    x, w = torch.randn(2, 3, 4), torch.randn(4)
    st.attention_pooling(x, w)
    assert seen == [(x.data_ptr(), w.data_ptr())]


def test_each_thread_has_its_own_handle():
    mine = st._own_handle(torch.device("cpu"), "precise")
    assert st._own_handle(torch.device("cpu"), "precise") is mine
    assert st._own_handle(torch.device("cpu"), "fast") is not mine
    other = []
    thread = threading.Thread(
        target=lambda: other.append(st._own_handle(torch.device("cpu"), "precise")))
    thread.start()
    thread.join()
    assert other[0] is not mine


def test_seqattn_torch_is_an_attribute():
    assert seqattn.torch is st


# ------------------------------------------------------------------- CUDA

def _cuda_ready():
    if not torch.cuda.is_available():
        return "torch sees no CUDA device"
    if not seqattn.build_features()["cuda"]:
        return "libseqattn was built without CUDA"
    if seqattn.cuda_device_count() == 0:
        return "libseqattn sees no CUDA device"
    return None


cuda = pytest.mark.skipif(_cuda_ready() is not None, reason=str(_cuda_ready()))


@cuda
@pytest.mark.parametrize("side_stream", [False, True])
def test_cuda_matches_cpu(side_stream):
    torch.manual_seed(8)
    B, Te, H = 3, 11, 32
    ours = st.BahdanauAttention(H).requires_grad_(False)
    query, keys = torch.randn(B, 2, H), torch.randn(B, Te, H)
    want_ctx, want_w = ours(query, keys, lengths=[11, 4, 1])
    ours.cuda()
    stream = torch.cuda.Stream() if side_stream else torch.cuda.current_stream()
    with torch.cuda.stream(stream):
        q, k = query.cuda(), keys.cuda()
        ctx, w = ours(q, k, lengths=[11, 4, 1])
        handle = st._own_handle(q.device, "precise")
        assert handle.stream == stream.cuda_stream
        # Queued on the current stream: torch's next op there sees the result.
        total = (ctx * 1).sum()
    stream.synchronize()
    assert ctx.device == q.device and w.device == q.device
    close(ctx.cpu(), want_ctx, "cuda context")
    close(w.cpu(), want_w, "cuda weights")
    assert abs(float(total) - float(want_ctx.sum())) < 1e-3


@cuda
def test_cuda_pooling_and_mixed_devices():
    torch.manual_seed(9)
    ours = st.AttentionPooling(16, 7).requires_grad_(False)
    x = torch.randn(4, 7, 16)
    want = ours(x)
    close(ours.cuda()(x.cuda()).cpu(), want, "cuda pooling")
    with pytest.raises(ValueError, match="w is on cpu but x is on cuda"):
        st.attention_pooling(x.cuda(), torch.randn(16))
