#!/usr/bin/env python3
"""seqattn against PyTorch, in one process, on the same CUDA tensors.

Rows (median of --repeat timed runs after --warmup untimed ones, CUDA events,
L2 overwritten before each run):

  attention  seqattn fused (precise and fast math, through the Python binding
             on the tensors' device pointers) | PyTorch eager additive
             attention over all decoder steps (the PyTorch tutorial's
             BahdanauAttention math, which materialises [B, Td, Te, A]) | the
             same function under torch.compile
  gru        seqattn GRU (reset_after, weights converted from the nn.GRU) |
             torch.nn.GRU (cuDNN) in plain FP32 and with TF32 allowed
             (PyTorch's default for cuDNN)

Shapes: the reference B=64, Td=Te=128, He=Hd=A=256 (GRU: I=H=256), a sweep
over T = 16..1024 and a sweep over the batch B = 1..256. Every seqattn result
is checked against the eager result (relative Frobenius error) before it is
timed; a failed check is marked in the table and makes the exit status 1.

    python3 bench/compare_torch.py --out bench/results/torch.md
    python3 bench/compare_torch.py --quick          # the reference shape only

Needs PyTorch with CUDA, a GPU, and a libseqattn built with CUDA (found as the
binding finds it: SEQATTN_LIBRARY, next to the package, or the loader path).
Without them it says what is missing and exits with status 2.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parent.parent
REF = dict(B=64, T=128, A=256, H=256)
T_SWEEP = [16, 32, 64, 128, 256, 512, 1024]
B_SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def fail(message: str) -> NoReturn:
    print(f"compare_torch.py: {message}", file=sys.stderr)
    sys.exit(2)


def import_prerequisites():
    try:
        import torch
    except ImportError:
        fail("PyTorch is not installed (pip install torch); nothing was measured")
    if not torch.cuda.is_available():
        fail("PyTorch sees no CUDA device (torch.cuda.is_available() is False); "
             "nothing was measured")
    sys.path.insert(0, str(REPO / "python"))
    try:
        import seqattn
        seqattn.load_library()
    except (ImportError, OSError) as e:
        fail(f"cannot load the seqattn binding or libseqattn ({e}); build the library and "
             "set SEQATTN_LIBRARY=/path/to/libseqattn.so")
    if seqattn.cuda_device_count() == 0:
        fail(f"libseqattn {seqattn.version()} reports no usable CUDA device "
             f"(build features: {seqattn.build_features()}); build it with CUDA")
    return torch, seqattn


# ---------------------------------------------------------------- the machine

def nvidia_smi(field: str) -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True).stdout
        return out.strip().splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return ""


def git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=20,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class Device:
    def __init__(self, torch, seqattn, clock_mhz: float | None):
        props = torch.cuda.get_device_properties(0)
        self.name = props.name
        self.sms = props.multi_processor_count
        self.l2_bytes = getattr(props, "L2_cache_size", 50 << 20)
        # The peak SM clock, as the C++ bench reads cudaDevAttrClockRate;
        # nvidia-smi reports the same figure as clocks.max.sm.
        smi_clock = nvidia_smi("clocks.max.sm")
        self.clock_mhz = clock_mhz or (float(smi_clock) if smi_clock else None)
        self.driver = nvidia_smi("driver_version") or "unknown"
        self.lines = [
            f"- device: {self.name}, {self.sms} SMs, peak SM clock "
            f"{self.clock_mhz or 'unknown'} MHz, driver {self.driver}",
            f"- torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}",
            f"- seqattn {seqattn.version()} (commit {git_commit()}), "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        ]

    def tanh_roofline(self) -> float | None:
        """MUFU tanh results per second: SMs x 16 per clock x clock."""
        return self.sms * 16 * self.clock_mhz * 1e6 if self.clock_mhz else None


# ---------------------------------------------------------------- timing

class Timer:
    def __init__(self, torch, device: Device, warmup: int, repeat: int):
        self.torch = torch
        self.warmup = warmup
        self.repeat = repeat
        # Overwritten before each timed run, so no run finds its inputs in L2.
        self.flush = torch.empty(2 * device.l2_bytes // 4, dtype=torch.float32, device="cuda")

    def median_ms(self, fn) -> float:
        torch = self.torch
        for _ in range(self.warmup):
            fn()
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(self.repeat):
            self.flush.zero_()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        return statistics.median(times)


def rel_err(torch, got, ref) -> float:
    got, ref = got.double(), ref.double()
    norm = torch.linalg.vector_norm(ref).item()
    diff = torch.linalg.vector_norm(got - ref).item()
    return diff / norm if norm else (0.0 if diff == 0 else float("inf"))


def guarded(torch, fn):
    """fn() or the reason it could not run (out of memory at the largest shapes)."""
    try:
        return fn()
    except torch.cuda.OutOfMemoryError:
        torch.cuda.empty_cache()
        return "OOM"
    except RuntimeError as e:  # a compile failure, a cuDNN refusal
        torch.cuda.empty_cache()
        return f"error: {str(e).splitlines()[0][:80]}"


def fmt_ms(x) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def ratio(peer, ours) -> str:
    return f"{peer / ours:.1f}x" if isinstance(peer, float) and isinstance(ours, float) else "-"


# ---------------------------------------------------------------- attention

def make_eager_attention(torch):
    def eager_attention(h, s, W, U, bias, v):
        """The tutorial's BahdanauAttention over all decoder steps: Va(tanh(Wa q + Ua k)),
        softmax over the encoder positions, bmm with the keys. Its Va bias is left out:
        it cancels in the softmax. Materialises [B, Td, Te, A] twice (the sum, its tanh)."""
        keys = h @ W + bias                                          # [B, Te, A]
        q = s @ U                                                    # [B, Td, A]
        e = torch.tanh(q[:, :, None, :] + keys[:, None, :, :]) @ v   # [B, Td, Te]
        w = torch.softmax(e, dim=-1)
        return torch.bmm(w, h)                                       # [B, Td, He]
    return eager_attention


def measure_seqattn(torch, seqattn, timer, row, math, ref, bound, call, out):
    """Fills row[math] (median ms), row[extra_<math>] (MiB the library allocated on
    its first call) and row[err_<math>] (against the eager result)."""
    # A fresh handle per row, so its workspace growth is this shape's.
    with seqattn.Handle("cuda", math=math, stream=torch.cuda.current_stream()) as handle:
        free_before = torch.cuda.mem_get_info()[0]
        call(handle)
        torch.cuda.synchronize()
        row[f"extra_{math}"] = max(free_before - torch.cuda.mem_get_info()[0], 0) / 2**20
        if isinstance(ref, str):
            row[f"err_{math}"] = "no ref"
        else:
            row[f"err_{math}"] = err = rel_err(torch, out, ref)
            if not err <= bound:  # NaN fails too
                row["failed"] = True
        row[math] = timer.median_ms(lambda: call(handle))


def attention_row(torch, seqattn, timer, device, eager, compiled, B, T, A, H, check_bound):
    g = torch.Generator(device="cuda").manual_seed(B * 100003 + T * 101 + A)

    def rand(*shape, scale=1.0):
        return (torch.rand(*shape, generator=g, device="cuda") * 2 - 1) * scale

    h, s = rand(B, T, H), rand(B, T, H)
    W, U = rand(H, A, scale=H ** -0.5), rand(H, A, scale=H ** -0.5)
    bias, v = rand(A, scale=0.1), rand(A, scale=A ** -0.5)
    out = torch.empty(B, T, H, device="cuda")
    row = dict(B=B, T=T, A=A, H=H, failed=False)

    torch.cuda.empty_cache()
    ref = guarded(torch, lambda: eager(h, s, W, U, bias, v))
    for math in ("precise", "fast"):
        try:
            measure_seqattn(torch, seqattn, timer, row, math, ref, check_bound[math],
                            lambda handle: seqattn.additive_attention(
                                handle, h, s, W, U, v, bias=bias, return_weights=False, out=out),
                            out)
        except seqattn.SeqattnError as e:
            row.update({math: f"error: {e}"[:90], f"extra_{math}": "-", f"err_{math}": "-",
                        "failed": True})
    del ref

    def timed_eager(fn):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        return timer.median_ms(fn), peak

    r = guarded(torch, lambda: timed_eager(lambda: eager(h, s, W, U, bias, v)))
    row["eager"], row["extra_eager"] = r if isinstance(r, tuple) else (r, "-")
    if compiled is not None:
        r = guarded(torch, lambda: timed_eager(lambda: compiled(h, s, W, U, bias, v)))
        row["compile"], row["extra_compile"] = r if isinstance(r, tuple) else (r, "-")
    else:
        row["compile"], row["extra_compile"] = "skipped", "-"
    roof = device.tanh_roofline()
    for math in ("precise", "fast"):
        if roof and isinstance(row[math], float):
            row[f"roof_{math}"] = f"{B * T * T * A / (row[math] * 1e-3) / roof:.1%}"
        else:
            row[f"roof_{math}"] = "-"
    return row


def attention_table(rows) -> list[str]:
    head = ("| B | T | A | seqattn precise ms | seqattn fast ms | eager ms | compile ms | "
            "eager / seqattn precise, fast | compile / seqattn precise, fast | "
            "roofline precise | roofline fast | "
            "extra MiB precise / fast / eager / compile | rel err precise / fast |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        def e(k):
            x = r.get(k, "-")
            return f"{x:.1e}" if isinstance(x, float) else str(x)

        def m(k):
            x = r.get(k, "-")
            return f"{x:.0f}" if isinstance(x, float) else str(x)
        mark = " **FAIL**" if r["failed"] else ""
        lines.append(
            f"| {r['B']} | {r['T']} | {r['A']} | {fmt_ms(r['precise'])} | {fmt_ms(r['fast'])} | "
            f"{fmt_ms(r['eager'])} | {fmt_ms(r['compile'])} | "
            f"{ratio(r['eager'], r['precise'])}, {ratio(r['eager'], r['fast'])} | "
            f"{ratio(r['compile'], r['precise'])}, {ratio(r['compile'], r['fast'])} | "
            f"{r['roof_precise']} | {r['roof_fast']} | "
            f"{m('extra_precise')} / {m('extra_fast')} / {m('extra_eager')} / "
            f"{m('extra_compile')} | {e('err_precise')} / {e('err_fast')}{mark} |")
    return lines


# ---------------------------------------------------------------- GRU

def gru_row(torch, seqattn, timer, B, T, H):
    torch.manual_seed(B * 7919 + T * 13 + H)
    gru = torch.nn.GRU(H, H, batch_first=True).cuda().eval()
    x = torch.rand(B, T, H, device="cuda") * 2 - 1
    kernel, recurrent, bias = (torch.from_numpy(a).cuda() for a in seqattn.torch_gru_to_keras(
        gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0))
    out = torch.empty(B, T, H, device="cuda")
    state = torch.empty(B, H, device="cuda")
    row = dict(B=B, T=T, H=H, failed=False)

    def ours():
        seqattn.gru(handle, x, kernel, recurrent, bias, variant="reset_after", out=out,
                    state_out=state)

    def theirs():
        with torch.no_grad():
            return gru(x)

    saved = torch.backends.cudnn.allow_tf32
    handle = None
    try:
        handle = seqattn.Handle("cuda", stream=torch.cuda.current_stream())
        torch.backends.cudnn.allow_tf32 = False
        ref_out, ref_h = theirs()
        ours()
        torch.cuda.synchronize()
        row["err"] = max(rel_err(torch, out, ref_out), rel_err(torch, state, ref_h[0]))
        row["failed"] = not row["err"] <= 1e-4
        row["seqattn"] = guarded(torch, lambda: timer.median_ms(ours))
        row["cudnn_fp32"] = guarded(torch, lambda: timer.median_ms(theirs))
        torch.backends.cudnn.allow_tf32 = True
        row["cudnn_tf32"] = guarded(torch, lambda: timer.median_ms(theirs))
    except seqattn.SeqattnError as e:
        row.update(seqattn=f"error: {e}"[:90], cudnn_fp32="-", cudnn_tf32="-", err=float("nan"),
                   failed=True)
    finally:
        torch.backends.cudnn.allow_tf32 = saved
        if handle is not None:
            handle.close()
    return row


def gru_table(rows) -> list[str]:
    head = ("| B | T | H | seqattn ms | nn.GRU fp32 ms | nn.GRU tf32 ms | seqattn / fp32 | "
            "seqattn / tf32 | rel err |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        def slower(peer):
            ok = isinstance(r["seqattn"], float) and isinstance(r[peer], float)
            return f"{r['seqattn'] / r[peer]:.2f}" if ok else "-"
        mark = " **FAIL**" if r["failed"] else ""
        lines.append(f"| {r['B']} | {r['T']} | {r['H']} | {fmt_ms(r['seqattn'])} | "
                     f"{fmt_ms(r['cudnn_fp32'])} | {fmt_ms(r['cudnn_tf32'])} | "
                     f"{slower('cudnn_fp32')} | {slower('cudnn_tf32')} | {r['err']:.1e}{mark} |")
    return lines


# ---------------------------------------------------------------- main

def shapes(quick: bool):
    if quick:
        return [REF]
    out = [dict(REF, T=T) for T in T_SWEEP]
    out += [dict(REF, B=B) for B in B_SWEEP if B != REF["B"]]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the markdown here (default: stdout)")
    parser.add_argument("--quick", action="store_true", help="the reference shape only")
    parser.add_argument("--no-compile", action="store_true", help="leave out torch.compile")
    parser.add_argument("--no-gru", action="store_true", help="leave out the GRU rows")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--sm-clock-mhz", type=float,
                        help="peak SM clock for the roofline (default: nvidia-smi clocks.max.sm)")
    args = parser.parse_args()

    torch, seqattn = import_prerequisites()
    # Plain FP32 everywhere unless a row says otherwise: seqattn computes in FP32.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = Device(torch, seqattn, args.sm_clock_mhz)
    timer = Timer(torch, device, args.warmup, args.repeat)
    # Against eager FP32 (itself rounded): precise math is FP32 rounding; fast
    # math uses the hardware tanh/exp approximations.
    check_bound = {"precise": 1e-4, "fast": 2e-3}

    eager = make_eager_attention(torch)
    compiled = None
    if not args.no_compile:
        import torch._dynamo
        torch._dynamo.config.cache_size_limit = 64  # one graph per shape
        compiled = torch.compile(eager, dynamic=False)

    lines = ["# seqattn against PyTorch", ""] + device.lines + [
        f"- median of {args.repeat} runs after {args.warmup} warm-up runs, CUDA events, L2 "
        "overwritten before each run; plain FP32 unless marked tf32",
        "- ratios are the peer's time over seqattn's (above 1: seqattn is faster), except the "
        "GRU's seqattn / peer (the target is at most 1.25)",
        "", "## Additive attention (He = Hd = H = 256)", ""]
    rows = []
    for sh in shapes(args.quick):
        print(f"attention B={sh['B']} T={sh['T']} ...", file=sys.stderr, flush=True)
        rows.append(attention_row(torch, seqattn, timer, device, eager, compiled,
                                  sh["B"], sh["T"], sh["A"], sh["H"], check_bound))
    lines += attention_table(rows)

    gru_rows = []
    if not args.no_gru:
        lines += ["", "## GRU (I = H)", ""]
        for sh in shapes(args.quick):
            print(f"gru B={sh['B']} T={sh['T']} ...", file=sys.stderr, flush=True)
            gru_rows.append(gru_row(torch, seqattn, timer, sh["B"], sh["T"], sh["H"]))
        lines += gru_table(gru_rows)

    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    print(text)
    failed = any(r["failed"] for r in rows + gru_rows)
    if failed:
        print("compare_torch.py: a seqattn result disagreed with PyTorch (**FAIL** rows)",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
