"""Checks a JUnit XML file against the structure CI systems read (the
Jenkins/Ant schema junit-10.xsd, which GitLab and GitHub test reporters
follow): <testsuites> of <testsuite name tests failures errors> of
<testcase name classname> holding <failure message type>, <error>,
<skipped>, <system-out>, <system-err>; counts that add up."""
import xml.etree.ElementTree as ET

_CASE_CHILDREN = {"failure", "error", "skipped", "system-out", "system-err"}
_SUITE_CHILDREN = {"testcase", "properties", "system-out", "system-err"}


def _int(elem, attr, errors, where):
    v = elem.get(attr)
    if v is None:
        errors.append(f"{where}: missing attribute {attr}")
        return 0
    try:
        n = int(v)
    except ValueError:
        errors.append(f"{where}: {attr}={v!r} is not an integer")
        return 0
    if n < 0:
        errors.append(f"{where}: {attr} is negative")
    return n


def check(path):
    """Returns (tree root, list of errors)."""
    errors = []
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    if root.tag not in ("testsuites", "testsuite"):
        return root, [f"root element is <{root.tag}>"]
    total_tests = total_failures = 0
    for s in suites:
        where = f"testsuite {s.get('name')!r}"
        if s.tag != "testsuite":
            errors.append(f"<testsuites> holds <{s.tag}>")
            continue
        if not s.get("name"):
            errors.append(f"{where}: missing name")
        tests = _int(s, "tests", errors, where)
        failures = _int(s, "failures", errors, where)
        _int(s, "errors", errors, where)
        cases = [c for c in s if c.tag == "testcase"]
        for c in s:
            if c.tag not in _SUITE_CHILDREN:
                errors.append(f"{where}: unexpected <{c.tag}>")
        if tests != len(cases):
            errors.append(f"{where}: tests={tests} but {len(cases)} testcases")
        failed = 0
        for c in cases:
            cw = f"testcase {c.get('name')!r}"
            for attr in ("name", "classname"):
                if not c.get(attr):
                    errors.append(f"{cw}: missing {attr}")
            kids = [k.tag for k in c]
            for k in kids:
                if k not in _CASE_CHILDREN:
                    errors.append(f"{cw}: unexpected <{k}>")
            for f in c.findall("failure"):
                for attr in ("message", "type"):
                    if not f.get(attr):
                        errors.append(f"{cw}: <failure> without {attr}")
            if c.find("failure") is not None or c.find("error") is not None:
                failed += 1
        if failures != failed:
            errors.append(f"{where}: failures={failures} but {failed} failed")
        total_tests += tests
        total_failures += failures
    if root.tag == "testsuites":
        if root.get("tests") is not None and int(root.get("tests")) != total_tests:
            errors.append("testsuites: tests does not add up")
        if (root.get("failures") is not None and
                int(root.get("failures")) != total_failures):
            errors.append("testsuites: failures does not add up")
    return root, errors
