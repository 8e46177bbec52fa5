# dird: see README.md. Targets: build, run, test, test-deps, check, bench, clean.

GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Debian packages the tests drive or need: the real clients, OpenLDAP's
# server tools (slapadd, slapcat, slapd: the migration round trip; its
# service is never started), and a C toolchain for -race (which needs
# cgo). Add to this list as tests grow.
TEST_DEBS ?= ldap-utils freeradius-utils slapd gcc libc6-dev
# One line per front or feature, so each stays beside its reason.
# RADIUS EAP: wpa_supplicant's eapol_test drives PEAP and EAP-TTLS.
TEST_DEBS += eapoltest
# The portal's end-to-end tests drive Debian's headless Chromium.
TEST_DEBS += chromium
# Linux hosts: SSSD and nslcd at a PAM prompt (see internal/sssdtest).
# Deployment: systemd-analyze verifies the unit in deploy/.
TEST_DEBS += systemd

.PHONY: build run test test-deps check bench clean

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/dird ./cmd/dird

run: build
	bin/dird serve --config config.example.yaml

# test-deps installs whichever of TEST_DEBS is missing. It asks apt only
# when something is missing, so it is quick and offline once done. A
# package with a service (slapd) must not start it: unless the machine
# already has one, a policy-rc.d that forbids starting services is put in
# place for the install and removed afterwards.
test-deps:
	@missing=""; \
	if ! command -v dpkg >/dev/null 2>&1; then \
		echo "test-deps: warning: not a Debian system; make sure these are installed: $(TEST_DEBS)" >&2; \
		exit 0; \
	fi; \
	for p in $(TEST_DEBS); do \
		dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
		[ "$$(id -u)" = 0 ] || echo "test-deps: not root, nothing to install (all of $(TEST_DEBS) present)" >&2; \
		exit 0; \
	fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "test-deps: missing Debian packages:$$missing" >&2; \
		echo "test-deps: run 'make test-deps' as root, or: sudo apt-get install$$missing" >&2; \
		exit 1; \
	fi; \
	echo "test-deps: installing$$missing"; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then \
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT; trap 'exit 1' INT TERM; \
		printf '#!/bin/sh\n# make test-deps: no service starts while it installs\nexit 101\n' >/usr/sbin/policy-rc.d; \
		chmod 755 /usr/sbin/policy-rc.d; \
	fi; \
	apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

# One go test invocation for every package, so its closing lines are the
# verdict on the whole repository.
test: test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

check:
	@unformatted="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck ./...; \
	else echo "check: staticcheck not installed, skipped (go install honnef.co/go/tools/cmd/staticcheck@latest)"; fi
	$(GO) test -count=1 -run 'TestDeps|TestPackageDocs|TestGofmt|TestViperOnlyInConfig|TestConfigExamplesValid' ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
