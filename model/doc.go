// Package model runs decoder-only transformers of the Llama family on the
// CPU: Llama 2/3 (RMSNorm, rotary embeddings with rope_theta and Llama 3
// rope_scaling, grouped-query attention, SwiGLU), Mistral (with its sliding
// window), Qwen2/2.5 (q/k/v biases) and Qwen3 (per-head q/k RMSNorm), with
// tied or untied output embeddings.
//
// [Load] reads config.json and the safetensors weights of a checkpoint
// opened by package formats. Weight matrices stay in their stored precision
// (bfloat16, float16 or float32), rearranged into 16-column panels; the
// matrix-product kernel converts one 256×16 block at a time to float32, so a
// loaded model takes about its size on disk. All arithmetic is float32.
//
// Matrix products use a blocked kernel: the activations are packed into
// 6-row panels and a 6×16 micro-kernel (AVX2/FMA assembly on amd64, NEON on
// arm64, pure Go elsewhere or with the purego tag) accumulates each output
// tile over the reduction dimension in a fixed order. Tests run every kernel
// the CPU supports against the pure-Go one and a float64 reference:
//
//	go test ./model/...
//	go test -tags purego ./model/...
//	GOARCH=arm64 go test -exec qemu-aarch64 ./model/...
//
// Work is split across goroutines by output panel, so every result is
// identical for any thread count and for any batching of sequences.
//
// A [Runner] holds the scratch buffers of a forward pass over a batch of
// sequences ([Runner.Forward], [Runner.Logits]); a [Cache] keeps keys and
// values for incremental (greedy) decoding.
package model
