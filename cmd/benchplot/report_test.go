package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"no rounds give zero", nil, 0},
		{"one round is itself", []float64{7}, 7},
		{"odd count takes the middle", []float64{9, 1, 5}, 5},
		{"even count takes the mean of the middle two", []float64{4, 1, 3, 10}, 3.5},
		{"an outlier does not move it", []float64{100, 101, 1e6}, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.in); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRowsRatioAndTarget(t *testing.T) {
	recs := []record{
		{Kind: "search", Label: "dird", C: 8, OpsPerS: 30000, Round: 1},
		{Kind: "search", Label: "dird", C: 8, OpsPerS: 31000, Round: 2},
		{Kind: "search", Label: "dird", C: 8, OpsPerS: 10, Round: 3},
		{Kind: "search", Label: "slapd", C: 8, OpsPerS: 20000, Round: 1},
		{Kind: "search", Label: "slapd", C: 8, OpsPerS: 20000, Round: 2},
		{Kind: "search", Label: "dird", C: 64, OpsPerS: 20000},
		{Kind: "search", Label: "slapd", C: 64, OpsPerS: 20000},
		{Kind: "search", Label: "dird", C: 1, OpsPerS: 9000},
		{Kind: "search", Label: "slapd", C: 1, OpsPerS: 10000},
		{Kind: "pap", Label: "dird", C: 8, OpsPerS: 30000},
		{Kind: "pap", Label: "freeradius", C: 8, OpsPerS: 20000},
		{Kind: "pap", Label: "freeradius-clear", C: 8, OpsPerS: 25000},
		{Kind: "peap", Label: "dird", C: 4, OpsPerS: 50, Fails: 2},
	}
	type want struct {
		ratio, target float64
		met, judged   bool
	}
	cases := map[string]want{
		"search c=1":      {0.9, 0, false, false},
		"search c=8":      {1.5, 1.5, true, true},
		"search c=64":     {1, 1.5, false, true},
		"pap c=8":         {1.5, 1.5, true, true},
		"pap-clear c=8":   {1.2, 1.5, false, true},
		"peap c=4":        {0, 1, false, false},
		"bind-ssha c=8":   {},
		"bind-argon2 c=8": {},
	}
	got := map[string]row{}
	for _, r := range rows(recs) {
		got[r.Name()] = r
	}
	for name, w := range cases {
		t.Run(name, func(t *testing.T) {
			r, ok := got[name]
			if w == (want{}) {
				if ok {
					t.Fatalf("row %q present without runs", name)
				}
				return
			}
			if !ok {
				t.Fatalf("no row %q; rows: %v", name, got)
			}
			if d := r.Ratio - w.ratio; d > 1e-9 || d < -1e-9 {
				t.Errorf("ratio = %v, want %v", r.Ratio, w.ratio)
			}
			if r.Target != w.target {
				t.Errorf("target = %v, want %v", r.Target, w.target)
			}
			met, judged := r.Met()
			if met != w.met || judged != w.judged {
				t.Errorf("Met() = %v, %v; want %v, %v", met, judged, w.met, w.judged)
			}
		})
	}
	if r := got["search c=8"]; r.Dird.Runs != 3 || r.Dird.OpsPerS != 30000 {
		t.Errorf("dird search c=8: %d runs, median %v; want 3 runs, median 30000", r.Dird.Runs, r.Dird.OpsPerS)
	}
	if r := got["peap c=4"]; r.Dird.Fails != 2 {
		t.Errorf("peap fails = %d, want 2", r.Dird.Fails)
	}
}

const fixture = `{"kind":"meta","date":"2026-11-29T01:00:00Z","nproc":2,"kernel":"Linux 6","cpu":"x","go":"go1.26","slapd":"2.5.13","freeradius":"3.2.1","dird":"abc","users":10000,"argon_users":256,"eap_users":200,"rounds":2,"duration":"8s","scale_users":100000,"quick":0}
{"kind":"import","scenario":"import","label":"dird","users":10000,"secs":2.5}
{"kind":"import","scenario":"import","label":"slapd","users":10000,"secs":1.5}
{"kind":"import","scenario":"import","label":"dird","users":100000,"secs":25}
{"kind":"import","scenario":"import","label":"slapd","users":100000,"secs":12}
{"kind":"rss","scenario":"rss_idle","label":"dird","users":10000,"rss_mib":60}
{"kind":"rss","scenario":"rss_idle","label":"slapd","users":10000,"rss_mib":30}
{"kind":"rss","scenario":"rss_idle","label":"freeradius","users":10000,"rss_mib":90}
{"kind":"search","round":1,"scenario":"search","label":"dird","c":8,"users":10000,"ops":300000,"fails":0,"secs":10,"ops_per_s":30000,"p50_ms":0.2,"p99_ms":1.1,"loadgen_cpu_pct":50,"server_cpu_pct":120,"peak_rss_mib":45,"rss_mib":44,"first_error":""}
{"kind":"search","round":1,"scenario":"search","label":"slapd","c":8,"users":10000,"ops":200000,"fails":0,"secs":10,"ops_per_s":20000,"p50_ms":0.3,"p99_ms":1.5,"loadgen_cpu_pct":45,"server_cpu_pct":110,"peak_rss_mib":30,"rss_mib":30,"first_error":""}
{"kind":"bind-argon2","round":1,"scenario":"bind","label":"dird","c":64,"users":256,"ops":230,"fails":0,"secs":10,"ops_per_s":23,"p50_ms":2700,"p99_ms":3000,"loadgen_cpu_pct":1,"server_cpu_pct":198,"peak_rss_mib":250,"rss_mib":200,"first_error":""}
{"kind":"bind-argon2","round":1,"scenario":"bind","label":"slapd","c":64,"users":256,"ops":150,"fails":0,"secs":10,"ops_per_s":15,"p50_ms":4000,"p99_ms":5000,"loadgen_cpu_pct":1,"server_cpu_pct":198,"peak_rss_mib":1000,"rss_mib":1000,"first_error":""}
{"kind":"pap","round":1,"scenario":"pap","label":"dird","c":8,"users":10000,"ops":1,"fails":3,"secs":10,"ops_per_s":0,"first_error":"timeout"}
{"kind":"hash","round":1,"scenario":"hash","label":"go","c":2,"ops":250,"secs":10,"ops_per_s":25,"p50_ms":78}
{"kind":"idle","round":1,"scenario":"idle","label":"dird","c":10000,"rss_mib":150}
{"kind":"idle","round":1,"scenario":"idle","label":"slapd","c":10000,"rss_mib":120}
{"kind":"search-scale","round":1,"scenario":"search","label":"dird","c":8,"users":100000,"ops_per_s":28000,"p99_ms":1.2}
{"kind":"search-scale","round":1,"scenario":"search","label":"slapd","c":8,"users":100000,"ops_per_s":19000,"p99_ms":1.6}
{"kind":"end","secs":1100,"failed_runs":1}
`

func TestReportAndChartFromFixture(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.jsonl")
	md := filepath.Join(dir, "results.md")
	png := filepath.Join(dir, "results.png")
	if err := os.WriteFile(in, []byte(fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "findings.md")
	if err := os.WriteFile(notes, []byte("## Findings\n\nWhat the profile showed.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(in, md, png, notes); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	if len(img) < 1000 || !bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("results.png is not a PNG (%d bytes)", len(img))
	}
	text, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"2 cores",
		"slapd 2.5.13, FreeRADIUS 3.2.1",
		"## LDAP search (uid=userNNNNN), dird vs slapd",
		"| 8 | 30000 | 20000 | 1.50× | ≥ 1.5× | yes | 0.20 / 1.10 | 0.30 / 1.50 | 45.0 | 30.0 | 120 | 110 | 50.0 / 45.0 | 0 / 0 |",
		"| 64 | 23.0 | 15.0 | 1.53× | ≥ 1.4× | yes |",
		"One hash takes 78.0 ms on one core; all cores together do 25.0 hashes/s",
		"| 64 | 23.0 | 92.0 | yes | 60.0 | 250 |",
		"| import of 100000 users, s (slapd: slapadd -q) | 25.0 | 12.0 | – | dird < 30 s at 100,000 | yes |",
		"| RSS idle at 10000 users, MiB | 60.0 | 30.0 | 90.0 | dird < 100 MiB at 10,000 | yes |",
		"| RSS with 10000 idle LDAP connections, MiB | 150 | 120 | – | dird < 300 MiB at 10,000 | yes |",
		"| search p99 at 100000 users, c=8, ms | 1.20 | 1.60 | – | dird < 2 ms at 100,000 | yes |",
		"- pap dird c=8 round 1: 3 failures: timeout",
		"## Findings\n\nWhat the profile showed.\n",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("results.md lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(string(text), "Quick run") {
		t.Error("a full run is labelled as a quick run")
	}
}

func TestReadRecordsNamesTheBadLine(t *testing.T) {
	_, err := readRecords(strings.NewReader("{\"kind\":\"meta\"}\n\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err = %v, want one naming line 3", err)
	}
}
