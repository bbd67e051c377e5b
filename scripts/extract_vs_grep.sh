#!/usr/bin/env bash
# Extraction throughput against grep -E with one IP/URL regular expression, on
# the same 20 MB corpus in the same run (best of 5 wall-clock times each).
#
#   scripts/extract_vs_grep.sh [PATH/TO/rexist] [CORPUS]
#
# grep -Eo prints every match, the work closest to extraction; grep -Ec only
# counts matching lines (it stops at a line's first match), a lower bound.
# LC_ALL=C for grep: in a UTF-8 locale it runs several times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/rexist}
corpus=${2:-target/ioc-20MB-seed7.txt}
[ -f "$corpus" ] || python3 ../shared/ioc-corpus/gen_corpus.py --mb 20 --seed 7 --out "$corpus"
re='([0-9]{1,3}\.){3}[0-9]{1,3}|https?://[^[:space:]]+'
bytes=$(wc -c < "$corpus")

best() { # best of 5 wall-clock seconds of "$@"
    local b=999 t
    for _ in 1 2 3 4 5; do
        t=$( { /usr/bin/time -f %e "$@" > /dev/null; } 2>&1 | tail -1 )
        b=$(python3 -c "print(min($b, $t))")
    done
    echo "$b"
}
run_rexist() { "$bin" extract --jsonl < "$corpus" | wc -l; }
run_grep_o() { LC_ALL=C grep -Eo "$re" "$corpus" | wc -l; }
run_grep_c() { LC_ALL=C grep -Ec "$re" "$corpus" | cat; }  # a pipe: grep stops early when writing to /dev/null
export -f run_rexist run_grep_o run_grep_c
export bin corpus re

r=$(best bash -c run_rexist)
o=$(best bash -c run_grep_o)
c=$(best bash -c run_grep_c)
python3 - "$bytes" "$r" "$o" "$c" <<'EOF'
import sys
n, r, o, c = int(sys.argv[1]), *map(float, sys.argv[2:])
mb = lambda t: n / 1e6 / max(t, 1e-3)
print(f"rexist extract --jsonl | wc -l : {r:.2f} s  {mb(r):6.0f} MB/s")
print(f"grep -Eo IP|URL | wc -l        : {o:.2f} s  {mb(o):6.0f} MB/s   rexist/grep -Eo = {r / max(o, 1e-3):.2f}x")
print(f"grep -Ec IP|URL                : {c:.2f} s  {mb(c):6.0f} MB/s   rexist/grep -Ec = {r / max(c, 1e-3):.2f}x")
EOF
