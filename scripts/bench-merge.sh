#!/usr/bin/env bash
# bench-merge.sh — time gomerge's task-arithmetic family and SLERP on a
# synthetic Llama family against `cat` of the same input files (page cache
# warm, same run) and report wall-time ratios and peak RSS.
#
# Usage: scripts/bench-merge.sh          (from anywhere inside the repo)
#        scripts/bench-merge.sh big      (the single-huge-tensor case)
#
# Default mode: a ~1B-parameter bf16 base + 3 experts (genmodels -params 1e9
# -experts 3); runs task_arithmetic, ties and dare_ties on base + 3 experts
# and slerp on base + 1 expert (its cat reference reads those two models).
# Goals (issue 4): task_arithmetic <= 2x cat, ties and dare_ties <= 4x cat,
# peak RSS <= 1 GiB.
#
# big mode: models whose tied embedding matrix holds 1.5e9 bf16 elements
# (3 GB per model, base + 3 experts); runs task_arithmetic and ties.
# Goal: peak RSS <= 2 GiB.
#
# Environment:
#   PARAMS=1e9       parameters per model (default mode)
#   BIG=1.5e9        elements of the big tensor (big mode)
#   EXPERTS=3        expert models besides the base
#   DENSITY=0.5      density of ties and dare_ties
#   THREADS=N        gomerge -j (default: all cores)
#   WORK=DIR         working directory (default: a new temporary one)
#   KEEP=1           keep the generated models and outputs
#   ONLY="ties ..."  run only these of task_arithmetic, ties, dare_ties, slerp
#   OLD=BIN          also time this gomerge binary (a build of an older
#                    commit) next to each run of the new one (after it in
#                    odd rounds, before it in even ones)
#   ROUNDS=N         repeat the cat baseline and the runs N times (default 1)
#
# Passes over the inputs: task_arithmetic reads every input once; ties
# twice per tensor: a sample of ~1/256 of it (at least 64K elements per
# model) fixes a window of |delta| bit patterns around each top-k
# threshold; one pass counts, per half-chunk, the elements above the window
# and equal to each of its two edges (often long tie runs) and collects the
# few strictly inside; one pass merges. Only a window the sample misses, or
# one too full inside, costs two radix-selection passes instead (same
# result). dare_ties reads twice (L1-norm pass, merge pass; the random
# masks are drawn once, in the L1 pass, straight from the ChaCha8 stream
# into mask bits, and kept as one bit per element for the merge pass when a
# tensor's masks fit in 256 MiB); slerp twice (dot products and norms, then
# the merge). On bf16 inputs the passes of ties and dare_ties read the
# stored values in place from one memory mapping per tensor (no pread;
# pages dropped once per half-chunk by the last pass over it, or by every
# pass for tensors over 128 MiB of inputs) in 16K-element blocks and run
# one fused AVX2 kernel per block (tasks/fused.go, tasks/bf16inputs.go);
# the merge kernel writes bf16 directly. Every method writes its output
# once, which `cat` does not: on this VM writing 2 GB into the page cache
# costs 0.5 s of CPU when the memory was freed a moment ago and 3.5-4 s
# when the hypervisor has taken it back (seconds later), so write-heavy
# figures vary from run to run.
set -euo pipefail

MODE=${1:-family}
PARAMS=${PARAMS:-1e9}
BIG=${BIG:-1.5e9}
EXPERTS=${EXPERTS:-3}
DENSITY=${DENSITY:-0.5}
THREADS=${THREADS:-$(nproc)}
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/bench-merge.XXXXXX")}
if [[ "${KEEP:-0}" != 1 ]]; then
	trap 'rm -rf "$WORK"' EXIT
fi

cd "$ROOT"
echo "== building gomerge"
go build -o "$WORK/gomerge" .

if [[ -d "$WORK/models/base" ]]; then
	echo "== reusing the models in $WORK/models"
	MODE_GEN=skip
fi
case "${MODE_GEN:-$MODE}" in
skip) ;;
family)
	echo "== generating a $PARAMS-parameter bf16 base + $EXPERTS experts in $WORK/models"
	go run ./scripts/genmodels -o "$WORK/models" -params "$PARAMS" -experts "$EXPERTS"
	;;
big)
	echo "== generating a base + $EXPERTS experts with a $BIG-element embedding in $WORK/models"
	go run ./scripts/genmodels -o "$WORK/models" -params 2e8 -big-tensor "$BIG" -experts "$EXPERTS"
	;;
*)
	echo "usage: $0 [family|big]" >&2
	exit 2
	;;
esac

models=("$WORK/models/base")
for k in $(seq 1 "$EXPERTS"); do models+=("$WORK/models/expert$k"); done
files_of() { # files_of MODEL...: the safetensors files of the models
	local m
	for m in "$@"; do printf '%s\n' "$m"/*.safetensors; done
}
mapfile -t files < <(files_of "${models[@]}")
mapfile -t files2 < <(files_of "${models[@]:0:2}")
bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
echo "inputs: ${#files[@]} files, $((bytes / 1024 / 1024)) MiB"

# Warm the page cache (twice: the second run shows it is warm).
cat "${files[@]}" >/dev/null
cat "${files[@]}" >/dev/null

measure() { # measure NAME CMD...: prints "wall_s cpu_s max_rss_kib" (GNU time -v; cpu = user + sys)
	local log="$WORK/$1.time"
	shift
	/usr/bin/time -v -o "$log" "$@" >/dev/null
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
		/User time|System time/ { cpu += $2 }
		/Maximum resident set size/ { kb = $2 }
		END { printf "%.2f %.2f %d\n", s, cpu, kb }' "$log"
}

results=()
report() { # report NAME WALL CPU KIB CAT_WALL CAT_CPU GOAL
	local line
	line=$(awk -v n="$1" -v s="$2" -v u="$3" -v kb="$4" -v c="$5" -v cu="$6" -v g="$7" 'BEGIN {
		printf "%-16s wall %7.2fs = %5.2fx cat (goal <= %s)   cpu %7.2fs = %5.2fx cat cpu   peak RSS %6.0f MiB", n, s, s / c, g, u, u / cu, kb / 1024 }')
	echo "$line"
	results+=("$line")
}

run() { # run NAME GOAL CAT_WALL CAT_CPU gomerge-args...
	local name=$1 goal=$2 cat=$3 catcpu=$4
	shift 4
	if [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]]; then
		return
	fi
	local bin label bins=("$WORK/gomerge" ${OLD:+"$OLD"})
	if [[ -n "${OLD:-}" ]] && ((round % 2 == 0)); then
		# Alternate the order: a run right after another's output was
		# deleted writes into memory the VM has not yet taken back, which
		# makes its writes cheaper.
		bins=("$OLD" "$WORK/gomerge")
	fi
	for bin in "${bins[@]}"; do
		label=$name
		if [[ "$bin" != "$WORK/gomerge" ]]; then
			label="$name(old)"
		fi
		rm -rf "$WORK/out"
		echo "== $(basename "$bin") $* -j $THREADS"
		read -r s u kb < <(measure "$name" "$bin" -q -j "$THREADS" "$@" -o "$WORK/out")
		report "$label" "$s" "$u" "$kb" "$cat" "$catcpu" "$goal"
		rm -rf "$WORK/out"
	done
}

w=$(seq -s, 1 "$EXPERTS" | sed 's/[0-9]\+/0.5/g')
rss_goal=1024
if [[ "$MODE" == big ]]; then
	rss_goal=2048
fi
for round in $(seq 1 "${ROUNDS:-1}"); do
	echo "== round $round: cat (all $((EXPERTS + 1)) models)"
	read -r cat_s cat_cpu _ < <(measure cat sh -c 'cat "$@" >/dev/null' sh "${files[@]}")
	echo "cat: ${cat_s}s wall, ${cat_cpu}s cpu ($(awk -v b="$bytes" -v s="$cat_s" 'BEGIN { printf "%.2f", b / s / 1e9 }') GB/s)"
	results+=("round $round: cat ${cat_s}s wall, ${cat_cpu}s cpu, load average $(cut -d' ' -f1-3 /proc/loadavg)")
	run task_arithmetic 2x "$cat_s" "$cat_cpu" task-arithmetic --base "${models[0]}" "${models[@]:1}" --weight "$w"
	run ties 4x "$cat_s" "$cat_cpu" ties --base "${models[0]}" "${models[@]:1}" --weight "$w" --density "$DENSITY"
	if [[ "$MODE" == family ]]; then
		run dare_ties 4x "$cat_s" "$cat_cpu" dare-ties --base "${models[0]}" "${models[@]:1}" --weight "$w" --density "$DENSITY"
		if [[ -z "${ONLY:-}" || " $ONLY " == *" slerp "* ]]; then
			echo "== cat (base + expert1, the inputs of slerp)"
			read -r cat2_s cat2_cpu _ < <(measure cat2 sh -c 'cat "$@" >/dev/null' sh "${files2[@]}")
			echo "cat: ${cat2_s}s wall, ${cat2_cpu}s cpu"
			run slerp - "$cat2_s" "$cat2_cpu" slerp --base "${models[0]}" "${models[1]}" --t 0.5
		fi
	fi
done

echo
echo "== summary ($MODE mode, $(nproc) cores, -j $THREADS, peak RSS goal <= $rss_goal MiB, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "inputs: $((bytes / 1024 / 1024)) MiB"
printf '%s\n' "${results[@]}"
