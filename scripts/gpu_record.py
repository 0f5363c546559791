#!/usr/bin/env python3
"""The readers and the record writer behind scripts/gpu_check.sh (standard library only).

    gpu_record.py gpu-binaries TESTS_JSON
        the GoogleTest binaries of the GPU tests (ctest label "cuda"), one a
        line, from `ctest --show-only=json-v1`
    gpu_record.py skips TESTS_JSON JUNIT.xml...
        counts the skipped tests in ctest's JUnit files; exit status 1 when a
        GPU test skipped (label "cuda", or a skip whose reason names CUDA, a
        GPU or a device)
    gpu_record.py record --logs DIR [--total S] --out RECORD.md
        writes the markdown record from what gpu_check.sh left in DIR:
        meta.txt, stages.tsv, skips.txt, ctest.log, <tool>check.log,
        bench.json (Google Benchmark), torch.md (compare_torch.py)

Benchmark names are <family>/<impl>/<shape>/manual_time. Within one family,
shape and device (an impl naming "cpu" runs on the host), the impls named
seqattn_* are ours and the others are their peers; the record gives every
pair's times and the ratio peer / seqattn (above 1: seqattn is faster).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

GPU_SKIP_REASON = re.compile(r"cuda|gpu|device", re.IGNORECASE)
REFERENCE_SHAPE = "B=64, Td=Te=128, He=Hd=A=256"


# ------------------------------------------------------------------ ctest

def labels_of(test: dict) -> list[str]:
    for prop in test.get("properties", []):
        if prop.get("name") == "LABELS":
            return list(prop.get("value", []))
    return []


def load_tests(path: Path) -> list[dict]:
    return json.loads(path.read_text()).get("tests", [])


def gpu_binaries(tests: list[dict]) -> list[str]:
    seen: list[str] = []
    for t in tests:
        cmd = t.get("command") or []
        if "cuda" in labels_of(t) and cmd and cmd[0] not in seen:
            seen.append(cmd[0])
    return seen


PYTEST_SUMMARY = re.compile(r"^=*\s*(\d+ (passed|failed|skipped).* in [\d.]+s)\b.*$", re.MULTILINE)


def junit_skips(paths: list[Path]) -> tuple[int, list[tuple[str, str]], list[str]]:
    """(tests run or skipped, [(name, reason)] of the skipped ones, pytest summaries).

    pytest's own skips (python/tests/test_cuda.py without CuPy/PyTorch) do not
    reach ctest; its summary line is passed on so that the record shows them."""
    total, skipped, pytest = 0, [], []
    for path in paths:
        if not path.exists():
            continue
        for case in ET.parse(path).getroot().iter("testcase"):
            total += 1
            for m in PYTEST_SUMMARY.finditer(case.findtext("system-out") or ""):
                pytest.append(f"{case.get('name', '?')}: pytest {m.group(1)}")
            skip = case.find("skipped")
            if skip is None and case.get("status") != "notrun":
                continue
            reason = skip.get("message", "") if skip is not None else ""
            out = case.findtext("system-out") or ""
            # GoogleTest prints the GTEST_SKIP() text on the line before "[  SKIPPED ]".
            lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
            for k, line in enumerate(lines):
                if line.startswith("[  SKIPPED ]") and k > 0:
                    reason = lines[k - 1]
                    break
            skipped.append((case.get("name", "?"), reason))
    return total, skipped, pytest


def cmd_skips(args: argparse.Namespace) -> int:
    cuda_tests = {t["name"] for t in load_tests(Path(args.tests_json)) if "cuda" in labels_of(t)}
    total, skipped, pytest = junit_skips([Path(p) for p in args.junit])
    gpu = [(n, r) for n, r in skipped if n in cuda_tests or GPU_SKIP_REASON.search(r)]
    print(f"{len(gpu)} GPU tests skipped, {len(skipped)} skipped in all, "
          f"of {total} tests ({len(cuda_tests)} labelled cuda)")
    for name, reason in skipped:
        tag = "GPU " if (name, reason) in gpu else ""
        print(f"  {tag}skipped: {name}: {reason or '(no reason printed)'}")
    for line in pytest:
        print(f"  {line} (python/tests/test_cuda.py skips as a whole without CuPy or PyTorch)")
    return 1 if gpu else 0


# ------------------------------------------------------------------ numbers

def si(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def to_ms(row: dict) -> float | None:
    if row.get("error_occurred") or "real_time" not in row:
        return None
    factor = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[row.get("time_unit", "ns")]
    return float(row["real_time"]) * factor


class Row:
    def __init__(self, raw: dict):
        self.raw = raw
        parts = raw["name"].split("/")
        if parts and parts[-1] == "manual_time":
            parts = parts[:-1]
        self.family = parts[0]
        self.impl = parts[1] if len(parts) > 1 else ""
        self.shape = "/".join(parts[2:])
        self.name = "/".join(parts)
        self.time_ms = to_ms(raw)
        self.error = raw.get("error_message", "") if raw.get("error_occurred") else ""

    @property
    def device(self) -> str:
        return "cpu" if "cpu" in self.impl else "gpu"

    @property
    def ours(self) -> bool:
        return self.impl.startswith("seqattn_")

    def counter(self, name: str) -> float | None:
        value = self.raw.get(name)
        return float(value) if isinstance(value, (int, float)) else None


def load_rows(path: Path) -> tuple[dict, list[Row]]:
    data = json.loads(path.read_text())
    rows = [Row(b) for b in data.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
    return data.get("context", {}), rows


def pairs(rows: list[Row]) -> list[tuple[Row, Row]]:
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.family, r.shape, r.device), []).append(r)
    out = []
    for group in groups.values():
        for ours in (r for r in group if r.ours):
            out.extend((ours, peer) for peer in group if not peer.ours)
    return out


# ------------------------------------------------------------------ record

def read_kv(path: Path) -> dict[str, str]:
    kv = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                kv[key.strip()] = value.strip()
    return kv


def read_stages(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [(line.split("\t") + ["", "", "", ""])[:4] for line in path.read_text().splitlines() if line]


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def bench_section(path: Path) -> list[str]:
    if not path.exists():
        return ["No benchmark JSON (the bench stage did not run or failed before writing it)."]
    try:
        context, rows = load_rows(path)
    except (ValueError, KeyError) as e:
        return [f"The benchmark JSON could not be read: {e}."]
    out = []
    if "gpu" in context:
        out.append(f"Device as the bench saw it: {context['gpu']}, {context.get('gpu_sm_count', '?')} SMs at "
                   f"{float(context.get('gpu_sm_clock_mhz', 0)):.0f} MHz (peak), tanh roofline "
                   f"{si(float(context.get('gpu_tanh_roofline_per_s', 0)), '/s')}, DRAM "
                   f"{float(context.get('gpu_dram_gb_per_s', 0)):.0f} GB/s"
                   + (f", cuDNN {context['cudnn']}" if "cudnn" in context else "") + ".")
    else:
        out.append("The bench saw no GPU (CPU rows only).")
    out += ["", f"Times are per iteration in ms (CUDA events for GPU rows); the reference shape is "
            f"{REFERENCE_SHAPE}.", ""]

    out += ["### seqattn against its peers (same run)", "",
            "| family | shape | seqattn | ms | peer | ms | peer ms / seqattn ms |",
            "| --- | --- | --- | ---: | --- | ---: | ---: |"]
    found = pairs(rows)
    for ours, peer in found:
        ratio = (f"{peer.time_ms / ours.time_ms:.2f}×" if ours.time_ms and peer.time_ms else "—")
        out.append(f"| {ours.family} | {ours.shape} | {ours.impl} | {ms(ours.time_ms)} | {peer.impl} | "
                   f"{ms(peer.time_ms)} | {ratio} |")
    if not found:
        out.append("| — | — | no row with a peer in this run | | | | |")

    roof = [r for r in rows if r.family == "attention" and r.ours and r.counter("roofline") is not None]
    out += ["", "### The tanh roofline (fused attention, both math modes)", ""]
    if roof:
        out += ["| row | shape | ms | tanh/s | fraction of the roofline |", "| --- | --- | ---: | ---: | ---: |"]
        for r in roof:
            out.append(f"| {r.impl} | {r.shape} | {ms(r.time_ms)} | {si(r.counter('tanh'), '/s')} | "
                       f"{r.counter('roofline'):.3f} |")
    else:
        out.append("No attention row with a roofline counter (it is measured on GPU rows only).")

    dec = [r for r in rows if r.family == "decode"]
    out += ["", "### Decoding (the default model, greedy, seqattn_model_translate)", ""]
    if dec:
        out += ["| row | batch | ms per call | decoder steps | µs per step | tokens/s |",
                "| --- | --- | ---: | ---: | ---: | ---: |"]
        for r in dec:
            steps = r.counter("steps")
            out.append(f"| {r.impl} | {r.shape.replace('B:', '')} | {ms(r.time_ms)} | "
                       f"{'—' if steps is None else f'{steps:.0f}'} | {ms(r.counter('step_us'))} | "
                       f"{si(r.counter('tokens'))} |")
    else:
        out.append("No decode rows in this run.")

    out += ["", "### Every row", "",
            "| row | ms | iterations | tanh/s | roofline | bytes/s | flop/s | extra MiB | note |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        roofline = r.counter("roofline")
        extra = r.counter("extra_MiB")
        out.append(f"| {r.name} | {ms(r.time_ms)} | {r.raw.get('iterations', '—')} | "
                   f"{si(r.counter('tanh'), '/s')} | {'—' if roofline is None else f'{roofline:.3f}'} | "
                   f"{si(r.counter('bytes'), 'B/s')} | {si(r.counter('flop'), 'FLOP/s')} | "
                   f"{'—' if extra is None else f'{extra:.1f}'} | {cell(r.error) if r.error else ''} |")
    return out


def sanitizer_rows(logs: Path, stages: dict[str, list[str]]) -> list[str]:
    out = ["| tool | status | summary (count × line) |", "| --- | --- | --- |"]
    for tool in ("memcheck", "racecheck", "synccheck"):
        stage = stages.get(tool)
        status = stage[1] if stage else "not run"
        out.append(f"| {tool} | {status} | {cell(stage[3]) if stage and stage[3] else '—'} |")
    return out


def cmd_record(args: argparse.Namespace) -> int:
    logs = Path(args.logs)
    meta = read_kv(logs / "meta.txt")
    stage_list = read_stages(logs / "stages.tsv")
    stages = {s[0]: s for s in stage_list}
    failed = [s[0] for s in stage_list if s[1] == "FAIL"]

    gpu = meta.get("gpu", "unknown GPU")
    lines = [f"# seqattn GPU check: {gpu}, {meta.get('date', '?')}", "",
             f"Written by `scripts/gpu_check.sh`; logs were in `{logs}`.", "",
             "| | |", "| --- | --- |",
             f"| result | {'**every stage passed**' if not failed else '**FAILED**: ' + ', '.join(failed)} |",
             f"| device | {gpu} (compute capability {meta.get('compute_cap', '?')}, "
             f"{meta.get('gpu_count', '?')} GPU(s), {meta.get('memory', '?')}, "
             f"max SM clock {meta.get('sm_clock_max', '?')}) |",
             f"| driver | {meta.get('driver', '?')} (supports CUDA {meta.get('cuda_driver', '?')}) |",
             f"| CUDA toolkit | {meta.get('cuda_toolkit', '?')} |",
             f"| commit | {meta.get('commit', '?')}{' (with local changes)' if meta.get('dirty') == 'yes' else ''} |",
             f"| date | {meta.get('date', '?')} |",
             f"| host | {meta.get('cores', '?')} cores |",
             f"| total time | {args.total if args.total is not None else '?'} s "
             f"(budget {meta.get('budget_s', '?')} s) |",
             "", "## Stages", "", "| stage | status | seconds | summary |", "| --- | --- | ---: | --- |"]
    for name, status, secs, note in stage_list:
        lines.append(f"| {name} | {status} | {secs} | {cell(note)} |")
    if not stage_list:
        lines.append("| — | no stage ran | | |")

    lines += ["", "## Tests (ctest, the whole suite)", ""]
    ctest_log = logs / "ctest.log"
    summaries = ([ln.strip() for ln in ctest_log.read_text(errors="replace").splitlines()
                  if re.search(r"tests passed|tests failed out of|Total Test time", ln)]
                 if ctest_log.exists() else [])
    lines += [f"    {s}" for s in summaries] or ["No ctest summary (the stage did not run)."]
    skips = logs / "skips.txt"
    if skips.exists():
        lines += ["", "Skips (a GPU test that skips fails the stage):", ""]
        lines += [f"    {ln}" for ln in skips.read_text().splitlines()]

    lines += ["", "## compute-sanitizer", ""] + sanitizer_rows(logs, stages)

    lines += ["", "## Benchmarks (seqattn_bench)", ""] + bench_section(logs / "bench.json")

    lines += ["", "## PyTorch (bench/compare_torch.py --quick)", ""]
    torch_md = logs / "torch.md"
    if torch_md.exists():
        lines += [("#" * 2 + ln) if ln.startswith("#") else ln
                  for ln in torch_md.read_text().splitlines()]
    else:
        stage = stages.get("torch")
        lines.append(f"Not run: {stage[3] if stage and stage[3] else 'no output'}.")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("gpu-binaries")
    p.add_argument("tests_json")
    p = sub.add_parser("skips")
    p.add_argument("tests_json")
    p.add_argument("junit", nargs="*")
    p = sub.add_parser("record")
    p.add_argument("--logs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--total", type=int)
    args = parser.parse_args(argv)
    if args.command == "gpu-binaries":
        binaries = gpu_binaries(load_tests(Path(args.tests_json)))
        print("\n".join(binaries))
        return 0 if binaries else 1
    if args.command == "skips":
        return cmd_skips(args)
    return cmd_record(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
