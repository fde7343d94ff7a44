# gomerge — build, demo and test targets. See README.md.
GO ?= go
BIN := bin/gomerge
DEMO := demo

.PHONY: build demo test test-go test-purego test-fuzz test-arm64 bench clean

build:
	$(GO) build -o $(BIN) .

# demo builds gomerge, generates a tiny synthetic checkpoint family, and
# merges the real trained testbed experts (testdata/testbed) several ways.
demo: build
	bash scripts/demo.sh $(BIN) $(DEMO)

# test is the project's whole test suite: what CI runs (.ci/run).
test: test-go test-purego test-fuzz test-arm64

test-go:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# The pure-Go build runs every package's tests too (-short trims the long
# evaluation sweeps, which the first run covers with the assembly kernels).
test-purego:
	$(GO) test -count=1 -short -tags purego ./...

test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzHeader$$' -fuzztime 10s ./formats
	$(GO) test -run '^$$' -fuzz '^FuzzIndex$$' -fuzztime 10s ./formats

# arm64 kernels run under qemu-user (Debian package qemu-user), with and
# without the ARMv8.6 BF16 instructions.
test-arm64:
	@if command -v qemu-aarch64 >/dev/null 2>&1; then \
		set -e; \
		GOARCH=arm64 $(GO) vet ./simd/... ./model/...; \
		GOARCH=arm64 $(GO) test -count=1 -short -exec qemu-aarch64 ./simd/...; \
		QEMU_CPU=cortex-a72 GOARCH=arm64 $(GO) test -count=1 -short -exec qemu-aarch64 ./simd/...; \
		GOARCH=arm64 $(GO) test -count=1 -short -tags purego -exec qemu-aarch64 ./simd/...; \
		GOARCH=arm64 $(GO) test -count=1 -short -exec qemu-aarch64 ./model/; \
		if command -v aarch64-linux-gnu-objdump >/dev/null 2>&1; then sh simd/_asm/checkwords.sh; fi; \
	else \
		echo "test-arm64: qemu-aarch64 not found (apt-get install qemu-user); arm64 kernels not tested"; \
		exit 1; \
	fi

bench:
	$(GO) test -run '^$$' -bench . -benchtime 200ms ./simd/

clean:
	rm -rf bin $(DEMO)
