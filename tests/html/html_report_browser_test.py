#!/usr/bin/env python3
"""Renders the HTML report in headless Chromium (Debian's `chromium`).

For four data sets (tests/html/sample_data.json: every section and hostile
strings; a generated one at every size limit of docs/html_report.md; a killed
process with almost nothing; malformed values of every kind) it renders the page with //analyzer/html:render_sample,
loads it in headless Chromium, and checks from the DOM after the scripts ran:
the page reports "heaplens-ok" (any JavaScript error turns it into
"heaplens-error: ..."), the key elements are there, hostile strings are text
and never elements, and the render time is within budget. Screenshots go to
$TEST_UNDECLARED_OUTPUTS_DIR (report.png, report_max.png, report_minimal.png).

If chromium is missing it tries `apt-get install chromium`; if that fails the
test prints "SKIPPED: chromium not installed" and passes."""
import glob
import html
import html.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

_WS = "heaplens"
HERE = os.path.dirname(os.path.abspath(__file__))
RENDER_BUDGET_MS = 3000  # scripting time of the page at the schema's limits


def runfile(path):
    for root in (os.environ.get("TEST_SRCDIR"), os.environ.get("RUNFILES_DIR")):
        if root:
            p = os.path.join(root, _WS, path)
            if os.path.exists(p):
                return p
    for p in (os.path.join(HERE, "..", "..", path), os.path.join(HERE, "..", "..", "bazel-bin", path)):
        if os.path.exists(p):
            return os.path.abspath(p)
    raise FileNotFoundError(path)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def install_chromium():
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            return
        cmd = ["sudo", "-n"] + cmd
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    except (OSError, subprocess.SubprocessError):
        pass


class Dom(html.parser.HTMLParser):
    """Elements by id, tag counts, and the text of the document."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.ids = {}
        self.tags = {}
        self.classes = {}
        self.text = []
        self.raw = False
        self.feed(text)
        self.text = "".join(self.text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.raw = tag in ("script", "style")
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if "id" in a:
            self.ids[a["id"]] = a
        for c in (a.get("class") or "").split():
            self.classes[c] = self.classes.get(c, 0) + 1

    def handle_endtag(self, tag):
        self.raw = False

    def handle_data(self, data):
        if not self.raw:  # text nodes only, not the data or the code
            self.text.append(data)


class Browser:
    def __init__(self, exe, tmp):
        self.exe = exe
        self.tmp = tmp
        self.n = 0

    def run(self, url, *extra, timeout=180):
        self.n += 1
        profile = os.path.join(self.tmp, "profile%d" % self.n)
        cmd = [self.exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
               "--user-data-dir=" + profile, "--virtual-time-budget=10000"] + list(extra) + [url]
        env = dict(os.environ, HOME=self.tmp, XDG_CONFIG_HOME=self.tmp, XDG_CACHE_HOME=self.tmp)
        t0 = time.monotonic()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout)
        shutil.rmtree(profile, ignore_errors=True)
        return r, time.monotonic() - t0


class HtmlReportBrowserTest(unittest.TestCase):
    browser = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="heaplens_html_", dir=os.environ.get("TEST_TMPDIR"))
        cls.out = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or cls.tmp
        cls.render = runfile("analyzer/html/render_sample")
        cls.gen = runfile("tests/html/gen_data.py")
        exe = find_chromium()
        if not exe:
            install_chromium()
            exe = find_chromium()
        cls.browser = Browser(exe, cls.tmp) if exe else None
        cls.pages = {}

    def page(self, name):
        """Renders data set `name`, loads it, returns (Dom, dom text, stderr, seconds)."""
        if name in self.pages:
            return self.pages[name]
        data = os.path.join(self.tmp, name + ".json")
        if name == "sample":
            data = runfile("tests/html/sample_data.json")
        else:
            with open(data, "wb") as f:
                subprocess.run([sys.executable, self.gen, name], stdout=f, check=True)
        html_path = os.path.join(self.tmp, name + ".html")
        subprocess.run([self.render, data, html_path], check=True)
        url = "file://" + html_path
        r, secs = self.browser.run(url, "--dump-dom")
        self.assertEqual(0, r.returncode, r.stderr.decode(errors="replace")[-2000:])
        dom_text = r.stdout.decode("utf-8", errors="replace")
        shot = {"sample": "report.png"}.get(name, "report_%s.png" % name)
        self.browser.run(url, "--screenshot=" + os.path.join(self.out, shot), "--window-size=1400,2000")
        if name == "sample":  # the whole page, for a human to look at
            self.browser.run(url, "--screenshot=" + os.path.join(self.out, "report_full.png"), "--window-size=1400,4200")
        self.pages[name] = (Dom(dom_text), dom_text, r.stderr.decode(errors="replace"), secs)
        return self.pages[name]

    def setUp(self):
        if self.browser is None:
            print("SKIPPED: chromium not installed (and apt-get install chromium failed)")
            self.skipTest("chromium not installed")

    def assertIn(self, member, container, msg=None):
        if member not in container:
            self.fail(msg or "%r not found" % (member,))

    def assertNotIn(self, member, container, msg=None):
        if member in container:
            self.fail(msg or "%r unexpectedly found" % (member,))

    def assert_rendered_ok(self, name):
        dom, text, stderr, secs = self.page(name)
        status = dom.ids.get("heaplens-status")
        self.assertIsNotNone(status, "no status element")
        m = re.search(r'id="heaplens-status"[^>]*>([^<]*)<', text)
        self.assertEqual("ok", status.get("data-status"), m.group(1) if m else text[:500])
        uncaught = [l for l in stderr.splitlines() if "Uncaught" in l or ("CONSOLE" in l and "rror" in l)]
        self.assertEqual([], uncaught)
        return dom, text

    def test_sample_renders_every_section(self):
        dom, text = self.assert_rendered_ok("sample")
        for id_ in ("hl-timeline-svg", "hl-heapmap-peak", "hl-heapmap-end", "hl-heapmap-details", "hl-frag-table",
                    "hl-pinners", "hl-leak-table", "hl-flame-svg"):
            self.assertIn(id_, dom.ids)
        self.assertEqual(7, dom.classes.get("leak-row"))  # reachable rows hidden by default
        self.assertGreaterEqual(dom.classes.get("fnode", 0), 8)
        self.assertIn("pins 97.6 MiB of free heap", dom.text)
        self.assertIn("Definitely lost", dom.text)
        self.assertIn("peak 97.8 MiB at 1.20 s", dom.text)
        self.assertIn("The heap map at the peak aggregates", dom.text)
        self.assertGreater(text.count("<rect"), 300)

    def test_sample_hostile_strings_are_text(self):
        dom, text = self.assert_rendered_ok("sample")
        # The strings are on the page...
        self.assertIn("<script>alert(1)</script>", dom.text)
        self.assertIn("/src/<img src=x onerror=alert(2)>.cc:66", dom.text)
        self.assertIn("operator<<(std::ostream&, Matrix<float, 4> const&)", dom.text)
        self.assertIn("decoder-1 <b>bold</b>", dom.text)
        self.assertIn("--name=</script><b>x</b>", dom.text)
        # ...as escaped text, never as elements.
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", text)
        self.assertEqual(2, dom.tags.get("script"))  # the data and the page's own script
        self.assertNotIn("img", dom.tags)
        self.assertNotIn("<b>bold</b>", text)
        self.assertNotIn("<img", text)

    def test_sample_has_no_network_access(self):
        _, _, stderr, _ = self.page("sample")
        self.assertNotRegex(stderr, r"ERR_(BLOCKED|NAME_NOT_RESOLVED|INTERNET_DISCONNECTED|CONNECTION)")

    def test_sample_interactions(self):
        """Clicks and hovers with synthetic events (interaction_check.js)."""
        self.page("sample")
        with open(os.path.join(self.tmp, "sample.html"), encoding="utf-8") as f:
            page = f.read()
        with open(runfile("tests/html/interaction_check.js"), encoding="utf-8") as f:
            check = f.read().replace("</", "<\\/")  # stay inside the script element
        path = os.path.join(self.tmp, "sample_interactive.html")
        with open(path, "w", encoding="utf-8") as f:
            f.write(page.replace("</body>", "<script>" + check + "</script>\n</body>"))
        r, _ = self.browser.run("file://" + path, "--dump-dom", "--window-size=1400,2000")
        found = re.findall(r'<pre id="hl-selftest">(.*?)</pre>', r.stdout.decode("utf-8", errors="replace"), re.S)
        self.assertTrue(found, "the interaction check did not run")
        lines = html.unescape(found[-1]).splitlines()
        print("\n".join(lines))
        self.assertGreaterEqual(len(lines), 15)
        self.assertEqual([], [l for l in lines if not l.startswith("PASS")])

    def test_max_sizes_render_within_budget(self):
        dom, text = self.assert_rendered_ok("max")
        ms = int(dom.ids["heaplens-status"].get("data-render-ms", "0"))
        print("max data set: page scripting %d ms" % ms)
        self.assertLess(ms, RENDER_BUDGET_MS)
        self.assertEqual(375, dom.classes.get("leak-row"))  # 500 rows, the 125 reachable hidden
        self.assertIn("hl-flame-svg", dom.ids)
        self.assertIn("hl-heapmap-end", dom.ids)

    def test_malformed_data_renders_without_script_errors(self):
        dom, text = self.assert_rendered_ok("malformed")
        self.assertIn("data format version 2", dom.text)
        self.assertIn("<i>italic</i>", dom.text)
        self.assertNotIn("<i>italic</i>", text)
        self.assertNotIn("<img", text)

    def test_minimal_killed_process(self):
        dom, _ = self.assert_rendered_ok("minimal")
        self.assertIn("Unfreed at end", dom.text)
        self.assertIn("No heap map in this report.", dom.text)
        self.assertIn("No flame graph data in this report.", dom.text)
        self.assertIn("No timeline in this report.", dom.text)
        self.assertEqual(1, dom.classes.get("leak-row"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
