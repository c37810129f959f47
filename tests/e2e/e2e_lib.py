"""Helpers for heaplens end-to-end tests: locate the built artifacts in the
Bazel runfiles tree, run programs under the preload, read JSON reports."""
import json
import os
import subprocess
import tempfile

_WS = "heaplens"


def runfile(path: str) -> str:
    """Absolute path of a workspace-relative runfile."""
    for root in (os.environ.get("TEST_SRCDIR"), os.environ.get("RUNFILES_DIR")):
        if root:
            p = os.path.join(root, _WS, path)
            if os.path.exists(p):
                return p
    # Outside Bazel: relative to the repository's bazel-bin.
    here = os.path.dirname(os.path.abspath(__file__))
    p = os.path.join(here, "..", "..", "bazel-bin", path)
    if os.path.exists(p):
        return os.path.abspath(p)
    raise FileNotFoundError(path)


PRELOAD = lambda: runfile("interposer/libheaplens.so")
HEAPLENS = lambda: runfile("analyzer/heaplens")


def tmpdir() -> str:
    base = os.environ.get("TEST_TMPDIR") or tempfile.gettempdir()
    return tempfile.mkdtemp(dir=base)


def run_traced(argv, trace_path, extra_env=None, timeout=120, **kw):
    """Runs argv with the preload and MALLOC_TRACE; returns CompletedProcess."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = PRELOAD()
    env["MALLOC_TRACE"] = trace_path
    env.update(extra_env or {})
    return subprocess.run(argv, env=env, capture_output=True, timeout=timeout,
                          **kw)


def report_json(trace_path, *flags):
    """Runs `heaplens report --format=json` and returns the parsed report."""
    r = subprocess.run([HEAPLENS(), "report", "--format=json", *flags,
                        trace_path], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise AssertionError(
            f"heaplens report exited {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def functions(leak):
    return [f.get("function", "") for f in leak.get("stack", [])]


def user_frame(leak, module_suffix):
    """The first frame of the leak's stack that lies in the given module."""
    for f in leak.get("stack", []):
        if (f.get("module") or "").endswith(module_suffix):
            return f
    return None
