#!/usr/bin/env python3
"""seqattn's fast CPU path against what users would otherwise run on the CPU.

One process, the same numpy arrays for every implementation (torch tensors are
torch.from_numpy views of them; jax gets jnp.asarray copies made before any
timing). Rows, each timed with time.perf_counter: warm-up calls, then the
median and the minimum of N timed calls, N chosen so that one implementation
at one shape takes about --budget seconds (one call for the slow ones):

  attention  seqattn fast CPU path, PRECISE and FAST math
             (seqattn.additive_attention, outputs preallocated with out= and
             weights_out=) | seqattn's double-precision reference (small
             shapes only) | PyTorch eager: the PyTorch seq2seq tutorial's
             BahdanauAttention over all decoder steps at once, which
             materialises [B, Td, Te, A] | the same function under
             torch.compile (default mode, compiled outside the timing) |
             the same math under jax.jit (XLA), block_until_ready() timed
  gru        seqattn.gru (reset_after, the nn.GRU's weights converted with
             seqattn.torch_gru_to_keras) | torch.nn.GRU(batch_first=True)

Every attention result is compared with seqattn's reference (seqattn precise
where the reference is skipped): the max abs difference of the context and of
the weights is printed, so a wrong peer is visible. GRU outputs must agree with
nn.GRU within 1e-4 (max abs); a failure is marked **FAIL** and makes the exit
status 1.

    SEQATTN_LIBRARY=build/compare/libseqattn.so PYTHONPATH=python \\
        python3 bench/compare_cpu.py [--out FILE] [--quick]

Without torch or jax their columns are skipped with a note. PyTorch and jax
are benchmark tools only, never build or test dependencies of seqattn.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))

GIB = 2**30
REF = dict(B=64, Td=128, Te=128, H=256, A=256)     # He = Hd = H
T_SWEEP = [16, 64, 128, 256, 512]
B_SWEEP = [1, 8, 64, 256]
DECODE_B = [1, 64]
GRU_SHAPES = [dict(B=64, T=128, I=256, H=256), dict(B=8, T=64, I=128, H=128),
              dict(B=1, T=128, I=256, H=256)]

IMPLS = ["seqattn precise", "seqattn fast", "seqattn two-phase", "seqattn reference", "torch eager",
         "torch.compile", "jax.jit"]
PEERS = ["torch eager", "torch.compile", "jax.jit"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the machine

def sh(*cmd: str) -> str:
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True, timeout=20,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"


def machine_lines(seqattn, torch, jax) -> list[str]:
    lscpu = {}
    for line in sh("lscpu").splitlines():
        key, _, value = line.partition(":")
        lscpu[key.strip()] = value.strip()
    model = lscpu.get("Model name") or platform.processor() or "unknown"
    flags = lscpu.get("Flags", "").split()
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags]
    commit = sh("git", "-C", str(REPO), "rev-parse", "--short", "HEAD") or "unknown"
    dirty = sh("git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no")
    if dirty:
        commit += f" (working tree: {len(dirty.splitlines())} tracked files modified)"
    from seqattn import _raw
    info = _raw.seqattn_cpu_info()
    info = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    lines = [
        f"- machine: {model}, {lscpu.get('CPU(s)', os.cpu_count())} CPUs "
        f"({lscpu.get('Core(s) per socket', '?')} cores/socket, "
        f"{lscpu.get('Thread(s) per core', '?')} threads/core), flags {' '.join(simd) or '-'}",
        f"- seqattn {seqattn.version()}, library `{getattr(seqattn.load_library(), '_name', '?')}`",
        f"- seqattn_cpu_info: `{info}`",
        f"- numpy {np.__version__}, python {platform.python_version()}",
    ]
    if torch is not None:
        lines.append(f"- torch {torch.__version__}, torch.get_num_threads() = "
                     f"{torch.get_num_threads()}, grad disabled (inference)")
    else:
        lines.append("- torch: not available (not installed, or --no-torch): the torch eager, torch.compile and nn.GRU "
                     "columns are skipped")
    if jax is not None:
        try:
            import jaxlib
            jaxlib_version = jaxlib.__version__
        except (ImportError, AttributeError):
            jaxlib_version = "?"
        lines.append(f"- jax {jax.__version__} (jaxlib {jaxlib_version}), "
                     f"devices {jax.devices()}, float32")
    else:
        lines.append("- jax: not available (not installed, or --no-jax): the jax.jit column is skipped")
    lines += [
        f"- commit {commit}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- load average at start: {loadavg()}",
    ]
    return lines


# ---------------------------------------------------------------- timing

class Timing:
    """median, min (seconds), n timed calls, or a reason it did not run."""

    def __init__(self, median=None, best=None, n=0, note=""):
        self.median, self.best, self.n, self.note = median, best, n, note

    @property
    def ok(self) -> bool:
        return self.median is not None


def measure(fn, first_call_s: float, budget_s: float, max_repeat: int = 2000) -> Timing:
    """Warm-up calls, then the median/min of N calls. fn has already been called once
    (the checked call, first_call_s long): that call is the first warm-up."""
    if first_call_s > budget_s:        # one more call is all the budget allows
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        return Timing(t, t, 1)
    warm = []
    for _ in range(2 if first_call_s < 0.2 * budget_s else 1):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    est = min(warm)
    n = int(max(1, min(max_repeat, budget_s // max(est, 1e-7))))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), min(times), n)


def first_line(e: BaseException, limit: int = 110) -> str:
    text = (str(e).strip().splitlines() or [""])[0]
    text = f"{type(e).__name__}: {text}"
    return text.replace("|", "/")[:limit]


def fmt_ms(seconds) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.0f}" if ms >= 1000 else f"{ms:.4g}"


def fmt_diff(x) -> str:
    return "-" if x is None else f"{x:.1e}"


def max_abs(a, b) -> float:
    # Elementwise numpy only (no BLAS call, so numpy's OpenBLAS threads never wake).
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


# ---------------------------------------------------------------- attention peers

def make_torch_attention(torch):
    def torch_attention(h, s, W, U, bias, v):
        """The tutorial's BahdanauAttention (Wa = U on the query, Ua = W and bias on the
        keys, Va = v) over all decoder steps: scores = Va(tanh(Wa(query).unsqueeze(2) +
        Ua(keys).unsqueeze(1))), softmax over Te, bmm with the encoder outputs. Va's
        bias is left out: it adds one constant to a row and cancels in the softmax."""
        keys = h @ W + bias                                              # Ua(keys) [B, Te, A]
        query = s @ U                                                    # Wa(query) [B, Td, A]
        scores = torch.tanh(query.unsqueeze(2) + keys.unsqueeze(1)) @ v  # [B, Td, Te]
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights, h)                                  # [B, Td, He]
        return context, weights
    return torch_attention


def make_jax_attention(jax):
    jnp = jax.numpy

    def jax_attention(h, s, W, U, bias, v):
        keys = h @ W + bias
        query = s @ U
        scores = jnp.tanh(query[:, :, None, :] + keys[:, None, :, :]) @ v
        weights = jax.nn.softmax(scores, axis=-1)
        return weights @ h, weights
    return jax.jit(jax_attention)


class Peers:
    def __init__(self, args):
        self.notes = []
        self.torch = self.jax = None
        self.torch_fn = self.compiled = self.jax_fn = None
        if not args.no_torch:
            try:
                import torch
                self.torch = torch
                torch.set_grad_enabled(False)   # inference, as under torch.no_grad()
                self.torch_fn = make_torch_attention(torch)
                if not args.no_compile:
                    import torch._dynamo.config as dynamo_config
                    # One graph per shape (dynamic=False): each shape gets its own kernels.
                    for name in ("recompile_limit", "cache_size_limit"):
                        if hasattr(dynamo_config, name):
                            setattr(dynamo_config, name, 256)
                    self.compiled = torch.compile(self.torch_fn, dynamic=False)
            except ImportError as e:
                self.notes.append(f"torch not importable ({e}): its columns are skipped")
        if not args.no_jax:
            try:
                import jax
                jax.config.update("jax_enable_x64", False)
                self.jax = jax
                self.jax_fn = make_jax_attention(jax)
            except ImportError as e:
                self.notes.append(f"jax not importable ({e}): its column is skipped")


def attention_inputs(B, Td, Te, H, A, seed):
    rng = np.random.default_rng(seed)

    def uniform(*shape, scale=1.0):
        return ((rng.random(shape, dtype=np.float32) * 2 - 1) * np.float32(scale)).astype(
            np.float32)
    return dict(h=uniform(B, Te, H), s=uniform(B, Td, H), W=uniform(H, A, scale=H ** -0.5),
                U=uniform(H, A, scale=H ** -0.5), bias=uniform(A, scale=0.1),
                v=uniform(A, scale=A ** -0.5))


def attention_row(seqattn, peers: Peers, args, B, Td, Te, H, A, note="", skip_peers=False):
    """One shape: every implementation's Timing, result differences, notes."""
    tanh = B * Td * Te * A
    peer_tensor = tanh * 4                       # bytes of one [B, Td, Te, A] float32 tensor
    x = attention_inputs(B, Td, Te, H, A, seed=B * 100003 + Td * 1009 + Te * 101 + A)
    row = dict(B=B, Td=Td, Te=Te, H=H, A=A, tanh=tanh, note=note, t={}, diff={}, why={})
    outputs = {}

    def run(name, call, get):
        """call() once (checked, first warm-up), then measure(call)."""
        try:
            t0 = time.perf_counter()
            result = call()
            first = time.perf_counter() - t0
            outputs[name] = get(result)
            if name == "seqattn reference" and tanh > args.ref_repeat_tanh:
                row["t"][name] = Timing(first, first, 1, "one call, no warm-up")
            else:
                row["t"][name] = measure(call, first, args.budget)
        except Exception as e:  # noqa: BLE001 - a peer failing is a row note, never a crash
            row["t"][name] = Timing(note=first_line(e))

    # seqattn, outputs preallocated so numpy allocation is not timed.
    ctx = np.empty((B, Td, H), np.float32)
    wts = np.empty((B, Td, Te), np.float32)
    for name, device, math in (("seqattn precise", "cpu", "precise"),
                               ("seqattn fast", "cpu", "fast"),
                               ("seqattn reference", "reference", "precise")):
        if name == "seqattn reference" and (args.no_reference or tanh > args.ref_max_tanh):
            row["t"][name] = Timing(note=f"skipped: {tanh:.1e} tanh > --ref-max-tanh "
                                    f"{args.ref_max_tanh:.0e}" if not args.no_reference
                                    else "skipped (--no-reference)")
            continue
        with seqattn.Handle(device, math=math) as handle:
            def call(handle=handle):
                return seqattn.additive_attention(handle, x["h"], x["s"], x["W"], x["U"],
                                                  x["v"], bias=x["bias"], out=ctx,
                                                  weights_out=wts)
            run(name, call, lambda r: (r[0].copy(), r[1].copy()))
    if Td == 1:
        # How a decoder uses seqattn: the keys projected once per source
        # (outside the timing), then one step attends with them. The peers
        # re-project each step, as the tutorial's BahdanauAttention does.
        with seqattn.Handle("cpu") as handle:
            keys = seqattn.project_keys(handle, x["h"], x["W"], bias=x["bias"])

            def step(handle=handle):
                return seqattn.additive_attention_projected(handle, x["h"], keys, x["s"], x["U"],
                                                            x["v"], out=ctx, weights_out=wts)
            run("seqattn two-phase", step, lambda r: (r[0].copy(), r[1].copy()))

    big = skip_peers or peer_tensor > args.peer_gib * GIB
    too_big = (f"skipped: one [B,Td,Te,A] float32 tensor is {peer_tensor / GIB:.0f} GiB "
               f"> --peer-gib {args.peer_gib:g}")
    torch = peers.torch
    if torch is None:
        for name in ("torch eager", "torch.compile"):
            row["t"][name] = Timing(note="skipped: torch not available")
    else:
        tx = {k: torch.from_numpy(a) for k, a in x.items()}
        args_t = (tx["h"], tx["s"], tx["W"], tx["U"], tx["bias"], tx["v"])
        get_t = lambda r: (r[0].numpy().copy(), r[1].numpy().copy())  # noqa: E731
        if big:
            row["t"]["torch eager"] = Timing(note=too_big)
        else:
            run("torch eager", lambda: peers.torch_fn(*args_t), get_t)
        if peers.compiled is None:
            row["t"]["torch.compile"] = Timing(note="skipped (--no-compile)")
        elif big:
            row["t"]["torch.compile"] = Timing(note=too_big)
        else:
            try:
                t0 = time.perf_counter()
                peers.compiled(*args_t)          # compiles for this shape, outside the timing
                row["compile_s"] = time.perf_counter() - t0
                run("torch.compile", lambda: peers.compiled(*args_t), get_t)
            except Exception as e:  # noqa: BLE001
                row["t"]["torch.compile"] = Timing(note="compile failed: " + first_line(e))
    if peers.jax is None:
        row["t"]["jax.jit"] = Timing(note="skipped: jax not available")
    elif big:
        row["t"]["jax.jit"] = Timing(note=too_big)
    else:
        try:
            jnp = peers.jax.numpy
            jx = {k: jnp.asarray(a) for k, a in x.items()}
            args_j = (jx["h"], jx["s"], jx["W"], jx["U"], jx["bias"], jx["v"])
            t0 = time.perf_counter()
            peers.jax.block_until_ready(peers.jax_fn(*args_j))      # trace + XLA compile
            row["jit_s"] = time.perf_counter() - t0
            run("jax.jit", lambda: peers.jax.block_until_ready(peers.jax_fn(*args_j)),
                lambda r: (np.asarray(r[0]), np.asarray(r[1])))
        except Exception as e:  # noqa: BLE001
            row["t"]["jax.jit"] = Timing(note=first_line(e))

    base = "seqattn reference" if "seqattn reference" in outputs else "seqattn precise"
    row["base"] = base
    if base in outputs:
        for name, (c, w) in outputs.items():
            if name != base:
                row["diff"][name] = (max_abs(c, outputs[base][0]), max_abs(w, outputs[base][1]))
    return row


def attention_tables(rows) -> list[str]:
    def shape(r):
        return f"{r['B']} | {r['Td']} | {r['Te']}"

    def ms(r, name):
        t = r["t"].get(name)
        return fmt_ms(t.median) if t and t.ok else "-"

    def ratio(r, peer, ours="seqattn precise"):
        a, b = r["t"].get(peer), r["t"].get(ours)
        if not (a and b and a.ok and b.ok):
            return "-"
        x = a.median / b.median
        return f"{x:.1f}x" if x >= 1 else f"{x:.2f}x"

    head = ("| B | Td | Te | tanh | seqattn precise ms | seqattn fast ms | two-phase ms | reference ms | "
            "torch eager ms | torch.compile ms | jax.jit ms | eager / precise | "
            "compile / precise | jax / precise | note |")
    out = ["### Summary (median ms; ratio = peer time / seqattn precise time)", "", head,
           "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        out.append(f"| {shape(r)} | {r['tanh']:.1e} | " + " | ".join(
            ms(r, n) for n in IMPLS) + " | " + " | ".join(
            ratio(r, p) for p in PEERS) + f" | {r['note'] or ''} |")

    head = ("| B | Td | Te | implementation | median ms | min ms | N | G tanh/s | "
            "time / seqattn precise | time / seqattn fast | max abs diff context | "
            "max abs diff weights | note |")
    out += ["", "### Details (differences against seqattn reference, or against seqattn "
            "precise where the reference is skipped: marked *)", "", head,
            "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        star = "" if r["base"] == "seqattn reference" else "*"
        for name in IMPLS:
            t = r["t"].get(name)
            if t is None:
                continue
            d = r["diff"].get(name)
            notes = [t.note] if t.note else []
            if name == "torch.compile" and "compile_s" in r:
                notes.append(f"compile {r['compile_s']:.1f} s")
            if name == "jax.jit" and "jit_s" in r:
                notes.append(f"trace+compile {r['jit_s']:.1f} s")
            if name == r["base"]:
                notes.append("baseline of the diffs")
            gt = f"{r['tanh'] / t.median / 1e9:.3g}" if t.ok else "-"
            out.append(
                f"| {shape(r)} | {name} | {fmt_ms(t.median)} | {fmt_ms(t.best)} | "
                f"{t.n if t.ok else '-'} | {gt} | "
                f"{ratio(r, name) if name != 'seqattn precise' else '1.0x'} | "
                f"{ratio(r, name, 'seqattn fast') if name != 'seqattn fast' else '1.0x'} | "
                f"{fmt_diff(d[0]) + star if d else '-'} | {fmt_diff(d[1]) + star if d else '-'} | "
                f"{'; '.join(notes)} |")
    return out


# ---------------------------------------------------------------- GRU

GRU_BOUND = 1e-4


def gru_row(seqattn, peers: Peers, args, B, T, I, H):
    row = dict(B=B, T=T, I=I, H=H, t={}, err=None, failed=False, note="")
    rng = np.random.default_rng(B * 7919 + T * 13 + H)
    x = (rng.random((B, T, I), dtype=np.float32) * 2 - 1).astype(np.float32)
    torch = peers.torch
    if torch is None:
        row["note"] = "torch not available: nothing to compare against"
        return row
    torch.manual_seed(B * 7919 + T * 13 + H)
    gru = torch.nn.GRU(I, H, batch_first=True).eval()
    kernel, recurrent, bias = seqattn.torch_gru_to_keras(
        gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0)
    out = np.empty((B, T, H), np.float32)
    state = np.empty((B, H), np.float32)
    tx = torch.from_numpy(x)
    with seqattn.Handle("cpu") as handle:
        def ours():
            return seqattn.gru(handle, x, kernel, recurrent, bias, variant="reset_after",
                               out=out, state_out=state)

        def theirs():
            return gru(tx)
        try:
            t0 = time.perf_counter()
            ours()
            first_ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            ref_out, ref_h = theirs()
            first_theirs = time.perf_counter() - t0
            row["err"] = max(max_abs(out, ref_out.numpy()), max_abs(state, ref_h[0].numpy()))
            row["failed"] = not row["err"] <= GRU_BOUND
            row["t"]["seqattn"] = measure(ours, first_ours, args.budget)
            row["t"]["nn.GRU"] = measure(theirs, first_theirs, args.budget)
        except Exception as e:  # noqa: BLE001
            row["note"] = first_line(e)
            row["failed"] = True
    return row


def gru_table(rows) -> list[str]:
    head = ("| B | T | I | H | seqattn ms | seqattn min ms | N | nn.GRU ms | nn.GRU min ms | N | "
            "nn.GRU / seqattn | max abs diff (outputs, h_last) | note |")
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        a, b = r["t"].get("seqattn"), r["t"].get("nn.GRU")

        def cols(t):
            return (f"{fmt_ms(t.median)} | {fmt_ms(t.best)} | {t.n}" if t and t.ok
                    else "- | - | -")
        rat = f"{b.median / a.median:.2f}x" if a and b and a.ok and b.ok else "-"
        err = fmt_diff(r["err"]) + (" **FAIL**" if r["failed"] else "")
        out.append(f"| {r['B']} | {r['T']} | {r['I']} | {r['H']} | {cols(a)} | {cols(b)} | "
                   f"{rat} | {err} | {r['note']} |")
    return out


# ---------------------------------------------------------------- main

def attention_shapes(quick: bool, peer_gib: float):
    """(B, Td, Te, note) rows; He = Hd = A = 256."""
    ref_b, ref_t = REF["B"], REF["Td"]
    if quick:
        return [(ref_b, ref_t, ref_t, "reference shape"), (64, 1, ref_t, "decode step")]
    rows = []
    for T in T_SWEEP:
        note = "reference shape" if T == ref_t else "T sweep"
        tensor = ref_b * T * T * REF["A"] * 4
        if tensor > peer_gib * GIB:
            # The peers cannot hold [B, T, T, A]: a smaller B for every implementation,
            # and seqattn alone at B = 64.
            b = ref_b
            while b > 1 and b * T * T * REF["A"] * 4 > peer_gib * GIB:
                b //= 2
            rows.append((b, T, T, f"T sweep, B reduced from {ref_b}: torch's [B,T,T,A] "
                         f"tensor at B={ref_b} is {tensor / GIB:.0f} GiB"))
            rows.append((ref_b, T, T, "T sweep, peers skipped (memory)"))
        else:
            rows.append((ref_b, T, T, note))
    rows += [(B, ref_t, ref_t, "B sweep") for B in B_SWEEP if B != ref_b]
    rows += [(B, 1, ref_t, "decode step") for B in DECODE_B]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="also write the markdown to this file")
    parser.add_argument("--quick", action="store_true",
                        help="the reference shape and one decode row only (smoke test)")
    parser.add_argument("--budget", type=float, default=2.0,
                        help="seconds of timed calls per implementation and shape (default 2)")
    parser.add_argument("--ref-max-tanh", type=float, default=3e8,
                        help="run seqattn's reference only up to this many tanh (default 3e8)")
    parser.add_argument("--ref-repeat-tanh", type=float, default=1e8,
                        help="above this many tanh the reference is called once (default 1e8)")
    parser.add_argument("--peer-gib", type=float, default=4.0,
                        help="largest [B,Td,Te,A] float32 tensor the peers may build, GiB "
                        "(default 4: torch eager holds two at once)")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--no-jax", action="store_true")
    parser.add_argument("--no-gru", action="store_true")
    args = parser.parse_args()

    import seqattn
    try:
        seqattn.load_library()
    except OSError as e:
        print(f"compare_cpu.py: cannot load libseqattn ({e}); build it and set "
              "SEQATTN_LIBRARY=/path/to/libseqattn.so", file=sys.stderr)
        return 2
    started = time.perf_counter()
    peers = Peers(args)
    lines = ["# seqattn fast CPU path against PyTorch and JAX on the CPU", ""]
    lines += machine_lines(seqattn, peers.torch, peers.jax)
    lines += [f"- note: {n}" for n in peers.notes]
    lines += [
        f"- timing: time.perf_counter around each call; the checked first call and 1-2 "
        f"warm-up calls, then the median and min of N calls (N fills ~{args.budget:g} s per "
        "implementation and shape; N = 1 for slower calls)",
        "- numpy: inputs are generated before any timing and numpy does no BLAS call in this "
        "script, so its bundled OpenBLAS threads stay idle (threadpoolctl is not used)",
        "- attention: He = Hd = A = 256, bias on the keys, full lengths (no masking), weights "
        "returned; seqattn writes into preallocated outputs (out=, weights_out=)",
        "",
        "## Additive attention", "",
    ]
    rows = []
    for B, Td, Te, note in attention_shapes(args.quick, args.peer_gib):
        log(f"attention B={B} Td={Td} Te={Te} ({note}) ...")
        rows.append(attention_row(seqattn, peers, args, B, Td, Te, REF["H"], REF["A"], note,
                                  skip_peers="peers skipped" in note))
    lines += attention_tables(rows)

    gru_rows = []
    if not args.no_gru:
        lines += ["", "## GRU (reset_after, h0 = 0; seqattn outputs preallocated)", ""]
        for g in (GRU_SHAPES[:1] if args.quick else GRU_SHAPES):
            log(f"gru B={g['B']} T={g['T']} I={g['I']} H={g['H']} ...")
            gru_rows.append(gru_row(seqattn, peers, args, **g))
        lines += gru_table(gru_rows)

    lines += ["", f"- load average at end: {loadavg()}",
              f"- total wall time {time.perf_counter() - started:.0f} s"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        log(f"wrote {args.out}")
    if any(r["failed"] for r in gru_rows):
        log("compare_cpu.py: seqattn's GRU disagreed with nn.GRU (**FAIL** rows)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
