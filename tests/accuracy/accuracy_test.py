#!/usr/bin/env python3
"""Accuracy: heaplens vs. Valgrind memcheck on the corpus (examples/corpus/).

Every program runs under `valgrind --leak-check=full --show-leak-kinds=all
--xml=yes` (Valgrind's defaults otherwise: --leak-check-heuristics=all,
--run-libc-freeres=yes, --run-cxx-freeres=yes) and under heaplens
(LD_PRELOAD + MALLOC_TRACE with %p, then `heaplens report --format=json
--show=reachable`). Per process, the two results are reduced to
(kind, top user function) -> (bytes, blocks) (accuracy_lib.py), and:

  * heaplens' sites equal the program's known leaks exactly (CASES below);
  * Valgrind's sites equal heaplens' exactly, except the differences listed
    in `valgrind_differs`, each explained in docs/accuracy.md;
  * per kind, bytes and blocks of the two tools then agree except for those;
  * for every site both tools report, the first frame in the program's own
    module names the same function.

Run outside Bazel (after `bazel build //interposer:libheaplens.so
//analyzer:heaplens //examples/corpus/...`) with `--table` to print the
docs/accuracy.md table.
"""
import concurrent.futures
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy_lib as acc  # noqa: E402

C = "examples/corpus/"
D, I, P, R = "definite", "indirect", "possible", "reachable"

# name: argv (runfiles), extra valgrind flags, heaplens' expected sites per
# process, Valgrind's documented differences ((kind, fn) -> its value, None
# for absent), and notes for the table.
CASES = {
    "direct": dict(
        argv=[C + "direct"],
        heaplens={"main": {(D, "leak_mallocs"): (400, 4),
                           (D, "leak_calloc"): (256, 1),
                           (D, "leak_zero"): (0, 1)}}),
    "linked_list": dict(
        argv=[C + "linked_list"],
        heaplens={"main": {(D, "new_node"): (32, 1),
                           (I, "new_node"): (288, 9)}}),
    "global_reachable": dict(
        argv=[C + "global_reachable"],
        heaplens={"main": {(R, "keep_config"): (192, 2),
                           (R, "keep_static"): (48, 1),
                           (D, "leak_one"): (24, 1)}}),
    # glibc's DTVs of the two exited threads (their stacks stay cached) are
    # freed by __libc_freeres in both tools.
    "threads": dict(
        argv=[C + "threads"],
        heaplens={"main": {(D, "worker_a_leak"): (120, 3),
                           (D, "worker_b_leak"): (400, 2),
                           (R, "worker_b_leak"): (72, 1)}}),
    "realloc_chain": dict(
        argv=[C + "realloc_chain"],
        heaplens={"main": {(D, "grow_buffer"): (300, 1),
                           (R, "keep_grown"): (40, 1)}}),
    "unwritten": dict(
        argv=[C + "unwritten"],
        heaplens={"main": {(R, "keep_unwritten"): (768, 16),
                           (D, "leak_neighbours"): (768, 16)}},
        note="blocks never written hold no pointers (free-list residue)"),
    "memalign": dict(
        argv=[C + "memalign"],
        heaplens={"main": {(D, "leak_posix_memalign"): (100, 1),
                           (D, "leak_aligned_alloc"): (512, 1),
                           (D, "leak_memalign"): (1000, 1),
                           (R, "keep_aligned"): (200, 1)}}),
    "fork": dict(
        argv=[C + "fork"],
        valgrind_args=["--trace-children=yes"],
        heaplens={"main": {(D, "parent_leak"): (111, 1),
                           (R, "keep_shared"): (32, 1),
                           (R, "lose_before_fork"): (77, 1)},
                  # The child inherited g_shared's block: its size and stack
                  # come from the parent's trace.
                  "child": {(D, "child_leak"): (444, 2),
                            (R, "keep_shared"): (32, 1),
                            (D, "lose_before_fork"): (77, 1)}},
        note="child: inherited blocks from the parent's trace"),
    "million": dict(
        argv=[C + "million", "1000000"],
        heaplens={"main": {}},
        min_allocations=1000000),
    "interior": dict(
        argv=[C + "interior"],
        heaplens={"main": {(P, "keep_interior"): (64, 1),
                           (P, "keep_chain"): (72, 2),
                           # A pointer one past the requested end is no
                           # pointer into the block (as in Valgrind).
                           (D, "keep_one_past"): (24, 1)}}),
    "cycle": dict(
        argv=[C + "cycle"],
        heaplens={"main": {(D, "leak_ring"): (48, 1),
                           (I, "leak_ring"): (96, 2),
                           (D, "leak_pair"): (80, 1),
                           (I, "leak_pair"): (80, 1),
                           (D, "leak_self"): (56, 1)}}),
    "cxx_new": dict(
        argv=[C + "cxx_new"],
        heaplens={"main": {(D, "leak_object"): (24, 1),
                           (D, "leak_int_array"): (100, 1),
                           (D, "leak_obj_array"): (72, 1),
                           (D, "leak_string"): (32, 1),
                           (I, "leak_string"): (40, 1),
                           (R, "keep_string"): (83, 2)}}),
    "libc_frames": dict(
        argv=[C + "libc_frames"],
        heaplens={"main": {(D, "make_copy"): (20, 1),
                           (D, "format_msg"): (12, 1),
                           (D, "build_map"): (48, 1),
                           (I, "build_map"): (200, 5),
                           (D, "make_label"): (32, 1),
                           (I, "make_label"): (61, 1)}}),
    "plugin_host": dict(
        argv=[C + "plugin_host", C + "libcorpus_plugin.so"],
        valgrind_args=["--keep-debuginfo=yes"],
        heaplens={"main": {(D, "host_leak"): (64, 1),
                           (D, "plugin_leak"): (300, 2),
                           (D, "plugin_keep"): (90, 1)}}),
    "stdio_buffer": dict(
        argv=[C + "stdio_buffer"],
        # stdout's buffer is freed by __libc_freeres in both tools.
        heaplens={"main": {(D, "leak_after_printf"): (33, 1)}}),
    "heuristics": dict(
        argv=[C + "heuristics"],
        heaplens={"main": {(R, "keep_newarray"): (56, 1),
                           (R, "keep_length64"): (72, 1),
                           (R, "keep_second_base"): (32, 1),
                           (R, "keep_string_rep"): (35, 1),
                           (P, "keep_plain_interior"): (40, 1)}},
        note="Valgrind's default heuristics: newarray, length64, "
             "multipleinheritance, stdstring"),
}


def expected_valgrind(case, label):
    sites = dict(case["heaplens"].get(label, {}))
    for key, value in case.get("valgrind_differs", {}).get(label, {}).items():
        if value is None:
            sites.pop(key, None)
        else:
            sites[key] = value
    return sites


def totals_of(sites):
    t = {k: (0, 0) for k in acc.KINDS}
    for (kind, _), (b, n) in sites.items():
        t[kind] = (t[kind][0] + b, t[kind][1] + n)
    return t


def run_case(name, with_valgrind):
    case = CASES[name]
    argv = [acc.runfile(a) if i == 0 or a.startswith(C) else a
            for i, a in enumerate(case["argv"])]
    out = {"name": name}
    d = acc.tmpdir()
    out["hl"], out["hl_secs"], out["hl_run"] = acc.run_heaplens(
        argv, d, acc.runfile("interposer/libheaplens.so"),
        acc.runfile("analyzer/heaplens"))
    if with_valgrind:
        out["vg"], out["vg_secs"], out["vg_run"] = acc.run_valgrind(
            argv, d, case.get("valgrind_args", []))
    return out


_RESULTS = {}


def results():
    if not _RESULTS:
        with_vg = acc.valgrind_available() is not None
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            # The slowest first.
            order = sorted(CASES, key=lambda n: n != "million")
            for r in ex.map(lambda n: run_case(n, with_vg), order):
                _RESULTS[r["name"]] = r
    return _RESULTS


def _fmt(t):
    return f"{t[0]} B / {t[1]}"


def table():
    """The docs/accuracy.md table: per case and process, per kind, Valgrind's
    and heaplens' bytes / blocks."""
    lines = ["| program | process | kind | Valgrind | heaplens | |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in CASES:
        r = results()[name]
        labels = sorted(set(r["hl"]) | set(r.get("vg", {})))
        for label in labels:
            h = r["hl"].get(label)
            v = r.get("vg", {}).get(label)
            for kind in acc.KINDS:
                ht = h.totals[kind] if h else None
                vt = v.totals[kind] if v else None
                if ht == (0, 0) and vt == (0, 0) and kind != "definite":
                    continue
                mark = "=" if ht == vt else CASES[name].get(
                    "note", "differs (documented)")
                lines.append(f"| {name} | {label} | {kind} | "
                             f"{_fmt(vt) if vt else '-'} | "
                             f"{_fmt(ht) if ht else '-'} | {mark} |")
    return "\n".join(lines)


class AccuracyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.vg_version = acc.valgrind_available()
        cls.results = results()
        out = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR")
        if out:
            with open(os.path.join(out, "accuracy_table.md"), "w") as f:
                f.write(table() + "\n")

    def _check_runs(self, r):
        self.assertEqual(0, r["hl_run"].returncode, r["hl_run"].stderr)
        self.assertIn(b"done", r["hl_run"].stdout)
        if "vg_run" in r:
            self.assertEqual(0, r["vg_run"].returncode, r["vg_run"].stderr)

    def test_heaplens_matches_known_leaks(self):
        for name, case in CASES.items():
            r = self.results[name]
            with self.subTest(program=name):
                self._check_runs(r)
                self.assertEqual(sorted(case["heaplens"]), sorted(r["hl"]))
                for label, sites in case["heaplens"].items():
                    p = r["hl"][label]
                    self.assertEqual(sites, p.sites, f"{name}/{label}")
                    self.assertEqual(totals_of(sites), p.totals,
                                     f"{name}/{label}")
                    self.assertTrue(p.extra["has_heap_graph"])
                    self.assertEqual("exit", p.extra["exit_reason"])

    def test_valgrind_agrees(self):
        if not self.vg_version:
            self.skipTest("valgrind is not installed")
        for name, case in CASES.items():
            r = self.results[name]
            with self.subTest(program=name):
                self.assertEqual(sorted(case["heaplens"]), sorted(r["vg"]))
                for label in case["heaplens"]:
                    want = expected_valgrind(case, label)
                    v, h = r["vg"][label], r["hl"][label]
                    self.assertEqual(want, v.sites, f"{name}/{label}")
                    self.assertEqual(totals_of(want), v.totals)
                    if not case.get("valgrind_differs", {}).get(label):
                        self.assertEqual(v.totals, h.totals, f"{name}/{label}")

    def test_top_frames_agree(self):
        if not self.vg_version:
            self.skipTest("valgrind is not installed")
        for name in CASES:
            r = self.results[name]
            for label, h in r["hl"].items():
                v = r["vg"][label]
                for key in set(h.sites) & set(v.sites):
                    with self.subTest(program=name, process=label, site=key):
                        self.assertIsNotNone(key[1])
                        self.assertEqual(v.first_frames.get(key),
                                         h.first_frames.get(key))

    def test_million_allocations(self):
        case, r = CASES["million"], self.results["million"]
        p = r["hl"]["main"]
        self.assertGreaterEqual(p.extra["total_allocations"],
                                case["min_allocations"])
        self.assertEqual(p.extra["total_allocations"], p.extra["total_frees"])
        self.assertEqual((0, 0), (p.extra["unfreed_bytes"],
                                  p.extra["unfreed_blocks"]))


if __name__ == "__main__":
    if "--table" in sys.argv:
        print(table())
        for name in CASES:
            r = results()[name]
            print(f"<!-- {name}: heaplens {r['hl_secs']:.1f} s, "
                  f"valgrind {r.get('vg_secs', 0):.1f} s -->")
        sys.exit(0)
    unittest.main()
