#!/usr/bin/env python3
"""Real programs under the preload: output must be byte-identical to a run
without it, tracing off and tracing on, and every trace must be readable.

Each case runs the same command three ways (glibc, heaplens untraced,
heaplens traced) and compares exit status and stdout. The workloads are
small but allocation-heavy, so the suite stays within CI's time budget.
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import e2e_lib as e2e  # noqa: E402

PY_SCRIPT = r"""
import collections, json
d = {}
for i in range(200000):
    d[str(i)] = [i] * (i % 7)
s = sum(len(v) for v in d.values())
del d
c = collections.Counter(str(i % 1000) for i in range(300000))
print(s, len(c), json.dumps(sorted(c.items())[:5]))
"""

PERL_SCRIPT = r"""
my %h; for my $i (1..200000) { $h{"k$i"} = "v" x ($i % 50); }
my $n = 0; $n += length($h{$_}) for keys %h; undef %h;
my @a = map { [$_, "x" x ($_ % 30)] } 1..100000;
print "$n ", scalar(@a), "\n";
"""

SQL = """
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c REAL);
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM s WHERE i<50000)
INSERT INTO t SELECT i, printf('row-%d-%s', i, hex(randomblob(8))), i*1.5 FROM s;
CREATE INDEX tb ON t(b);
SELECT count(*), sum(c), min(a), max(a) FROM t WHERE a % 3 = 0;
"""

BASH_SCRIPT = r"""
declare -A m
for ((i=0;i<20000;i++)); do m[k$i]=$((i*i)); done
s=0; for k in "${!m[@]}"; do s=$((s+m[$k])); done
echo "$s ${#m[@]}"
"""

C_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
struct p { int x, y; };
int main(void) { struct p* v = calloc(100, sizeof *v); for (int i = 0; i < 100; i++) v[i].x = i;
  long s = 0; for (int i = 0; i < 100; i++) s += v[i].x; printf("%ld\n", s); free(v); return 0; }
"""


class RealProgramsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = e2e.tmpdir()
        # Inputs shared by the cases.
        cls.data = os.path.join(cls.dir, "data.txt")
        with open(cls.data, "w") as f:
            for i in range(200000):
                f.write(f"{(i * 7919) % 100003:06d} line {i}\n")
        cls.csrc = os.path.join(cls.dir, "prog.c")
        with open(cls.csrc, "w") as f:
            f.write(C_SOURCE)
        cls.repo = os.path.join(cls.dir, "repo")
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                   GIT_AUTHOR_DATE="2020-01-01T00:00:00",
                   GIT_COMMITTER_DATE="2020-01-01T00:00:00")
        subprocess.run(["git", "init", "-q", cls.repo], check=True, env=env)
        for i in range(30):
            with open(os.path.join(cls.repo, f"f{i}.txt"), "w") as f:
                f.write(f"file {i}\n" * (i + 1))
            subprocess.run(["git", "-C", cls.repo, "add", "."], check=True,
                           env=env)
            subprocess.run(["git", "-C", cls.repo, "commit", "-qm", f"c{i}"],
                           check=True, env=env)
        cls.git_env = env

    def run3(self, name, argv, stdin=None, env=None, cwd=None, timeout=300):
        """Runs argv plain, preloaded and traced; asserts identical results."""
        base_env = dict(env or os.environ)
        base_env.pop("LD_PRELOAD", None)
        base_env.pop("MALLOC_TRACE", None)

        def go(extra):
            e = dict(base_env, **extra)
            return subprocess.run(argv, input=stdin, env=e, cwd=cwd,
                                  capture_output=True, timeout=timeout)

        ref = go({})
        self.assertEqual(0, ref.returncode, ref.stderr[-2000:])
        pre = go({"LD_PRELOAD": e2e.PRELOAD()})
        self.assertEqual(ref.returncode, pre.returncode, pre.stderr[-2000:])
        self.assertEqual(ref.stdout, pre.stdout, f"{name}: untraced output")
        trace_dir = os.path.join(self.dir, "traces-" + name)
        os.makedirs(trace_dir, exist_ok=True)
        tr = go({"LD_PRELOAD": e2e.PRELOAD(),
                 "MALLOC_TRACE": os.path.join(trace_dir, "t.%p.hlt")})
        self.assertEqual(ref.returncode, tr.returncode, tr.stderr[-2000:])
        self.assertEqual(ref.stdout, tr.stdout, f"{name}: traced output")
        traces = glob.glob(os.path.join(trace_dir, "*.hlt"))
        self.assertTrue(traces, f"{name}: no trace written")
        for t in traces:
            r = subprocess.run([e2e.HEAPLENS(), "report", "--format=json", t],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(0, r.returncode,
                             f"{name}: report of {t}: {r.stderr[-2000:]}")
        shutil.rmtree(trace_dir)

    def test_python3(self):
        self.run3("python3", ["python3", "-c", PY_SCRIPT])

    def test_perl(self):
        self.run3("perl", ["perl", "-e", PERL_SCRIPT])

    def test_sqlite3(self):
        self.run3("sqlite3", ["sqlite3", ":memory:"], stdin=SQL.encode())

    def test_git(self):
        self.run3("git-log", ["git", "-C", self.repo, "log", "--stat",
                              "--format=%H %s"], env=self.git_env)
        self.run3("git-fsck", ["git", "-C", self.repo, "fsck", "--full"],
                  env=self.git_env)

    def test_gcc(self):
        out = os.path.join(self.dir, "prog")
        # gcc writes its output file; the assembler listing goes to stdout.
        self.run3("gcc", ["gcc", "-O2", "-S", "-o", "-", self.csrc])
        subprocess.run(["gcc", "-O2", "-o", out, self.csrc], check=True,
                       env=dict(os.environ, LD_PRELOAD=e2e.PRELOAD()))
        self.run3("gcc-built", [out])

    def test_bash_script(self):
        self.run3("bash", ["bash", "-c", BASH_SCRIPT])

    def test_sort(self):
        self.run3("sort", ["sort", "-S", "64M", self.data])

    def test_xz_threads(self):
        with open(self.data, "rb") as f:
            data = f.read()
        self.run3("xz", ["xz", "-T2", "-6", "-c"], stdin=data)

    def test_zstd_threads(self):
        with open(self.data, "rb") as f:
            data = f.read()
        self.run3("zstd", ["zstd", "-T2", "-3", "-c"], stdin=data)


    def test_redis_server(self):
        """A server under the preload (tracing on), driven over loopback by
        its own benchmark client for a bounded number of requests."""
        if not shutil.which("redis-server") or not shutil.which("redis-benchmark"):
            self.skipTest("redis-server/redis-tools not installed")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        trace_dir = os.path.join(self.dir, "traces-redis")
        os.makedirs(trace_dir, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if k not in ("LD_PRELOAD", "MALLOC_TRACE")}
        env["LD_PRELOAD"] = e2e.PRELOAD()
        env["MALLOC_TRACE"] = os.path.join(trace_dir, "redis.%p.hlt")
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--io-threads", "2",
             "--dir", trace_dir],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            cli = ["redis-cli", "-h", "127.0.0.1", "-p", str(port)]
            for _ in range(100):
                if subprocess.run(cli + ["ping"], capture_output=True,
                                  text=True).stdout.strip() == "PONG":
                    break
                time.sleep(0.1)
            else:
                self.fail("redis-server did not answer")
            bench = subprocess.run(
                ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
                 "-n", "20000", "-c", "8", "-q", "-t", "set,get,lpush,lpop,incr",
                 "-d", "200"], capture_output=True, text=True, timeout=300)
            self.assertEqual(0, bench.returncode, bench.stderr)
            self.assertIn("requests per second", bench.stdout)
            r = subprocess.run(cli + ["set", "k", "v" * 1000],
                               capture_output=True, text=True)
            self.assertEqual("OK", r.stdout.strip())
            r = subprocess.run(cli + ["strlen", "k"], capture_output=True,
                               text=True)
            self.assertEqual("1000", r.stdout.strip())
            subprocess.run(cli + ["shutdown", "nosave"], capture_output=True)
            server.wait(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        traces = glob.glob(os.path.join(trace_dir, "*.hlt"))
        self.assertTrue(traces)
        for t in traces:
            rep = subprocess.run([e2e.HEAPLENS(), "report", "--format=json", t],
                                 capture_output=True, text=True, timeout=600)
            self.assertEqual(0, rep.returncode, rep.stderr[-2000:])


if __name__ == "__main__":
    unittest.main()
