// Package evaluate measures a model on data: mean loss and perplexity over
// text in sliding windows of the model's context, and over JSONL records of
// prompts and answers the answer loss (teacher forcing) and the exact-match
// accuracy of greedy decoding.
package evaluate
