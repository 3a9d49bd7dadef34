GO ?= go
GOBIN ?= $(shell $(GO) env GOPATH)/bin
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.5.1

.PHONY: test proto proto-tools bench bench-go bench-capacity lint run

# The README's test command.
test:
	./scripts/test.sh

run:
	$(GO) run ./cmd/sfu

proto-tools:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler"; exit 1; }
	GOBIN=$(GOBIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GOBIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# Regenerates proto/ Go code; the output is committed.
proto: proto-tools
	PATH=$(GOBIN):$$PATH protoc -I proto -I /usr/include \
		--go_out=proto --go_opt=paths=source_relative \
		--go-grpc_out=proto --go-grpc_opt=paths=source_relative \
		$$(find proto -name '*.proto')

# Benchmarks (docs/performance.md says what each measures and what they gave on the reference
# machine): the per-packet ones, then the end-to-end capacity run of one node.
bench: bench-go bench-capacity

# BenchmarkForward and BenchmarkBaseline (real SRTP and loopback UDP) print ns/fwd and
# cpu-ns/fwd; compare the two at the same subs=N.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./router/ ./simulcast/ ./client/synth/

# A node on loopback and the load tester stepping up subscribers to the knee
# (scripts/capacity.sh lists its settings).
bench-capacity:
	./scripts/capacity.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
