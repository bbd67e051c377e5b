#!/usr/bin/env python3
"""CI gate for IOC extraction accuracy (standard library only).

Runs the shared scorer (../shared/ioc-corpus/eval_py.py) against a rexist
binary in batch mode and fails unless micro F1 over all 13 types is at least
MIN_F1 and at most MAX_FP_CASES IOC-free cases have a false positive.

usage: scripts/ioc_gate.py PATH/TO/rexist
"""

import json
import os
import subprocess
import sys
import tempfile

MIN_F1 = 0.96
MAX_FP_CASES = 2


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    scorer = os.path.join(root, "..", "shared", "ioc-corpus", "eval_py.py")
    if not os.path.exists(scorer):
        print(f"ioc gate: scorer not found at {scorer} (shared/ must sit beside the repository)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "score.json")
        cmd = [
            sys.executable, scorer, "--no-throughput", "--tag-min", "3", "--show-errors", "15",
            "--external", f"'{binary}' extract --batch", "--external-mode", "batch",
            "--external-name", "rexist", "--json-out", out,
        ]
        done = subprocess.run(cmd, cwd=root, check=False)
        if done.returncode != 0:
            print(f"ioc gate: scorer exited with {done.returncode}", file=sys.stderr)
            return 1
        with open(out, encoding="utf-8") as f:
            tool = json.load(f)["tools"]["rexist"]
    f1 = tool["micro_all"]["f1"]
    fp_cases = tool["clean_fp_cases"][0]
    errors = tool.get("adapter_errors", 0)
    ok = f1 >= MIN_F1 and fp_cases <= MAX_FP_CASES and not errors
    verdict = "passed" if ok else "FAILED"
    print(f"ioc gate {verdict}: micro F1 {f1:.4f} (need >= {MIN_F1}), "
          f"IOC-free cases with a false positive {fp_cases} (need <= {MAX_FP_CASES}), adapter errors {errors}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
