#!/usr/bin/env python3
"""scripts/gpu_record.py on the checked-in sample (gpu_record_sample/), so a
broken formatter or reader shows up on a machine without a GPU."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_record.py"
SAMPLE = Path(__file__).resolve().parent / "gpu_record_sample"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, check=False)


class Record(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "nested" / "record.md"
            cls.proc = run("record", "--logs", SAMPLE, "--total", 398, "--out", out)
            cls.text = out.read_text() if out.exists() else ""

    def test_writes_the_record(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.assertTrue(self.text.startswith("# seqattn GPU check: NVIDIA H200, 2026-12-02"))

    def test_header_names_the_machine_and_the_failed_stage(self):
        for want in ("| driver | 570.00 (made up) (supports CUDA 12.8) |",
                     "| CUDA toolkit | 12.4.131 |",
                     "| commit | 0000000000000000000000000000000000000000 |",
                     "| total time | 398 s (budget 480 s) |",
                     "| result | **FAILED**: memcheck |"):
            self.assertIn(want, self.text)

    def test_stage_times_and_summaries(self):
        self.assertIn("| build | ok | 95 | 16 jobs |", self.text)
        self.assertIn("| memcheck | FAIL | 120 | 2 ERROR SUMMARY: 0 errors;timed out after 120 s |",
                      self.text)
        self.assertIn("| racecheck | ok | 1 RACECHECK SUMMARY: 0 hazards displayed "
                      "(0 errors, 0 warnings) |", self.text)

    def test_ctest_summary(self):
        self.assertIn("    100% tests passed, 0 tests failed out of 329", self.text)
        self.assertIn("    0 GPU tests skipped", self.text)

    def test_every_seqattn_row_against_every_peer_with_the_ratio(self):
        shape = "B:64/T:128/A:256/H:256"
        for ours, ms, peer, peer_ms, ratio in (
                ("seqattn_cuda_precise", "0.1", "unfused_cublas", "1", "10.00×"),
                ("seqattn_cuda_precise", "0.1", "step_reproject_cuda", "5", "50.00×"),
                ("seqattn_cuda_fast", "0.08", "step_two_phase_cuda", "2", "25.00×")):
            self.assertIn(f"| attention | {shape} | {ours} | {ms} | {peer} | {peer_ms} | {ratio} |",
                          self.text)
        self.assertIn("| gru | B:64/T:128/H:256 | seqattn_cuda_reset_after | 0.5 | cudnn_fp32 | 0.6 "
                      "| 1.20× |", self.text)
        # A peer that failed has no time and no ratio.
        self.assertIn("| seqattn_cuda_reset_after | 0.5 | cudnn_tf32 | — | — |", self.text)
        # CPU rows pair with CPU peers only.
        self.assertIn("| attention | B:8/T:32/A:256/H:256 | seqattn_cpu |", self.text)
        self.assertNotIn("seqattn_cpu | 93 | unfused_cublas", self.text)

    def test_roofline_in_both_math_modes(self):
        self.assertIn("| seqattn_cuda_precise | B:64/T:128/A:256/H:256 | 0.1 | 2.68 T/s | 0.642 |",
                      self.text)
        self.assertIn("| seqattn_cuda_fast | B:64/T:128/A:256/H:256 | 0.08 | 3.36 T/s | 0.802 |",
                      self.text)

    def test_decoding(self):
        self.assertIn("| seqattn_cuda | 1 | 0.5 | 11 | 45.45 | 20 k |", self.text)
        self.assertIn("| seqattn_cuda | 64 | 0.8 | 11 | 72.73 | 800 k |", self.text)
        self.assertIn("| seqattn_cpu | 64 |", self.text)

    def test_every_row_with_its_error(self):
        self.assertIn("| gru/cudnn_tf32/B:64/T:128/H:256 | — | 0 |", self.text)
        self.assertIn("cudnnRNNForward: CUDNN_STATUS_NOT_SUPPORTED \\| made up |", self.text)
        self.assertIn("| attention/unfused_cublas/B:64/T:128/A:256/H:256 | 1 | 1000 |", self.text)
        self.assertIn("1026.0", self.text)

    def test_torch_stage_skipped_is_said(self):
        self.assertIn("Not run: PyTorch not installed.", self.text)

    def test_missing_logs_still_give_a_record(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "r.md"
            proc = run("record", "--logs", tmp, "--out", out)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            text = out.read_text()
            self.assertIn("No benchmark JSON", text)
            self.assertIn("| memcheck | not run | — |", text)


class Readers(unittest.TestCase):
    def test_gpu_binaries_are_the_cuda_labelled_commands(self):
        proc = run("gpu-binaries", SAMPLE / "tests.json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.split(),
                         ["/sample/build/gpu-check/tests/seqattn_cuda_tests",
                          "/sample/build/gpu-check/tests/seqattn_cuda_model_ops_tests"])

    def test_a_skipped_gpu_test_fails(self):
        proc = run("skips", SAMPLE / "tests.json", SAMPLE / "junit.xml", SAMPLE / "absent.xml")
        self.assertEqual(proc.returncode, 1, proc.stdout)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[0], "2 GPU tests skipped, 3 skipped in all, of 5 tests (3 labelled cuda)")
        self.assertIn("  GPU skipped: Shapes/AttentionSweep.MatchesCpuReference/tiny_precise_full: "
                      "no usable CUDA device, so the CUDA handle cannot be tested here (made up)", lines)
        self.assertIn("  GPU skipped: Devices/DateModel.FixedDates/cuda  # GetParam() = 1: "
                      "no CUDA device (seqattn_cuda_device_count() == 0)", lines)
        self.assertIn("  skipped: Fixtures/Parity.Missing: fixture tests/fixtures/x.safetensors is "
                      "missing (tools/make_fixtures.py)", lines)
        self.assertTrue(any("python_binding: pytest 500 passed, 1 skipped in 7.15s" in ln for ln in lines))

    def test_no_skip_passes(self):
        proc = run("skips", SAMPLE / "tests.json")
        self.assertEqual(proc.returncode, 0, proc.stdout)
        self.assertTrue(proc.stdout.startswith("0 GPU tests skipped, 0 skipped in all, of 0 tests"))


if __name__ == "__main__":
    unittest.main()
