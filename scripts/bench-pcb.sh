#!/usr/bin/env bash
# bench-pcb.sh — time `gomerge pcb` on a synthetic Llama family against
# `cat` of the same input files (page cache warm, same run) and report the
# wall-time ratio and peak RSS.
#
# Usage: scripts/bench-pcb.sh            (from anywhere inside the repo)
# Environment:
#   PARAMS=1e9      parameters per model (genmodels -params)
#   EXPERTS=3       expert models besides the base
#   PCB_ARGS="..."  extra pcb flags (default: --ratio 0.1)
#   THREADS=N       gomerge -j (default: all cores)
#   WORK=DIR        working directory (default: a new temporary one)
#   KEEP=1          keep the generated models and output
#   MODELS=DIR      use an existing genmodels family (DIR/base, DIR/expert1…)
#                   instead of generating one
#
# Goal (issue 7): wall time ≤ 10× cat of the inputs, peak RSS ≤ 1 GiB.
#
# What is read: with --scope model (default) gomerge first reads a sample of
# short runs (64 entries every 16K, about a million entries per input), then
# every input (base + experts) three times, bf16 as stored bytes in 128 KiB
# reads: pass 1 counts |τ| against bands around the two clip positions
# located by the sample (exact lo and hi); pass 2 bounds each balance score
# B from float bits (no exp or tanh) and computes it only where the bound
# does not place it below or above the band around the drop position (exact
# thr and max), recording a bit per entry and task whose B may exceed the
# band's low end (n·d/8 bytes, up to 384 MiB); pass 3 computes B for those
# entries only, merges and writes. A sample that misses a band costs up to
# two extra passes (radix selection), same result. `cat` reads every input
# once, so the floor for gomerge is about 3× cat plus the output's write.
set -euo pipefail

PARAMS=${PARAMS:-1e9}
EXPERTS=${EXPERTS:-3}
PCB_ARGS=${PCB_ARGS:---ratio 0.1}
THREADS=${THREADS:-$(nproc)}
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/bench-pcb.XXXXXX")}
if [[ "${KEEP:-0}" != 1 ]]; then
	trap 'rm -rf "$WORK"' EXIT
fi

cd "$ROOT"
echo "== building gomerge"
go build -o "$WORK/gomerge" .

if [[ -n "${MODELS:-}" ]]; then
	echo "== using the family in $MODELS"
else
	MODELS="$WORK/models"
	echo "== generating $PARAMS-parameter base + $EXPERTS experts in $MODELS"
	go run ./scripts/genmodels -o "$MODELS" -params "$PARAMS" -experts "$EXPERTS"
fi

models=("$MODELS/base")
for k in $(seq 1 "$EXPERTS"); do models+=("$MODELS/expert$k"); done
files=()
for m in "${models[@]}"; do files+=("$m"/*.safetensors); done
bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
echo "inputs: ${#files[@]} files, $((bytes / 1024 / 1024)) MiB"

# Warm the page cache (twice: the second run shows it is warm).
cat "${files[@]}" >/dev/null
cat "${files[@]}" >/dev/null

measure() { # measure NAME CMD...: wall seconds, max RSS (KiB), CPU seconds via GNU time
	local log="$WORK/$1.time"
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$log" "$@"
	awk '{ print $1, $2, $3 + $4 }' "$log"
}

echo "== cat"
read -r cat_s cat_kb cat_cpu < <(measure cat sh -c 'cat "$@" >/dev/null' sh "${files[@]}")
echo "cat: ${cat_s}s wall, ${cat_cpu}s CPU"

echo "== gomerge pcb $PCB_ARGS -j $THREADS"
# shellcheck disable=SC2086
read -r pcb_s pcb_kb pcb_cpu < <(measure pcb "$WORK/gomerge" pcb -q -j "$THREADS" --base "${models[0]}" "${models[@]:1}" $PCB_ARGS -o "$WORK/out")
echo "pcb: ${pcb_s}s wall, ${pcb_cpu}s CPU, peak RSS $((pcb_kb / 1024)) MiB"

echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
awk -v p="$pcb_s" -v c="$cat_s" -v pc="$pcb_cpu" -v cc="$cat_cpu" -v kb="$pcb_kb" -v b="$bytes" 'BEGIN {
	printf "\nresult: pcb / cat = %.1fx wall (goal <= 10x), %.1fx CPU; peak RSS %.0f MiB (goal <= 1024 MiB)\n", p / c, pc / cc, kb / 1024
	printf "input read rate: cat %.2f GB/s, pcb %.2f GB/s per pass over 3 passes\n", b / c / 1e9, 3 * b / p / 1e9
}'
