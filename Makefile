GO ?= go
GOBIN ?= $(shell $(GO) env GOPATH)/bin
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.5.1

.PHONY: test proto proto-tools bench lint run

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./router/ ./simulcast/

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...
