#!/usr/bin/env python3
"""Count TAP subtests across meson test logs (testlog.json files).

Prints per-suite counts and a last line "sdfs: N passed, N failed, N skipped".
A meson test that failed without TAP output counts as one failure.
"""
import json
import re
import sys

TAP = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b)?", re.I)


def count(path, totals, per_suite):
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError:
        print(f"count-tests: no log {path}")
        totals["failed"] += 1
        return
    with f:
        for line in f:
            t = json.loads(line)
            suite = ",".join(s.split(":")[-1] for s in t.get("suite", [])) or "-"
            s = per_suite.setdefault(suite, {"passed": 0, "failed": 0, "skipped": 0})
            p = fl = sk = 0
            for out in (t.get("stdout") or "").splitlines():
                m = TAP.match(out.strip())
                if not m:
                    continue
                # a TODO is a known failure the test declares (TAP): it
                # is not counted as passed, nor as a failure
                if m.group(3) and m.group(3).upper() in ("SKIP", "TODO"):
                    sk += 1
                elif m.group(1) == "ok":
                    p += 1
                else:
                    fl += 1
            result = t.get("result", "")
            if p + fl + sk == 0:
                if result == "OK":
                    p = 1
                elif result == "SKIP":
                    sk = 1
                else:
                    fl = 1
            elif result not in ("OK", "SKIP", "EXPECTEDFAIL") and fl == 0:
                fl = 1  # crashed or timed out after passing subtests
            for k, v in (("passed", p), ("failed", fl), ("skipped", sk)):
                s[k] += v
                totals[k] += v


def main():
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    per_suite = {}
    for path in sys.argv[1:]:
        count(path, totals, per_suite)
    for suite, s in sorted(per_suite.items()):
        print(f"  {suite}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped")
    print(f"sdfs: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")


if __name__ == "__main__":
    main()
