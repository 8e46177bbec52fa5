#!/usr/bin/env bash
# make bench: dird side by side with OpenLDAP slapd and FreeRADIUS, on
# this machine, with the same users loaded into all three.
#
# It installs the Debian packages it drives when they are missing (as
# root, with no service started), builds bin/dird, bin/dirdbench,
# bin/benchdata and bin/benchplot, sets up each server privately under
# bench/work/ (wiped at each run) on free loopback ports, runs every
# scenario against dird and its peer alternately (dird, peer, dird,
# peer ... for R rounds), writes one JSON line per run to
# bench/results.jsonl, and has benchplot turn that into bench/results.md
# and bench/results.png. Every server it starts is stopped by PID on
# exit, also on failure or Ctrl-C.
#
# Knobs (environment):
#   BENCH_QUICK=1        N=2000 users, 1 round, 3s runs, scale part at 20,000 users: a few minutes
#   BENCH_USERS          users loaded (default 10000)
#   BENCH_ROUNDS         rounds per scenario, medians taken over them (default 3)
#   BENCH_DURATION       measured time of one run (default 8s)
#   BENCH_SCALE_USERS    users of the scale part (default 100000)
#   DIRDBENCH            a dirdbench binary to use instead of building cmd/dirdbench
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
GO=${GO:-go}
START=$(date +%s.%N)

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	N=${BENCH_USERS:-2000}
	R=${BENCH_ROUNDS:-1}
	D=${BENCH_DURATION:-3s}
	SCALE_N=${BENCH_SCALE_USERS:-20000}
else
	N=${BENCH_USERS:-10000}
	R=${BENCH_ROUNDS:-3}
	D=${BENCH_DURATION:-8s}
	SCALE_N=${BENCH_SCALE_USERS:-100000}
fi
ARGON_N=256
# PEAP and TTLS use a pool of users: dird needs an NT hash for
# MS-CHAPv2, which it keeps only for passwords it has seen in cleartext
# (see "prime" below).
EAP_N=$((N < 200 ? N : 200))
PASSWORD=Bench-Password-2026
ADMIN_DN=cn=admin,dc=example,dc=com
ADMIN_PW=bench-admin-secret
BASE=dc=example,dc=com
SECRET=bench-radius-secret-2026
# The search connections bind as an ordinary user in both servers (not as
# slapd's rootdn, which skips its ACLs).
SEARCH_DN=uid=user00000,ou=people,$BASE

W=$ROOT/bench/work
OUT=$ROOT/bench/results.jsonl

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# --- Debian packages -----------------------------------------------------
DEBS="slapd ldap-utils freeradius freeradius-utils eapoltest openssl"
install_debs() {
	local missing="" p
	if ! command -v dpkg >/dev/null 2>&1; then
		say "not a Debian system: make sure these are installed: $DEBS"
		return 0
	fi
	for p in $DEBS; do
		dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	[ "$(id -u)" = 0 ] || die "missing Debian packages:$missing (run make bench as root, or: sudo apt-get install$missing)"
	say "installing$missing"
	# slapd and freeradius come with services: none may start (they would
	# take the standard ports and the CPU); this script runs its own.
	local policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\n# make bench: no service starts while it installs\nexit 101\n' >"$policy"
		chmod 755 "$policy"
	fi
	local status=0
	{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; } || status=$?
	[ -n "$policy" ] && rm -f "$policy"
	[ "$status" = 0 ] || die "apt-get install$missing failed"
}
install_debs

# --- servers we start, stopped on exit -------------------------------------
PIDS=""
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
cleanup() {
	local pid
	for pid in $PIDS; do stop_pid "$pid"; done
	PIDS=""
}
forget() { PIDS=$(printf '%s\n' $PIDS | grep -vx "$1" | tr '\n' ' ' || true); }
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10,000 idle LDAP connections need more than the usual 1024 descriptors,
# in the load generator and in both servers (which inherit this limit).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 12000 ] || say "warning: only $(ulimit -n) file descriptors: the idle-connection scenario will fail (run as root)"

# --- build ------------------------------------------------------------------
say "building"
mkdir -p bin
$GO build -trimpath -o bin/dird ./cmd/dird
$GO build -trimpath -o bin/benchdata ./cmd/benchdata
$GO build -trimpath -o bin/benchplot ./cmd/benchplot
if [ -n "${DIRDBENCH:-}" ]; then
	[ -x "$DIRDBENCH" ] || die "DIRDBENCH=$DIRDBENCH is not an executable"
	DB=$DIRDBENCH
else
	$GO build -trimpath -o bin/dirdbench ./cmd/dirdbench
	DB=$ROOT/bin/dirdbench
fi

rm -rf "$W"
mkdir -p "$W"
chmod 700 "$W"
: >"$OUT"

# --- free loopback ports ----------------------------------------------------
# freeport VAR: sets VAR to a loopback port nothing listens on and that
# this run has not handed out yet (a variable, not $(...), so that TAKEN
# is kept).
TAKEN=""
freeport() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		case " $TAKEN " in *" $p "*) continue ;; esac
		if ! ss -Htuln 2>/dev/null | awk '{print $5}' | grep -q ":$p\$"; then
			TAKEN="$TAKEN $p"
			printf -v "$1" '%s' "$p"
			return
		fi
	done
}
freeport DIRD_LDAP; freeport DIRD_RAD; freeport DIRD_ACCT
freeport SLAPD_PORT; freeport FR_AUTH; freeport FR_ACCT

# --- results ------------------------------------------------------------------
json_str() { printf '%s' "$*" | tr -d '"\\\n\r' ; }
emit() { printf '%s\n' "$1" >>"$OUT"; }
FAILED_RUNS=0
# lg KIND ROUND SCENARIO LABEL [dirdbench flags...]: one dirdbench run,
# its JSON line written to results.jsonl with the kind (the comparison it
# belongs to) and the round added in front.
lg() {
	local kind=$1 round=$2 scenario=$3 label=$4 line rc=0
	shift 4
	say "$kind $label$(printf '%s\n' "$@" | awk 'p { print " c=" $0; exit } $0 == "-c" { p = 1 }') round $round"
	line=$("$DB" -json -scenario "$scenario" -label "$label" "$@" 2>>"$W/dirdbench.log" | tail -n 1) || rc=$?
	case $line in
	'{'*) emit "{\"kind\":\"$kind\",\"round\":$round,${line#\{}" ;;
	*)
		[ "$rc" = 0 ] && rc=1
		line="{\"kind\":\"$kind\",\"round\":$round,\"scenario\":\"$scenario\",\"label\":\"$label\",\"ops_per_s\":0,\"fails\":1,\"first_error\":\"dirdbench exited $rc without a JSON line (see bench/work/dirdbench.log)\"}"
		emit "$line"
		;;
	esac
	if [ "$rc" != 0 ]; then
		FAILED_RUNS=$((FAILED_RUNS + 1))
		say "  warning: $kind $label failed (exit $rc): $(printf '%s' "$line" | sed -n 's/.*"first_error":"\([^"]*\)".*/\1/p')"
	fi
	return 0
}
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

emit "{\"kind\":\"meta\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"nproc\":$(nproc),\"kernel\":\"$(json_str "$(uname -sr)")\",\"cpu\":\"$(json_str "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)")\",\"go\":\"$(json_str "$($GO env GOVERSION)")\",\"slapd\":\"$(json_str "$(dpkg-query -W -f '${Version}' slapd 2>/dev/null || echo unknown)")\",\"freeradius\":\"$(json_str "$(dpkg-query -W -f '${Version}' freeradius 2>/dev/null || echo unknown)")\",\"dird\":\"$(json_str "$(git describe --always --dirty 2>/dev/null || echo dev)")\",\"users\":$N,\"argon_users\":$ARGON_N,\"eap_users\":$EAP_N,\"rounds\":$R,\"duration\":\"$D\",\"scale_users\":$SCALE_N,\"quick\":${BENCH_QUICK:-0}}"

# --- data -----------------------------------------------------------------
say "generating $N users (+$ARGON_N argon2id users)"
bin/benchdata -users "$N" -argon-users "$ARGON_N" -password "$PASSWORD" \
	-ldif "$W/users.ldif" -radius-users "$W/radius-users"

# The server certificate for PEAP and EAP-TTLS: the same RSA key in dird
# and FreeRADIUS, so the TLS handshakes cost the same.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=bench-radius.example.com \
	-keyout "$W/eap-key.pem" -out "$W/eap-cert.pem" 2>/dev/null

# --- dird -------------------------------------------------------------------
# dird_conf FILE STORE: nt_hash is off here and turned on with
# DIRD_POLICY_NT_HASH=true for the EAP part (see prime below).
dird_conf() {
	cat >"$1" <<EOF
base_dn: $BASE
admin:
  dn: $ADMIN_DN
  password: $ADMIN_PW
store:
  backend: badger
  path: $2
ldap:
  listen: 127.0.0.1:$DIRD_LDAP
  idle_timeout: 10m
  max_connections: 20000
radius:
  listen: 127.0.0.1:$DIRD_RAD
  accounting_listen: 127.0.0.1:$DIRD_ACCT
  clients:
    - name: bench
      address: 127.0.0.1/32
      secret: $SECRET
  eap_tls_cert: $W/eap-cert.pem
  eap_tls_key: $W/eap-key.pem
portal:
  listen: ""
metrics:
  listen: ""
notify:
  interval: 0
policy:
  lockout_threshold: 0
  nt_hash: false
  hash: argon2id
  argon2_memory: 65536
  argon2_time: 2
  argon2_threads: 1
  upgrade_hashes: false
log:
  level: warn
  format: json
EOF
	chmod 600 "$1"
}
mkdir -p "$W/dird"
dird_conf "$W/dird/dird.yaml" "$W/dird/data"
bin/dird check-config --config "$W/dird/dird.yaml" >/dev/null

ldap_ready() { # URL: wait until the RootDSE answers
	local i
	for i in $(seq 300); do
		ldapsearch -x -H "$1" -s base -b "" -LLL namingContexts >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
DIRD_PID=""
start_dird() { # CONF LOG [env...]
	local conf=$1 log=$2
	shift 2
	env "$@" "$ROOT/bin/dird" serve --config "$conf" 2>>"$log" &
	DIRD_PID=$!
	PIDS="$PIDS $DIRD_PID"
	ldap_ready "ldap://127.0.0.1:$DIRD_LDAP" || die "dird did not start (see $log)"
}
stop_dird() { stop_pid "$DIRD_PID"; forget "$DIRD_PID"; DIRD_PID=""; }

import_dird() { # CONF LDIF USERS
	local t0 secs
	t0=$(now)
	bin/dird import --config "$1" "$2" >"$W/dird/import-$3.log" 2>&1 || die "dird import failed (see $W/dird/import-$3.log)"
	secs=$(since "$t0")
	say "dird import of $3 users: ${secs}s"
	emit "{\"kind\":\"import\",\"scenario\":\"import\",\"label\":\"dird\",\"users\":$3,\"secs\":$secs}"
}
import_dird "$W/dird/dird.yaml" "$W/users.ldif" "$N"

# --- slapd --------------------------------------------------------------------
# slapd_conf DIR: back-mdb with the same equality indexes dird keeps, the
# ppolicy overlay with a default policy (no lockout, no expiry: as dird's
# policy here), argon2 for {ARGON2}, and the usual userPassword ACL.
slapd_conf() {
	mkdir -p "$1/db"
	cat >"$1/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload argon2
pidfile $1/slapd.pid
argsfile $1/slapd.args
loglevel 0
database mdb
maxsize 4294967296
suffix "$BASE"
rootdn "$ADMIN_DN"
rootpw $ADMIN_PW
directory $1/db
index objectClass eq
index uid eq
index mail eq
index cn eq
index uidNumber eq
index gidNumber eq
index member eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
overlay ppolicy
ppolicy_default "cn=default,ou=policies,$BASE"
EOF
	chmod 600 "$1/slapd.conf"
}
SLAPD_POLICY="dn: ou=policies,$BASE
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$BASE
objectClass: person
objectClass: pwdPolicy
cn: default
sn: default
pwdAttribute: userPassword
pwdLockout: FALSE
pwdMaxAge: 0
pwdMaxFailure: 0
"
slapadd_timed() { # DIR LDIF USERS
	local t0 secs
	t0=$(now)
	{ cat "$2"; printf '%s\n' "$SLAPD_POLICY"; } | /usr/sbin/slapadd -q -f "$1/slapd.conf" >"$1/slapadd-$3.log" 2>&1 ||
		die "slapadd failed (see $1/slapadd-$3.log)"
	secs=$(since "$t0")
	say "slapadd -q of $3 users: ${secs}s"
	emit "{\"kind\":\"import\",\"scenario\":\"import\",\"label\":\"slapd\",\"users\":$3,\"secs\":$secs}"
}
SLAPD_PID=""
start_slapd() { # DIR
	# -d 0 keeps slapd in the foreground (it does not fork), so $! is slapd.
	/usr/sbin/slapd -h "ldap://127.0.0.1:$SLAPD_PORT/" -f "$1/slapd.conf" -d 0 2>>"$1/slapd.log" &
	SLAPD_PID=$!
	PIDS="$PIDS $SLAPD_PID"
	ldap_ready "ldap://127.0.0.1:$SLAPD_PORT" || die "slapd did not start (see $1/slapd.log)"
}
stop_slapd() { stop_pid "$SLAPD_PID"; forget "$SLAPD_PID"; SLAPD_PID=""; }
slapd_conf "$W/slapd"
slapadd_timed "$W/slapd" "$W/users.ldif" "$N"

# --- FreeRADIUS -----------------------------------------------------------------
# A copy of Debian's configuration with: its own paths and ports, one
# client (127.0.0.1, Message-Authenticator required), the files module on
# the generated users, max_requests raised from 16384 (it counts the
# answered requests kept cleanup_delay = 5 s for duplicates: at 20,000
# PAP requests/s the default drops most of them), EAP with PEAP (MS-CHAPv2 inside) and TTLS (PAP or
# MS-CHAPv2 inside) on the generated certificate, log to a file, no debug.
# Sites are minimal (authorize: preprocess, eap, files, pap; inner:
# eap, files, mschap, pap): FreeRADIUS at its leanest, not Debian's default
# chain.
FR=$W/freeradius
setup_freeradius() {
	cp -a /etc/freeradius/3.0 "$FR"
	mkdir -p "$FR/log" "$FR/run"
	sed -i \
		-e "s|^raddbdir = .*|raddbdir = $FR|" \
		-e "s|^logdir = .*|logdir = $FR/log|" \
		-e "s|^run_dir = .*|run_dir = $FR/run|" \
		-e 's|^\(\s*\)user = freerad|\1#user = freerad|' \
		-e 's|^\(\s*\)group = freerad|\1#group = freerad|' \
		-e 's|^max_requests = .*|max_requests = 262144|' \
		"$FR/radiusd.conf"
	cat >"$FR/clients.conf" <<EOF
client bench {
	ipaddr = 127.0.0.1
	secret = $SECRET
	require_message_authenticator = yes
	nas_type = other
}
EOF
	rm -f "$FR"/sites-enabled/*
	cat >"$FR/sites-enabled/bench" <<EOF
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $FR_AUTH
	}
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = $FR_ACCT
	}
	authorize {
		preprocess
		eap {
			ok = return
		}
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type MS-CHAP {
			mschap
		}
		eap
	}
	preacct {
		preprocess
	}
	accounting {
		ok
	}
	post-auth {
		Post-Auth-Type REJECT {
			eap
		}
	}
}
EOF
	cat >"$FR/sites-enabled/inner-tunnel" <<EOF
server inner-tunnel {
	authorize {
		eap {
			ok = return
		}
		files
		mschap
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
		Auth-Type MS-CHAP {
			mschap
		}
		eap
	}
}
EOF
	mkdir -p "$FR/certs-bench"
	cp "$W/eap-cert.pem" "$W/eap-key.pem" "$FR/certs-bench/"
	sed -i \
		-e "0,/default_eap_type = md5/s//default_eap_type = peap/" \
		-e "s|^\(\s*\)private_key_password = .*|\1#private_key_password|" \
		-e "s|^\(\s*\)private_key_file = .*|\1private_key_file = $FR/certs-bench/eap-key.pem|" \
		-e "s|^\(\s*\)certificate_file = .*|\1certificate_file = $FR/certs-bench/eap-cert.pem|" \
		-e "s|^\(\s*\)ca_file = .*|\1ca_file = $FR/certs-bench/eap-cert.pem|" \
		-e "s|^\(\s*\)ca_path = .*|\1ca_path = $FR/certs-bench|" \
		"$FR/mods-enabled/eap"
	cp "$W/radius-users" "$FR/mods-config/files/authorize"
	chmod -R go-w "$FR"
}
FR_PID=""
start_freeradius() {
	local i
	freeradius -f -d "$FR" -l "$FR/log/radius.log" 2>>"$FR/log/stderr.log" &
	FR_PID=$!
	PIDS="$PIDS $FR_PID"
	for i in $(seq 600); do
		grep -q 'Ready to process requests' "$FR/log/radius.log" 2>/dev/null && return 0
		kill -0 "$FR_PID" 2>/dev/null || break
		sleep 0.1
	done
	die "freeradius did not start (see $FR/log/radius.log and stderr.log)"
}
setup_freeradius
freeradius -C -d "$FR" >"$FR/log/check.log" 2>&1 || die "freeradius -C: configuration refused (see $FR/log/check.log)"

# --- start all three ------------------------------------------------------------
say "starting dird (ldap $DIRD_LDAP, radius $DIRD_RAD), slapd ($SLAPD_PORT), freeradius ($FR_AUTH)"
start_dird "$W/dird/dird.yaml" "$W/dird/dird.log"
start_slapd "$W/slapd"
start_freeradius
DURL=ldap://127.0.0.1:$DIRD_LDAP
SURL=ldap://127.0.0.1:$SLAPD_PORT

# idle_rss KIND LABEL PID URL USERS: VmRSS after one search, settled.
idle_rss() {
	if [ -n "$4" ]; then
		ldapsearch -x -H "$4" -D "$SEARCH_DN" -w "$PASSWORD" -b "ou=people,$BASE" -LLL "(uid=user00001)" uid >/dev/null ||
			say "warning: the first search on $2 failed"
	fi
	sleep 3
	local rss
	rss=$(rss_mib "$3")
	say "$2 idle RSS at $5 users: $rss MiB"
	emit "{\"kind\":\"$1\",\"scenario\":\"rss_idle\",\"label\":\"$2\",\"users\":$5,\"rss_mib\":$rss}"
}
idle_rss rss dird "$DIRD_PID" "$DURL" "$N"
idle_rss rss slapd "$SLAPD_PID" "$SURL" "$N"
idle_rss rss freeradius "$FR_PID" "" "$N"

COMMON=(-users "$N" -password "$PASSWORD" -base "$BASE" -d "$D")

# --- LDAP ---------------------------------------------------------------------------
for c in 1 8 64; do
	for r in $(seq "$R"); do
		lg search "$r" search dird "${COMMON[@]}" -c "$c" -url "$DURL" -bind-dn "$SEARCH_DN" -bind-pw "$PASSWORD" -pid "$DIRD_PID"
		lg search "$r" search slapd "${COMMON[@]}" -c "$c" -url "$SURL" -bind-dn "$SEARCH_DN" -bind-pw "$PASSWORD" -pid "$SLAPD_PID"
	done
done
for c in 8 64; do
	for r in $(seq "$R"); do
		lg bind-ssha "$r" bind dird "${COMMON[@]}" -c "$c" -url "$DURL" -pid "$DIRD_PID"
		lg bind-ssha "$r" bind slapd "${COMMON[@]}" -c "$c" -url "$SURL" -pid "$SLAPD_PID"
	done
done
# --- RADIUS PAP ---------------------------------------------------------------------
# dird verifies the imported {SSHA}; FreeRADIUS once with the same salted
# SHA-1 (SSHA-Password, label freeradius) and once with the cleartext
# (clearNNNNN, Cleartext-Password, label freeradius-clear).
for c in 8 64; do
	for r in $(seq "$R"); do
		lg pap "$r" pap dird "${COMMON[@]}" -c "$c" -radius "127.0.0.1:$DIRD_RAD" -secret "$SECRET" -pid "$DIRD_PID"
		lg pap "$r" pap freeradius "${COMMON[@]}" -c "$c" -radius "127.0.0.1:$FR_AUTH" -secret "$SECRET" -pid "$FR_PID"
		lg pap "$r" pap freeradius-clear "${COMMON[@]}" -user-fmt clear%05d -c "$c" -radius "127.0.0.1:$FR_AUTH" -secret "$SECRET" -pid "$FR_PID"
	done
done

# --- bare argon2id cost -------------------------------------------------------------
# Right before the argon2id binds, so the floor and the binds see the same
# machine (other loads on it included).
lg hash 1 hash go -d "$D" -argon2-m 65536 -argon2-t 2 -argon2-p 1

# --- argon2id binds -------------------------------------------------------------
# After the cheap scenarios, so that the memory argon2id takes (64 MiB per
# hash) is not still held while they run. One bind costs ~80 ms of a core:
# at c=64 the first answers come seconds after the start, hence the long
# warm-ups and 10 s measured (5 s in a quick run).
if [ "${BENCH_QUICK:-0}" = 1 ]; then ARGON_D=${BENCH_ARGON_DURATION:-5s}; else ARGON_D=${BENCH_ARGON_DURATION:-10s}; fi
ARGON=(-users "$ARGON_N" -user-fmt argon%05d -password "$PASSWORD" -base "$BASE" -d "$ARGON_D")
for c in 8 64; do
	# slapd starts all 64 hashes at once on its 16 threads: nothing
	# completes for several seconds on 2 cores.
	warm=5s
	[ "$c" -gt 8 ] && warm=10s
	for r in $(seq "$R"); do
		lg bind-argon2 "$r" bind dird "${ARGON[@]}" -warmup "$warm" -c "$c" -url "$DURL" -pid "$DIRD_PID"
		lg bind-argon2 "$r" bind slapd "${ARGON[@]}" -warmup "$warm" -c "$c" -url "$SURL" -pid "$SLAPD_PID"
	done
done

# --- 10,000 idle LDAP connections ---------------------------------------------------
lg idle 1 idle dird -c 10000 -d 3s -url "$DURL" -pid "$DIRD_PID"
lg idle 1 idle slapd -c 10000 -d 3s -url "$SURL" -pid "$SLAPD_PID"

# --- EAP ------------------------------------------------------------------------------
# MS-CHAPv2 needs the NT hash, which dird keeps only for a password it has
# seen in cleartext: dird restarts with policy.nt_hash on, and one LDAP
# bind by each of the EAP pool's users stores it ("prime"). This was kept
# out of the bind and PAP runs above, where it would add a store write to
# each user's first login. FreeRADIUS's PEAP users are clearNNNNN
# (Cleartext-Password); its TTLS/PAP users are userNNNNN (SSHA-Password),
# as dird's.
stop_dird
start_dird "$W/dird/dird.yaml" "$W/dird/dird.log" DIRD_POLICY_NT_HASH=true
lg prime 1 bind dird -users "$EAP_N" -password "$PASSWORD" -base "$BASE" -c 8 -d 2s -warmup 0s -url "$DURL" -pid "$DIRD_PID"
EAP=(-users "$EAP_N" -password "$PASSWORD" -d "$D" -secret "$SECRET")
mkdir -p "$W/eapol/dird" "$W/eapol/fr-peap" "$W/eapol/fr-ttls"
for c in 4 8; do
	for r in $(seq "$R"); do
		lg peap "$r" peap dird "${EAP[@]}" -c "$c" -radius "127.0.0.1:$DIRD_RAD" -eapol-conf-dir "$W/eapol/dird" -pid "$DIRD_PID"
		lg peap "$r" peap freeradius "${EAP[@]}" -user-fmt clear%05d -c "$c" -radius "127.0.0.1:$FR_AUTH" -eapol-conf-dir "$W/eapol/fr-peap" -pid "$FR_PID"
	done
done
for c in 4 8; do
	for r in $(seq "$R"); do
		lg ttls "$r" ttls dird "${EAP[@]}" -c "$c" -radius "127.0.0.1:$DIRD_RAD" -eapol-conf-dir "$W/eapol/dird" -pid "$DIRD_PID"
		lg ttls "$r" ttls freeradius "${EAP[@]}" -c "$c" -radius "127.0.0.1:$FR_AUTH" -eapol-conf-dir "$W/eapol/fr-ttls" -pid "$FR_PID"
	done
done

# --- scale ----------------------------------------------------------------------------
stop_dird
stop_slapd
stop_pid "$FR_PID"
forget "$FR_PID"
say "scale: generating $SCALE_N users"
bin/benchdata -users "$SCALE_N" -argon-users 0 -password "$PASSWORD" -ldif "$W/scale.ldif"
mkdir -p "$W/dird-scale"
dird_conf "$W/dird-scale/dird.yaml" "$W/dird-scale/data"
import_dird "$W/dird-scale/dird.yaml" "$W/scale.ldif" "$SCALE_N"
slapd_conf "$W/slapd-scale"
slapadd_timed "$W/slapd-scale" "$W/scale.ldif" "$SCALE_N"
start_dird "$W/dird-scale/dird.yaml" "$W/dird-scale/dird.log"
start_slapd "$W/slapd-scale"
idle_rss rss dird "$DIRD_PID" "$DURL" "$SCALE_N"
idle_rss rss slapd "$SLAPD_PID" "$SURL" "$SCALE_N"
for r in $(seq "$R"); do
	lg search-scale "$r" search dird -users "$SCALE_N" -password "$PASSWORD" -base "$BASE" -d "$D" -c 8 -url "$DURL" -bind-dn "$SEARCH_DN" -bind-pw "$PASSWORD" -pid "$DIRD_PID"
	lg search-scale "$r" search slapd -users "$SCALE_N" -password "$PASSWORD" -base "$BASE" -d "$D" -c 8 -url "$SURL" -bind-dn "$SEARCH_DN" -bind-pw "$PASSWORD" -pid "$SLAPD_PID"
done
cleanup

ELAPSED=$(since "$START")
emit "{\"kind\":\"end\",\"secs\":$ELAPSED,\"failed_runs\":$FAILED_RUNS}"
bin/benchplot -in "$OUT" -md bench/results.md -png bench/results.png
say "done in ${ELAPSED}s: bench/results.md, bench/results.png (raw: bench/results.jsonl)"
if [ "$FAILED_RUNS" != 0 ]; then
	say "$FAILED_RUNS runs had failures: see the first_error column in bench/results.md and bench/work/dirdbench.log"
	exit 1
fi
