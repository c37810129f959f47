#!/usr/bin/env python3
"""End-to-end: `heaplens gate` and `heaplens run --gate` on examples/leaky
and examples/clean traced under the preload. Exit codes for clean, leaky,
suppressed, baselined, budgeted and corrupt inputs; suppression hit counts;
JUnit and SARIF checked against their schemas; byte-identical outputs."""
import glob
import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
for root in (os.environ.get("TEST_SRCDIR"), os.environ.get("RUNFILES_DIR")):
    if root:
        sys.path.insert(0, os.path.join(root, "heaplens", "tests", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2e_lib as e2e  # noqa: E402
import junit_check  # noqa: E402
import schema_check  # noqa: E402

# examples/leaky (see tests/e2e/leaky_report_test.py).
DEFINITE = 362
INDIRECT = 192


def gate(*args, cwd=None):
    r = subprocess.run([e2e.HEAPLENS(), "gate", *args], capture_output=True,
                       text=True, timeout=300, cwd=cwd)
    return r.returncode, r.stderr


class GateTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = e2e.tmpdir()
        cls.leaky = os.path.join(cls.dir, "leaky.hlt")
        r = e2e.run_traced([e2e.runfile("examples/leaky")], cls.leaky)
        assert r.returncode == 0, r.stderr
        cls.clean_dir = os.path.join(cls.dir, "clean")
        os.mkdir(cls.clean_dir)
        r = e2e.run_traced([e2e.runfile("examples/clean")],
                           os.path.join(cls.clean_dir, "clean.%p.hlt"))
        assert r.returncode == 0, r.stderr
        cls.clean = sorted(glob.glob(os.path.join(cls.clean_dir, "*.hlt")))
        assert len(cls.clean) == 2, cls.clean  # parent and forked child

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        return p

    # Exit codes.

    def test_clean_passes(self):
        rc, err = gate(*self.clean)
        self.assertEqual(0, rc, err)
        self.assertIn("2 processes", err)
        self.assertIn("PASSED", err)

    def test_directory_and_glob(self):
        rc, err = gate(self.clean_dir)
        self.assertEqual(0, rc, err)
        self.assertIn("2 processes", err)
        rc, err = gate(os.path.join(self.clean_dir, "*.hlt"))
        self.assertEqual(0, rc, err)
        self.assertIn("2 processes", err)
        rc, err = gate(self.leaky, self.clean_dir)
        self.assertEqual(1, rc, err)
        self.assertIn("3 processes", err)

    def test_leaky_fails_with_sites(self):
        rc, err = gate(self.leaky)
        self.assertEqual(1, rc, err)
        self.assertIn("FAIL leaky", err)
        self.assertIn("leak_direct (leaky.c:30)", err)
        self.assertIn(f"definite bytes {DEFINITE} > 0", err)
        self.assertIn(f"indirect bytes {INDIRECT} > 0", err)

    def test_corrupt_and_missing_traces_exit_2_naming_the_file(self):
        bad = self.write("corrupt.hlt", "this is not a trace\n")
        rc, err = gate(bad)
        self.assertEqual(2, rc, err)
        self.assertIn(bad, err)
        self.assertIn("byte 0", err)
        # Truncated in the middle of the header packet.
        with open(self.leaky, "rb") as f:
            head = f.read(5)
        trunc = self.path("truncated.hlt")
        with open(trunc, "wb") as f:
            f.write(head)
        rc, err = gate(trunc)
        self.assertEqual(2, rc, err)
        self.assertIn(trunc, err)
        rc, err = gate(self.path("missing.hlt"))
        self.assertEqual(2, rc, err)
        self.assertIn("missing.hlt", err)
        # A readable clean trace does not hide the unreadable one.
        rc, err = gate(self.clean[0], bad)
        self.assertEqual(2, rc, err)

    def test_usage_errors_exit_2(self):
        for args in (["--no-such-flag", self.leaky],
                     ["--fail-on=definite,lost", self.leaky],
                     ["--max-possible-bytes=10", self.leaky],
                     ["--suppressions", self.path("nope.supp"), self.leaky],
                     ["--baseline", self.path("nope.base"), self.leaky],
                     [self.path("empty_dir_that_is_missing/*.hlt")],
                     []):
            rc, err = gate(*args)
            self.assertEqual(2, rc, (args, err))
        rc, err = gate("--max-possible-bytes=10", self.leaky)
        self.assertIn("possible is not in --fail-on", err)
        bad = self.write("bad.supp", "leak:ok\nrace:foo\n")
        rc, err = gate("--suppressions", bad, self.leaky)
        self.assertEqual(2, rc, err)
        self.assertIn("bad.supp:2: unsupported suppression type 'race'", err)

    # Policy and budgets.

    def test_budgets(self):
        total = DEFINITE + INDIRECT
        self.assertEqual(0, gate("--max-bytes", str(total), self.leaky)[0])
        self.assertEqual(1, gate("--max-bytes", str(total - 1), self.leaky)[0])
        self.assertEqual(0, gate("--max-blocks=9", self.leaky)[0])
        self.assertEqual(1, gate("--max-blocks=8", self.leaky)[0])
        self.assertEqual(0, gate("--fail-on=definite",
                                 f"--max-definite-bytes={DEFINITE}",
                                 self.leaky)[0])
        rc, err = gate("--fail-on=definite",
                       f"--max-definite-bytes={DEFINITE - 1}", self.leaky)
        self.assertEqual(1, rc)
        self.assertIn(f"definite bytes {DEFINITE} > {DEFINITE - 1} "
                      "(--max-definite-bytes)", err)
        # Indirect has no allowance of its own and no shared budget: 0.
        self.assertEqual(1, gate(f"--max-definite-bytes={DEFINITE}",
                                 self.leaky)[0])

    def test_fail_on_reachable_and_possible(self):
        suppress_all = self.write("all.supp", "leak:main\n")
        self.assertEqual(0, gate("--suppressions", suppress_all, self.leaky)[0])
        rc, err = gate("--fail-on=reachable", self.leaky)
        self.assertEqual(1, rc, err)
        self.assertIn("reachable bytes 104 > 0", err)
        self.assertEqual(0, gate("--fail-on=possible", self.leaky)[0])

    def test_graphless_trace_lists_unfreed_but_passes_by_default(self):
        trace = self.path("killed.hlt")
        env = dict(os.environ, LD_PRELOAD=e2e.PRELOAD(), MALLOC_TRACE=trace)
        p = subprocess.Popen(
            [sys.executable, "-c",
             "import sys,time; x=[str(i)*10 for i in range(2000)]; "
             "print('ready', flush=True); time.sleep(60)"],
            env=env, stdout=subprocess.PIPE)
        self.assertEqual(b"ready\n", p.stdout.readline())
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(0.1)
        rc, err = gate(trace)
        self.assertEqual(0, rc, err)
        self.assertIn("no heap graph", err)
        self.assertIn("unfreed, not gated", err)
        rc, err = gate("--fail-on=definite,indirect,unfreed", trace)
        self.assertEqual(1, rc, err)

    # Suppressions.

    def test_suppressions_hide_with_hit_counts(self):
        supp = self.write("leaky.supp", "\n".join([
            "# both syntaxes",
            "leak:leak_direct",
            "leak:^leak_list$",
            "leak:nothing_matches_this",
            "{",
            "   leaky_make_name",
            "   Memcheck:Leak",
            "   match-leak-kinds: definite",
            "   fun:malloc",
            "   fun:strdup",
            "   fun:make_name",
            "   ...",
            "}",
            ""]))
        rc, err = gate("--suppressions", supp, self.leaky)
        self.assertEqual(0, rc, err)
        self.assertIn(f"leak:leak_direct ({supp}:2): hid 1 leak, 300 B in "
                      "3 blocks", err)
        self.assertIn(f"leak:^leak_list$ ({supp}:3): hid 2 leaks, 240 B in "
                      "5 blocks", err)
        self.assertIn(f"{{leaky_make_name}} ({supp}:5): hid 1 leak, 14 B in "
                      "1 block", err)
        self.assertIn(f"unused: leak:nothing_matches_this ({supp}:4) matched "
                      "no leak", err)

    def test_non_matching_suppressions_hide_nothing(self):
        supp = self.write("nomatch.supp", "\n".join([
            "leak:^leak$",          # anchored: no function is exactly "leak"
            "leak:leak_direct_x",   # longer than the real name
            "{",
            "   wrong_order",
            "   Memcheck:Leak",
            "   fun:main",
            "   fun:leak_direct",
            "}",
            "{",
            "   other_kind",
            "   Memcheck:Leak",
            "   match-leak-kinds: possible",
            "   ...",
            "   fun:main",
            "}",
            ""]))
        rc0, err0 = gate(self.leaky)
        rc, err = gate("--suppressions", supp, self.leaky)
        self.assertEqual(1, rc, err)
        self.assertEqual(err0.splitlines()[1], err.splitlines()[1])
        self.assertNotIn(" hid ", err)
        self.assertEqual(4, err.count("matched no leak"), err)
        self.assertIn(f"definite bytes {DEFINITE} > 0", err)

    # Baselines.

    def test_baseline(self):
        base = self.path("leaky.baseline")
        rc, err = gate("--write-baseline", base, self.leaky)
        self.assertEqual(0, rc, err)
        self.assertIn("wrote 3 leak sites", err)
        with open(base) as f:
            text = f.read()
        self.assertIn("leak_direct@leaky; main@leaky\t# definite: 300 B", text)
        self.assertIn("make_name@leaky; main@leaky\t", text)
        self.assertNotIn("0x", text)  # no addresses
        self.assertNotIn("leaky.c", text)  # no files or lines
        rc, err = gate("--baseline", base, self.leaky)
        self.assertEqual(0, rc, err)
        self.assertIn("no entry fixed", err)
        # One site missing from the baseline, one baselined site now fixed.
        edited = self.write("edited.baseline", text.replace(
            "leak_direct@leaky; main@leaky", "old_fixed_leak@leaky; main@leaky"))
        rc, err = gate("--baseline", edited, self.leaky)
        self.assertEqual(1, rc, err)
        self.assertIn("leak_direct (leaky.c:30)", err)
        self.assertIn("fixed: old_fixed_leak@leaky; main@leaky", err)
        self.assertEqual(2, gate("--baseline", base, "--write-baseline",
                                 self.path("x"), self.leaky)[0])

    def test_baseline_signature_stable_across_runs(self):
        other = self.path("leaky2.hlt")
        r = e2e.run_traced([e2e.runfile("examples/leaky")], other)
        self.assertEqual(0, r.returncode)
        a, b = self.path("a.baseline"), self.path("b.baseline")
        self.assertEqual(0, gate("--write-baseline", a, self.leaky)[0])
        self.assertEqual(0, gate("--write-baseline", b, other)[0])
        self.assertEqual(open(a).read(), open(b).read())

    # CI outputs.

    def outputs(self, *args):
        junit, sarif = self.path("g.xml"), self.path("g.sarif")
        rc, err = gate("--junit", junit, "--sarif", sarif, *args)
        with open(junit) as f:
            j = f.read()
        with open(sarif) as f:
            s = f.read()
        return rc, err, j, s, junit

    def test_junit_matches_schema(self):
        supp = self.write("mk.supp", "leak:make_name\n")
        rc, err, xml, _, path = self.outputs("--suppressions", supp,
                                             self.leaky, *self.clean)
        self.assertEqual(1, rc, err)
        root, errors = junit_check.check(path)
        self.assertEqual([], errors, xml)
        cases = root.findall("testsuite/testcase")
        self.assertEqual(3, len(cases))  # one per traced process
        leaky = [c for c in cases if c.get("classname") == "heaplens.leaky"]
        self.assertEqual(1, len(leaky))
        failures = leaky[0].findall("failure")
        # leak_direct, leak_list (definite head + indirect rest); make_name
        # is suppressed.
        self.assertEqual(3, len(failures))
        self.assertEqual({"definite", "indirect"},
                         {f.get("type") for f in failures})
        self.assertIn("suppressed by leak:make_name",
                      leaky[0].find("system-out").text)
        for c in cases:
            if c is not leaky[0]:
                self.assertIsNone(c.find("failure"))

    def test_sarif_matches_schema_and_points_at_user_source(self):
        supp = self.write("mk2.supp", "leak:make_name\n")
        rc, err, _, text, _ = self.outputs("--suppressions", supp, self.leaky)
        self.assertEqual(1, rc, err)
        doc = json.loads(text)
        with open(os.path.join(HERE, "sarif-2.1.0-trimmed.schema.json")) as f:
            schema = json.load(f)
        self.assertEqual([], schema_check.validate(doc, schema))
        try:
            import jsonschema  # python3-jsonschema, if installed
            jsonschema.validate(doc, schema)
        except ImportError:
            pass
        results = doc["runs"][0]["results"]
        self.assertEqual(4, len(results))  # one per leak site
        rules = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
        by_fn = {}
        for r in results:
            self.assertEqual(rules[r["ruleIndex"]], r["ruleId"])
            by_fn.setdefault(r["message"]["text"].split(" allocated at ")[1]
                             .split(" ")[0], []).append(r)
        direct = by_fn["leak_direct"][0]
        self.assertEqual("heaplens/definite-leak", direct["ruleId"])
        self.assertEqual("error", direct["level"])
        loc = direct["locations"][0]["physicalLocation"]
        self.assertTrue(loc["artifactLocation"]["uri"].endswith("leaky.c"), loc)
        self.assertEqual(30, loc["region"]["startLine"])
        # strdup runs in libc: the result sits at the caller in leaky.c.
        name = [r for r in results
                if "make_name" in r["message"]["text"]][0]
        loc = name["locations"][0]["physicalLocation"]
        self.assertTrue(loc["artifactLocation"]["uri"].endswith("leaky.c"))
        self.assertEqual(36, loc["region"]["startLine"])
        self.assertEqual("external", name["suppressions"][0]["kind"])
        self.assertEqual("note", name["level"])
        self.assertEqual({"heaplens/definite-leak", "heaplens/indirect-leak"},
                         {r["ruleId"] for r in results})

    def test_outputs_are_byte_identical(self):
        first = self.outputs(self.leaky, *self.clean)
        second = self.outputs(self.leaky, *self.clean)
        self.assertEqual(first[1], second[1])  # stderr summary
        self.assertEqual(first[2], second[2])  # JUnit
        self.assertEqual(first[3], second[3])  # SARIF

    # heaplens run --gate.

    def run_gate(self, *cmd, extra=()):
        out = os.path.join(e2e.tmpdir(), "t.%p.hlt")
        r = subprocess.run([e2e.HEAPLENS(), "run", "--gate", "--preload",
                            e2e.PRELOAD(), "--output", out, *extra, "--",
                            *cmd], capture_output=True, text=True, timeout=300)
        return r.returncode, r.stderr, os.path.dirname(out)

    def test_run_gate(self):
        rc, err, _ = self.run_gate(e2e.runfile("examples/leaky"))
        self.assertEqual(1, rc, err)
        self.assertIn("FAIL leaky", err)
        rc, err, d = self.run_gate(e2e.runfile("examples/clean"))
        self.assertEqual(0, rc, err)
        self.assertEqual(2, len(glob.glob(os.path.join(d, "t.*.hlt"))))
        self.assertIn("2 processes", err)
        junit = os.path.join(d, "j.xml")
        rc, err, _ = self.run_gate(e2e.runfile("examples/leaky"),
                                   extra=("--max-bytes=1000", "--junit",
                                          junit))
        self.assertEqual(0, rc, err)
        self.assertEqual([], junit_check.check(junit)[1])
        # The program's own failure wins over the gate's verdict.
        rc, err, _ = self.run_gate("/bin/sh", "-c", "exit 3")
        self.assertEqual(3, rc, err)


if __name__ == "__main__":
    unittest.main()
