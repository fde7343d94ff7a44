package tokenizer

import "fmt"

// Bytes is the byte-level vocabulary of models shipped without a
// tokenizer.json (such as gomerge's testbed): token id = byte value 0–255,
// and ids from 256 on are special tokens (BOS, EOS, PAD) that stand for no
// bytes. Encoding never fails and decoding is exact.
type Bytes struct {
	// BOS is put before every sequence by Prefix; −1 for none.
	BOS int
}

// Encode returns the bytes of text as ids.
func (b Bytes) Encode(text string) ([]int, error) {
	ids := make([]int, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int(text[i])
	}
	return ids, nil
}

// TokenBytes returns the byte of a byte id and nil for a special id.
func (b Bytes) TokenBytes(id int) []byte {
	if id >= 0 && id < 256 {
		return []byte{byte(id)}
	}
	return nil
}

// Decode returns the bytes of ids, skipping special tokens.
func (b Bytes) Decode(ids []int) string {
	out := make([]byte, 0, len(ids))
	for _, id := range ids {
		out = append(out, b.TokenBytes(id)...)
	}
	return string(out)
}

// Prefix returns BOS, or nothing.
func (b Bytes) Prefix() []int {
	if b.BOS < 0 {
		return nil
	}
	return []int{b.BOS}
}

// String describes the vocabulary.
func (b Bytes) String() string { return fmt.Sprintf("byte-level (BOS %d)", b.BOS) }
