#!/usr/bin/env python3
"""The HTML report of REAL traces in headless Chromium.

examples/pin_top and examples/leaky run under libheaplens.so with
MALLOC_TRACE; `heaplens report --format=html` renders their traces; Chromium
loads each page. The test fails on any JavaScript error (the page's
#heaplens-status), checks that the key elements are there and carry the
trace's facts (pin_top named as the pinner of ~98 MiB, leaky's leak sites in
the table and the flame graph), and saves screenshots (e2e_pin_top.png,
e2e_leaky.png, and full-page versions) to $TEST_UNDECLARED_OUTPUTS_DIR.

The browser helpers are those of html_report_browser_test.py; without
chromium the test prints "SKIPPED: chromium not installed" and passes."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import html_report_browser_test as bt  # noqa: E402

sys.path.insert(0, os.path.dirname(bt.runfile("tests/e2e/e2e_lib.py")))
import e2e_lib as e2e  # noqa: E402


def page_data(html_text):
    m = re.search(r'<script type="application/json" id="heaplens-data">(.*?)</script>', html_text, re.S)
    return json.loads(m.group(1))


class HtmlReportE2eTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="heaplens_html_e2e_", dir=os.environ.get("TEST_TMPDIR"))
        cls.out = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or cls.tmp
        exe = bt.find_chromium()
        if not exe:
            bt.install_chromium()
            exe = bt.find_chromium()
        cls.browser = bt.Browser(exe, cls.tmp) if exe else None
        cls.pages = {}

    def setUp(self):
        if self.browser is None:
            print("SKIPPED: chromium not installed (and apt-get install chromium failed)")
            self.skipTest("chromium not installed")

    def render(self, example):
        """Traces the example, renders its HTML report, loads it: (Dom, dom text, data, html size)."""
        if example in self.pages:
            return self.pages[example]
        trace = os.path.join(self.tmp, example + ".hlt")
        r = e2e.run_traced([e2e.runfile("examples/" + example)], trace)
        self.assertEqual(0, r.returncode, r.stderr)
        html_path = os.path.join(self.tmp, example + ".html")
        r = subprocess.run([e2e.HEAPLENS(), "report", "--format=html", "--output", html_path, trace],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("", r.stdout)
        with open(html_path, encoding="utf-8") as f:
            html_text = f.read()
        data = page_data(html_text)
        url = "file://" + html_path
        res, _ = self.browser.run(url, "--dump-dom", "--window-size=1400,2000")
        self.assertEqual(0, res.returncode, res.stderr.decode(errors="replace")[-2000:])
        dom_text = res.stdout.decode("utf-8", errors="replace")
        self.browser.run(url, "--screenshot=" + os.path.join(self.out, "e2e_%s.png" % example),
                         "--window-size=1400,2000")
        self.browser.run(url, "--screenshot=" + os.path.join(self.out, "e2e_%s_full.png" % example),
                         "--window-size=1400,4600")
        dom = bt.Dom(dom_text)
        status = dom.ids.get("heaplens-status")
        self.assertIsNotNone(status, "no status element")
        m = re.search(r'id="heaplens-status"[^>]*>([^<]*)<', dom_text)
        self.assertEqual("ok", status.get("data-status"), m.group(1) if m else dom_text[:500])
        stderr = res.stderr.decode(errors="replace")
        self.assertEqual([], [l for l in stderr.splitlines() if "Uncaught" in l or ("CONSOLE" in l and "rror" in l)])
        self.pages[example] = (dom, dom_text, data, len(html_text))
        return self.pages[example]

    def test_pin_top(self):
        dom, text, data, size = self.render("pin_top")
        for id_ in ("hl-timeline-svg", "hl-heapmap-peak", "hl-heapmap-end", "hl-frag-table", "hl-pinners",
                    "hl-flame-svg"):
            self.assertIn(id_, dom.ids)
        self.assertRegex(dom.text, r"40 B allocated in pin_top \(pin_top\.c:\d+\) pins 9\d\.\d MiB of free heap")
        # The data respects the schema's limits whatever the trace's size.
        for when in ("peak", "end"):
            self.assertLessEqual(len(data["heap_map"][when]["cells"]), 4000)
        self.assertIn("pinning", [c["state"] for c in data["heap_map"]["end"]["cells"]])
        self.assertLessEqual(len(data["fragmentation"]["timeline"]), 500)
        self.assertGreater(data["meta"]["events"], 400000)
        self.assertLess(size, 4 << 20)
        self.assertGreater(text.count("<rect"), 100)
        ms = int(dom.ids["heaplens-status"].get("data-render-ms", "0"))
        print("pin_top: page scripting %d ms, %d bytes of HTML" % (ms, size))
        self.assertLess(ms, bt.RENDER_BUDGET_MS)

    def test_leaky(self):
        dom, text, data, _ = self.render("leaky")
        for id_ in ("hl-leak-table", "hl-flame-svg", "hl-heapmap-end", "hl-timeline-svg"):
            self.assertIn(id_, dom.ids)
        self.assertIn("leak_direct", dom.text)
        self.assertIn("Definitely lost", dom.text)
        self.assertGreaterEqual(dom.classes.get("leak-row", 0), 4)
        self.assertGreaterEqual(dom.classes.get("fnode", 0), 4)
        kinds = {l["kind"] for l in data["leaks"]}
        self.assertTrue({"definite", "indirect"} <= kinds, kinds)
        self.assertEqual("all", data["flame"]["leaked"]["function"])
        self.assertEqual(data["summary"]["total_allocated_bytes"], data["flame"]["allocated"]["bytes"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
