#!/usr/bin/env python3
"""The heaplens_test runner (tools/heaplens_test_runner.sh), which the
heaplens_test macro wraps: it fails (exit 1) on a leaky program, passes on a
clean one, and keeps traces, the report, JUnit and SARIF in the outputs."""
import os
import subprocess
import sys
import unittest

for root in (os.environ.get("TEST_SRCDIR"), os.environ.get("RUNFILES_DIR")):
    if root:
        sys.path.insert(0, os.path.join(root, "heaplens", "tests", "e2e"))
import e2e_lib as e2e  # noqa: E402


def runner(program, *flags):
    out = e2e.tmpdir()
    env = dict(os.environ, TEST_UNDECLARED_OUTPUTS_DIR=out)
    r = subprocess.run(
        ["bash", e2e.runfile("tools/heaplens_test_runner.sh"),
         f"--heaplens={e2e.HEAPLENS()}", f"--preload={e2e.PRELOAD()}", *flags,
         "--", e2e.runfile(program)],
        capture_output=True, text=True, timeout=300, env=env)
    return r, out


class RunnerTest(unittest.TestCase):

    def test_leaky_fails_and_keeps_outputs(self):
        r, out = runner("examples/leaky")
        self.assertEqual(1, r.returncode, r.stderr)
        files = set(os.listdir(out))
        self.assertTrue(any(f.startswith("trace.") for f in files), files)
        for f in ("heaplens_report.txt", "heaplens_gate.txt",
                  "heaplens_junit.xml", "heaplens.sarif"):
            self.assertIn(f, files)
        with open(os.path.join(out, "heaplens_report.txt")) as f:
            self.assertIn("leak_direct", f.read())
        with open(os.path.join(out, "heaplens_gate.txt")) as f:
            self.assertIn("FAILED", f.read())

    def test_expect_leaks_inverts(self):
        self.assertEqual(0, runner("examples/leaky",
                                   "--expect-leaks")[0].returncode)
        self.assertEqual(1, runner("examples/clean",
                                   "--expect-leaks")[0].returncode)

    def test_clean_passes(self):
        r, out = runner("examples/clean")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(2, len([f for f in os.listdir(out)
                                 if f.startswith("trace.")]))

    def test_gate_flags_pass_through(self):
        r, _ = runner("examples/leaky", "--gate-flag=--max-bytes=554")
        self.assertEqual(0, r.returncode, r.stderr)


if __name__ == "__main__":
    unittest.main()
