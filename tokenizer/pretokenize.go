package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// splitter cuts text into pre-tokens. The regular expressions of byte-level
// tokenizers use a negative lookahead (\s+(?!\S)), which Go's regexp lacks,
// so the known patterns are implemented by hand below, each alternative in
// the pattern's order (the first alternative that matches at a position
// wins, as in a backtracking regex engine).
type splitter func(s string) []string

// The pre-tokenisation patterns gomerge implements.
const (
	// patternGPT2 is GPT-2's (also the ByteLevel pre-tokenizer's default).
	patternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// patternLlama3 is Llama 3's: numbers in groups of up to three.
	patternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// patternQwen2 is Qwen2's and Qwen3's: single digits.
	patternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

func splitterFor(pattern string) splitter {
	switch pattern {
	case patternGPT2:
		return func(s string) []string { return split(s, matchGPT2) }
	case patternLlama3:
		return func(s string) []string { return split(s, func(s string) int { return matchLlama(s, 3) }) }
	case patternQwen2:
		return func(s string) []string { return split(s, func(s string) int { return matchLlama(s, 1) }) }
	}
	return nil
}

// split applies match at successive positions; match returns the length of
// the match at the start of its argument (always > 0 for non-empty input).
func split(s string, match func(string) int) []string {
	var out []string
	for len(s) > 0 {
		n := match(s)
		if n <= 0 { // cannot happen with the patterns above; keep progress
			_, n = utf8.DecodeRuneInString(s)
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func isL(r rune) bool  { return unicode.IsLetter(r) }
func isN(r rune) bool  { return unicode.IsNumber(r) }
func isWS(r rune) bool { return unicode.IsSpace(r) }
func isCRLF(r rune) bool {
	return r == '\r' || r == '\n'
}

// other is [^\s\p{L}\p{N}].
func other(r rune) bool { return !isWS(r) && !isL(r) && !isN(r) }

// run returns the byte length of the longest prefix of s whose runes all
// satisfy f, and how many runes it has.
func run(s string, f func(rune) bool) (n, count int) {
	for n < len(s) {
		r, w := utf8.DecodeRuneInString(s[n:])
		if !f(r) {
			break
		}
		n += w
		count++
	}
	return n, count
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d, case-insensitively if fold.
func contraction(s string, fold bool) int {
	if len(s) < 2 || s[0] != '\'' {
		return 0
	}
	lower := func(b byte) byte {
		if fold && b >= 'A' && b <= 'Z' {
			return b + 'a' - 'A'
		}
		return b
	}
	switch lower(s[1]) {
	case 's', 't', 'm', 'd':
		return 2
	}
	if len(s) >= 3 {
		switch string([]byte{lower(s[1]), lower(s[2])}) {
		case "re", "ve", "ll":
			return 3
		}
	}
	return 0
}

// whitespace implements \s+(?!\S)|\s+ at the start of s (s starts with
// whitespace): the run, less its last rune when non-whitespace follows and
// the run has more than one rune.
func whitespace(s string) int {
	n, count := run(s, isWS)
	if n == 0 {
		return 0
	}
	if n < len(s) && count > 1 {
		_, w := utf8.DecodeLastRuneInString(s[:n])
		return n - w
	}
	return n
}

// matchGPT2 implements patternGPT2.
func matchGPT2(s string) int {
	if n := contraction(s, false); n > 0 {
		return n
	}
	sp := 0
	if s[0] == ' ' {
		sp = 1
	}
	for _, f := range []func(rune) bool{isL, isN, other} {
		if n, _ := run(s[sp:], f); n > 0 {
			return sp + n
		}
	}
	return whitespace(s)
}

// matchLlama implements patternLlama3 (digits 3) and patternQwen2 (digits 1).
func matchLlama(s string, digits int) int {
	if n := contraction(s, true); n > 0 {
		return n
	}
	r0, w0 := utf8.DecodeRuneInString(s)
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if !isCRLF(r0) && !isL(r0) && !isN(r0) {
		if n, _ := run(s[w0:], isL); n > 0 {
			return w0 + n
		}
	}
	if n, _ := run(s, isL); n > 0 {
		return n
	}
	// \p{N}{1,digits}
	if isN(r0) {
		n, k := 0, 0
		for n < len(s) && k < digits {
			r, w := utf8.DecodeRuneInString(s[n:])
			if !isN(r) {
				break
			}
			n += w
			k++
		}
		return n
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	sp := 0
	if s[0] == ' ' {
		sp = 1
	}
	if n, _ := run(s[sp:], other); n > 0 {
		m, _ := run(s[sp+n:], isCRLF)
		return sp + n + m
	}
	// \s*[\r\n]+: up to the last CR or LF of the whitespace run.
	n, _ := run(s, isWS)
	last := -1
	for i := 0; i < n; i++ {
		if s[i] == '\r' || s[i] == '\n' {
			last = i
		}
	}
	if last >= 0 {
		return last + 1
	}
	return whitespace(s)
}
