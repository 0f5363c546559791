#!/usr/bin/env python3
"""A training step of additive attention on the CPU: seqattn's fast CPU path
against PyTorch autograd, in one run, on the same arrays.

Rows, at the reference shape B=64, Te=Td=128, He=Hd=A=256 by default (each
timed with time.perf_counter: --warmup untimed calls, then the median and the
minimum of --repeat timed ones):

  seqattn precise / fast   seqattn_additive_attention_forward (weights_out
                           kept) then seqattn_additive_attention_backward from
                           d_context, through the C API (ctypes), outputs
                           preallocated
  torch eager              the PyTorch seq2seq tutorial's BahdanauAttention
                           math over all decoder steps (it materialises
                           [B, Td, Te, A]), context.backward(d_context)
  torch.jit.script         the same function scripted (TorchScript), autograd
                           for the backward; torch.compile where the installed
                           PyTorch has it (it does not exist before 2.0:
                           the row then says so and is skipped)

Peak extra memory: each implementation runs again in a fresh child process
(the same seed, so the same values), which reports the growth of its peak
resident set (VmHWM of /proc/self/status) from after its inputs exist to
after --warmup + 1 calls. (Not getrusage's ru_maxrss: Linux carries it
across exec, so a child would start from the parent's peak.) That is what tracemalloc cannot see (torch allocates
outside Python's allocator); it includes what an allocator keeps cached, and
nothing of another implementation.

Every gradient is compared with torch eager's (max abs difference over max
abs value, per tensor); one above 1e-3 (precise) / 2e-2 (fast) is marked FAIL
and makes the exit status 1.

    SEQATTN_LIBRARY=build/dev/libseqattn.so /usr/bin/python3 bench/compare_torch_backward.py
    ... --B 8 --T 32 --repeat 5          # a quick run

Needs numpy and PyTorch (benchmark tools only, never dependencies of seqattn).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError:  # main() says so; the seqattn rows need no torch
    torch = None

REPO = Path(__file__).resolve().parent.parent
IMPLS = ["seqattn precise", "seqattn fast", "torch eager", "torch.jit.script", "torch.compile"]


# ------------------------------------------------------------------ seqattn

class Dims(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in
                ("batch", "enc_steps", "dec_steps", "enc_dim", "dec_dim", "units")]


class Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("device", ctypes.c_int32),
                ("device_ordinal", ctypes.c_int32), ("cuda_stream", ctypes.c_void_p),
                ("math", ctypes.c_int32)]


def load_library():
    path = os.environ.get("SEQATTN_LIBRARY", str(REPO / "build/dev/libseqattn.so"))
    lib = ctypes.CDLL(path)
    lib.seqattn_last_error.restype = ctypes.c_char_p
    lib.seqattn_cpu_info.restype = ctypes.c_char_p
    return lib, path


class Seqattn:
    """Forward + backward through the C API on numpy arrays (float32, C order)."""

    def __init__(self, lib, math: int, x: dict):
        self.lib = lib
        opts = Options()
        lib.seqattn_handle_options_init(ctypes.byref(opts))
        opts.device, opts.math = 0, math  # SEQATTN_DEVICE_CPU, PRECISE / FAST
        self.handle = ctypes.c_void_p()
        self.check(lib.seqattn_handle_create(ctypes.byref(opts), ctypes.byref(self.handle)))
        B, Te, He = x["h"].shape
        _, Td, Hd = x["s"].shape
        A = x["W"].shape[1]
        self.dims = Dims(B, Te, Td, He, Hd, A)
        self.x = x
        f = np.float32
        self.context = np.empty((B, Td, He), f)
        self.weights = np.empty((B, Td, Te), f)
        self.grads = {"h": np.empty_like(x["h"]), "s": np.empty_like(x["s"]),
                      "W": np.empty_like(x["W"]), "U": np.empty_like(x["U"]),
                      "bias": np.empty_like(x["bias"]), "v": np.empty_like(x["v"])}

    def check(self, status):
        if status != 0:
            raise RuntimeError(self.lib.seqattn_last_error().decode())

    def __call__(self):
        p = lambda a: a.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
        x, g, null = self.x, self.grads, None
        self.check(self.lib.seqattn_additive_attention_forward(
            self.handle, ctypes.byref(self.dims), p(x["h"]), p(x["s"]), null, null, p(x["W"]),
            p(x["U"]), p(x["bias"]), p(x["v"]), p(self.context), p(self.weights)))
        self.check(self.lib.seqattn_additive_attention_backward(
            self.handle, ctypes.byref(self.dims), p(x["h"]), p(x["s"]), null, null, p(x["W"]),
            p(x["U"]), p(x["bias"]), p(x["v"]), p(self.weights), p(x["d_context"]), null,
            p(g["h"]), p(g["s"]), p(g["W"]), p(g["U"]), p(g["bias"]), p(g["v"])))
        return g


# -------------------------------------------------------------------- torch

def tutorial_attention(h, s, W, U, bias, v):
    """The PyTorch tutorial's BahdanauAttention (Wa = U on the query, Ua = W and bias
    on the keys, Va = v) over all decoder steps; Va's bias cancels in the softmax."""
    keys = h @ W + bias                                              # [B, Te, A]
    query = s @ U                                                    # [B, Td, A]
    scores = torch.tanh(query.unsqueeze(2) + keys.unsqueeze(1)) @ v  # [B, Td, Te]
    weights = torch.softmax(scores, dim=-1)
    return torch.bmm(weights, h), weights


class Torch:
    def __init__(self, kind: str, x: dict):
        names = ("h", "s", "W", "U", "bias", "v")
        self.params = {n: torch.from_numpy(x[n].copy()).requires_grad_(True) for n in names}
        self.d_context = torch.from_numpy(x["d_context"])
        if kind == "torch eager":
            self.fn = tutorial_attention
        elif kind == "torch.jit.script":
            self.fn = torch.jit.script(tutorial_attention)
        elif kind == "torch.compile":
            if not hasattr(torch, "compile"):
                raise NotImplementedError(
                    f"torch.compile does not exist in PyTorch {torch.__version__} (2.0 and later)")
            self.fn = torch.compile(tutorial_attention)
        else:
            raise ValueError(kind)

    def __call__(self):
        for p in self.params.values():
            p.grad = None
        context, _ = self.fn(*(self.params[n] for n in ("h", "s", "W", "U", "bias", "v")))
        context.backward(self.d_context)
        return {n: p.grad.numpy() for n, p in self.params.items()}


# ------------------------------------------------------------------ harness

def inputs(B, T, H, A, seed=7):
    rng = np.random.default_rng(seed)

    def uniform(*shape, scale=1.0):
        return ((rng.random(shape, dtype=np.float32) * 2 - 1) * np.float32(scale)).astype(np.float32)
    return dict(h=uniform(B, T, H), s=uniform(B, T, H), W=uniform(H, A, scale=H ** -0.5),
                U=uniform(H, A, scale=H ** -0.5), bias=uniform(A, scale=0.1),
                v=uniform(A, scale=A ** -0.5), d_context=uniform(B, T, H))


def make(impl: str, lib, x):
    if impl.startswith("seqattn"):
        return Seqattn(lib, 1 if impl.endswith("fast") else 0, x)
    return Torch(impl, x)


def set_threads(threads: int):
    if torch is not None:
        torch.set_num_threads(threads)


def peak_rss_kib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float("nan")


def child(args) -> int:
    """--child IMPL: the peak-RSS growth of IMPL's first calls, as JSON on stdout."""
    set_threads(args.threads)
    lib, _ = load_library()
    x = inputs(args.B, args.T, args.H, args.A)
    run = make(args.child, lib, x)
    before = peak_rss_kib()
    for _ in range(args.warmup + 1):
        run()
    after = peak_rss_kib()
    print(json.dumps({"extra_MiB": (after - before) / 1024.0}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--B", type=int, default=64)
    ap.add_argument("--T", type=int, default=128, help="Te = Td")
    ap.add_argument("--H", type=int, default=256, help="He = Hd")
    ap.add_argument("--A", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="torch.set_num_threads (seqattn uses its own pool: every core)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)

    if torch is None:
        print("compare_torch_backward.py: PyTorch is not installed; nothing was measured",
              file=sys.stderr)
        return 2
    set_threads(args.threads)
    lib, path = load_library()
    x = inputs(args.B, args.T, args.H, args.A)
    print(f"# attention forward+backward, CPU: B={args.B} Te=Td={args.T} He=Hd={args.H} "
          f"A={args.A}")
    print(f"# seqattn: {path}; {lib.seqattn_cpu_info().decode()}")
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load average before: {os.getloadavg()}")
    timings, results, notes = {}, {}, []
    for impl in IMPLS:
        try:
            run = make(impl, lib, x)
        except NotImplementedError as e:
            notes.append(f"{impl}: {e}")
            continue
        for _ in range(args.warmup):
            run()
        ts = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            g = run()
            ts.append(time.perf_counter() - t0)
        results[impl] = {k: v.copy() for k, v in g.items()}
        timings[impl] = (statistics.median(ts), min(ts))
    memory = {}
    for impl in timings:
        out = subprocess.run([sys.executable, __file__, "--child", impl, "--B", str(args.B),
                              "--T", str(args.T), "--H", str(args.H), "--A", str(args.A),
                              "--warmup", str(args.warmup), "--threads", str(args.threads)],
                             capture_output=True, text=True, env=os.environ)
        try:
            memory[impl] = json.loads(out.stdout.strip().splitlines()[-1])["extra_MiB"]
        except (IndexError, ValueError, KeyError):
            memory[impl] = float("nan")
            notes.append(f"{impl}: the memory child failed: {out.stderr.strip()[-200:]}")

    eager = results["torch eager"]
    failed = False
    print(f"# load average after: {os.getloadavg()}")
    print("| impl | median ms | min ms | eager / impl (median) | peak extra MiB (RSS) | "
          "max rel grad diff vs eager |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for impl, (med, best) in timings.items():
        diffs = []
        for k in eager:
            scale = float(np.max(np.abs(eager[k]))) or 1.0
            diffs.append((float(np.max(np.abs(results[impl][k] - eager[k]))) / scale, k))
        worst, which = max(diffs)
        bound = 2e-2 if impl.endswith("fast") else 1e-3
        ok = worst <= bound
        failed |= not ok
        ratio = timings["torch eager"][0] / med
        print(f"| {impl} | {med * 1e3:.1f} | {best * 1e3:.1f} | {ratio:.2f}x | "
              f"{memory[impl]:.0f} | {worst:.1e} ({which}){'' if ok else ' **FAIL**'} |")
    for n in notes:
        print(f"- {n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
