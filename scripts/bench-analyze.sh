#!/usr/bin/env bash
# bench-analyze.sh — time `gomerge analyze` on the ~1B-parameter synthetic
# family (base + 2 experts, bf16) against `cat` of the same input files, with
# the page cache warm, in the same run. cat and analyze (and an older binary,
# with -old) run alternately, several rounds, so that load from other work
# on the machine hits them alike. Reports per round the wall times, their
# ratio (goal: analyze ≤ 2× cat), analyze's CPU seconds (user+sys, which
# other load disturbs less) and the load average; then the best of each,
# the median of the per-round ratios and analyze's peak RSS.
#
# Usage: scripts/bench-analyze.sh [-params 1e9] [-j N] [-runs N] [-old BIN] [-keep] [WORKDIR]
#   WORKDIR defaults to $WORK or a new temporary directory (removed unless
#   -keep or KEEP=1). An existing family is used from $MODELS (directories
#   base, expert1, expert2) or WORKDIR/family; otherwise one is generated.
#   -old BIN also times another gomerge binary (say, one built before a
#   change) in the same rounds.
set -euo pipefail

params=1e9
threads=$(nproc)
runs=5
keep=${KEEP:-0}
work=${WORK:-}
old=""
while [ $# -gt 0 ]; do
	case "$1" in
	-params) params=$2; shift 2 ;;
	-j) threads=$2; shift 2 ;;
	-runs) runs=$2; shift 2 ;;
	-old) old=$(realpath "$2"); shift 2 ;;
	-keep) keep=1; shift ;;
	-h|--help) sed -n '2,19p' "$0"; exit 0 ;;
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
fam=${MODELS:-$work/family}
if [ ! -d "$fam/base" ]; then
	echo "generating the family (-params $params, 2 experts)…" >&2
	go run ./scripts/genmodels -o "$fam" -params "$params" -experts 2 >&2
fi
mapfile -t files < <(find -L "$fam/base" "$fam/expert1" "$fam/expert2" -name '*.safetensors' | sort)
bytes=$(cat "${files[@]}" | wc -c)
echo "inputs: ${#files[@]} files, $bytes bytes; $runs rounds, -j $threads" >&2

now() { date +%s.%N; }
# time_cmd OUT CMD...: runs CMD (an executable) with its output discarded;
# OUT gets "wall_s cpu_s rss_kib".
time_cmd() {
	local out=$1
	shift
	local t0 t1
	t0=$(now)
	/usr/bin/time -f '%U %S %M' -o "$work/time" "$@" > /dev/null
	t1=$(now)
	read -r u s r < <(tail -1 "$work/time")
	echo "$(echo "$t1 - $t0" | bc -l) $(echo "$u + $s" | bc -l) $r" > "$out"
}
args=(analyze -q -j "$threads" --base "$fam/base" "$fam/expert1" "$fam/expert2")

cat "${files[@]}" > /dev/null # warm the page cache
"$work/gomerge" "${args[@]}" > "$work/report.txt"
if [ -n "$old" ]; then
	"$old" "${args[@]}" > "$work/report-old.txt"
	if ! cmp -s "$work/report.txt" "$work/report-old.txt"; then
		echo "warning: the reports of $old and the new binary differ" >&2
	fi
fi

printf '%-5s %7s %7s %7s %8s %9s %7s %7s %7s  %s\n' round cat_s wall_s ratio cpu_s cpu/cores cpu_rat old_rat old_cpu load
ratios=()
cpuratios=()
oldratios=()
oldcpus=()
best_cat="" best_an="" best_cpu="" rss=0
for i in $(seq "$runs"); do
	time_cmd "$work/t.cat" cat "${files[@]}"
	time_cmd "$work/t.an" "$work/gomerge" "${args[@]}"
	read -r tc _ _ < "$work/t.cat"
	read -r ta ca ra < "$work/t.an"
	oldr="-" oldc="-"
	if [ -n "$old" ]; then
		time_cmd "$work/t.old" "$old" "${args[@]}"
		read -r to co _ < "$work/t.old"
		oldr=$(printf '%.2f' "$(echo "$to / $tc" | bc -l)")
		oldc=$(printf '%.2f' "$co")
		oldratios+=("$oldr")
		oldcpus+=("$oldc")
	fi
	r=$(echo "$ta / $tc" | bc -l)
	cr=$(echo "$ca / $threads / $tc" | bc -l)
	ratios+=("$(printf '%.3f' "$r")")
	cpuratios+=("$(printf '%.3f' "$cr")")
	if [ "$ra" -gt "$rss" ]; then rss=$ra; fi
	if [ -z "$best_cat" ] || [ "$(echo "$tc < $best_cat" | bc -l)" = 1 ]; then best_cat=$tc; fi
	if [ -z "$best_an" ] || [ "$(echo "$ta < $best_an" | bc -l)" = 1 ]; then best_an=$ta; fi
	if [ -z "$best_cpu" ] || [ "$(echo "$ca < $best_cpu" | bc -l)" = 1 ]; then best_cpu=$ca; fi
	printf '%-5s %7.2f %7.2f %7.2f %8.2f %9.2f %7.2f %7s %7s  %s\n' "$i" "$tc" "$ta" "$r" "$ca" \
		"$(echo "$ca / $threads" | bc -l)" "$cr" "$oldr" "$oldc" "$(cut -d' ' -f1-3 /proc/loadavg)"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf 'cat      %7.2f s best  (%.2f GB/s)\n' "$best_cat" "$(echo "$bytes / $best_cat / 1000000000" | bc -l)"
printf 'analyze  %7.2f s best  (%.2f GB/s, -j %s)\n' "$best_an" "$(echo "$bytes / $best_an / 1000000000" | bc -l)" "$threads"
printf 'ratio    %7.2f × cat, best over best (goal ≤ 2); median of rounds %.2f\n' \
	"$(echo "$best_an / $best_cat" | bc -l)" "$(median "${ratios[@]}")"
# CPU time does not depend much on other load: analyze's CPU seconds per
# core, against cat's wall time, approximates the ratio on an idle machine
# when cat is not I/O-bound.
printf 'analyze CPU %.2f s best (user+sys) = %.2f s per core on %s cores = %.2f × best cat; median of rounds %.2f\n' \
	"$best_cpu" "$(echo "$best_cpu / $threads" | bc -l)" "$threads" \
	"$(echo "$best_cpu / $threads / $best_cat" | bc -l)" "$(median "${cpuratios[@]}")"
if [ -n "$old" ]; then
	printf 'old binary: median ratio %.2f × cat; median CPU %.2f s\n' "$(median "${oldratios[@]}")" "$(median "${oldcpus[@]}")"
fi
printf 'peak RSS %7.1f MiB\n' "$(echo "$rss / 1024" | bc -l)"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
