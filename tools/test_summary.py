#!/usr/bin/env python3
"""Collects test results and prints the suite's closing line.

  test_summary.py collect --query 'tests(//...)' --testlogs DIR \
      [--prefix asan:] --results FILE     # after a `bazel test` run
  test_summary.py add --name NAME --passed|--failed --results FILE
  test_summary.py print --results FILE    # "N passed, N failed"

Counts GoogleTest test cases from each target's test.xml (script tests
count as one case each, or their own cases when they write JUnit XML). A
target without a test.xml (it did not build or did not run) is one failure.
`print` exits 1 if anything failed.
"""
import argparse
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


def load(path):
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"passed": 0, "failed": 0, "failures": []}


def save(path, r):
    with open(path, "w") as f:
        json.dump(r, f)


def collect(args, r):
    targets = subprocess.run(
        ["bazel", "query", args.query, "--output=label"],
        check=True, capture_output=True, text=True).stdout.split()
    for label in targets:
        pkg, name = label.lstrip("/").split(":")
        xml = os.path.join(args.testlogs, pkg, name, "test.xml")
        tag = f"{args.prefix}{label}"
        if not os.path.exists(xml):
            r["failed"] += 1
            r["failures"].append(f"{tag} (no result: did not build or run)")
            continue
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError:
            r["failed"] += 1
            r["failures"].append(f"{tag} (unreadable test.xml)")
            continue
        cases = list(root.iter("testcase"))
        for case in cases:
            bad = case.find("failure") is not None or case.find("error") is not None
            if bad:
                r["failed"] += 1
                r["failures"].append(
                    f"{tag} {case.get('classname', '')}.{case.get('name', '')}")
            else:
                r["passed"] += 1
        if not cases:
            bad = root.find(".//failure") is not None or root.find(".//error") is not None
            r["failed" if bad else "passed"] += 1
            if bad:
                r["failures"].append(tag)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=["collect", "add", "print"])
    p.add_argument("--query", default="tests(//...)")
    p.add_argument("--testlogs")
    p.add_argument("--prefix", default="")
    p.add_argument("--name")
    p.add_argument("--passed", action="store_true")
    p.add_argument("--failed", action="store_true")
    p.add_argument("--results", required=True)
    args = p.parse_args()
    r = load(args.results)
    if args.action == "collect":
        collect(args, r)
    elif args.action == "add":
        if args.failed:
            r["failed"] += 1
            r["failures"].append(args.name)
        else:
            r["passed"] += 1
    else:
        for f in r["failures"]:
            print(f"FAILED: {f}")
        print(f"{r['passed']} passed, {r['failed']} failed")
        return 1 if r["failed"] else 0
    save(args.results, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
