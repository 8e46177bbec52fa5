# dird: see README.md. Targets: build, run, test, test-deps, check, bench, bench-go, clean.

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
TEST_DEBS += sssd-ldap libpam-sss libnss-sss pamtester nslcd libnss-ldapd libpam-ldapd
# Deployment: systemd-analyze verifies the unit in deploy/.
TEST_DEBS += systemd

.PHONY: build run test test-deps check bench bench-go clean

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/dird ./cmd/dird

run: build
	bin/dird serve --config config.example.yaml

# test-deps installs whichever of TEST_DEBS is missing. It asks apt only
# when something is missing, so it is quick and offline once done. A
# package with a service (slapd) must not start it: unless the machine
# already has one, a policy-rc.d that forbids starting services is put in
# place for the install and removed afterwards. The NSS and PAM modules
# for SSSD and nslcd (libnss-sss, libpam-sss, libnss-ldapd, libpam-ldapd)
# would switch this machine's own logins over to a directory in their
# postinst (nsswitch.conf edits, pam-auth-update): /etc/nsswitch.conf and
# /etc/pam.d/common-* are copied before the install and put back after it,
# their pam-auth-update profiles are disabled so a later run does not
# enable them again, and the sssd and nslcd services are disabled (the
# tests run their own, in private mount namespaces).
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
	saved=$$(mktemp -d) && mkdir "$$saved/pam.d" || exit 1; \
	cp -p /etc/nsswitch.conf "$$saved/" 2>/dev/null; \
	cp -p /etc/pam.d/common-* "$$saved/pam.d/" 2>/dev/null; \
	apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	status=$$?; \
	for p in $$missing; do \
		case $$p in \
		libpam-sss) DEBIAN_FRONTEND=noninteractive pam-auth-update --disable sss ;; \
		libpam-ldapd) DEBIAN_FRONTEND=noninteractive pam-auth-update --disable ldap ;; \
		sssd-ldap|nslcd) \
			s=$${p%-ldap}; \
			if [ -d /run/systemd/system ]; then systemctl disable --now $$s.service >/dev/null 2>&1; \
			elif [ -x /etc/init.d/$$s ]; then update-rc.d $$s disable >/dev/null 2>&1; fi ;; \
		esac; \
	done; \
	if [ -f "$$saved/nsswitch.conf" ]; then cp -p "$$saved/nsswitch.conf" /etc/nsswitch.conf; fi; \
	for f in "$$saved"/pam.d/common-*; do if [ -f "$$f" ]; then cp -p "$$f" /etc/pam.d/; fi; done; \
	rm -rf "$$saved"; \
	exit $$status

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

# bench: dird side by side with OpenLDAP slapd and FreeRADIUS on this
# machine (bench/run.sh; README "Benchmarks"): installs the Debian packages
# it drives when missing, writes bench/results.md and bench/results.png.
# BENCH_QUICK=1 for a short check of the harness.
bench:
	GO="$(GO)" bash bench/run.sh

# bench-go: the Go micro-benchmarks of the packages.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
