"""Weight layouts of other frameworks, converted to the Keras layout seqattn uses."""

from __future__ import annotations

import numpy as np


def _host(name: str, t) -> np.ndarray:
    # torch tensors (CPU or CUDA, with or without grad) without importing torch.
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    a = np.asarray(t)
    if a.dtype.kind != "f":
        raise TypeError(f"{name} must hold floating-point values, got dtype {a.dtype}")
    return a


def torch_gru_to_keras(weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """PyTorch nn.GRU weights of one layer and direction -> Keras RESET_AFTER weights.

    PyTorch stacks the gates as rows r, z, n: weight_ih [3H, I], weight_hh
    [3H, H], bias_ih and bias_hh [3H] (None when the GRU has bias=False). Its
    math is Keras' reset_after GRU (n = tanh(W_in x + b_in + r*(W_hn h + b_hn)),
    h' = (1-z)*n + z*h), so the conversion is a permutation of the gate blocks
    to z, r, h and a transpose:

        kernel [I, 3H], recurrent_kernel [H, 3H], bias [2, 3H] (row 0 input,
        row 1 recurrent; None when both PyTorch biases are None)

    all float32 and C-contiguous, ready for seqattn.gru(..., variant="reset_after").
    For a bidirectional GRU convert the *_reverse weights the same way and run
    them with reverse=True.
    """
    w_ih = _host("weight_ih", weight_ih)
    w_hh = _host("weight_hh", weight_hh)
    if w_hh.ndim != 2 or w_hh.shape[0] != 3 * w_hh.shape[1]:
        raise ValueError(f"weight_hh must have shape [3H, H], got {w_hh.shape}")
    H = w_hh.shape[1]
    if w_ih.ndim != 2 or w_ih.shape[0] != 3 * H:
        raise ValueError(f"weight_ih must have shape [3H, I] with H = {H} from weight_hh, "
                         f"got {w_ih.shape}")

    def z_r_h(rows: np.ndarray) -> np.ndarray:
        # PyTorch's blocks along axis 0 are r, z, n; Keras wants z, r, h.
        r, z, n = rows[:H], rows[H:2 * H], rows[2 * H:]
        return np.concatenate([z, r, n], axis=0)

    kernel = np.ascontiguousarray(z_r_h(w_ih).T, dtype=np.float32)
    recurrent_kernel = np.ascontiguousarray(z_r_h(w_hh).T, dtype=np.float32)
    if bias_ih is None and bias_hh is None:
        return kernel, recurrent_kernel, None
    rows = []
    for name, b in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if b is None:
            rows.append(np.zeros(3 * H))
            continue
        b = _host(name, b)
        if b.shape != (3 * H,):
            raise ValueError(f"{name} must have shape [3H] = ({3 * H},), got {b.shape}")
        rows.append(z_r_h(b))
    bias = np.ascontiguousarray(np.stack(rows), dtype=np.float32)
    return kernel, recurrent_kernel, bias
