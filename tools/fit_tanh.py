#!/usr/bin/env python3
"""Fits the rational approximations of tanh that the fast CPU backend uses.

    tanh(x) ~= x * P(x^2) / Q(x^2)   for |x| <= clamp,   sign(x) beyond,

with P of degree `num` and Q of degree `den` in u = x^2 (Q(0) = 1). The fit
minimises the maximum absolute error over [0, clamp] by Lawson's iteratively
reweighted least squares on the linearised problem tanh(x)·Q(u) − x·P(u)
(Sanathanan–Koerner reweighting by 1/Q), in a scaled variable w = u / clamp^2
so the normal equations stay well conditioned, then converts back to
monomials in u. It prints the coefficients as C++ and the maximum error of the
float32 Horner evaluation measured on a dense grid (the C++ test measures the
same again, on every float in the range, against std::tanh in double).

Usage: python3 tools/fit_tanh.py NUM DEN [CLAMP]   (needs numpy only)
"""
import sys

import numpy as np


def fit(num, den, clamp, points=20000, iterations=60):
    # Chebyshev-like spacing over [0, clamp] concentrates points where the error peaks.
    k = np.arange(points)
    x = clamp * (1 - np.cos(np.pi * (k + 0.5) / points)) / 2
    u = x * x
    w = u / clamp**2
    t = np.tanh(x)
    weight = np.ones_like(x)
    q_prev = np.ones_like(x)
    for _ in range(iterations):
        # unknowns: p_0..p_num (numerator), q_1..q_den (denominator, q_0 = 1)
        cols = [x * w**j for j in range(num + 1)] + [-t * w**j for j in range(1, den + 1)]
        M = np.stack(cols, axis=1) / q_prev[:, None]
        rhs = t / q_prev
        sw = np.sqrt(weight)
        coef, *_ = np.linalg.lstsq(M * sw[:, None], rhs * sw, rcond=None)
        p, q = coef[: num + 1], np.concatenate([[1.0], coef[num + 1 :]])
        Q = np.polyval(q[::-1], w)
        err = np.abs(x * np.polyval(p[::-1], w) / Q - t)
        q_prev = Q
        weight = weight * (err + 1e-300)
        weight /= weight.sum()
    scale = np.array([clamp ** (-2.0 * j) for j in range(max(num, den) + 1)])
    return p * scale[: num + 1], q * scale[: den + 1]


def eval_f32(p, q, x):
    x = x.astype(np.float32)
    u = x * x
    P = np.float32(p[-1])
    for c in p[-2::-1]:
        P = P * u + np.float32(c)
    Q = np.float32(q[-1])
    for c in q[-2::-1]:
        Q = Q * u + np.float32(c)
    return (x * P / Q).astype(np.float32)


def main():
    num, den = int(sys.argv[1]), int(sys.argv[2])
    clamp = float(sys.argv[3]) if len(sys.argv) > 3 else 9.0
    p, q = fit(num, den, clamp)
    x = np.linspace(0, clamp, 2_000_001)
    y = np.clip(eval_f32(p, q, x), -1, 1).astype(np.float64)
    err = np.abs(y - np.tanh(x.astype(np.float32).astype(np.float64)))
    print(f"// tanh(x) ~= x*P(x^2)/Q(x^2) on |x| <= {clamp}: P degree {num}, Q degree {den}")
    print(f"// max |error| of the float32 evaluation on a grid: {err.max():.3e}")
    print("kP = {" + ", ".join(f"{c:.9e}f" for c in p) + "}")
    print("kQ = {" + ", ".join(f"{c:.9e}f" for c in q) + "}")


if __name__ == "__main__":
    main()
