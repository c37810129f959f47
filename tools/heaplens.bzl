"""heaplens_test: run any cc_test or cc_binary under heaplens and fail on leaks.

Example (BUILD):

    load("//tools:heaplens.bzl", "heaplens_test")

    cc_test(name = "parser_test", srcs = ["parser_test.cc"], deps = [...])

    heaplens_test(
        name = "parser_test_leaks",
        target = ":parser_test",
        gate_flags = ["--fail-on=definite,indirect"],
        suppressions = ["leaks.supp"],  # optional; LSan or Valgrind syntax
    )

`bazel test //pkg:parser_test_leaks` runs the target under the preload with
tracing on (MALLOC_TRACE=.../trace.%p.hlt, so forked children get their own
traces), then `heaplens gate` on every trace it and its children wrote. The
test fails if the target fails or if the gate finds leaks over budget. The
traces, the text report (heaplens_report.txt), the gate summary
(heaplens_gate.txt), heaplens_junit.xml and heaplens.sarif stay in the test's
outputs (bazel-testlogs/<pkg>/<name>/test.outputs/outputs.zip).

Suppression and baseline files are labels; `gate_flags` are any
`heaplens gate` flags (docs/gate.md), e.g. ["--max-definite-bytes=1024"].
"""

def heaplens_test(
        name,
        target,
        args = [],
        gate_flags = [],
        suppressions = None,
        baseline = None,
        expect_leaks = False,
        **kwargs):
    """Wraps `target` (a cc_test or cc_binary) in a leak-gated test.

    Args:
      name: the test's name.
      target: label of the executable to run.
      args: arguments passed to the target.
      gate_flags: extra `heaplens gate` flags (budgets, --fail-on=...).
      suppressions: optional label or list of labels of suppression files
        (LeakSanitizer `leak:` lines or Valgrind `Memcheck:Leak` blocks).
      baseline: optional label of a baseline file (--baseline).
      expect_leaks: invert the gate's verdict: the test passes only if the
        gate fails with exit code 1. For testing heaplens itself.
      **kwargs: passed to the underlying sh_test (size, tags, timeout, ...).
    """
    data = [
        target,
        "//interposer:libheaplens.so",
        "//analyzer:heaplens",
    ]
    runner_args = [
        "--heaplens=$(rootpath //analyzer:heaplens)",
        "--preload=$(rootpath //interposer:libheaplens.so)",
    ]
    if suppressions:
        if type(suppressions) == type(""):
            suppressions = [suppressions]
        data.extend(suppressions)
        runner_args.append("--gate-flag=--suppressions=" + ",".join(
            ["$(rootpath %s)" % s for s in suppressions],
        ))
    if baseline:
        data.append(baseline)
        runner_args.append("--gate-flag=--baseline=$(rootpath %s)" % baseline)
    for f in gate_flags:
        runner_args.append("--gate-flag=" + f)
    if expect_leaks:
        runner_args.append("--expect-leaks")
    runner_args.append("--")
    runner_args.append("$(rootpath %s)" % target)
    native.sh_test(
        name = name,
        srcs = ["//tools:heaplens_test_runner.sh"],
        args = runner_args + args,
        data = data,
        **kwargs
    )
