#!/bin/sh
# checkwords.sh verifies every "WORD $0x... // INSTRUCTION" line of
# simd/*_arm64.s against a disassembler: it builds the package's arm64 test
# binary, disassembles it with aarch64-linux-gnu-objdump, and compares the
# decoded text of each word with the comment. Run from the repository root:
#
#	sh simd/_asm/checkwords.sh
set -eu
OBJDUMP=${OBJDUMP:-aarch64-linux-gnu-objdump}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOARCH=arm64 go test -c -o "$tmp/simd.test" ./simd
"$OBJDUMP" -d "$tmp/simd.test" |
	awk -F'\t' 'NF >= 3 { w = $2; gsub(/ /, "", w); t = $3; for (i = 4; i <= NF; i++) t = t " " $i; print w "\t" t }' |
	sort -u >"$tmp/dis"
fail=0
n=0
for f in simd/*_arm64.s; do
	grep -o 'WORD *\$0x[0-9a-fA-F]* *// .*' "$f" | while read -r _ hex _ insn; do
		w=$(echo "$hex" | sed 's/^\$0x//' | tr 'A-F' 'a-f')
		want=$(echo "$insn" | tr 'A-Z' 'a-z' | tr -s ' \t' ' ')
		got=$(awk -F'\t' -v w="$w" '($1 "") == (w "") { print $2; exit }' "$tmp/dis" | tr -s ' \t' ' ')
		if [ "$got" != "$want" ]; then
			echo "$f: WORD 0x$w is \"$got\", comment says \"$want\""
			echo x >>"$tmp/failed"
		fi
		echo x >>"$tmp/count"
	done
done
[ -f "$tmp/count" ] && n=$(wc -l <"$tmp/count")
if [ -f "$tmp/failed" ]; then
	echo "checkwords: $(wc -l <"$tmp/failed") of $n WORD encodings disagree with their comments"
	exit 1
fi
echo "checkwords: all $n WORD encodings match their comments"
