// Package tokenizer encodes text into token ids and decodes them back, for
// Hugging Face tokenizer.json files with byte-level BPE (GPT-2, Llama 3,
// Qwen and similar: a pre-tokenisation split, the byte-to-unicode mapping,
// ranked merges, added and special tokens), and for byte-level vocabularies
// without a tokenizer file ([Bytes]).
package tokenizer
