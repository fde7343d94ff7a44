package tokenizer

import (
	"strings"
	"sync"
)

// byteTables returns GPT-2's byte-to-unicode mapping: printable bytes
// ('!'…'~', '¡'…'¬', '®'…'ÿ') map to themselves, the other 68 bytes, in
// order, to U+0100, U+0101, ….
var byteTables = sync.OnceValues(func() ([256]rune, map[rune]byte) {
	var enc [256]rune
	dec := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			enc[b] = rune(b)
		} else {
			enc[b] = rune(256 + n)
			n++
		}
		dec[enc[b]] = byte(b)
	}
	return enc, dec
})

func byteEncoder() *[256]rune {
	enc, _ := byteTables()
	return &enc
}

func byteDecoder() map[rune]byte {
	_, dec := byteTables()
	return dec
}

// encodeByteLevel maps each byte of s to its unicode stand-in.
func encodeByteLevel(s string, enc *[256]rune) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(enc[s[i]])
	}
	return b.String()
}

// decodeByteLevel maps the stand-ins back to bytes; ok is false if a rune
// is not a stand-in.
func decodeByteLevel(s string, dec map[rune]byte) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := dec[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}
