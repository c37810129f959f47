"""Helpers for the heap-layout end-to-end tests (pinning_*, heap_model_*):
the layout JSON of a trace and the program's printed marks."""
import json
import re
import subprocess

import e2e_lib as e2e


def layout_json(trace_path):
    """The report's `fragmentation` and `pinning` sections. Taken from
    `heaplens report --format=json` when the CLI's report carries them, else
    from //analyzer/layout:heaplens_layout (same writer, same keys)."""
    try:
        report = e2e.report_json(trace_path)
        if "pinning" in report and "fragmentation" in report:
            return report
    except (AssertionError, ValueError, FileNotFoundError):
        pass
    r = subprocess.run([e2e.runfile("analyzer/layout/heaplens_layout"),
                        trace_path], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"heaplens_layout exited {r.returncode}: "
                             f"{r.stderr}")
    return json.loads(r.stdout)


def layout_text(trace_path):
    r = subprocess.run([e2e.runfile("analyzer/layout/heaplens_layout"),
                        "--text", trace_path], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout


_MARK = re.compile(rb"^mark (\d+) brk 0x([0-9a-f]+) heap_rss_kb (\d+)$", re.M)


def printed_marks(stdout):
    """{id: (brk, heap_rss_bytes)} from the example's 'mark ...' lines."""
    return {int(m.group(1)): (int(m.group(2), 16), int(m.group(3)) * 1024)
            for m in _MARK.finditer(stdout)}


def close(model, kernel, rel=0.02, absolute=1 << 20):
    """Within 2% or 1 MiB, as issue 6 asks."""
    return abs(model - kernel) <= max(rel * kernel, absolute)
