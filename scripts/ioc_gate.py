#!/usr/bin/env python3
"""CI gate for IOC extraction accuracy (standard library only).

Runs the shared scorer (../shared/ioc-corpus/eval_py.py) against a rexist
binary in batch mode on two labelled case files and fails unless, on each,
micro F1 over all 13 types is at least MIN_F1 and at most MAX_FP_CASES
IOC-free cases have a false positive:

* the shared dev corpus, ../shared/ioc-corpus/cases-dev.jsonl, and
* crates/extract/tests/unseen.jsonl, cases written from the defang and
  labelling conventions rather than from the dev corpus, so that a rule tuned
  to one corpus shows up as a drop on the other.

usage: scripts/ioc_gate.py PATH/TO/rexist
"""

import json
import os
import subprocess
import sys
import tempfile

MIN_F1 = 0.97
MAX_FP_CASES = 1


def score(scorer: str, root: str, binary: str, cases: str, tmp: str) -> dict:
    """Runs the scorer on one case file; returns rexist's summary, or exits on failure."""
    out = os.path.join(tmp, os.path.basename(cases) + ".score.json")
    cmd = [
        sys.executable, scorer, "--no-throughput", "--tag-min", "3", "--show-errors", "15",
        "--cases", cases,
        "--external", f"'{binary}' extract --batch", "--external-mode", "batch",
        "--external-name", "rexist", "--json-out", out,
    ]
    done = subprocess.run(cmd, cwd=root, check=False)
    if done.returncode != 0:
        print(f"ioc gate: scorer exited with {done.returncode} on {cases}", file=sys.stderr)
        sys.exit(1)
    with open(out, encoding="utf-8") as f:
        return json.load(f)["tools"]["rexist"]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    corpus = os.path.join(root, "..", "shared", "ioc-corpus")
    scorer = os.path.join(corpus, "eval_py.py")
    if not os.path.exists(scorer):
        print(f"ioc gate: scorer not found at {scorer} (shared/ must sit beside the repository)", file=sys.stderr)
        return 1
    files = [
        os.path.join(corpus, "cases-dev.jsonl"),
        os.path.join(root, "crates", "extract", "tests", "unseen.jsonl"),
    ]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for cases in files:
            tool = score(scorer, root, binary, cases, tmp)
            f1 = tool["micro_all"]["f1"]
            fp_cases, clean = tool["clean_fp_cases"][0], tool["clean_fp_cases"][1]
            errors = tool.get("adapter_errors", 0)
            good = f1 >= MIN_F1 and fp_cases <= MAX_FP_CASES and not errors
            ok &= good
            print(f"ioc gate {'passed' if good else 'FAILED'} on {os.path.basename(cases)}: "
                  f"micro F1 {f1:.4f} (need >= {MIN_F1}), IOC-free cases with a false positive "
                  f"{fp_cases} / {clean} (need <= {MAX_FP_CASES}), adapter errors {errors}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
