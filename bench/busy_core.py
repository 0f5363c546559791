#!/usr/bin/env python3
"""Does a busy machine multiply seqattn's latency? Times small calls of the
fast CPU path alone, then with another process spinning on one core, and
prints the median and the 90th percentile of each.

The calls are the ones that suffer when threads wait for each other: the date
model's teacher-forced score at batch 64 (many small ops), its greedy
translation, attention at B=8, T=32 and a GRU at B=64, T=32, H=128. With
OMP_NUM_THREADS unset the library uses every core, so on a 2-core machine one
of its threads shares a core with the spinner.

    SEQATTN_LIBRARY=build/release/libseqattn.so PYTHONPATH=python \\
        python3 bench/busy_core.py [--repeats 200] [--out FILE]
"""
import argparse
import multiprocessing as mp
import os
import platform
import subprocess
import time

import numpy as np

import seqattn
from seqattn import _raw
from seqattn.model import Model


def spin(stop):
    x = 0
    while not stop.is_set():
        for _ in range(100000):
            x += 1


def timed(fn, repeats):
    for _ in range(5):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts = np.array(ts) * 1e3
    return np.median(ts), np.percentile(ts, 90)


def workloads(h):
    rng = np.random.default_rng(0)
    m = Model(h)
    dates = [f"{d} {mo} {y}" for d, mo, y in zip(rng.integers(1, 29, 64),
                                                  rng.choice(["Jan", "Mar", "Nov", "Dec"], 64),
                                                  rng.integers(1950, 2050, 64))]
    targets = m.translate(dates)
    B, T, H, A = 8, 32, 256, 256
    enc = rng.standard_normal((B, T, H), dtype=np.float32)
    dec = rng.standard_normal((B, T, H), dtype=np.float32)
    W = rng.standard_normal((H, A), dtype=np.float32) / 16
    U = rng.standard_normal((H, A), dtype=np.float32) / 16
    v = rng.standard_normal((A,), dtype=np.float32) / 16
    Bg, Tg, Hg = 64, 32, 128
    x = rng.standard_normal((Bg, Tg, Hg), dtype=np.float32)
    k = rng.standard_normal((Hg, 3 * Hg), dtype=np.float32) / 12
    rk = rng.standard_normal((Hg, 3 * Hg), dtype=np.float32) / 12
    bias = np.zeros((2, 3 * Hg), np.float32)
    return m, [
        ("date model score, B=64", lambda: m.score(dates, targets)),
        ("date model translate, B=64", lambda: m.translate(dates)),
        ("attention B=8 T=32 A=256", lambda: seqattn.additive_attention(h, enc, dec, W, U, v)),
        ("GRU B=64 T=32 H=128", lambda: seqattn.gru(h, x, k, rk, bias)),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--out", help="also write the markdown table here")
    args = ap.parse_args()
    lines = [f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
             f"{_raw.seqattn_cpu_info().decode()}",
             f"commit {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}, "
             f"{time.strftime('%Y-%m-%d')}, load average at start {os.getloadavg()[0]:.2f}",
             "",
             "| call | alone: median ms | alone: p90 | one core busy: median ms | busy: p90 | busy / alone (median) |",
             "|---|---|---|---|---|---|"]
    with seqattn.Handle("cpu") as h:
        m, work = workloads(h)
        alone = {name: timed(fn, args.repeats) for name, fn in work}
        stop = mp.Event()
        p = mp.Process(target=spin, args=(stop,), daemon=True)
        p.start()
        time.sleep(0.5)
        try:
            busy = {name: timed(fn, args.repeats) for name, fn in work}
        finally:
            stop.set()
            p.join()
        m.close()
    for name, _ in work:
        a, b = alone[name], busy[name]
        lines.append(f"| {name} | {a[0]:.2f} | {a[1]:.2f} | {b[0]:.2f} | {b[1]:.2f} | {b[0] / a[0]:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
