#!/usr/bin/env python3
"""Faults and misuse under the preload (issue 9): no crash, no hang, no lost
data. Each mode of faults.c runs with the preload, untraced and traced, under
a timeout; traces must be readable. Trace-file faults (directory, missing
directory, read-only file, symlink, full disk, setuid) must leave the program
running normally with one clear message."""
import glob
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import e2e_lib as e2e  # noqa: E402

TIMEOUT = 120


def faults():
    return e2e.runfile("tests/robustness/faults")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "MALLOC_TRACE", "HEAPLENS_OPTIONS")}
    env.update(extra)
    return env


def run_traced_mode(mode):
    """Runs `faults MODE` traced to DIR/t.%p.hlt; returns (DIR, result)."""
    d = e2e.tmpdir()
    r = subprocess.run(
        [faults(), mode],
        env=clean_env(LD_PRELOAD=e2e.PRELOAD(),
                      MALLOC_TRACE=os.path.join(d, "t.%p.hlt")),
        capture_output=True, text=True, timeout=TIMEOUT)
    return d, r


class FaultModesTest(unittest.TestCase):
    """Concurrency, process and resource faults: same result as glibc."""

    def run_mode(self, mode):
        d = e2e.tmpdir()
        for traced in (False, True):
            env = clean_env(LD_PRELOAD=e2e.PRELOAD())
            if traced:
                env["MALLOC_TRACE"] = os.path.join(d, "t.%p.hlt")
            r = subprocess.run([faults(), mode], env=env, capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(0, r.returncode,
                             f"{mode} traced={traced}: {r.stderr[-3000:]}")
            self.assertEqual(f"ok {mode}\n", r.stdout)
        traces = glob.glob(os.path.join(d, "*.hlt"))
        self.assertTrue(traces)
        for t in traces:
            rep = subprocess.run([e2e.HEAPLENS(), "report", "--format=json", t],
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(0, rep.returncode, f"{t}: {rep.stderr[-2000:]}")
        shutil.rmtree(d)

    def test_fork_from_threaded_parent(self):
        self.run_mode("fork_threads")

    def test_fork_from_signal_handler(self):
        self.run_mode("fork_signal")

    def test_fork_interrupting_the_recorder(self):
        # A timer handler forks wherever it lands, mostly inside traced
        # malloc/free; each child returns from the handler, leaks 123 bytes
        # in leak_123() and exits. Every child trace must hold that leak.
        self.run_mode("fork_interrupts_malloc")
        d, r = run_traced_mode("fork_interrupts_malloc")
        self.assertEqual(0, r.returncode, r.stderr[-3000:])
        parent_pid = None
        children = []
        for t in glob.glob(os.path.join(d, "t.*")):
            rep = e2e.report_json(t)
            if rep["trace"]["ppid"] == os.getpid():
                parent_pid = rep["trace"]["pid"]
            else:
                children.append(rep)
        self.assertIsNotNone(parent_pid)
        self.assertEqual(20, len(children))
        for rep in children:
            self.assertEqual(parent_pid, rep["trace"]["ppid"])
            self.assertEqual("exit", rep["summary"]["exit_reason"])
            mine = [l for l in rep["leaks"]
                    if e2e.functions(l)[:1] == ["leak_123"]]
            self.assertEqual([(123, 1)], [(l["bytes"], l["blocks"])
                                          for l in mine], rep["trace"])

    def test_malloc_in_signal_handler(self):
        self.run_mode("signal_malloc")

    def test_vfork_exec_and_posix_spawn(self):
        self.run_mode("spawn")

    def test_threads_exit_while_others_free(self):
        self.run_mode("thread_exit")

    def test_rlimit_as(self):
        self.run_mode("rlimit_as")

    def test_rlimit_data(self):
        self.run_mode("rlimit_data")


class ExecTest(unittest.TestCase):
    """A traced process that execs: its trace ends with reason "exec" and
    keeps its blocks as unfreed; the new image (same pid) writes its own
    file instead of overwriting it."""

    def test_exec_keeps_pre_exec_trace(self):
        d, r = run_traced_mode("exec_self")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("ok exec_self\n", r.stdout)
        traces = sorted(glob.glob(os.path.join(d, "t.*")))
        self.assertEqual(2, len(traces), traces)
        reasons = {}
        for t in traces:
            rep = e2e.report_json(t)
            reasons[rep["summary"]["exit_reason"]] = rep
        self.assertEqual({"exec", "exit"}, set(reasons), traces)
        pre = reasons["exec"]
        self.assertFalse(pre["summary"]["has_heap_graph"])
        # The 77 + 33 bytes exec_self still held when the image was
        # replaced are reported as unfreed, at their allocation site.
        mine = [l for l in pre["leaks"]
                if e2e.functions(l)[:1] == ["exec_self"]]
        self.assertEqual(["unfreed"], sorted({l["kind"] for l in mine}))
        self.assertEqual((110, 2), (sum(l["bytes"] for l in mine),
                                    sum(l["blocks"] for l in mine)))


class MisuseTest(unittest.TestCase):
    """Double and invalid frees: no corruption, recorded, reported, and an
    option aborts like glibc."""

    def traced_report(self, mode):
        d = e2e.tmpdir()
        trace = os.path.join(d, "t.hlt")
        r = e2e.run_traced([faults(), mode], trace, timeout=TIMEOUT, text=True)
        self.assertEqual(0, r.returncode, r.stderr[-3000:])
        self.assertEqual(f"ok {mode}\n", r.stdout)
        return e2e.report_json(trace)

    def test_double_free_reported(self):
        rep = self.traced_report("double_free")
        bad = rep.get("invalid_frees", [])
        self.assertGreaterEqual(len(bad), 1, rep)
        fns = " ".join(f.get("function", "") for b in bad
                       for f in b.get("stack", []))
        self.assertIn("double_free", fns)

    def test_invalid_frees_reported(self):
        rep = self.traced_report("invalid_free")
        bad = rep.get("invalid_frees", [])
        # free(static), free(interior), realloc(freed): three bad calls.
        self.assertGreaterEqual(sum(b.get("count", 1) for b in bad), 3, rep)

    def test_abort_option(self):
        r = subprocess.run(
            [faults(), "double_free"],
            env=clean_env(LD_PRELOAD=e2e.PRELOAD(),
                          HEAPLENS_OPTIONS="abort_on_invalid_free=1"),
            capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(-signal.SIGABRT, r.returncode, r.stderr)
        self.assertIn("free", r.stderr)


class TracePathFaultsTest(unittest.TestCase):
    """Bad MALLOC_TRACE targets: the program runs untraced after one message."""

    def run_with_trace(self, path):
        r = subprocess.run([faults(), "thread_exit"],
                           env=clean_env(LD_PRELOAD=e2e.PRELOAD(),
                                         MALLOC_TRACE=path),
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("ok thread_exit\n", r.stdout)
        msgs = [l for l in r.stderr.splitlines() if l.startswith("heaplens:")]
        self.assertEqual(1, len(msgs), r.stderr)
        return msgs[0]

    def test_directory(self):
        d = e2e.tmpdir()
        self.assertIn(d, self.run_with_trace(d))

    def test_missing_directory(self):
        d = e2e.tmpdir()
        p = os.path.join(d, "no", "such", "dir", "t.hlt")
        self.assertIn("t.hlt", self.run_with_trace(p))
        self.assertFalse(os.path.exists(os.path.dirname(p)))

    def test_symlink_not_followed(self):
        d = e2e.tmpdir()
        target = os.path.join(d, "victim")
        with open(target, "w") as f:
            f.write("precious\n")
        link = os.path.join(d, "t.hlt")
        os.symlink(target, link)
        self.run_with_trace(link)
        with open(target) as f:
            self.assertEqual("precious\n", f.read())

    def test_read_only_file(self):
        if os.geteuid() == 0:
            # root ignores file modes; use a read-only bind... an immutable
            # parent is not portable either, so check the message path with
            # a file in a read-only mounted place if we can make one.
            d = e2e.tmpdir()
            ro = os.path.join(d, "ro")
            os.mkdir(ro)
            if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k",
                               "tmpfs", ro], capture_output=True).returncode:
                self.skipTest("cannot mount a read-only tmpfs here")
            try:
                self.run_with_trace(os.path.join(ro, "t.hlt"))
            finally:
                subprocess.run(["umount", ro])
            return
        d = e2e.tmpdir()
        p = os.path.join(d, "t.hlt")
        open(p, "w").close()
        os.chmod(p, 0o400)
        self.run_with_trace(p)

    def test_trace_file_mode_is_private(self):
        d = e2e.tmpdir()
        p = os.path.join(d, "t.hlt")
        r = e2e.run_traced([faults(), "thread_exit"], p, timeout=TIMEOUT)
        self.assertEqual(0, r.returncode)
        self.assertEqual(0o600, stat.S_IMODE(os.stat(p).st_mode))

    def test_disk_full(self):
        d = e2e.tmpdir()
        small = os.path.join(d, "small")
        os.mkdir(small)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                           small], capture_output=True).returncode:
            self.skipTest("cannot mount a small tmpfs here")
        try:
            p = os.path.join(small, "t.hlt")
            msg = self.run_with_trace(p)
            self.assertIn("t.hlt", msg)
            rep = e2e.report_json(p)
            notes = json.dumps(rep["summary"].get("notes", []))
            self.assertRegex(notes, "(?i)cut short|truncated|stopped|space")
        finally:
            subprocess.run(["umount", small])

    def test_setuid_program_is_not_traced(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to make a setuid binary")
        # ld.so ignores LD_PRELOAD for setuid programs, so link the library
        # directly; the secure process must still ignore MALLOC_TRACE.
        d = tempfile.mkdtemp(prefix="heaplens-secure-", dir="/tmp")
        try:
            os.chmod(d, 0o755)
            lib = os.path.join(d, "libheaplens.so")
            shutil.copy(e2e.PRELOAD(), lib)
            os.chmod(lib, 0o755)
            src = os.path.join(d, "p.c")
            with open(src, "w") as f:
                f.write('#include <stdlib.h>\n#include <stdio.h>\n'
                        'int main(void){void*p=malloc(10);free(p);'
                        'puts("ran");return 0;}\n')
            exe = os.path.join(d, "p")
            subprocess.run(["gcc", "-o", exe, src, lib, f"-Wl,-rpath,{d}"],
                           check=True)
            shutil.chown(exe, user="nobody")
            os.chmod(exe, 0o4755)
            out = os.path.join(d, "secure.hlt")
            r = subprocess.run([exe], env=clean_env(MALLOC_TRACE=out),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual("ran\n", r.stdout, r.stderr)
            self.assertFalse(os.path.exists(out), "setuid program was traced")
            # Control: the same binary without the setuid bit is traced.
            os.chmod(exe, 0o755)
            r = subprocess.run([exe], env=clean_env(MALLOC_TRACE=out),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual("ran\n", r.stdout, r.stderr)
            self.assertTrue(os.path.exists(out), "control run not traced")
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    unittest.main()
