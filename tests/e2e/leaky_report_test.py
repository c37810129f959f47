#!/usr/bin/env python3
"""End-to-end: trace examples/leaky under the preload and check the report's
exact numbers and allocation sites. The expected values are those Valgrind
memcheck reports for the same program (see examples/leaky.c)."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402

# From examples/leaky.c (and `valgrind --leak-check=full` on it).
DEFINITE = (300 + 14 + 48, 5)   # 3 x 100 B, strdup("heaplens-demo"), list head
INDIRECT = (4 * 48, 4)          # the rest of the lost list
REACHABLE = (64 + 40, 2)        # g_config and the pin
UNFREED = (DEFINITE[0] + INDIRECT[0] + REACHABLE[0], 11)


class LeakyReportTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = e2e.tmpdir()
        cls.trace = os.path.join(cls.dir, "leaky.hlt")
        r = e2e.run_traced([e2e.runfile("examples/leaky")], cls.trace)
        assert r.returncode == 0, r.stderr
        assert b"leaky: done" in r.stdout, r.stdout
        cls.out_stderr = r.stderr
        cls.report = e2e.report_json(cls.trace, "--show=reachable")

    def test_program_output_unchanged(self):
        self.assertEqual(b"", self.out_stderr)

    def test_unfreed_totals_exact(self):
        s = self.report["summary"]
        self.assertEqual(UNFREED, (s["unfreed_bytes"], s["unfreed_blocks"]))

    def test_leak_kinds_match_valgrind(self):
        s = self.report["summary"]
        self.assertEqual(DEFINITE, (s["definite_bytes"], s["definite_blocks"]))
        self.assertEqual(INDIRECT, (s["indirect_bytes"], s["indirect_blocks"]))
        self.assertEqual(REACHABLE,
                         (s["reachable_bytes"], s["reachable_blocks"]))
        self.assertEqual((0, 0), (s["possible_bytes"], s["possible_blocks"]))

    def _leaks_in(self, function):
        return [l for l in self.report["leaks"]
                if (e2e.user_frame(l, "leaky") or {}).get("function") ==
                function]

    def test_sites_are_symbolized_to_user_functions(self):
        direct = self._leaks_in("leak_direct")
        self.assertEqual(1, len(direct), self.report["leaks"])
        self.assertEqual((300, 3), (direct[0]["bytes"], direct[0]["blocks"]))
        self.assertEqual("definite", direct[0]["kind"])
        frame = e2e.user_frame(direct[0], "leaky")
        self.assertTrue(frame["file"].endswith("leaky.c"), frame)
        self.assertEqual(30, frame["line"])  # the malloc in leak_direct

        name = self._leaks_in("make_name")
        self.assertEqual([(14, 1)], [(l["bytes"], l["blocks"]) for l in name])
        # strdup allocates inside libc; the stack continues to our caller.
        self.assertIn("strdup", " ".join(e2e.functions(name[0])[:2]))

        lst = self._leaks_in("leak_list")
        kinds = sorted((l["kind"], l["bytes"], l["blocks"]) for l in lst)
        self.assertEqual([("definite", 48, 1), ("indirect", 192, 4)], kinds)

        pin = self._leaks_in("pin_top")
        self.assertEqual([("reachable", 40, 1)],
                         [(l["kind"], l["bytes"], l["blocks"]) for l in pin])
        for l in self.report["leaks"]:
            fns = e2e.functions(l)
            self.assertIn("main", fns, l)

    def test_text_report_names_sites(self):
        r = subprocess.run([e2e.HEAPLENS(), "report", self.trace],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("leak_direct", r.stdout)
        self.assertIn("leaky.c:30", r.stdout)
        self.assertIn("definitely lost: 362 bytes in 5 blocks", r.stdout)
        # Reachable blocks are hidden from the loss records by default (the
        # HEAP LAYOUT section after them may name any live chunk's site).
        leaks_part = r.stdout.split("HEAP LAYOUT:")[0]
        self.assertNotIn("keep_config", leaks_part)
        self.assertIn("pins", r.stdout.split("HEAP LAYOUT:")[1])

    def test_run_subcommand(self):
        out = os.path.join(self.dir, "run.hlt")
        r = subprocess.run([e2e.HEAPLENS(), "run", "--preload", e2e.PRELOAD(),
                            "--output", out, "--", e2e.runfile("examples/leaky")],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("leaky: done", r.stdout)
        self.assertIn("leak_direct", r.stdout)
        self.assertTrue(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
