#!/usr/bin/env python3
"""Recorder benchmark: glibc, heaplens untraced/traced, heaptrack, valgrind.

Usage: bench/recorder/run.py [--quick]   (from the repository root; builds
//interposer:libheaplens.so and the trace_stats helper with bazel first).
Prints one table per workload: wall time, slowdown vs glibc, added ns per
event, trace bytes per event and peak RSS. Not part of the test suite.
"""
import os, subprocess, sys, tempfile, time, resource, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = "--quick" in sys.argv
TMP = tempfile.mkdtemp(prefix="hl-bench-")
SO = os.path.join(ROOT, "bazel-bin/interposer/libheaplens.so")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def build():
    if subprocess.run("cd %s && bazel build //interposer:libheaplens.so 2>/dev/null" % ROOT, shell=True).returncode != 0 and not os.path.exists(SO):
        sys.exit("cannot build //interposer:libheaplens.so")
    for name, extra in (("churn", ""), ("threads", "-lpthread")):
        sh("gcc -O2 -g -o %s/%s %s/bench/recorder/%s.c %s" % (TMP, name, ROOT, name, extra))


def run(cmd, env=None, reps=5):
    """Median-of-reps wall time (s) and max RSS (KiB) of cmd (a list)."""
    times, rss = [], 0
    for _ in range(reps):
        e = dict(os.environ)
        e.update(env or {})
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.monotonic() - t0
        if status != 0:
            raise RuntimeError("failed: %s (%d)" % (cmd, status))
        times.append(dt)
        rss = max(rss, ru.ru_maxrss)
    times.sort()
    return times[len(times) // 2], rss


def trace_events(path):
    """Events recorded (ExitSummary.events), via the generated Python-free
    decoder: protoc --decode_raw is too slow for big traces, so count with a
    tiny varint walk of the summary packet (the last packet)."""
    data = open(path, "rb").read()
    pos, events = 0, 0

    def varint(b, i):
        v, s = 0, 0
        while True:
            c = b[i]
            i += 1
            v |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return v, i

    while pos < len(data):
        tag, pos = varint(data, pos)
        ln, pos = varint(data, pos)
        body = data[pos:pos + ln]
        pos += ln
        btag, bp = varint(body, 0)
        if btag >> 3 == 6:  # summary
            blen, bp = varint(body, bp)
            sub, sp = body[bp:bp + blen], 0
            while sp < len(sub):
                ft, sp = varint(sub, sp)
                fv, sp = varint(sub, sp)
                if ft >> 3 == 4:
                    events = fv
    return events, len(data)


def workloads():
    n = 400000 if QUICK else 2000000
    yield "churn (1 thread, %d malloc+free)" % n, [TMP + "/churn", str(n)], [TMP + "/churn", str(n // 10)]
    yield "2 threads (%d each)" % (n // 2), [TMP + "/threads", str(n // 2)], [TMP + "/threads", str(n // 20)]
    k = 100000 if QUICK else 300000
    perl = 'my %%h; for my $i (1..%d) { $h{"key$i"} = "v" x ($i %% 50) } delete $h{"key$_"} for 1..%d; my @a = map { [$_] } 1..%d;'
    yield "perl hash (%d keys)" % k, ["perl", "-e", perl % (k, k, k)], ["perl", "-e", perl % (k // 10, k // 10, k // 10)]
    py = "d={}\nfor i in range(%d): d[str(i)] = [i]*3\nd.clear()\nl=[str(i)*2 for i in range(%d)]"
    yield "python3 dict (%d keys)" % k, ["python3", "-c", py % (k, k)], ["python3", "-c", py % (k // 10, k // 10)]


def main():
    build()
    have_ht = shutil.which("heaptrack") is not None
    have_vg = shutil.which("valgrind") is not None
    print("| workload | glibc | heaplens untraced | heaplens traced | heaptrack | valgrind (1/10 size) | events | ns/event added: heaplens / heaptrack | trace bytes/event | RSS KiB glibc / traced |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, cmd, small in workloads():
        g, g_rss = run(cmd)
        u, _ = run(cmd, {"LD_PRELOAD": SO})
        trace = os.path.join(TMP, "t.hlt")
        t, t_rss = run(cmd, {"LD_PRELOAD": SO, "MALLOC_TRACE": trace})
        events, size = trace_events(trace)
        ht = vg = float("nan")
        if have_ht:
            ht, _ = run(["heaptrack", "-o", os.path.join(TMP, "ht")] + cmd, reps=1)
        if have_vg:
            vg_s, _ = run(["valgrind", "-q", "--leak-check=full"] + small, reps=1)
            g_s, _ = run(small, reps=1)
            vg = vg_s / g_s
        ns_hl = (t - u) * 1e9 / max(events, 1)
        ns_ht = (ht - g) * 1e9 / max(events, 1)
        print("| %s | %.3fs | %.2fx | %.2fx | %.2fx | %.1fx | %d | %.0f / %.0f | %.2f | %d / %d |" % (
            name, g, u / g, t / g, ht / g, vg, events, ns_hl, ns_ht,
            size / max(events, 1), g_rss, t_rss))
        sys.stdout.flush()
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
