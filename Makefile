# Shardrive build, test and demo. `make run` and `make test` are the two
# set-up commands of the README; both install what they need.

GO       ?= go
BIN      := bin
RUN_DIR  ?= $(CURDIR)/.run
FUZZTIME ?= 5s
export CGO_ENABLED := 1
# Stamped into the binaries (`shardrive version`): the newest v* tag, else
# 0.0.0-dev, and the commit, "-dirty" with uncommitted changes.
VERSION  ?= $(or $(patsubst v%,%,$(shell git describe --tags --match 'v[0-9]*' 2>/dev/null)),0.0.0-dev)
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(if $(shell git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null),-dirty)
LDFLAGS  := -X github.com/shardrive/shardrive/installer/buildinfo.version=$(VERSION) -X github.com/shardrive/shardrive/installer/buildinfo.commit=$(COMMIT)

.PHONY: all build deps test test-short test-long fuzz bench bench-mount run vet vet-cross fmt clean package

all: build

deps:
	@scripts/deps.sh

build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

vet: vet-cross
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

# The code stays portable (FUSE behind build tags): vet it as Windows and
# macOS code. Without cgo there (no SQLite) nothing links, but all of it checks.
vet-cross:
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) vet ./...
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) vet ./...

# Release files in dist/: shardrive and shardfarmer .deb files and tar.gz
# archives for linux/amd64 and linux/arm64 (cross-compiled; the script
# installs the cross compiler), and SHA256SUMS.
package: deps
	VERSION="$(VERSION)" COMMIT="$(COMMIT)" scripts/package.sh

# The CI suite: vet, every package's tests (race detector where it fits),
# the end-to-end tests over real shardfarmer processes, and a brief run of
# every fuzz target.
test: build vet
	$(GO) test -race -timeout 15m ./core/... ./cache/... ./netclient/... ./farmer/... ./syncer/... ./drive/... ./service/...
	$(GO) test -timeout 15m ./mount/... ./cmd/... ./installer/...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# Every Fuzz target in the tree, FUZZTIME each.
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

# Long rounds: big files, long fuzzing. Run before resolving an issue.
test-long: build
	SHARDRIVE_LONG=1 $(GO) test -timeout 90m ./cmd/... ./drive/... ./syncer/... ./mount/...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=30s

# Benchmarks: the crypto/erasure pipeline beside raw AES-GCM, and put/get
# throughput over six loopback farmers, reported as MB/s.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2x -count 1 ./core/crypto/ ./core/merkle/ ./core/erasure/ ./syncer/
	scripts/bench-e2e.sh

# The mount side by side with the local disk and gocryptfs (root: it drops
# the page cache). SIZE_MIB, FILES and ROUNDS scale it.
bench-mount: build
	scripts/bench-mount.sh

# A local network: six farmers on loopback under $(RUN_DIR), a drive created
# once and reused, in the foreground until Ctrl-C.
run: build
	@scripts/run.sh "$(RUN_DIR)"

clean:
	rm -rf $(BIN) dist
