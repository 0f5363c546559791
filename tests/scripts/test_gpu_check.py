#!/usr/bin/env python3
"""scripts/gpu_check.sh on a machine without a GPU stops at once: exit status 2,
a message on stderr, nothing built. The nvidia-smi it asks is overridden
(SEQATTN_GPU_CHECK_NVIDIA_SMI), so this passes on a GPU machine too."""

import os
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"


class NoGpu(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.build = self.dir / "build"

    def tearDown(self):
        self.tmp.cleanup()

    def fake_smi(self, body):
        path = self.dir / "nvidia-smi"
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    def run_check(self, smi):
        env = dict(os.environ, SEQATTN_GPU_CHECK_NVIDIA_SMI=str(smi),
                   SEQATTN_GPU_CHECK_BUILD_DIR=str(self.build))
        return subprocess.run(["bash", str(SCRIPT), str(self.dir / "record.md")], env=env,
                              capture_output=True, text=True, timeout=30, check=False)

    def assert_stopped(self, proc, why):
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("gpu_check: no NVIDIA GPU here", proc.stderr)
        self.assertIn(why, proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertFalse(self.build.exists(), "it started a build")
        self.assertFalse((self.dir / "record.md").exists(), "it wrote a record")

    def test_no_nvidia_smi(self):
        self.assert_stopped(self.run_check("/nonexistent/nvidia-smi"), "not found")

    def test_nvidia_smi_fails(self):
        smi = self.fake_smi("echo \"NVIDIA-SMI has failed because it couldn't communicate with "
                            "the NVIDIA driver.\"; exit 9")
        self.assert_stopped(self.run_check(smi), "failed: NVIDIA-SMI has failed")

    def test_no_device_listed(self):
        self.assert_stopped(self.run_check(self.fake_smi("echo 'No devices were found'")),
                            "lists no device (it said: No devices were found)")

    def test_help(self):
        proc = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True,
                              timeout=30, check=False)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("scripts/gpu_check.sh [RECORD.md]", proc.stdout)


if __name__ == "__main__":
    unittest.main()
