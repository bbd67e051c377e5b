#!/usr/bin/env bash
# Extraction throughput against grep -E with one IP/URL regular expression, on
# the same 20 MB corpus in the same run (best of 5 interleaved wall-clock
# times each).
#
#   scripts/extract_vs_grep.sh [PATH/TO/rexist] [CORPUS]
#
# grep -E prints the matching lines (the issue's yardstick); grep -Eo prints
# every match, the work closest to extraction; grep -Ec only counts matching
# lines (it stops at a line's first match), a lower bound.
# LC_ALL=C for grep: in a UTF-8 locale it runs several times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/rexist}
corpus=${2:-target/ioc-20MB-seed7.txt}
[ -f "$corpus" ] || python3 ../shared/ioc-corpus/gen_corpus.py --mb 20 --seed 7 --out "$corpus"
re='([0-9]{1,3}\.){3}[0-9]{1,3}|https?://[^[:space:]]+'
bytes=$(wc -c < "$corpus")

secs() { # wall-clock seconds of "$@", to the millisecond
    local TIMEFORMAT=%3R
    { time "$@" > /dev/null 2>&1; } 2>&1 | tail -1
}
run_rexist() { "$bin" extract --jsonl < "$corpus" | wc -l; }
run_grep() { LC_ALL=C grep -E "$re" "$corpus" | wc -l; }
run_grep_o() { LC_ALL=C grep -Eo "$re" "$corpus" | wc -l; }
run_grep_c() { LC_ALL=C grep -Ec "$re" "$corpus" | cat; }  # a pipe: grep stops early when writing to /dev/null
export -f run_rexist run_grep run_grep_o run_grep_c
export bin corpus re

# Best of 5 rounds, the four runs interleaved in each, so that load from
# elsewhere on the machine weighs on all of them alike.
r=999 g=999 o=999 c=999
min() { python3 -c "print(min($1, $2))"; }
for _ in 1 2 3 4 5; do
    r=$(min "$r" "$(secs bash -c run_rexist)")
    g=$(min "$g" "$(secs bash -c run_grep)")
    o=$(min "$o" "$(secs bash -c run_grep_o)")
    c=$(min "$c" "$(secs bash -c run_grep_c)")
done
python3 - "$bytes" "$r" "$g" "$o" "$c" <<'EOF'
import sys
n, r, g, o, c = int(sys.argv[1]), *map(float, sys.argv[2:])
mb = lambda t: n / 1e6 / max(t, 1e-3)
print(f"rexist extract --jsonl | wc -l : {r:.3f} s  {mb(r):6.0f} MB/s")
print(f"grep -E IP|URL | wc -l         : {g:.3f} s  {mb(g):6.0f} MB/s   rexist/grep -E  = {r / max(g, 1e-3):.2f}x")
print(f"grep -Eo IP|URL | wc -l        : {o:.3f} s  {mb(o):6.0f} MB/s   rexist/grep -Eo = {r / max(o, 1e-3):.2f}x")
print(f"grep -Ec IP|URL                : {c:.3f} s  {mb(c):6.0f} MB/s   rexist/grep -Ec = {r / max(c, 1e-3):.2f}x")
EOF
