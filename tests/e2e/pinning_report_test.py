#!/usr/bin/env python3
"""End-to-end: examples/pin_top allocates ~100 MB of 500 B blocks, one 40 B
block above them, and frees the 500 B blocks. The layout report must name
pin_top (the 40 B block's allocating function) as pinning ~100 MB of virtual
heap and say how much of it is still resident, matching the kernel."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as e2e  # noqa: E402
import heap_model_lib as hm  # noqa: E402

MB = 1000 * 1000


class PinningReportTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = e2e.tmpdir()
        cls.trace = os.path.join(cls.dir, "pin_top.hlt")
        r = e2e.run_traced([e2e.runfile("examples/pin_top")], cls.trace)
        assert r.returncode == 0, r.stderr
        assert b"pin_top: done" in r.stdout, r.stdout
        cls.marks = hm.printed_marks(r.stdout)
        cls.report = hm.layout_json(cls.trace)
        cls.pinning = cls.report["pinning"]

    def test_pin_top_is_the_top_pinner_of_about_100_mb(self):
        p = self.pinning
        self.assertGreater(p["pinned_bytes"], 95 * MB)
        self.assertLess(p["pinned_bytes"], 110 * MB)
        top = p["pinners"][0]
        self.assertEqual(40, top["size"])
        self.assertGreater(top["bytes_pinned"], 95 * MB)
        self.assertEqual(1, top["chunks_above"])
        self.assertGreaterEqual(top["cumulative_releasable"],
                                top["bytes_pinned"])
        frame = e2e.user_frame(top, "pin_top")
        self.assertIsNotNone(frame, top["stack"])
        self.assertEqual("pin_top", frame["function"])
        self.assertTrue(frame["file"].endswith("pin_top.c"), frame)
        self.assertIn("churn", e2e.functions(top))

    def test_resident_part_agrees_with_the_kernel(self):
        # At mark 2 (the end) the heap's Rss is the resident part of the
        # pinned bytes plus the live and top pages.
        marks = {m["id"]: m for m in self.report["fragmentation"]["marks"]}
        self.assertEqual({1, 2}, set(marks) & set(self.marks))
        for mid, (brk, rss) in self.marks.items():
            m = marks[mid]
            self.assertEqual(brk, int(m["brk"], 16), (mid, m))
            self.assertTrue(hm.close(m["brk_resident_bytes"], rss),
                            (mid, m["brk_resident_bytes"], rss))
        p = self.pinning
        self.assertLessEqual(p["resident_pinned_bytes"], p["pinned_bytes"])
        self.assertLessEqual(p["pinners"][0]["resident_pinned"],
                             marks[2]["brk_resident_bytes"])

    def test_worst_moment_and_peak(self):
        self.assertGreaterEqual(self.pinning["worst"]["pinned_bytes"],
                                self.pinning["pinned_bytes"])
        peak = self.report["fragmentation"]["peak"]
        self.assertGreater(peak["extent_bytes"], 95 * MB)
        self.assertGreater(peak["live_requested_bytes"], 99 * MB)
        self.assertEqual(200, len(self.report["fragmentation"]["timeline"]))

    def test_text_finding_names_pin_top(self):
        first = hm.layout_findings(self.trace)[0]
        self.assertRegex(
            first, r"^40 B allocated in pin_top \(pin_top\.c:\d+\) pins "
            r"9\d\.\d MiB of free heap \([\d.]+ [KMG]?i?B still resident\)$")


if __name__ == "__main__":
    unittest.main()
