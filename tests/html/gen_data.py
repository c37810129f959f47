#!/usr/bin/env python3
"""Generates data for the HTML report template (schema: docs/html_report.md).

  gen_data.py sample > sample_data.json   realistic, every section, hostile strings
  gen_data.py max    > max_data.json      every list at its schema limit

The sample models a program that fills ~98 MiB of the brk heap with 500-byte
blocks, allocates one 40-byte block on top, frees the 500-byte blocks (so the
40-byte block pins the heap), and leaks a few blocks on the way."""
import json
import math
import random
import sys

MS = 1_000_000
S = 1_000_000_000
BRK = 0x555555559000
MOD = "/home/dev/pinner/build/pinner"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBSTD = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"

HOSTILE = "<script>alert(1)</script>"


def fr(function, file=None, line=0, module=MOD, inlined=False):
    f = {"function": function, "module": module}
    if file:
        f["file"] = file
        f["line"] = line
    if inlined:
        f["inlined"] = True
    return f


MAIN = fr("main", "src/main.cc", 41)
START = [fr("__libc_start_call_main", module=LIBC), fr("_start")]

STACKS = {
    "fill": [fr("fill_heap(std::vector<char*, std::allocator<char*> >&, unsigned long)", "src/fill.cc", 18),
             fr("run_phase(int)", "src/main.cc", 27), MAIN] + START,
    "pin": [fr("pin_top()", "src/pin.cc", 12), fr("run_phase(int)", "src/main.cc", 29), MAIN] + START,
    "config": [fr("Config::Load(std::basic_string_view<char, std::char_traits<char> >)", "src/config.cc", 88),
               fr("Config::Instance()", "src/config.cc", 20, inlined=True), MAIN] + START,
    "strdup": [fr("strdup", module=LIBC), fr("make_name(char const*)", "src/names.cc", 7), MAIN] + START,
    "list": [fr("List::Push(int)", "src/list.h", 31, inlined=True), fr("build_list(int)", "src/list.cc", 55), MAIN] + START,
    "list_head": [fr("build_list(int)", "src/list.cc", 50), MAIN] + START,
    "hostile": [fr(HOSTILE, "/src/<img src=x onerror=alert(2)>.cc", 66),
                fr("operator<<(std::ostream&, Matrix<float, 4> const&)", "src/matrix.h", 140, inlined=True),
                fr("dump(\"quoted\" & 'single' \u2028 line-sep)", "src/a&b<c>.cc", 3), MAIN] + START,
    "stream": [fr("operator<<(std::ostream&, Matrix<float, 4> const&)", "src/matrix.h", 140),
               fr("Report::Write(std::ostream&) const", "src/report.cc", 77), MAIN] + START,
    "buffers": [fr("std::vector<unsigned char, std::allocator<unsigned char> >::_M_default_append(unsigned long)",
                   "/usr/include/c++/12/bits/vector.tcc", 650, module=LIBSTD, inlined=True),
                fr("Decoder::Grow(unsigned long)", "src/decoder.cc", 210), fr("Decoder::Run()", "src/decoder.cc", 98),
                MAIN] + START,
    "unknown": [{"address": 0x7f3a12c4e2a1, "module": "/opt/vendor/libblob.so"},
                {"address": 0x7f3a12c4d010, "module": "/opt/vendor/libblob.so"}, MAIN] + START,
}
STACK_NAMES = list(STACKS)
SID = {n: i for i, n in enumerate(STACK_NAMES)}


def flame_from(entries):
    """entries: (stack, bytes, blocks). Builds the prefix tree, outermost first."""
    root = {"function": "all", "bytes": 0, "blocks": 0, "children": []}
    for stack, b, n in entries:
        root["bytes"] += b
        root["blocks"] += n
        node = root
        for f in reversed(stack):
            key = (f.get("function"), f.get("file"), f.get("line"), f.get("address"))
            for c in node["children"]:
                if (c.get("function"), c.get("file"), c.get("line"), c.get("address")) == key:
                    break
            else:
                c = dict(f)
                c.update({"bytes": 0, "blocks": 0, "children": []})
                node["children"].append(c)
            c["bytes"] += b
            c["blocks"] += n
            node = c
    return root


def sample():
    duration = 2_430 * MS
    fill_n = 200_000
    blk = 512
    heap = fill_n * blk + 64 * 1024
    pin_off = fill_n * blk

    # Timeline: fill 0..1.2 s, pin at 1.2 s, free 1.25..1.6 s, decoder work after.
    tl = []
    for i in range(120):
        t = int(duration * i / 119)
        ts = t / S
        if ts < 1.2:
            frac = ts / 1.2
            live = int(fill_n * 500 * frac)
            extent = int(heap * frac) + 132 * 1024
            resident = extent
        elif ts < 1.25:
            live, extent, resident = fill_n * 500 + 40, heap + 132 * 1024, heap + 132 * 1024
        elif ts < 1.6:
            frac = (ts - 1.25) / 0.35
            live = int(fill_n * 500 * (1 - frac)) + 40
            extent = heap + 132 * 1024
            resident = extent - int(frac * 0.4 * heap)
        else:
            frac = min(1.0, (ts - 1.6) / 0.5)
            live = 40 + int(3.2 * 1024 * 1024 * frac) + 2100
            extent = heap + 132 * 1024 + int(4 * 1024 * 1024 * frac)
            resident = int(0.6 * heap) + int(3.4 * 1024 * 1024 * frac)
        leaked = 0 if ts < 0.05 else 362 + (192 if ts > 0.1 else 0) + (1 << 20 if ts > 1.9 else 0)
        used = min(int(live * 1.05), extent)
        tl.append({
            "time_ns": t, "extent_bytes": extent, "resident_bytes": resident,
            "live_bytes": live, "live_usable_bytes": used,
            "free_bytes": max(0, extent - used), "largest_free_run": max(0, extent - used) // 2,
            "free_runs": 3 if ts < 1.25 else 40 + i, "fragmentation": 1 - used / extent,
            "leaked_bytes": min(leaked, live)})
    peak = dict(tl[59])
    peak.pop("leaked_bytes")
    end = dict(tl[-1])
    end.pop("leaked_bytes")

    def pinner(addr_off, size, pinned, resident, cum, t, stack):
        return {"address": BRK + addr_off, "size": size, "usable_size": (size + 15) // 16 * 16,
                "bytes_pinned": pinned, "resident_pinned": resident, "cumulative_drop": cum,
                "time_ns": t, "stack": STACKS[stack]}

    pinned = pin_off - 6 * 4096
    pinners = [
        pinner(pin_off, 40, pinned, int(pinned * 0.6), pinned + 64 * 1024 - 48, 1_200 * MS, "pin"),
        pinner(5 * 4096, 64, 4096 * 2, 4096, pinned + 64 * 1024 + 4096 * 2, 2 * MS, "config"),
        pinner(2 * 4096, 14, 4096, 4096, pinned + 64 * 1024 + 4096 * 3, 1 * MS, "strdup"),
    ]
    pinning = {"time_ns": duration, "brk_top": BRK + heap, "pinned_bytes": sum(p["bytes_pinned"] for p in pinners),
               "resident_pinned_bytes": sum(p["resident_pinned"] for p in pinners), "pinners": pinners,
               "worst": {"time_ns": 1_600 * MS, "pinned_bytes": pinned, "resident_pinned_bytes": pinned,
                         "pinners": pinners[:1]},
               "retention": [{"tid": 4242, "thread": "main", "bytes": 49152},
                             {"tid": 4250, "thread": "decoder-1 <b>bold</b>", "bytes": 12288}]}

    mm1 = 0x7f3a10000000
    mm2 = 0x7f3a10400000

    def heap_cells(at_peak):
        cells = []
        # The low part: a few small long-lived chunks.
        smalls = [(2 * 4096, 16, "strdup", 14), (5 * 4096, 64, "config", 64), (6 * 4096, 48, "list_head", 48),
                  (6 * 4096 + 48, 48, "list", 48), (6 * 4096 + 96, 48, "list", 48), (6 * 4096 + 192, 112, "hostile", 100)]
        pos = 0
        for off, size, st, req in smalls:
            if off > pos:
                cells.append({"region": 0, "offset": pos, "size": off - pos, "state": "free"})
            cells.append({"region": 0, "offset": off, "size": size, "state": "live", "chunks": 1,
                          "stack": SID[st], "address": BRK + off, "requested": req, "time_ns": 1 * MS})
            pos = off + size
        if at_peak:
            # The fill: 200k chunks aggregated into ~1400 cells.
            span = (pin_off - pos) // 300
            o = pos
            while o + span <= pin_off:
                cells.append({"region": 0, "offset": o, "size": span, "state": "mixed", "chunks": span // blk,
                              "live_bytes": span * 500 // 512, "free_bytes": span - span * 500 // 512,
                              "released_bytes": 0, "stack": SID["fill"]})
                o += span
            if o < pin_off:
                cells.append({"region": 0, "offset": o, "size": pin_off - o, "state": "free"})
        else:
            # Freed: released pages in the middle, resident free runs at the edges,
            # a few survivors.
            o = pos
            rng = random.Random(7)
            while o < pin_off:
                run = min(pin_off - o, rng.randint(2, 9) * 1024 * 1024)
                st = "released" if rng.random() < 0.45 else "free"
                cells.append({"region": 0, "offset": o, "size": run, "state": st})
                o += run
                if o + 512 < pin_off and rng.random() < 0.5:
                    cells.append({"region": 0, "offset": o, "size": 512, "state": "live", "chunks": 1,
                                  "stack": SID["fill"], "address": BRK + o, "requested": 500, "time_ns": 900 * MS})
                    o += 512
        cells.append({"region": 0, "offset": pin_off, "size": 48, "state": "pinning", "chunks": 1,
                      "stack": SID["pin"], "address": BRK + pin_off, "requested": 40, "time_ns": 1200 * MS})
        cells.append({"region": 0, "offset": pin_off + 48, "size": heap - pin_off - 48, "state": "free"})
        return cells

    regions_peak = [{"kind": "brk", "start": BRK, "size": heap},
                    {"kind": "mmap", "start": mm1, "size": 132 * 1024, "label": "mmap 132 KiB"}]
    cells_peak = heap_cells(True) + [
        {"region": 1, "offset": 0, "size": 132 * 1024, "state": "live", "chunks": 1, "stack": SID["buffers"],
         "address": mm1 + 16, "requested": 131072, "time_ns": 300 * MS}]
    regions_end = regions_peak + [{"kind": "mmap", "start": mm2, "size": 4 * 1024 * 1024}]
    cells_end = heap_cells(False) + [
        {"region": 1, "offset": 0, "size": 132 * 1024, "state": "live", "chunks": 1, "stack": SID["buffers"],
         "address": mm1 + 16, "requested": 131072, "time_ns": 300 * MS},
        {"region": 2, "offset": 0, "size": 1 << 20, "state": "live", "chunks": 1, "stack": SID["unknown"],
         "address": mm2 + 16, "requested": 1 << 20, "time_ns": 1950 * MS},
        {"region": 2, "offset": 1 << 20, "size": 3 << 20, "state": "mixed", "chunks": 900,
         "live_bytes": 2 << 20, "free_bytes": 512 << 10, "released_bytes": 512 << 10, "stack": SID["buffers"]}]

    leaks = [
        {"kind": "definite", "bytes": 1 << 20, "blocks": 1, "stack": STACKS["unknown"], "first_time_ns": 1950 * MS},
        {"kind": "definite", "bytes": 300, "blocks": 3, "stack": STACKS["hostile"], "first_time_ns": 5 * MS},
        {"kind": "definite", "bytes": 48, "blocks": 1, "stack": STACKS["list_head"], "first_time_ns": 6 * MS},
        {"kind": "definite", "bytes": 14, "blocks": 1, "stack": STACKS["strdup"], "first_time_ns": 1 * MS},
        {"kind": "indirect", "bytes": 192, "blocks": 4, "stack": STACKS["list"], "first_time_ns": 6 * MS},
        {"kind": "possible", "bytes": 2 << 20, "blocks": 900, "stack": STACKS["buffers"], "first_time_ns": 2000 * MS},
        {"kind": "possible", "bytes": 4096, "blocks": 2, "stack": STACKS["stream"], "first_time_ns": 2100 * MS},
        {"kind": "reachable", "bytes": 131072, "blocks": 1, "stack": STACKS["buffers"], "first_time_ns": 300 * MS},
        {"kind": "reachable", "bytes": 64, "blocks": 1, "stack": STACKS["config"], "first_time_ns": 2 * MS},
        {"kind": "reachable", "bytes": 40, "blocks": 1, "stack": STACKS["pin"], "first_time_ns": 1200 * MS},
    ]
    for i in range(3):
        leaks.append({"kind": "reachable", "bytes": 500, "blocks": 30 - i * 7, "stack": STACKS["fill"]})

    def total(kind, key):
        return sum(l[key] for l in leaks if l["kind"] == kind)

    summary = {"has_heap_graph": True}
    for k in ("definite", "indirect", "possible", "reachable"):
        summary[k + "_bytes"] = total(k, "bytes")
        summary[k + "_blocks"] = total(k, "blocks")
    summary["unfreed_bytes"] = sum(l["bytes"] for l in leaks)
    summary["unfreed_blocks"] = sum(l["blocks"] for l in leaks)
    summary.update({"total_allocated_bytes": fill_n * 500 + 9 * 1024 * 1024, "total_allocations": fill_n + 1342,
                    "total_frees": fill_n - 60 + 420, "peak_live_bytes": fill_n * 500 + 40 + 131072,
                    "peak_time_ns": 1_200 * MS, "invalid_frees": 1})

    leak_entries = [(l["stack"], l["bytes"], l["blocks"]) for l in leaks if l["kind"] in ("definite", "indirect", "possible")]
    alloc_entries = [(STACKS["fill"], fill_n * 500, fill_n), (STACKS["pin"], 40, 1),
                     (STACKS["buffers"], 5 * 1024 * 1024, 1200), (STACKS["unknown"], 1 << 20, 1),
                     (STACKS["config"], 64, 1), (STACKS["strdup"], 14, 1), (STACKS["list"], 192, 4),
                     (STACKS["list_head"], 48, 1), (STACKS["hostile"], 300, 3)]
    mib = pinned / 1048576
    findings = [
        {"section": "pinning", "severity": "warning",
         "text": "40 B allocated in pin_top() (src/pin.cc:12) pins %.1f MiB of free heap, %.1f MiB of it still resident; "
                 "freeing it would let the break drop by %.1f MiB." % (mib, mib * 0.6, (pinned + 65536) / 1048576)},
        {"section": "fragmentation", "severity": "warning",
         "text": "At the end the heap's extent is %.1f MiB but only %.1f MiB are live: fragmentation %.0f%%."
                 % (end["extent_bytes"] / 1048576, end["live_bytes"] / 1048576, 100 * end["fragmentation"])},
        {"section": "leaks", "severity": "error",
         "text": "1.0 MiB in 1 block definitely lost, allocated in /opt/vendor/libblob.so (no symbols)."},
        {"section": "leaks", "severity": "error",
         "text": "300 B in 3 blocks definitely lost in " + HOSTILE + " (/src/<img src=x onerror=alert(2)>.cc:66)."},
        {"section": "general", "severity": "info",
         "text": "1 invalid free (an address that was not a live block) was ignored by the allocator."},
    ]
    return {
        "format": "heaplens-html", "version": 1,
        "meta": {"program": MOD, "argv": [MOD, "--blocks=200000", "--name=</script><b>x</b>"],
                 "pid": 4242, "ppid": 4100, "start_time": "2024-05-01T12:00:00Z", "duration_ns": duration,
                 "exit_reason": "exited with status 0", "exit_code": 0, "trace_file": "/tmp/pinner.4242.hlt",
                 "trace_bytes": 3_481_220, "events": 402_812, "threads": 2, "allocator": "heaplens 0.1",
                 "heaplens_version": "0.1.0", "generated_at": "2024-05-01T12:00:05Z",
                 "notes": ["The heap map at the peak aggregates 200,000 chunks into 300 cells.",
                           "Thread 4250: 1 event batch lost (sequence gap) \u2028 <!-- comment -->"]},
        "summary": summary, "findings": findings,
        "fragmentation": {"peak": peak, "end": end, "timeline": tl},
        "pinning": pinning,
        "heap_map": {"peak": {"time_ns": peak["time_ns"], "truncated": True, "regions": regions_peak, "cells": cells_peak},
                     "end": {"time_ns": end["time_ns"], "truncated": False, "regions": regions_end, "cells": cells_end}},
        "leaks": leaks, "leaks_omitted": {"rows": 2, "bytes": 96, "blocks": 2},
        "flame": {"leaked": flame_from(leak_entries), "allocated": flame_from(alloc_entries)},
        "stacks": [STACKS[n] for n in STACK_NAMES],
    }


def maximal():
    """Every list at its limit: 500 samples, 256 regions and 4000 cells per
    snapshot, 4000 stacks of 64 frames, 5000 flame nodes, 500 leaks, 100 pinners."""
    rng = random.Random(1)
    funcs = ["ns%d::Class%d::method_%d(std::vector<int, std::allocator<int> > const&)" % (i % 7, i % 13, i)
             for i in range(400)]

    def stack(i, depth=64):
        r = random.Random(i)
        return [fr(funcs[r.randrange(len(funcs))], "src/file%d.cc" % r.randrange(50), r.randrange(1, 999))
                for _ in range(depth)]

    stacks = [stack(i, 64 if i < 50 else 12) for i in range(4000)]
    dur = 600 * S
    tl = []
    for i in range(500):
        x = i / 499
        live = int((1 + math.sin(x * 20)) * 300e6 + x * 200e6)
        tl.append({"time_ns": int(dur * x), "extent_bytes": live + 400_000_000, "resident_bytes": live + 200_000_000,
                   "live_bytes": live, "live_usable_bytes": live, "free_bytes": 400_000_000,
                   "largest_free_run": 10_000_000, "free_runs": 1000 + i, "fragmentation": 0.4,
                   "leaked_bytes": int(x * 50e6)})

    def snapshot():
        regions = [{"kind": "brk", "start": BRK, "size": 800 << 20}]
        for r in range(255):
            regions.append({"kind": "mmap", "start": 0x7f0000000000 + r * (64 << 20),
                            "size": rng.choice([132 << 10, 1 << 20, 8 << 20, 33 << 20])})
        cells = []
        per_mmap = 4000 // 2 // 255
        n_brk = 4000 - per_mmap * 255
        span = (800 << 20) // n_brk
        for c in range(n_brk):
            st = rng.choice(["live", "free", "released", "mixed", "live"])
            cell = {"region": 0, "offset": c * span, "size": span, "state": st, "chunks": 10,
                    "stack": rng.randrange(4000)}
            if st == "mixed":
                cell.update({"live_bytes": span // 2, "free_bytes": span // 4, "released_bytes": span - span // 2 - span // 4})
            cells.append(cell)
        cells[n_brk - 1]["state"] = "pinning"
        for r in range(1, 256):
            sz = regions[r]["size"] // per_mmap
            for c in range(per_mmap):
                cells.append({"region": r, "offset": c * sz, "size": sz, "state": rng.choice(["live", "free"]),
                              "chunks": 1, "stack": rng.randrange(4000), "address": regions[r]["start"] + c * sz,
                              "requested": sz - 16, "time_ns": rng.randrange(dur)})
        return {"time_ns": dur // 2, "truncated": True, "regions": regions, "cells": cells}

    def flame(n):
        root = {"function": "all", "bytes": 0, "blocks": 0, "children": []}
        nodes = [root]
        while len(nodes) < n:
            parent = nodes[int(len(nodes) * rng.random() ** 2)]
            c = {"function": funcs[rng.randrange(len(funcs))], "file": "src/x.cc", "line": 1,
                 "bytes": 0, "blocks": 0, "children": []}
            parent["children"].append(c)
            nodes.append(c)

        def fill(node):
            own = rng.randrange(1, 1 << 20)
            node["bytes"] = own + sum(fill(c) for c in node["children"])
            node["blocks"] = node["bytes"] // 64
            return node["bytes"]

        fill(root)
        return root

    leaks = []
    kinds = ["definite", "indirect", "possible", "reachable"]
    for i in range(500):
        leaks.append({"kind": kinds[i % 4], "bytes": rng.randrange(1, 1 << 24), "blocks": rng.randrange(1, 5000),
                      "stack": stacks[i]})
    leaks.sort(key=lambda l: -l["bytes"])
    summary = {"has_heap_graph": True}
    for k in kinds:
        summary[k + "_bytes"] = sum(l["bytes"] for l in leaks if l["kind"] == k)
        summary[k + "_blocks"] = sum(l["blocks"] for l in leaks if l["kind"] == k)
    pinners = [{"address": BRK + (800 << 20) - i * 4096, "size": 32, "bytes_pinned": 1 << 20,
                "resident_pinned": 1 << 19, "cumulative_drop": (i + 1) << 20, "time_ns": i * S,
                "stack": stacks[i]} for i in range(100)]
    return {
        "format": "heaplens-html", "version": 1,
        "meta": {"program": "/usr/bin/big", "argv": ["big"], "pid": 1, "duration_ns": dur,
                 "exit_reason": "exited with status 0", "events": 10_000_000,
                 "notes": ["Generated at every schema limit."]},
        "summary": summary,
        "findings": [{"section": "general", "severity": "info", "text": "finding %d " % i + "x" * 200} for i in range(50)],
        "fragmentation": {"peak": tl[250], "end": tl[-1], "timeline": tl},
        "pinning": {"time_ns": dur, "pinned_bytes": 100 << 20, "resident_pinned_bytes": 50 << 20, "pinners": pinners},
        "heap_map": {"peak": snapshot(), "end": snapshot()},
        "leaks": leaks, "leaks_omitted": {"rows": 12345, "bytes": 1 << 30, "blocks": 99999},
        "flame": {"leaked": flame(5000), "allocated": flame(5000)},
        "stacks": stacks,
    }


def minimal():
    """A killed process: no heap graph, no pinning, no heap map, no flame."""
    return {"format": "heaplens-html", "version": 1,
            "meta": {"program": "/bin/killed", "pid": 7, "exit_reason": "killed by signal 9 (no exit summary)",
                     "notes": ["The trace ends without an exit summary: the process died."]},
            "summary": {"has_heap_graph": False, "unfreed_bytes": 4096, "unfreed_blocks": 2},
            "leaks": [{"kind": "unfreed", "bytes": 4096, "blocks": 2, "stack": []}]}


def malformed():
    """Wrong types, out-of-range indices, absurd sizes, a newer version: the
    page must draw what it can without a script error."""
    return {"format": "heaplens-html", "version": 2,
            "meta": {"program": 123, "argv": "not-a-list", "notes": "not-a-list", "duration_ns": "0x3b9aca00"},
            "summary": None,
            "findings": [None, "x", {"text": None, "severity": "<b>"}, {"text": "<i>italic</i>", "section": 7}],
            "fragmentation": {"timeline": [{"time_ns": "0x10", "extent_bytes": "12"}, None, 5,
                                           {"time_ns": 5, "extent_bytes": -1, "live_bytes": 1e300}],
                              "peak": "x", "end": {"time_ns": None}},
            "pinning": {"pinners": [None, {"stack": 99999, "address": "zzz"}, {"stack": [None, 5, {"function": {}}]}]},
            "heap_map": {"peak": {"regions": [{"start": "0x1000", "size": 0}, None, {"size": 1e30, "kind": "<x>"}],
                                  "cells": [{"region": 5}, None, {"region": 0, "offset": -5, "size": 1e30, "state": "<b>"},
                                            {"region": 2, "offset": 1e29, "size": 1e29, "state": "pinning", "stack": -1},
                                            {"region": 2, "offset": 0, "size": 5, "state": "mixed", "live_bytes": -3}]},
                         "end": {"regions": "x", "cells": {}}},
            "leaks": [{"kind": "<img src=x>", "bytes": "1", "stack": "x"}, {"stack": 3}, None, 7],
            "leaks_omitted": {"rows": "many"},
            "flame": {"leaked": {"bytes": 0},
                      "allocated": {"function": "all", "bytes": 10,
                                    "children": [{"bytes": 20, "children": "x"}, None, {"bytes": -4}]}},
            "stacks": "x"}


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "sample"
    data = {"sample": sample, "max": maximal, "minimal": minimal, "malformed": malformed}[which]()
    json.dump(data, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
