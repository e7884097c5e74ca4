#!/usr/bin/python3
"""cpython_report.py - per-test results of `python3 -m test -v` logs, and their comparison.

    cpython_report.py parse LOG          TSV on stdout: ID<TAB>STATUS<TAB>DETAIL, one line per test
    cpython_report.py table LEVEL=TSV... Markdown: totals per level, then every test that passes
                                         (ok) at the first level and not at another one

ID is unittest's "module.Class.method" (test.test_os.StatTests.test_stat); a module that did not
finish (crashed, timed out, failed to import) is one line "MODULE <module>" with its regrtest
status. STATUS is ok, FAIL, ERROR, skipped, xfail (expected failure), xpass (unexpected
success). DETAIL: the skip reason, or the last line of the first traceback of a FAIL or ERROR
(the exception and its message). Used by tests/compat/cpython.sh.
"""
import re
import sys

# "test_x (test.test_os.C.test_x) ... ok", the result possibly after a docstring line or after
# output the test printed.
HEAD = re.compile(r"^(\w+) \(((?:\w+\.)+\w+)\)(.*)$")
RESULT = re.compile(r"^(?:.*\.\.\. )?(ok|FAIL|ERROR|skipped (.*)|expected failure|unexpected success)$")
SECTION = re.compile(r"^(FAIL|ERROR): (\w+) \(((?:\w+\.)+\w+)\)(.*)$")
# regrtest's per-module verdicts when the module did not run to the end
MODULE_BAD = re.compile(
    r"^(?:\d+:\d+:\d+ )?(?:load avg: [\d.]+ )?(?:\[[ \d/]+\] )?(test_\w+) "
    r"(crashed|timed out|failed \(env changed\)|skipped|did not run|interrupted)\b(.*)$")
MODULE_FAIL = re.compile(r"^(test_\w+) failed\b(.*)$")
RANK = {"ok": 0, "xfail": 0, "skipped": 1, "xpass": 2, "FAIL": 3, "ERROR": 4}


def norm(res):
    if res == "ok":
        return "ok", ""
    if res.startswith("skipped"):
        return "skipped", res[len("skipped "):].strip("'\"")
    if res == "expected failure":
        return "xfail", ""
    if res == "unexpected success":
        return "xpass", ""
    return res, ""


def parse(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    results = {}  # id -> [status, detail]

    def put(tid, status, detail):
        old = results.get(tid)
        if old is None or RANK[status] > RANK[old[0]]:
            results[tid] = [status, detail]
        elif old[0] == status and not old[1] and detail:
            old[1] = detail

    modules = {}
    i = 0
    pending = None  # a test whose result has not been printed yet
    while i < len(lines):
        line = lines[i]
        m = SECTION.match(line)
        if m:
            # "======\nERROR: name (id)\n------\nTraceback...\nException: msg\n\n"
            kind, tid = m.group(1), m.group(3)
            j = i + 1
            if j < len(lines) and lines[j].startswith("-" * 20):
                j += 1
            last = ""
            while j < len(lines) and not lines[j].startswith(("=" * 20, "-" * 20)):
                if lines[j].strip():
                    last = lines[j].strip()
                j += 1
            put(tid, kind, last[:200])
            i = j
            continue
        m = HEAD.match(line)
        if m:
            tid, rest = m.group(2), m.group(3)
            if " ... " in rest:
                tail = rest.split(" ... ", 1)[1].strip()
                r = RESULT.match(tail)
                if r:
                    put(tid, *norm(r.group(1)))
                    pending = None
                else:
                    pending = tid
            else:
                pending = tid
            i += 1
            continue
        if pending is not None:
            r = RESULT.match(line.strip())
            if r:
                put(pending, *norm(r.group(1)))
                pending = None
        m = MODULE_BAD.match(line)
        if m and m.group(2) != "skipped":
            modules[m.group(1)] = (m.group(2) + m.group(3)).strip()
        i += 1
    return results, modules


def cmd_parse(path):
    results, modules = parse(path)
    for tid in sorted(results):
        st, detail = results[tid]
        print(f"{tid}\t{st}\t{detail}")
    for mod in sorted(modules):
        print(f"MODULE {mod}\t{modules[mod]}\t")


def load(path):
    res, mods = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            if parts[0].startswith("MODULE "):
                mods[parts[0][7:]] = parts[1]
            else:
                res[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    return res, mods


def md(s):
    return s.replace("|", "\\|").replace("\n", " ")


def cmd_table(args):
    levels = []
    for a in args:
        name, _, path = a.partition("=")
        levels.append((name, *load(path)))
    print("| level | tests | ok | FAIL | ERROR | skipped | expected failure | modules not finished |")
    print("|---|---|---|---|---|---|---|---|")
    for name, res, mods in levels:
        c = {}
        for st, _ in res.values():
            c[st] = c.get(st, 0) + 1
        bad = ", ".join(f"{m} ({s})" for m, s in sorted(mods.items())) or "-"
        print(f"| {name} | {len(res)} | {c.get('ok', 0)} | {c.get('FAIL', 0)} | {c.get('ERROR', 0)} "
              f"| {c.get('skipped', 0)} | {c.get('xfail', 0)} | {md(bad)} |")
    print()
    base_name, base, _ = levels[0]
    for name, res, mods in levels[1:]:
        lost = sorted(t for t, (st, _) in base.items() if st == "ok" and res.get(t, ("missing",))[0] != "ok")
        gained = sorted(t for t, (st, _) in res.items() if st == "ok" and base.get(t, ("missing",))[0] != "ok")
        print(f"### ok at {base_name}, not at {name}: {len(lost)}"
              + (f" (and {len(gained)} the other way round)" if gained else ""))
        print()
        if lost:
            print(f"| test | {name} | detail |")
            print("|---|---|---|")
            for t in lost:
                st, detail = res.get(t, ("missing", ""))
                print(f"| {md(t)} | {st} | {md(detail)} |")
            print()
        if gained:
            print(f"ok at {name}, not at {base_name}: " + ", ".join(
                f"{t} ({base.get(t, ('missing',))[0]})" for t in gained))
            print()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "parse":
        cmd_parse(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        cmd_table(sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
