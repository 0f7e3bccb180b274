# rawnet: see README.md. Every target works on a fresh Debian machine as
# root once .ci/run (or the apt-get line in README.md) has installed the tools.

GO       ?= go
PREFIX   ?= /usr/local
MANDIR   ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN      := bin/rawnet
# build links libpcap through cgo, for tcpdump filter expressions (capture,
# read); capabilities are still dropped on every thread (internal/priv uses
# libcap's psx). build-static is pure Go (CGO_ENABLED=0) and runs anywhere,
# but says that filter expressions need the cgo build.
GOFLAGS_BUILD := -trimpath -tags netgo,osusergo,urfave_cli_no_docs -ldflags "-s -w -X main.version=$(VERSION)"
FUZZTIME ?= 20s

.PHONY: all build build-static deps test bench demo docs install install-files setcap fuzz lint clean

all: build

build:
	CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/rawnet

build-static:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)-static ./cmd/rawnet

# Debian packages the lab, tests and benchmarks use (installed when missing).
deps:
	@./scripts/deps.sh

# Unit tests and lab tests (network namespaces; needs root). With CI=true a
# lab test that would skip fails instead.
# The vet runs for macOS and FreeBSD too: rawnet's sockets are Linux
# only, but every package must still build there (its *_others.go stubs
# say "not implemented"); nothing else checks that.
test: deps
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 8m ./...

# Go benchmarks with allocation counts, then rawnet against the peer tools
# (iputils ping, fping, nmap, traceroute, mtr, sockperf, hping3, nping,
# tcpdump) in throwaway labs, process start against a Go hello world and
# traceroute (bench-startup.sh), flood ping against iputils
# (bench-flood.sh), and the exporter at 10,000 targets/s and against
# prometheus-smokeping-prober (bench-exporter.sh) and with 1,024 UDP
# targets (bench-exporter-udp.sh).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...
	./scripts/bench-peers.sh $(BIN)
	./scripts/bench-trace.sh $(BIN)
	./scripts/bench-send.sh $(BIN)
	./scripts/bench-read.sh $(BIN)
	./scripts/bench-read-app.sh $(BIN)
	./scripts/bench-capture.sh $(BIN)
	./scripts/bench-rtt.sh $(BIN)
	./scripts/bench-tcpping.sh $(BIN)
	./scripts/bench-arp.sh $(BIN)
	./scripts/bench-startup.sh $(BIN)
	./scripts/bench-flood.sh $(BIN)
	./scripts/bench-exporter.sh $(BIN)
	./scripts/bench-exporter-udp.sh $(BIN)

# A throwaway lab network in namespaces, rawnet's main jobs against it,
# and the lab removed again.
demo: deps build
	./scripts/demo.sh $(BIN)

# The man pages (docs/man/*.1) and their Markdown copies (docs/*.md), made
# from the command definitions in cmd/rawnet and their doc/*.txt texts, the
# same source as --help. A test fails when the checked-in copies are stale.
docs: build
	$(BIN) doc-model | $(GO) run ./internal/cmd/gendocs -out docs

# The binary, the man pages and the bash, zsh and fish completions, under
# DESTDIR and PREFIX.
install: build install-files

# install without building: copies an existing $(BIN).
install-files:
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/rawnet
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0644 docs/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	$(BIN) completion bash > $(DESTDIR)$(BASHCOMPDIR)/rawnet
	$(BIN) completion zsh > $(DESTDIR)$(ZSHCOMPDIR)/_rawnet
	$(BIN) completion fish > $(DESTDIR)$(FISHCOMPDIR)/rawnet.fish
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/rawnet $(DESTDIR)$(ZSHCOMPDIR)/_rawnet $(DESTDIR)$(FISHCOMPDIR)/rawnet.fish

# Lets non-root users run rawnet with raw sockets.
setcap: install
	setcap cap_net_raw,cap_net_admin+ep $(DESTDIR)$(PREFIX)/bin/rawnet

fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
