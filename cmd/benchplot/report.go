package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
)

// record is one line of bench/results.jsonl: a dirdbench JSON line with the
// kind (the comparison it belongs to) and round that bench/run.sh adds, or
// one of the script's own lines (kind meta, import, rss, end).
type record struct {
	Kind     string `json:"kind"`
	Round    int    `json:"round"`
	Scenario string `json:"scenario"`
	Label    string `json:"label"`
	C        int    `json:"c"`
	Users    int    `json:"users"`
	Ops      int64  `json:"ops"`
	Fails    int64  `json:"fails"`
	Secs     float64
	OpsPerS  float64 `json:"ops_per_s"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	LoadCPU  float64 `json:"loadgen_cpu_pct"`
	SrvCPU   float64 `json:"server_cpu_pct"`
	PeakRSS  float64 `json:"peak_rss_mib"`
	RSS      float64 `json:"rss_mib"`
	FirstErr string  `json:"first_error"`

	// kind meta
	Date       string `json:"date"`
	Nproc      int    `json:"nproc"`
	Kernel     string `json:"kernel"`
	CPU        string `json:"cpu"`
	Go         string `json:"go"`
	Slapd      string `json:"slapd"`
	FreeRADIUS string `json:"freeradius"`
	Dird       string `json:"dird"`
	ArgonUsers int    `json:"argon_users"`
	EAPUsers   int    `json:"eap_users"`
	Rounds     int    `json:"rounds"`
	Duration   string `json:"duration"`
	ScaleUsers int    `json:"scale_users"`
	Quick      int    `json:"quick"`
	// kind end
	FailedRuns int `json:"failed_runs"`
}

// readRecords reads JSON lines; blank lines are skipped, a line that is
// not JSON is an error naming its number.
func readRecords(r io.Reader) ([]record, error) {
	var out []record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var rec record
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("reading line %d: %w", n, err)
		}
		// "secs" is shared by dirdbench lines and the script's import lines.
		var secs struct {
			Secs float64 `json:"secs"`
		}
		_ = json.Unmarshal(line, &secs)
		rec.Secs = secs.Secs
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	return out, nil
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// stats are the medians over the rounds of one target at one concurrency.
type stats struct {
	Runs     int
	OpsPerS  float64
	P50, P99 float64
	PeakRSS  float64
	RSS      float64
	LoadCPU  float64
	SrvCPU   float64
	Fails    int64
	FirstErr string
}

// summarize takes the medians of the records of one kind, label and c.
func summarize(recs []record, kind, label string, c int) stats {
	var s stats
	var ops, p50, p99, peak, rss, lcpu, scpu []float64
	for _, r := range recs {
		if r.Kind != kind || r.Label != label || r.C != c {
			continue
		}
		s.Runs++
		s.Fails += r.Fails
		if s.FirstErr == "" {
			s.FirstErr = r.FirstErr
		}
		ops = append(ops, r.OpsPerS)
		p50 = append(p50, r.P50)
		p99 = append(p99, r.P99)
		peak = append(peak, r.PeakRSS)
		rss = append(rss, r.RSS)
		lcpu = append(lcpu, r.LoadCPU)
		scpu = append(scpu, r.SrvCPU)
	}
	s.OpsPerS, s.P50, s.P99 = median(ops), median(p50), median(p99)
	s.PeakRSS, s.RSS, s.LoadCPU, s.SrvCPU = median(peak), median(rss), median(lcpu), median(scpu)
	return s
}

// ratio is a/b, or 0 when b is 0 (no peer figure: nothing to compare).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// group is one comparison of dird with its peer: the target is a
// minimum ratio dird/peer of ops/s at some concurrencies (0: none).
type group struct {
	Kind   string
	Title  string
	Peer   string
	Cs     []int
	Target func(c int) float64
}

func atLeast(min float64, cs ...int) func(int) float64 {
	return func(c int) float64 {
		for _, x := range cs {
			if x == c {
				return min
			}
		}
		return 0
	}
}

// groups are the comparisons bench/run.sh measures, with issue 6's targets.
var groups = []group{
	{"search", "LDAP search (uid=userNNNNN), dird vs slapd", "slapd", []int{1, 8, 64}, atLeast(1.5, 8, 64)},
	{"bind-ssha", "LDAP simple bind, {SSHA}, dird vs slapd", "slapd", []int{8, 64}, atLeast(1.2, 8, 64)},
	{"bind-argon2", "LDAP simple bind, argon2id m=64 MiB t=2 p=1, dird vs slapd", "slapd", []int{8, 64}, atLeast(1.4, 8, 64)},
	{"pap", "RADIUS PAP, dird {SSHA} vs FreeRADIUS SSHA-Password", "freeradius", []int{8, 64}, atLeast(1.5, 8, 64)},
	{"pap", "RADIUS PAP, dird {SSHA} (the same users) vs FreeRADIUS Cleartext-Password", "freeradius-clear", []int{8, 64}, atLeast(1.5, 8, 64)},
	{"peap", "PEAP-MSCHAPv2 conversations, dird vs FreeRADIUS", "freeradius", []int{4, 8}, atLeast(1.0, 4, 8)},
	{"ttls", "EAP-TTLS/PAP conversations, dird vs FreeRADIUS", "freeradius", []int{4, 8}, atLeast(0)},
	{"search-scale", "LDAP search at the scale part's user count, dird vs slapd", "slapd", []int{8}, atLeast(0)},
}

// row is one line of a group's table.
type row struct {
	Group      group
	C          int
	Dird, Peer stats
	Ratio      float64
	Target     float64
}

// Met says whether the row reaches its target; ok is false when it has
// none or a side has no figure.
func (r row) Met() (met, ok bool) {
	if r.Target == 0 || r.Ratio == 0 {
		return false, false
	}
	return r.Ratio >= r.Target, true
}

// Name is the row's short name, used on the chart's axis.
func (r row) Name() string {
	n := r.Group.Kind
	if r.Group.Peer == "freeradius-clear" {
		n += "-clear"
	}
	return fmt.Sprintf("%s c=%d", n, r.C)
}

// rows builds every group's rows that have at least one run on a side.
func rows(recs []record) []row {
	var out []row
	for _, g := range groups {
		for _, c := range g.Cs {
			r := row{Group: g, C: c, Dird: summarize(recs, g.Kind, "dird", c), Peer: summarize(recs, g.Kind, g.Peer, c), Target: g.Target(c)}
			if r.Dird.Runs == 0 && r.Peer.Runs == 0 {
				continue
			}
			r.Ratio = ratio(r.Dird.OpsPerS, r.Peer.OpsPerS)
			out = append(out, r)
		}
	}
	return out
}

// find returns the first record of kind and label (any when "") with the
// given user count (any when 0).
func find(recs []record, kind, label string, users int) (record, bool) {
	for _, r := range recs {
		if r.Kind == kind && (label == "" || r.Label == label) && (users == 0 || r.Users == users) {
			return r, true
		}
	}
	return record{}, false
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
