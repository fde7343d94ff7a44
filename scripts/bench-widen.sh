#!/usr/bin/env bash
# bench-widen.sh — time `gomerge widen` on a synthetic Llama family against
# `cat` of the same input files (page cache warm, same run) and report the
# wall-time ratio and peak RSS (GNU time -v).
#
# Usage: scripts/bench-widen.sh            (from anywhere inside the repo)
# Environment:
#   PARAMS=1e9      parameters per model (genmodels -params)
#   EXPERTS=2       expert models besides the base
#   WIDEN_ARGS=...  extra widen flags (default: none: --alpha 1 --calibration 1)
#   THREADS=N       gomerge -j (default: all cores)
#   WORK=DIR        working directory (default: a new temporary one)
#   OUTDIR=DIR      where the merged model is written (default: $WORK, on
#                   disk like every other bench script's output; gomerge
#                   reserves its output files, which on this project's VM
#                   writes faster than tmpfs: 2 GiB in 0.6-0.9 s vs 1.05 s)
#   KEEP=1          keep the generated models and output
#   REPEAT=3        timed rounds (cat, then widen, in each); the result uses
#                   each command's fastest round (wall and CPU separately)
#
# Goal (issue 6): wall time ≤ 3× cat of the inputs, peak RSS ≤ 1 GiB.
#
# Wall time on a shared machine is noisy; CPU time (user + sys) is reported
# beside it.
#
# What is read: WIDEN reads every input (base + experts) twice — pass 1
# accumulates the per-column statistics (norms and dot products), pass 2
# writes the weighted sum — and writes one model. For bfloat16 inputs the
# files of each tensor are mapped, so both passes read the page cache in
# place (no copy; the mapped pages count in the peak RSS); `cat` copies
# every input once. The output write (to tmpfs here) is the largest fixed
# cost besides the two sweeps.
set -euo pipefail

PARAMS=${PARAMS:-1e9}
EXPERTS=${EXPERTS:-2}
WIDEN_ARGS=${WIDEN_ARGS:-}
THREADS=${THREADS:-$(nproc)}
REPEAT=${REPEAT:-3}
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/bench-widen.XXXXXX")}
OUTDIR=${OUTDIR:-}
if [[ -z "$OUTDIR" ]]; then
	OUTDIR=$WORK
fi
OUT="$OUTDIR/out"
cleanup() {
	rm -rf "$OUT"
	if [[ "$OUTDIR" == /dev/shm/bench-widen.* ]]; then rmdir "$OUTDIR" 2>/dev/null || true; fi
	if [[ "${KEEP:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

cd "$ROOT"
echo "== building gomerge"
go build -o "$WORK/gomerge" .

if [[ ! -d "$WORK/models/base" ]]; then
	echo "== generating $PARAMS-parameter base + $EXPERTS experts in $WORK/models"
	go run ./scripts/genmodels -o "$WORK/models" -params "$PARAMS" -experts "$EXPERTS"
fi

models=("$WORK/models/base")
for k in $(seq 1 "$EXPERTS"); do models+=("$WORK/models/expert$k"); done
files=()
for m in "${models[@]}"; do files+=("$m"/*.safetensors); done
bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
echo "inputs: ${#files[@]} files, $((bytes / 1024 / 1024)) MiB"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
# Warm the page cache (twice: the second run shows it is warm).
cat "${files[@]}" >/dev/null
cat "${files[@]}" >/dev/null

measure() { # measure NAME CMD...: prints "wall-s cpu-s max-RSS-KiB" from GNU time -v
	local log="$WORK/$1.time"
	shift
	/usr/bin/time -v -o "$log" "$@"
	awk -F': ' '
		/Elapsed \(wall clock\) time/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
		/User time \(seconds\)/ { cpu += $2 }
		/System time \(seconds\)/ { cpu += $2 }
		/Maximum resident set size/ { kb = $2 }
		END { printf "%.2f %.2f %d\n", s, cpu, kb }' "$log"
}

best_cat_s= best_cat_cpu= best_w_s= best_w_cpu= w_kb=0
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
for round in $(seq 1 "$REPEAT"); do
	echo "== round $round: cat"
	read -r cat_s cat_cpu cat_kb < <(measure cat sh -c 'cat "$@" >/dev/null' sh "${files[@]}")
	echo "cat: ${cat_s}s wall, ${cat_cpu}s CPU"
	rm -rf "$OUT"
	echo "== round $round: gomerge widen $WIDEN_ARGS -j $THREADS -o $OUT"
	# shellcheck disable=SC2086
	read -r w_s w_cpu kb < <(measure widen "$WORK/gomerge" widen -q -j "$THREADS" --base "${models[0]}" "${models[@]:1}" $WIDEN_ARGS -o "$OUT")
	echo "widen: ${w_s}s wall, ${w_cpu}s CPU, peak RSS $((kb / 1024)) MiB"
	rm -rf "$OUT"
	best_cat_s=$(min "$best_cat_s" "$cat_s") best_cat_cpu=$(min "$best_cat_cpu" "$cat_cpu")
	best_w_s=$(min "$best_w_s" "$w_s") best_w_cpu=$(min "$best_w_cpu" "$w_cpu")
	w_kb=$((kb > w_kb ? kb : w_kb))
done

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
awk -v w="$best_w_s" -v c="$best_cat_s" -v wc="$best_w_cpu" -v cc="$best_cat_cpu" -v kb="$w_kb" -v b="$bytes" -v r="$REPEAT" 'BEGIN {
	printf "\nresult (fastest of %d rounds): widen / cat = %.2fx wall (goal <= 3x); CPU %.2fs vs %.2fs = %.2fx; peak RSS %.0f MiB (goal <= 1024 MiB)\n", r, w / c, wc, cc, wc / cc, kb / 1024
	printf "input read rate: cat %.2f GB/s, widen %.2f GB/s per pass over 2 passes\n", b / c / 1e9, 2 * b / w / 1e9
}'
