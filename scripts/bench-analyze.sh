#!/usr/bin/env bash
# bench-analyze.sh — time `gomerge analyze` on the ~1B-parameter synthetic
# family (base + 2 experts, bf16) against `cat` of the same input files, with
# the page cache warm, in the same run. Reports both times, their ratio (goal:
# analyze ≤ 2× cat) and analyze's peak RSS. The generated data is deleted at
# the end.
#
# Usage: scripts/bench-analyze.sh [-params 1e9] [-j N] [-keep] [WORKDIR]
#   WORKDIR defaults to a new temporary directory (removed unless -keep).
set -euo pipefail

params=1e9
threads=$(nproc)
keep=0
work=""
while [ $# -gt 0 ]; do
	case "$1" in
	-params) params=$2; shift 2 ;;
	-j) threads=$2; shift 2 ;;
	-keep) keep=1; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) work=$1; shift ;;
	esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/bench-analyze.XXXXXX")
fi
mkdir -p "$work"
cleanup() {
	if [ "$keep" = 0 ]; then
		rm -rf "$work"
	fi
}
trap cleanup EXIT

cd "$repo"
echo "building gomerge…" >&2
go build -o "$work/gomerge" .
if [ ! -d "$work/family/base" ]; then
	echo "generating the family (-params $params, 2 experts)…" >&2
	go run ./scripts/genmodels -o "$work/family" -params "$params" -experts 2 >&2
fi
fam="$work/family"
mapfile -t files < <(find "$fam/base" "$fam/expert1" "$fam/expert2" -name '*.safetensors' | sort)
bytes=$(cat "${files[@]}" | wc -c)
echo "inputs: ${#files[@]} files, $bytes bytes" >&2

now() { date +%s.%N; }
# Warm the page cache, then time cat (best of 3).
cat "${files[@]}" > /dev/null
best_cat=""
for _ in 1 2 3; do
	t0=$(now); cat "${files[@]}" > /dev/null; t1=$(now)
	t=$(echo "$t1 - $t0" | bc -l)
	if [ -z "$best_cat" ] || [ "$(echo "$t < $best_cat" | bc -l)" = 1 ]; then best_cat=$t; fi
done

# analyze (best of 3), peak RSS from /usr/bin/time.
best_an=""
best_cpu=""
rss=0
for _ in 1 2 3; do
	t0=$(now)
	/usr/bin/time -f '%U %S %M' -o "$work/rss" "$work/gomerge" analyze -q -j "$threads" \
		--base "$fam/base" "$fam/expert1" "$fam/expert2" > "$work/report.txt"
	t1=$(now)
	t=$(echo "$t1 - $t0" | bc -l)
	if [ -z "$best_an" ] || [ "$(echo "$t < $best_an" | bc -l)" = 1 ]; then best_an=$t; fi
	read -r u sy r < <(tail -1 "$work/rss")
	if [ "$r" -gt "$rss" ]; then rss=$r; fi
	c=$(echo "$u + $sy" | bc -l)
	if [ -z "$best_cpu" ] || [ "$(echo "$c < $best_cpu" | bc -l)" = 1 ]; then best_cpu=$c; fi
done

ratio=$(echo "$best_an / $best_cat" | bc -l)
printf 'cat      %7.2f s  (%.2f GB/s)\n' "$best_cat" "$(echo "$bytes / $best_cat / 1000000000" | bc -l)"
printf 'analyze  %7.2f s  (%.2f GB/s, -j %s)\n' "$best_an" "$(echo "$bytes / $best_an / 1000000000" | bc -l)" "$threads"
printf 'ratio    %7.2f × cat (goal ≤ 2)\n' "$ratio"
printf 'peak RSS %7.1f MiB\n' "$(echo "$rss / 1024" | bc -l)"
# CPU time does not depend on other load on the machine: analyze's CPU
# seconds per core, against cat's wall time, is the ratio on an idle machine
# when cat is not I/O-bound.
printf 'analyze CPU %.2f s (user+sys, best run) = %.2f s per core on %s cores; load average %s\n' \
	"$best_cpu" "$(echo "$best_cpu / $threads" | bc -l)" "$threads" "$(cut -d' ' -f1-3 /proc/loadavg)"
