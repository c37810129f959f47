#!/usr/bin/env python3
"""Prints "N passed, N failed" for the tests of the last `bazel test //...`.

Counts GoogleTest test cases from each test target's test.xml (script tests
count as one case each). A target with no test.xml (it did not build or was
not run) counts as one failure. Exits 1 if anything failed.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    targets = subprocess.run(
        ["bazel", "query", "tests(//...)", "--output=label"],
        check=True, capture_output=True, text=True).stdout.split()
    testlogs = subprocess.run(["bazel", "info", "bazel-testlogs"], check=True,
                              capture_output=True, text=True).stdout.strip()
    passed = failed = 0
    failures = []
    for label in targets:
        pkg, name = label.lstrip("/").split(":")
        xml = os.path.join(testlogs, pkg, name, "test.xml")
        if not os.path.exists(xml):
            failed += 1
            failures.append(f"{label} (no result)")
            continue
        root = ET.parse(xml).getroot()
        cases = list(root.iter("testcase"))
        for case in cases:
            bad = case.find("failure") is not None or case.find("error") is not None
            if bad:
                failed += 1
                failures.append(f"{label} {case.get('classname', '')}.{case.get('name', '')}")
            else:
                passed += 1
        if not cases:  # a test.xml without cases: treat the target as one case
            bad = root.find(".//failure") is not None or root.find(".//error") is not None
            if bad:
                failed += 1
                failures.append(label)
            else:
                passed += 1
    for f in failures:
        print(f"FAILED: {f}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
