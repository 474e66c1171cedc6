#!/usr/bin/env bash
# bench_process.sh — the user's range test as a user runs it, whole process
# (start-up, data loading, the sweep with validation every step, JSON and
# figure) timed by the wall clock, lrengine against torch-lr-finder side by
# side: the runs of each round go one after another, so a change in the
# machine's load hits all of them alike. `make bench` runs it when
# TORCH_PYTHON imports torch and torch_lr_finder (a reference, never a
# dependency).
#
#   scripts/bench_process.sh LRENGINE PYTHON [ROUNDS]
#
# lrengine runs examples/fashion_mnist.lua in fp32 and with --precision
# bf16; torch-lr-finder runs scripts/bench_torch_finder.py --once (the same
# data, model, optimizer and schedule, fp32, as the user runs it). Prints
# each round, then the medians and the ratios torch / lrengine.
set -euo pipefail
cli=${1:?usage: bench_process.sh LRENGINE PYTHON [ROUNDS]}
py=${2:?usage: bench_process.sh LRENGINE PYTHON [ROUNDS]}
rounds=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
# absolute paths: the runs happen in a temporary folder
abs() { case $1 in */*) echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" ;; *) command -v "$1" ;; esac; }
cli=$(abs "$cli") py=$(abs "$py")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# seconds of wall time of one command (its output dropped; a failure stops)
wall() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" > "$out/log" 2>&1 || { cat "$out/log" >&2; echo "bench_process: $* failed" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

cd "$out" # the example writes out/fashion_mnist.{json,png} here, not in the tree
bf=() fp=() th=()
for r in $(seq 1 "$rounds"); do
    bf+=("$(wall "$cli" -q --precision bf16 "$root/examples/fashion_mnist.lua")")
    fp+=("$(wall "$cli" -q "$root/examples/fashion_mnist.lua")")
    th+=("$(wall "$py" "$root/scripts/bench_torch_finder.py" --once --device cpu)")
    printf 'round %d: lrengine bf16 %.2f s, lrengine fp32 %.2f s, torch-lr-finder fp32 %.2f s\n' \
        "$r" "${bf[-1]}" "${fp[-1]}" "${th[-1]}"
done
mb=$(median "${bf[@]}") mf=$(median "${fp[@]}") mt=$(median "${th[@]}")
printf 'whole process, median of %d rounds: lrengine bf16 %.2f s, fp32 %.2f s; torch-lr-finder fp32 %.2f s\n' \
    "$rounds" "$mb" "$mf" "$mt"
awk -v t="$mt" -v b="$mb" -v f="$mf" \
    'BEGIN {printf "torch-lr-finder / lrengine: %.1fx (bf16), %.1fx (fp32)\n", t / b, t / f}'
