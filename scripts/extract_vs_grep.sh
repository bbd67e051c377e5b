#!/usr/bin/env bash
# Extraction throughput against grep -E with one IP/URL regular expression, on
# the same 20 MB corpus in the same run: best of $ROUNDS interleaved rounds (9
# unless set), wall-clock seconds and the CPU seconds (user + system) of the
# same pipelines, which move less than wall time on a shared machine.
#
#   [ROUNDS=N] scripts/extract_vs_grep.sh [PATH/TO/rexist] [CORPUS]
#
# grep -E prints the matching lines (the issue's yardstick); grep -Eo prints
# every match, the work closest to extraction; grep -Ec only counts matching
# lines (it stops at a line's first match), a lower bound.
# LC_ALL=C for grep: in a UTF-8 locale it runs several times slower.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/rexist}
corpus=${2:-target/ioc-20MB-seed7.txt}
rounds=${ROUNDS:-9}
[ -f "$corpus" ] || python3 ../shared/ioc-corpus/gen_corpus.py --mb 20 --seed 7 --out "$corpus"
re='([0-9]{1,3}\.){3}[0-9]{1,3}|https?://[^[:space:]]+'
bytes=$(wc -c < "$corpus")

secs() { # wall-clock and CPU (user + system) seconds of "$@", to the millisecond
    local TIMEFORMAT='%3R %3U %3S'
    { time "$@" > /dev/null 2>&1; } 2>&1 | tail -1
}
run_rexist() { "$bin" extract --jsonl < "$corpus" | wc -l; }
run_grep() { LC_ALL=C grep -E "$re" "$corpus" | wc -l; }
run_grep_o() { LC_ALL=C grep -Eo "$re" "$corpus" | wc -l; }
run_grep_c() { LC_ALL=C grep -Ec "$re" "$corpus" | cat; }  # a pipe: grep stops early when writing to /dev/null
export -f run_rexist run_grep run_grep_o run_grep_c
export bin corpus re

# The four runs interleaved in each round, so that load from elsewhere on the
# machine weighs on all of them alike.
times=$(for _ in $(seq "$rounds"); do
    echo "r $(secs bash -c run_rexist)"
    echo "g $(secs bash -c run_grep)"
    echo "o $(secs bash -c run_grep_o)"
    echo "c $(secs bash -c run_grep_c)"
done)
python3 - "$bytes" "$rounds" "$times" <<'EOF'
import sys
n, rounds = int(sys.argv[1]), sys.argv[2]
wall, cpu = {}, {}
for line in sys.argv[3].splitlines():
    k, w, u, s = line.split()
    wall[k] = min(wall.get(k, 1e9), float(w))
    cpu[k] = min(cpu.get(k, 1e9), float(u) + float(s))
r, g, o, c = (wall[k] for k in "rgoc")
mb = lambda t: n / 1e6 / max(t, 1e-3)
x = lambda a, b: a / max(b, 1e-3)
print(f"best of {rounds} rounds: wall seconds, MB/s, CPU seconds of the pipeline")
print(f"rexist extract --jsonl | wc -l : {r:.3f} s  {mb(r):6.0f} MB/s  cpu {cpu['r']:.3f} s")
print(f"grep -E IP|URL | wc -l         : {g:.3f} s  {mb(g):6.0f} MB/s  cpu {cpu['g']:.3f} s"
      f"   rexist/grep -E  = {x(r, g):.2f}x  (cpu {x(cpu['r'], cpu['g']):.2f}x)")
print(f"grep -Eo IP|URL | wc -l        : {o:.3f} s  {mb(o):6.0f} MB/s  cpu {cpu['o']:.3f} s"
      f"   rexist/grep -Eo = {x(r, o):.2f}x  (cpu {x(cpu['r'], cpu['o']):.2f}x)")
print(f"grep -Ec IP|URL                : {c:.3f} s  {mb(c):6.0f} MB/s  cpu {cpu['c']:.3f} s"
      f"   rexist/grep -Ec = {x(r, c):.2f}x  (cpu {x(cpu['r'], cpu['c']):.2f}x)")
EOF
