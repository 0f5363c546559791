"""Random test cases: odd shapes (1, primes, powers of two), masks with 0 and full lengths.

Each generator takes a case index and returns the inputs of one call as
float32 numpy arrays (what the library sees) plus the options; the same
inputs go to the float64 reference. Case 0 is the all-ones shape, so the
degenerate sizes are always covered whatever the random draws.
"""

import numpy as np

N_CASES = 64

SMALL = (1, 2, 3, 5, 7)           # batch
STEPS = (1, 2, 3, 5, 8, 13, 17)   # Te, Td, T
WIDTH = (1, 2, 3, 7, 8, 16, 17, 31, 32)


def rng_for(op: str, index: int) -> np.random.Generator:
    # Stable across runs and independent per op, so a failing case replays alone.
    return np.random.default_rng([sum(map(ord, op)), index])


def normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def lengths(rng, batch, steps):
    """None (all valid) for one case in four; otherwise random with 0 and full included."""
    if rng.random() < 0.25:
        return None
    out = rng.integers(0, steps + 1, size=batch)
    if batch >= 2:
        out[0] = steps
        out[-1] = 0
    elif rng.random() < 0.3:
        out[0] = 0
    return out.astype(np.int32)


def pick(rng, values, index, edge):
    """An edge value on case 0, a random choice otherwise."""
    return edge if index == 0 else int(rng.choice(values))


def attention_case(index):
    rng = rng_for("attention", index)
    B = pick(rng, SMALL, index, 1)
    Te = pick(rng, STEPS, index, 1)
    Td = pick(rng, STEPS, index, 1)
    He = pick(rng, WIDTH, index, 1)
    Hd = pick(rng, WIDTH, index, 1)
    A = pick(rng, WIDTH, index, 1)
    if index == 1:  # B = 1 with a wide row: a single source on its own
        B, Te, A = 1, 17, 31
    if index == 2:  # one encoder step: the softmax of one element is 1
        Te = 1
    if index == 3:  # a single attention unit
        A = 1
    return dict(
        encoder_out=normal(rng, (B, Te, He)),
        decoder_out=normal(rng, (B, Td, Hd)),
        W=normal(rng, (He, A), 1 / np.sqrt(He)),
        U=normal(rng, (Hd, A), 1 / np.sqrt(Hd)),
        v=normal(rng, (A,), 2 / np.sqrt(A)),
        bias=normal(rng, (A,), 0.5) if rng.random() < 0.5 else None,
        enc_lengths=lengths(rng, B, Te),
        dec_lengths=lengths(rng, B, Td),
    )


def pooling_case(index):
    rng = rng_for("pooling", index)
    B = pick(rng, SMALL, index, 1)
    T = pick(rng, STEPS, index, 1)
    F = pick(rng, WIDTH, index, 1)
    return dict(
        x=normal(rng, (B, T, F)),
        w=normal(rng, (F,), 2 / np.sqrt(F)),
        b=normal(rng, (T,), 0.5) if rng.random() < 0.5 else None,
        lengths=lengths(rng, B, T),
    )


def rnn_case(op, index, gates):
    rng = rng_for(op, index)
    B = pick(rng, SMALL, index, 1)
    T = pick(rng, STEPS[:6], index, 1)
    I = pick(rng, WIDTH[:7], index, 1)
    H = pick(rng, WIDTH[:7], index, 1)
    case = dict(
        x=normal(rng, (B, T, I)),
        kernel=normal(rng, (I, gates * H), 1 / np.sqrt(I)),
        recurrent_kernel=normal(rng, (H, gates * H), 1 / np.sqrt(H)),
        lengths=lengths(rng, B, T),
        h0=normal(rng, (B, H), 0.5) if rng.random() < 0.5 else None,
        reverse=bool(rng.random() < 0.5),
    )
    return case, rng


def gru_case(index):
    case, rng = rnn_case("gru", index, 3)
    H = case["recurrent_kernel"].shape[0]
    case["variant"] = "reset_after" if index % 2 == 0 else "reset_before"
    shape = (2, 3 * H) if case["variant"] == "reset_after" else (3 * H,)
    case["bias"] = normal(rng, shape, 0.5) if rng.random() < 0.75 else None
    return case


def simple_rnn_case(index):
    case, rng = rnn_case("simple_rnn", index, 1)
    H = case["recurrent_kernel"].shape[0]
    case["bias"] = normal(rng, (H,), 0.5) if rng.random() < 0.75 else None
    return case


ACTIVATIONS = ("none", "tanh", "sigmoid", "relu", "softmax")


def dense_case(index):
    rng = rng_for("dense", index)
    lead_rank = index % 4  # x of rank 1 to 4: rows are every leading axis together
    lead = tuple(pick(rng, STEPS, index, 1) for _ in range(lead_rank))
    In = pick(rng, WIDTH, index, 1)
    Out = pick(rng, WIDTH, index, 1)
    return dict(
        x=normal(rng, lead + (In,)),
        W=normal(rng, (In, Out), 3 / np.sqrt(In)),  # wide logits: softmax far from uniform
        b=normal(rng, (Out,)) if rng.random() < 0.75 else None,
        activation=ACTIVATIONS[index % len(ACTIVATIONS)],
    )
