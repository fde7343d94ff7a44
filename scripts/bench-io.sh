#!/usr/bin/env bash
# bench-io.sh — wall time and peak memory of `gomerge convert` on a
# checkpoint larger than 4 GiB, against reading the same file with cat and
# copying it with cp.
#
#   scripts/bench-io.sh            # PARAMS=2.3e9 (a 4.6 GB bf16 file)
#   PARAMS=4e9 BENCH_DIR=/scratch scripts/bench-io.sh
#
# Every run is timed with /usr/bin/time (wall, user, system, peak RSS).
# "warm" runs read a file that is in the page cache; "cold" runs first drop
# that one file from the cache (dd iflag=nocache, which touches nothing
# else). The generated files are deleted on exit.
set -euo pipefail

cd "$(dirname "$0")/.."
params=${PARAMS:-2.3e9}
base=${BENCH_DIR:-${TMPDIR:-/tmp}}
work=$(mktemp -d "$base/gomerge-bench-io.XXXXXX")
trap 'rm -rf "$work"' EXIT

go build -o "$work/gomerge" .
go run ./scripts/genmodels -o "$work/gen" -params "$params" -experts 0 -shard-size 0 >/dev/null
model=$work/gen/base/model.safetensors
size=$(stat -c %s "$model")
echo "checkpoint: $(numfmt --to=iec-i --suffix=B "$size") bf16 ($size bytes), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

evict() { dd if="$1" iflag=nocache count=0 status=none; }

declare -A wall
# run LABEL CMD... : time one command and print a row.
run() {
	local label=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@"
	local w u s rss
	read -r w u s rss <"$work/time"
	wall[$label]=$w
	printf '%-34s %8.2f s %8.2f s %8.2f s %8d MiB\n' "$label" "$w" "$u" "$s" $((rss / 1024))
}
ratio() { awk -v a="${wall[$1]}" -v b="${wall[$2]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

printf '%-34s %10s %10s %10s %12s\n' run wall user system "peak RSS"
cat "$model" >/dev/null
run "cat (warm)" sh -c "cat '$model' >/dev/null"
evict "$model"
run "cat (cold)" sh -c "cat '$model' >/dev/null"
run "cp (warm source)" cp "$model" "$work/cp.safetensors"
rm -f "$work/cp.safetensors"
run "convert bf16->f16 (warm)" "$work/gomerge" convert -q "$model" --dtype f16 -o "$work/f16.safetensors"
rm -f "$work/f16.safetensors"
evict "$model"
run "convert bf16->f16 (cold)" "$work/gomerge" convert -q "$model" --dtype f16 -o "$work/f16.safetensors"
rm -f "$work/f16.safetensors"
run "convert reshard 1GB (warm)" "$work/gomerge" convert -q "$model" --shard-size 1GB -o "$work/resharded"
rm -rf "$work/resharded"
run "convert bf16->f32 (warm)" "$work/gomerge" convert -q "$model" --dtype f32 -o "$work/f32.safetensors"
run "convert f32->bf16" "$work/gomerge" convert -q "$work/f32.safetensors" --dtype bf16 -o "$work/back.safetensors"
if cmp -s "$model" "$work/back.safetensors"; then roundtrip=identical; else roundtrip=DIFFERENT; fi
rm -f "$work/f32.safetensors" "$work/back.safetensors"

echo
echo "bf16->f32->bf16 round trip: $roundtrip"
echo "convert bf16->f16 / cat, warm:  $(ratio 'convert bf16->f16 (warm)' 'cat (warm)')"
echo "convert bf16->f16 / cat, cold:  $(ratio 'convert bf16->f16 (cold)' 'cat (cold)')"
echo "convert bf16->f16 / cp:         $(ratio 'convert bf16->f16 (warm)' 'cp (warm source)')"
echo "convert reshard / cp:          $(ratio 'convert reshard 1GB (warm)' 'cp (warm source)')"
