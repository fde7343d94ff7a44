package tokenizer_test

import (
	"fmt"

	"github.com/gomerge/gomerge/tokenizer"
)

func ExampleBPE_Encode() {
	tok, err := tokenizer.ReadFile("../testdata/tokenizer/tokenizer.json")
	if err != nil {
		panic(err)
	}
	ids, _ := tok.Encode("the lower<|eos|>")
	fmt.Println(tok.Prefix(), ids)
	fmt.Printf("%q\n", tok.Decode(ids))
	// Output:
	// [269] [116 257 32 267 270]
	// "the lower"
}

func ExampleBytes() {
	b := tokenizer.Bytes{BOS: 256}
	ids, _ := b.Encode("add:")
	fmt.Println(append(b.Prefix(), ids...))
	// Output: [256 97 100 100 58]
}
