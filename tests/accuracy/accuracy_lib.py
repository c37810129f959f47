"""Runs a corpus program under Valgrind memcheck and under heaplens and
reduces both results to the same shape, per process:

  totals[kind]           = (bytes, blocks)   kind: definite indirect possible
                                                   reachable
  sites[(kind, function)] = (bytes, blocks)  function: the top user frame

The top user frame is the first frame in one of the program's own modules
(the executable or its plugin) whose function is not a C++ standard library
template instantiated there (std::, __gnu_cxx::); `None` when the stack has
none (memory the C/C++ runtime allocated for itself). Function names lose
their parameter list, so Valgrind's "build_map()" and heaplens'
"build_map" compare equal.

Valgrind's XML is parsed with xml.etree. Its definitely-lost records count
the blocks they lead plus the indirect bytes behind them ("240 (48 direct,
192 indirect) bytes"); only the direct part is the definite bytes.
"""
import glob
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import e2e_lib  # noqa: E402


KINDS = ("definite", "indirect", "possible", "reachable")
_VG_KIND = {
    "Leak_DefinitelyLost": "definite",
    "Leak_IndirectlyLost": "indirect",
    "Leak_PossiblyLost": "possible",
    "Leak_StillReachable": "reachable",
}
_DIRECT = re.compile(r"^\s*[\d,]+ \(([\d,]+) direct, ([\d,]+) indirect\)")
_LIB_NAME = re.compile(r"^(?:.*[\s*&])?(?:std|__gnu_cxx)::|^operator (?:new|delete)")


# Artifact lookup and scratch directories are the end-to-end tests' own.
runfile = e2e_lib.runfile
tmpdir = e2e_lib.tmpdir


def short_name(function):
    """'ns::f(int) const' -> 'ns::f'; C names unchanged."""
    if not function:
        return function
    depth = 0
    for i, ch in enumerate(function):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and not function.startswith(
                "(anonymous", i):
            return function[:i]
    return function


def _is_library_code(name, file):
    """Standard-library templates instantiated in the program's module: their
    source is a system header (or, without debug info, their name says so)."""
    if file:
        return file.startswith(("/usr/", "/lib/"))
    return bool(_LIB_NAME.match(name))


def top_user_function(frames, own_modules):
    """frames: [(function, module, file)] innermost first."""
    for fn, module, file in frames:
        if os.path.basename(module or "") not in own_modules:
            continue
        name = short_name(fn or "")
        if not name or _is_library_code(name, file):
            continue
        return name
    return None


class Process:
    """One process' leak results from one tool."""

    def __init__(self, pid, ppid):
        self.pid = pid
        self.ppid = ppid
        self.totals = {k: (0, 0) for k in KINDS}
        self.sites = {}
        self.first_frames = {}  # (kind, function) -> {first own frames}
        self.extra = {}

    def add(self, kind, function, nbytes, nblocks, first_frame=None):
        b, n = self.totals[kind]
        self.totals[kind] = (b + nbytes, n + nblocks)
        b, n = self.sites.get((kind, function), (0, 0))
        self.sites[(kind, function)] = (b + nbytes, n + nblocks)
        self.first_frames.setdefault((kind, function), set()).add(first_frame)


def _first_own_frame(frames, own_modules):
    for fn, module, _ in frames:
        if os.path.basename(module or "") in own_modules:
            return short_name(fn or "")
    return None


def _label(procs):
    """{pid: Process} -> {"main"|"child"|"child2"…: Process}."""
    pids = set(procs)
    roots = [p for p in procs.values() if p.ppid not in pids]
    out = {}
    if len(roots) != 1:
        for i, p in enumerate(sorted(procs.values(), key=lambda p: p.pid)):
            out[f"proc{i}"] = p
        return out
    out["main"] = roots[0]
    children = sorted((p for p in procs.values() if p is not roots[0]),
                      key=lambda p: p.pid)
    for i, p in enumerate(children):
        out["child" if i == 0 else f"child{i + 1}"] = p
    return out


# --- Valgrind ---------------------------------------------------------------

def valgrind_available():
    try:
        r = subprocess.run(["valgrind", "--version"], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def parse_valgrind_xml(path, own_modules):
    root = ET.parse(path).getroot()
    proc = Process(int(root.findtext("pid")), int(root.findtext("ppid")))
    for err in root.iter("error"):
        kind = _VG_KIND.get(err.findtext("kind") or "")
        if kind is None:
            continue
        xwhat = err.find("xwhat")
        nbytes = int(xwhat.findtext("leakedbytes"))
        nblocks = int(xwhat.findtext("leakedblocks"))
        m = _DIRECT.match(xwhat.findtext("text") or "")
        if m:
            nbytes = int(m.group(1).replace(",", ""))
        frames = []
        stack = err.find("stack")
        if stack is not None:
            for fr in stack.findall("frame"):
                d, f = fr.findtext("dir") or "", fr.findtext("file") or ""
                frames.append((fr.findtext("fn") or "",
                               fr.findtext("obj") or "",
                               os.path.join(d, f) if f else ""))
        proc.add(kind, top_user_function(frames, own_modules), nbytes, nblocks,
                 _first_own_frame(frames, own_modules))
    return proc


def run_valgrind(argv, out_dir, extra_args=(), timeout=300):
    """Returns ({label: Process}, seconds, CompletedProcess)."""
    own = {os.path.basename(a) for a in argv if os.path.exists(a)}
    xml = os.path.join(out_dir, "vg.%p.xml")
    cmd = ["valgrind", "--leak-check=full", "--show-leak-kinds=all",
           "--xml=yes", f"--xml-file={xml}", *extra_args, *argv]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    secs = time.monotonic() - t0
    procs = {}
    for f in glob.glob(os.path.join(out_dir, "vg.*.xml")):
        p = parse_valgrind_xml(f, own)
        procs[p.pid] = p
    return _label(procs), secs, r


# --- heaplens ---------------------------------------------------------------

def parse_heaplens_report(report, own_modules):
    t = report["trace"]
    proc = Process(int(t["pid"]), int(t["ppid"]))
    s = report["summary"]
    for kind in KINDS:
        proc.totals[kind] = (s[f"{kind}_bytes"], s[f"{kind}_blocks"])
    for leak in report["leaks"]:
        if leak["kind"] not in KINDS:
            continue
        frames = [(f.get("function", ""), f.get("module", ""),
                   f.get("file", "")) for f in leak.get("stack", [])]
        fn = top_user_function(frames, own_modules)
        b, n = proc.sites.get((leak["kind"], fn), (0, 0))
        proc.sites[(leak["kind"], fn)] = (b + leak["bytes"],
                                          n + leak["blocks"])
        proc.first_frames.setdefault((leak["kind"], fn), set()).add(
            _first_own_frame(frames, own_modules))
    proc.extra = {k: s.get(k) for k in ("unfreed_bytes", "unfreed_blocks",
                                        "has_heap_graph", "total_allocations",
                                        "total_frees", "exit_reason", "notes")}
    return proc


def run_heaplens(argv, out_dir, preload, heaplens, timeout=300):
    """Returns ({label: Process}, seconds, CompletedProcess)."""
    own = {os.path.basename(a) for a in argv if os.path.exists(a)}
    env = dict(os.environ)
    env["LD_PRELOAD"] = preload
    env["MALLOC_TRACE"] = os.path.join(out_dir, "hl.%p.hlt")
    t0 = time.monotonic()
    r = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
    secs = time.monotonic() - t0
    procs = {}
    for f in glob.glob(os.path.join(out_dir, "hl.*.hlt")):
        rep = subprocess.run([heaplens, "report", "--format=json",
                              "--show=reachable", f],
                             capture_output=True, text=True, timeout=timeout)
        if rep.returncode != 0:
            raise AssertionError(f"heaplens report {f} exited "
                                 f"{rep.returncode}: {rep.stderr}")
        p = parse_heaplens_report(json.loads(rep.stdout), own)
        procs[p.pid] = p
    return _label(procs), time.monotonic() - t0, r
