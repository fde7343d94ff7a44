// Package evaluate measures models on data with the forward pass of package
// model; it backs the gomerge eval command.
//
// Text ([Text]): the token sequence (the tokenizer's prefix, usually BOS,
// then the text) is cut into windows of the model's context that advance by
// a stride (half the context by default); each window scores only tokens no
// earlier window scored, so every token after the first is scored once, with
// up to context−stride tokens of preceding context. Loss is the mean
// cross-entropy in nats and perplexity e^loss.
//
// Records ([Records]): a JSONL line {"prompt", "answer"} (or the token-id
// forms "prompt_ids", "answer_ids") is scored by teacher forcing on
// prompt+answer: the loss is the cross-entropy of each answer token (the
// answer ends with EOS), averaged over all answer tokens of all records — a
// token-weighted mean, as the testbed's README defines it. With
// Options.Generate a record is also decoded greedily from the prompt, for at
// most len(answer ids)+1 new tokens, and counts as correct when the bytes
// produced before the first EOS equal the answer's and an EOS was produced.
// While greedy decoding agrees with the answer's tokens its steps are the
// teacher-forced predictions already computed, so decoding runs the model
// only after a disagreement that could still spell the answer (a different
// segmentation of the same bytes). An {"ids": [...]} record scores every
// token after the first.
//
// Tokenizers ([TokenizerFor]): a model directory with tokenizer.json uses it
// (byte-level BPE, package tokenizer); without one, a vocabulary of at least
// 256 ids is taken as byte-level — token id = byte value, ids from 256 on
// special, BOS from config.json — which is the testbed's convention.
//
// Results do not depend on the thread count or on how records are batched.
package evaluate
