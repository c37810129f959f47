#!/usr/bin/env python3
"""Side-by-side comparison of libheaplens.so builds on run.py's workloads.

Usage (from the repository root; builds nothing, give it .so files):

  bench/recorder/compare.py [--reps N] [--quick] [--workloads churn,threads,perl,python] \
      before=/tmp/old/libheaplens.so after=bazel-bin/interposer/libheaplens.so

For every workload, runs glibc, the first build untraced, and every build
traced (MALLOC_TRACE into a temporary directory), alternating in rounds so
that load on a shared machine hits all of them alike. Prints the median wall
time and the median CPU time (user + sys of the child, less sensitive to
other load) and both as ratios to glibc. Not part of the test suite.
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    args = sys.argv[1:]
    reps, quick, only = 7, False, None
    builds = []
    while args:
        a = args.pop(0)
        if a == "--reps":
            reps = int(args.pop(0))
        elif a == "--quick":
            quick = True
        elif a == "--workloads":
            only = set(args.pop(0).split(","))
        elif "=" in a:
            name, path = a.split("=", 1)
            builds.append((name, os.path.abspath(path)))
        else:
            sys.exit(__doc__)
    if not builds:
        sys.exit(__doc__)
    tmp = tempfile.mkdtemp(prefix="hl-compare-")
    for name, extra in (("churn", ""), ("threads", "-lpthread")):
        subprocess.run("gcc -O2 -g -o %s/%s %s/bench/recorder/%s.c %s" %
                       (tmp, name, ROOT, name, extra), shell=True, check=True)
    n = 400000 if quick else 2000000
    k = 100000 if quick else 300000
    perl = ('my %%h; for my $i (1..%d) { $h{"key$i"} = "v" x ($i %% 50) } '
            'delete $h{"key$_"} for 1..%d; my @a = map { [$_] } 1..%d;') % (k, k, k)
    py = "d={}\nfor i in range(%d): d[str(i)] = [i]*3\nd.clear()\nl=[str(i)*2 for i in range(%d)]" % (k, k)
    workloads = [
        ("churn", "churn (%d)" % n, [tmp + "/churn", str(n)]),
        ("threads", "2 threads (%d each)" % (n // 2), [tmp + "/threads", str(n // 2)]),
        ("perl", "perl hash (%d)" % k, ["perl", "-e", perl]),
        ("python", "python3 dict (%d)" % k, ["python3", "-c", py]),
    ]
    cfgs = [("glibc", {}), ("untraced", {"LD_PRELOAD": builds[0][1]})]
    for name, path in builds:
        cfgs.append((name, {"LD_PRELOAD": path,
                            "MALLOC_TRACE": os.path.join(tmp, name + ".hlt")}))
    print("| workload | config | wall | wall / glibc | CPU | CPU / glibc |")
    print("|---|---|---|---|---|---|")
    for key, title, cmd in workloads:
        if only is not None and key not in only:
            continue
        res = {c: ([], []) for c, _ in cfgs}
        for _ in range(reps):
            for c, env in cfgs:
                e = dict(os.environ)
                e.update(env)
                t0 = time.monotonic()
                p = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
                _, status, ru = os.wait4(p.pid, 0)
                if status != 0:
                    sys.exit("failed: %s %s (%d)" % (c, cmd, status))
                res[c][0].append(time.monotonic() - t0)
                res[c][1].append(ru.ru_utime + ru.ru_stime)
        gw = statistics.median(res["glibc"][0])
        gc = statistics.median(res["glibc"][1])
        for c, _ in cfgs:
            w = statistics.median(res[c][0])
            u = statistics.median(res[c][1])
            print("| %s | %s | %.3fs | %.2fx | %.3fs | %.2fx |" %
                  (title, c, w, w / gw, u, u / gc))
        sys.stdout.flush()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
