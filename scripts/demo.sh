#!/usr/bin/env bash
# The README's demo: generate checkpoints, inspect and convert them, merge the
# repo's real trained testbed experts several ways, and evaluate the merges.
# Usage: scripts/demo.sh BIN OUTDIR
set -euo pipefail
bin=${1:-bin/gomerge}
out=${2:-demo}
tb=testdata/testbed
rm -rf "$out"
mkdir -p "$out"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }

# 1. A synthetic Llama-shaped family (~1M parameters, bf16), inspected and converted.
say go run ./scripts/genmodels -tiny -experts 2 -o "$out/synthetic"
say "$bin" inspect "$out/synthetic/base" | tail -n 8
say "$bin" convert "$out/synthetic/base" --dtype f32 -o "$out/base-f32.safetensors"

# 2. Merge the trained testbed experts (add, reverse) into their base.
say "$bin" ties --base "$tb/models/base" "$tb/models/expert_add" "$tb/models/expert_rev" \
	--weight 1,1 --density 0.5 -o "$out/ties"
say "$bin" task-arithmetic --base "$tb/models/base" "$tb/models/expert_add" "$tb/models/expert_rev" \
	--weight 1,1 -o - | "$bin" inspect - | tail -n 4
say "$bin" widen --base "$tb/models/base" "$tb/models/expert_add" "$tb/models/expert_rev" -o "$out/widen"
say "$bin" run testdata/recipes/slerp-gradients.yaml -o "$out/slerp"

# 3. Evaluate the merges beside their parents on both tasks.
for task in add rev; do
	say "$bin" eval "$tb/models/expert_add" "$tb/models/expert_rev" "$out/ties" "$out/widen" \
		--data "$tb/eval/$task.jsonl" --generate
done
