"""torch_gru_to_keras: PyTorch nn.GRU weights, converted, run through
seqattn.gru, give the PyTorch GRU formula (written out in numpy; torch itself
is not needed)."""

import numpy as np
import pytest

import reference_np as ref
import seqattn
from compare import assert_close


def torch_weights(rng, I, H, scale=0.5):
    # nn.GRU's layout: rows stacked r, z, n.
    return (rng.uniform(-scale, scale, (3 * H, I)).astype(np.float32),
            rng.uniform(-scale, scale, (3 * H, H)).astype(np.float32),
            rng.uniform(-scale, scale, 3 * H).astype(np.float32),
            rng.uniform(-scale, scale, 3 * H).astype(np.float32))


@pytest.mark.parametrize("index", range(24))
def test_converted_weights_give_the_pytorch_gru(cpu, index):
    rng = np.random.default_rng([7, index])
    B, T, I, H = (int(rng.choice(v)) for v in ((1, 2, 5), (1, 3, 8), (1, 3, 7, 16),
                                                 (1, 2, 5, 17)))
    w_ih, w_hh, b_ih, b_hh = torch_weights(rng, I, H)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32) if index % 2 else None

    kernel, recurrent_kernel, bias = seqattn.torch_gru_to_keras(w_ih, w_hh, b_ih, b_hh)
    assert kernel.shape == (I, 3 * H) and recurrent_kernel.shape == (H, 3 * H)
    assert bias.shape == (2, 3 * H)
    for a in (kernel, recurrent_kernel, bias):
        assert a.dtype == np.float32 and a.flags.c_contiguous

    outputs, h_last = seqattn.gru(cpu, x, kernel, recurrent_kernel, bias, h0=h0,
                                  variant="reset_after")
    want_outputs, want_last = ref.torch_gru(x, w_ih, w_hh, b_ih, b_hh, h0)
    assert_close(outputs, want_outputs, f"case {index} outputs")
    assert_close(h_last, want_last, f"case {index} h_last")


def test_block_placement_by_hand():
    # H = 1, I = 1: PyTorch rows r, z, n = 1, 2, 3 must land in Keras columns z, r, h = 2, 1, 3.
    kernel, recurrent_kernel, bias = seqattn.torch_gru_to_keras(
        [[1.0], [2.0], [3.0]], [[10.0], [20.0], [30.0]], [0.1, 0.2, 0.3], [0.4, 0.5, 0.6])
    np.testing.assert_array_equal(kernel, [[2.0, 1.0, 3.0]])
    np.testing.assert_array_equal(recurrent_kernel, [[20.0, 10.0, 30.0]])
    np.testing.assert_array_equal(bias, np.float32([[0.2, 0.1, 0.3], [0.5, 0.4, 0.6]]))


def test_missing_biases(cpu):
    rng = np.random.default_rng(3)
    w_ih, w_hh, b_ih, b_hh = torch_weights(rng, 4, 3)
    kernel, recurrent_kernel, bias = seqattn.torch_gru_to_keras(w_ih, w_hh)
    assert bias is None  # nn.GRU(bias=False)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    zeros = np.zeros(9, np.float32)
    outputs, _ = seqattn.gru(cpu, x, kernel, recurrent_kernel)
    assert_close(outputs, ref.torch_gru(x, w_ih, w_hh, zeros, zeros)[0], "no biases")
    # One bias given: the other is zero, not dropped.
    _, _, bias = seqattn.torch_gru_to_keras(w_ih, w_hh, None, b_hh)
    np.testing.assert_array_equal(bias[0], 0.0)
    outputs, _ = seqattn.gru(cpu, x, kernel, recurrent_kernel, bias)
    assert_close(outputs, ref.torch_gru(x, w_ih, w_hh, zeros, b_hh)[0], "bias_hh only")


def test_bad_shapes():
    w_ih, w_hh = np.ones((9, 4)), np.ones((9, 3))
    with pytest.raises(ValueError, match=r"^weight_hh must have shape \[3H, H\]"):
        seqattn.torch_gru_to_keras(w_ih, np.ones((9, 4)))
    with pytest.raises(ValueError, match=r"^weight_ih must have shape \[3H, I\] with H = 3"):
        seqattn.torch_gru_to_keras(np.ones((6, 4)), w_hh)
    with pytest.raises(ValueError, match=r"^bias_ih must have shape \[3H\] = \(9,\)"):
        seqattn.torch_gru_to_keras(w_ih, w_hh, np.ones(8), np.ones(9))
    with pytest.raises(TypeError, match="^weight_ih must hold floating-point"):
        seqattn.torch_gru_to_keras(np.ones((9, 4), dtype=int), w_hh)
