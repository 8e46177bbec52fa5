// Command dirdbench is the load generator of `make bench`: one scenario
// per run against dird, OpenLDAP slapd or FreeRADIUS, at a fixed
// concurrency for a fixed time, printing operations per second, p50/p99
// latency, its own CPU share and (with -pid) the server's CPU share and
// peak RSS, as one JSON line for bench/run.sh (see -h).
//
// Scenarios: LDAP search ((uid=X), subtree, three attributes) and simple
// bind of random users on persistent connections; RADIUS PAP with
// Message-Authenticator; PEAP-MSCHAPv2 and EAP-TTLS/PAP conversations by
// Debian's eapol_test run in parallel; idle LDAP connections (server
// RSS); and the bare argon2id hash (the floor for a bind).
//
// It is deliberately light because client and server share a 2-core
// machine: whatever CPU the generator burns is taken from the server it
// measures (with go-ldap as the client slapd shows about 13,000
// searches/s at concurrency 8, with a minimal client about 23,500). So
// the LDAP and RADIUS codecs are hand-rolled (ldapwire.go,
// radiuswire.go), one goroutine per connection runs synchronous
// request/response with buffers reused, user names are precomputed, and
// latencies go into fixed histograms: a steady-state operation allocates
// nothing. Its own CPU (getrusage over the measured part) is reported so
// the reader can judge; for peap and ttls it includes the eapol_test
// processes, which are the heavy part there. Most of what remains for
// LDAP is the kernel's loopback TCP work, which any client pays.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

// options are the command line (BENCH-INTERFACE.md).
type options struct {
	scenario, label     string
	url, bindDN, bindPW string
	base, userFmt       string
	users               int
	password            string
	radius, secret      string
	eapolConfDir        string
	tls13               bool
	conc                int
	duration, warmup    time.Duration
	maxOps              int64
	pid                 int
	json                bool
	argonM, argonT      uint
	argonP              uint
	cpuProfile          string
}

// result is the JSON line; every field is always present.
type result struct {
	Scenario      string  `json:"scenario"`
	Label         string  `json:"label"`
	C             int     `json:"c"`
	Users         int     `json:"users"`
	Ops           int64   `json:"ops"`
	Fails         int64   `json:"fails"`
	Secs          float64 `json:"secs"`
	OpsPerS       float64 `json:"ops_per_s"`
	P50ms         float64 `json:"p50_ms"`
	P99ms         float64 `json:"p99_ms"`
	LoadgenCPUPct float64 `json:"loadgen_cpu_pct"`
	ServerCPUPct  float64 `json:"server_cpu_pct"`
	PeakRSSMiB    float64 `json:"peak_rss_mib"`
	RSSMiB        float64 `json:"rss_mib"`
	FirstError    string  `json:"first_error"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("dirdbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.scenario, "scenario", "", "search | bind | pap | peap | ttls | idle | hash")
	fs.StringVar(&o.label, "label", "", "free text naming the target, copied into the JSON")
	fs.StringVar(&o.url, "url", "ldap://127.0.0.1:3389", "LDAP server (search, bind, idle)")
	fs.StringVar(&o.bindDN, "bind-dn", "", "DN the search connections bind with first (empty: anonymous)")
	fs.StringVar(&o.bindPW, "bind-pw", "", "password of -bind-dn")
	fs.StringVar(&o.base, "base", "dc=example,dc=com", "search base; users are uid=<uid>,ou=people,<base>")
	fs.StringVar(&o.userFmt, "user-fmt", "user%05d", "printf format of a user's uid from its number")
	fs.IntVar(&o.users, "users", 10000, "uids are -user-fmt of 0..N-1, picked uniformly at random per operation")
	fs.StringVar(&o.password, "password", "Bench-Password-2026", "every user's password")
	fs.StringVar(&o.radius, "radius", "127.0.0.1:1812", "RADIUS server host:port (pap, peap, ttls)")
	fs.StringVar(&o.secret, "secret", "", "RADIUS shared secret")
	fs.StringVar(&o.eapolConfDir, "eapol-conf-dir", "", "directory for the eapol_test configurations (peap, ttls; default: a temporary one)")
	fs.BoolVar(&o.tls13, "tls13", false, "peap, ttls: allow TLS 1.3 (default TLS 1.2)")
	fs.IntVar(&o.conc, "c", 8, "connections, sockets, parallel eapol_test processes, or idle connections")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "duration of the measured part (hash: half for one core, half for all)")
	o.maxOps = 1000000
	fs.Var((*countFlag)(&o.maxOps), "n", "stop the measured part after this many operations (1e6 and 1000000 both work)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "time to run before measuring, not counted")
	fs.IntVar(&o.pid, "pid", 0, "the server's PID: report its CPU% and peak RSS over the measured part")
	fs.BoolVar(&o.json, "json", false, "print one JSON line instead of the human one")
	fs.UintVar(&o.argonM, "argon2-m", 65536, "hash: argon2id memory in KiB")
	fs.UintVar(&o.argonT, "argon2-t", 2, "hash: argon2id passes")
	fs.UintVar(&o.argonP, "argon2-p", 1, "hash: argon2id parallelism")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write the generator's own CPU profile to this file (to check that it stays light)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dirdbench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "dirdbench: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "dirdbench: starting the CPU profile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	res, err := runScenario(&o)
	if err != nil {
		// A setup error (bad flag value, unreachable server) still gives
		// the harness its one line.
		res.Fails = max(res.Fails, 1)
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
	res.Scenario, res.Label, res.C, res.Users = o.scenario, o.label, o.conc, o.users
	if o.json {
		b, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		fmt.Fprintf(stdout, "%s %s c=%d: %d ops, %d fails in %.1fs = %.1f/s, p50 %.3f ms, p99 %.3f ms, loadgen CPU %.0f%%, server CPU %.0f%%, peak RSS %.1f MiB, RSS %.1f MiB\n",
			o.scenario, o.label, o.conc, res.Ops, res.Fails, res.Secs, res.OpsPerS, res.P50ms, res.P99ms,
			res.LoadgenCPUPct, res.ServerCPUPct, res.PeakRSSMiB, res.RSSMiB)
		if res.FirstError != "" {
			fmt.Fprintf(stdout, "first error: %s\n", res.FirstError)
		}
	}
	if res.Fails > 0 {
		return 1
	}
	return 0
}

func runScenario(o *options) (result, error) {
	if o.conc < 1 {
		return result{}, errors.New("-c must be at least 1")
	}
	if o.duration <= 0 || o.maxOps < 1 || o.warmup < 0 {
		return result{}, errors.New("-d and -n must be positive, -warmup not negative")
	}
	needUsers := o.scenario != "idle" && o.scenario != "hash"
	if needUsers && o.users < 1 {
		return result{}, errors.New("-users must be at least 1")
	}
	switch o.scenario {
	case "search", "bind":
		return runLDAP(o)
	case "pap":
		return runPAP(o)
	case "peap", "ttls":
		return runEAP(o)
	case "idle":
		return runIdle(o)
	case "hash":
		return runHash(o)
	case "":
		return result{}, errors.New("-scenario is required: search | bind | pap | peap | ttls | idle | hash")
	}
	return result{}, fmt.Errorf("unknown -scenario %q: want search | bind | pap | peap | ttls | idle | hash", o.scenario)
}

// uidList precomputes every uid, so no operation formats one.
func uidList(o *options) ([]string, error) {
	if strings.Count(o.userFmt, "%") != 1 {
		return nil, fmt.Errorf("-user-fmt %q: want exactly one %% verb, e.g. user%%05d", o.userFmt)
	}
	uids := make([]string, o.users)
	for i := range uids {
		uids[i] = fmt.Sprintf(o.userFmt, i)
	}
	return uids, nil
}

// round keeps JSON figures readable.
func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func ms(d time.Duration) float64 { return round(float64(d)/1e6, 3) }

// countFlag is an operation count that also accepts float notation
// ("1e6"), as the interface writes its default.
type countFlag int64

func (c *countFlag) String() string { return strconv.FormatInt(int64(*c), 10) }

func (c *countFlag) Set(v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || f != math.Trunc(f) || f < 1 || f > math.MaxInt64/2 {
			return fmt.Errorf("want a whole number of operations, e.g. 1000000 or 1e6")
		}
		n = int64(f)
	}
	*c = countFlag(n)
	return nil
}
