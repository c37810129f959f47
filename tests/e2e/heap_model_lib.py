"""Helpers for the heap-layout end-to-end tests (pinning_*, heap_model_*):
the layout JSON of a trace and the program's printed marks."""
import json
import re
import subprocess

import e2e_lib as e2e


def layout_json(trace_path):
    """The report of `heaplens report --format=json`, which carries the
    layout's `fragmentation` and `pinning` sections."""
    report = e2e.report_json(trace_path)
    for key in ("fragmentation", "pinning"):
        if key not in report:
            raise AssertionError(f"heaplens report has no {key!r} key")
    return report


def layout_findings(trace_path):
    """The plain-sentence findings of the text report's HEAP LAYOUT section,
    without the '==PID==' prefix."""
    r = subprocess.run([e2e.HEAPLENS(), "report", trace_path],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    lines = [re.sub(r"^==\d+== ", "", l) for l in r.stdout.splitlines()]
    if "HEAP LAYOUT:" not in lines:
        raise AssertionError("no HEAP LAYOUT section:\n" + r.stdout)
    out = []
    for l in lines[lines.index("HEAP LAYOUT:") + 1:]:
        if not l.strip():
            break
        out.append(l.strip())
    return out


_MARK = re.compile(rb"^mark (\d+) brk 0x([0-9a-f]+) heap_rss_kb (\d+)$", re.M)


def printed_marks(stdout):
    """{id: (brk, heap_rss_bytes)} from the example's 'mark ...' lines."""
    return {int(m.group(1)): (int(m.group(2), 16), int(m.group(3)) * 1024)
            for m in _MARK.finditer(stdout)}


def close(model, kernel, rel=0.02, absolute=1 << 20):
    """Within 2% or 1 MiB, as issue 6 asks."""
    return abs(model - kernel) <= max(rel * kernel, absolute)
