#!/usr/bin/env python3
"""End-to-end: trace examples/leaky under the preload, export it in every
format and read each export with the tool made for it:
  mtrace     glibc's `mtrace` script must list the same unfreed blocks
             (count, sizes, callers' source lines) as our JSON report;
  collapsed  the folded stacks must add up to the report's totals;
  massif     Valgrind's ms_print must render it and show the report's peak;
  pprof      gunzipped and decoded with our schema (protoc --decode with
             analyzer/export/profile.proto), its totals must be the report's.
"""
import gzip
import collections
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import e2e_lib as e2e  # noqa: E402


def export(trace, fmt, *flags, text=True):
    r = subprocess.run([e2e.HEAPLENS(), "export", "--format=" + fmt, *flags,
                        trace], capture_output=True, text=text, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"heaplens export --format={fmt} exited "
                             f"{r.returncode}: {r.stderr}")
    return r.stdout


class ExportsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = e2e.tmpdir()
        cls.trace = os.path.join(cls.dir, "leaky.hlt")
        cls.leaky = e2e.runfile("examples/leaky")
        r = e2e.run_traced([cls.leaky], cls.trace)
        assert r.returncode == 0, r.stderr
        cls.report = e2e.report_json(cls.trace, "--show=reachable")
        cls.summary = cls.report["summary"]

    # mtrace ---------------------------------------------------------------

    @unittest.skipUnless(shutil.which("mtrace"), "glibc's mtrace not found")
    def test_glibc_mtrace_lists_the_unfreed_blocks(self):
        path = os.path.join(self.dir, "leaky.mtrace")
        export(self.trace, "mtrace", "--output", path)
        with open(path) as f:
            first = f.readline()
        self.assertEqual("= Start\n", first)
        r = subprocess.run(["mtrace", self.leaky, path], capture_output=True,
                           text=True, timeout=300)
        # The script exits 1 when memory was not freed.
        self.assertEqual(1, r.returncode, r.stdout + r.stderr)
        self.assertIn("Memory not freed:", r.stdout)
        blocks = []  # (address, size, caller)
        for line in r.stdout.splitlines():
            m = re.match(r"^(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+at (.*)$", line)
            if m:
                blocks.append((int(m.group(1), 16), int(m.group(2), 16),
                               m.group(3)))
        self.assertNotIn("was never alloc'd", r.stdout)
        self.assertNotIn("duplicate", r.stdout)
        # Same blocks as the report: count, bytes, distinct addresses.
        self.assertEqual(self.summary["unfreed_blocks"], len(blocks), r.stdout)
        self.assertEqual(self.summary["unfreed_bytes"],
                         sum(b[1] for b in blocks))
        self.assertEqual(len(blocks), len({b[0] for b in blocks}))
        # The callers in leaky.c, resolved by the script through addr2line,
        # carry the same bytes as the report's sites.
        ours = collections.Counter()
        for leak in self.report["leaks"]:
            top = leak["stack"][0] if leak["stack"] else {}
            if top.get("file", "").endswith("leaky.c"):
                ours[top["line"]] += leak["bytes"]
        theirs = collections.Counter()
        for _, size, caller in blocks:
            m = re.search(r"leaky\.c:(\d+)", caller)
            if m:
                theirs[int(m.group(1))] += size
        self.assertEqual({30: 300, 42: 240, 51: 64, 56: 40}, dict(ours))
        self.assertEqual(ours, theirs, r.stdout)

    def test_mtrace_event_lines(self):
        text = export(self.trace, "mtrace")
        lines = text.splitlines()
        self.assertEqual("= Start", lines[0])
        self.assertEqual("= End", lines[-1])
        plus = sum(1 for l in lines if re.search(r"(^| )\+ 0x", l))
        minus = sum(1 for l in lines if l.startswith("- 0x"))
        realloc = sum(1 for l in lines if re.search(r"(^| )> 0x", l))
        self.assertEqual(self.summary["total_allocations"], plus + realloc)
        self.assertEqual(self.summary["total_frees"], minus + realloc)

    # collapsed ------------------------------------------------------------

    def _folded(self, *flags):
        total = 0
        lines = export(self.trace, "collapsed", *flags).splitlines()
        for line in lines:
            stack, _, value = line.rpartition(" ")
            self.assertTrue(stack, line)
            total += int(value)
        return lines, total

    def test_collapsed_leaked(self):
        lines, total = self._folded()
        s = self.summary
        self.assertEqual(s["definite_bytes"] + s["indirect_bytes"] +
                         s["possible_bytes"], total)
        self.assertIn("main;leak_direct 300", "\n".join(lines))
        self.assertTrue(any(l.startswith("_start;") for l in lines), lines)

    def test_collapsed_allocated_and_live(self):
        _, allocated = self._folded("--what=allocated")
        self.assertEqual(self.summary["total_bytes_allocated"], allocated)
        _, live = self._folded("--what=live")
        self.assertEqual(self.summary["unfreed_bytes"], live)
        lines, _ = self._folded("--what=allocated", "--lines")
        self.assertIn("churn_and_pin (leaky.c:64) 10000000", "\n".join(lines))

    def test_collapsed_is_deterministic(self):
        self.assertEqual(export(self.trace, "collapsed", "--what=allocated"),
                         export(self.trace, "collapsed", "--what=allocated"))

    # massif ---------------------------------------------------------------

    @unittest.skipUnless(shutil.which("ms_print"), "ms_print (valgrind) not found")
    def test_ms_print_renders_the_peak(self):
        path = os.path.join(self.dir, "massif.out")
        export(self.trace, "massif", "--output", path)
        with open(path) as f:
            text = f.read()
        # The peak snapshot carries the report's peak of live bytes.
        peak = re.search(r"mem_heap_B=(\d+)\nmem_heap_extra_B=\d+\n"
                         r"mem_stacks_B=0\nheap_tree=peak\n", text)
        self.assertIsNotNone(peak, text[:2000])
        self.assertEqual(self.summary["peak_live_bytes"], int(peak.group(1)))
        n = len(re.findall(r"^snapshot=", text, re.M))
        self.assertGreaterEqual(n, 50)
        self.assertLessEqual(n, 102)
        r = subprocess.run(["ms_print", path], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("(peak)", r.stdout)
        self.assertIn(f"{self.summary['peak_live_bytes']:,}", r.stdout)
        self.assertIn("churn_and_pin (leaky.c:64)", r.stdout)
        self.assertIn(f"Number of snapshots: {n}", r.stdout)

    def test_massif_bytes_clock(self):
        text = export(self.trace, "massif", "--clock=bytes", "--snapshots=20")
        self.assertIn("time_unit: B\n", text)
        times = [int(t) for t in re.findall(r"^time=(\d+)$", text, re.M)]
        self.assertEqual(sorted(times), times)
        s = self.summary
        # The clock ends at the bytes allocated plus the bytes freed.
        freed = s["total_bytes_allocated"] - s["unfreed_bytes"]
        self.assertEqual(s["total_bytes_allocated"] + freed, times[-1])

    # pprof ----------------------------------------------------------------

    @unittest.skipUnless(shutil.which("protoc"), "protoc not found")
    def test_pprof_decodes_with_our_schema(self):
        path = os.path.join(self.dir, "heap.pb.gz")
        export(self.trace, "pprof", "--output", path)
        with open(path, "rb") as f:
            raw = gzip.decompress(f.read())
        schema = e2e.runfile("analyzer/export/profile.proto")
        root = os.path.dirname(os.path.dirname(os.path.dirname(schema)))
        r = subprocess.run(
            ["protoc", "--proto_path=" + root,
             "--decode=perftools.profiles.Profile",
             "analyzer/export/profile.proto"],
            input=raw, capture_output=True, timeout=120)
        self.assertEqual(0, r.returncode, r.stderr)
        text = r.stdout.decode()
        strings = [eval(m) for m in  # noqa: S307 (protoc's quoted strings)
                   re.findall(r'^string_table: (".*")$', text, re.M)]
        self.assertEqual("", strings[0])
        types = [strings[int(t)] for t in
                 re.findall(r"^sample_type \{\n  type: (\d+)", text, re.M)]
        self.assertEqual(["alloc_objects", "alloc_space", "inuse_objects",
                          "inuse_space", "leaked_objects", "leaked_space"],
                         types)
        totals = [0] * len(types)
        for block in re.findall(r"^sample \{\n(.*?)^\}", text, re.M | re.S):
            values = [int(v) for v in re.findall(r"value: (-?\d+)", block)]
            self.assertEqual(len(types), len(values), block)
            totals = [a + b for a, b in zip(totals, values)]
        s = self.summary
        self.assertEqual(dict(zip(types, totals)), {
            "alloc_objects": s["total_allocations"],
            "alloc_space": s["total_bytes_allocated"],
            "inuse_objects": s["unfreed_blocks"],
            "inuse_space": s["unfreed_bytes"],
            "leaked_objects": s["definite_blocks"] + s["indirect_blocks"] +
            s["possible_blocks"],
            "leaked_space": s["definite_bytes"] + s["indirect_bytes"] +
            s["possible_bytes"],
        })
        for fn in ("leak_direct", "leak_list", "main"):
            self.assertIn(fn, strings)
        self.assertTrue(any(x.endswith("leaky.c") for x in strings))
        self.assertIn("mapping {", text)
        self.assertTrue(any(x.endswith("examples/leaky") for x in strings))

    def test_pprof_refuses_a_terminal_only(self):
        r = subprocess.run([e2e.HEAPLENS(), "export", "--format=pprof",
                            self.trace], capture_output=True, timeout=120)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(b"\x1f\x8b", r.stdout[:2])  # piped: gzip bytes

    # usage ----------------------------------------------------------------

    def test_usage_errors_say_what_to_do(self):
        for args, needle in [
            (["export", self.trace], "--format="),
            (["export", "--format=nope", self.trace], "use "),
            (["export", "--format=collapsed"], "no trace file given"),
            (["export", "--format=collapsed", "--what=x", self.trace],
             "leaked, allocated or live"),
        ]:
            r = subprocess.run([e2e.HEAPLENS(), *args], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(2, r.returncode, args)
            self.assertIn(needle, r.stderr, args)

    def test_help(self):
        r = subprocess.run([e2e.HEAPLENS(), "export", "--help"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(0, r.returncode)
        self.assertIn("Examples:", r.stdout)
        self.assertIn("--format=", r.stdout)


if __name__ == "__main__":
    unittest.main()
