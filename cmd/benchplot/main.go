// Command benchplot turns bench/results.jsonl, written by bench/run.sh
// (make bench), into the report bench/results.md and the chart
// bench/results.png: per comparison the medians over the rounds for dird
// and its peer (OpenLDAP slapd, FreeRADIUS), the ratio dird/peer and
// issue 6's target for it, the scale figures, and the bare argon2id cost
// that dird's argon2id bind is held against.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

func main() {
	in := flag.String("in", "bench/results.jsonl", "results, one JSON line per run")
	md := flag.String("md", "bench/results.md", "write the report here")
	png := flag.String("png", "bench/results.png", "write the chart here (empty: none)")
	notes := flag.String("notes", "bench/findings.md", "append this hand-written file (what the profiles showed), if it exists")
	flag.Parse()
	if err := run(*in, *md, *png, *notes); err != nil {
		fmt.Fprintln(os.Stderr, "benchplot:", err)
		os.Exit(1)
	}
}

func run(in, mdPath, pngPath, notesPath string) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("opening results: %w", err)
	}
	recs, err := readRecords(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	rs := rows(recs)
	text := report(recs, rs)
	// The findings are written by a person reading the profiles; the
	// report only carries them, so a new run keeps them beside its
	// numbers (and they say which run they were written for).
	if notesPath != "" {
		notes, err := os.ReadFile(notesPath)
		switch {
		case err == nil:
			text += "\n" + string(notes)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("reading notes: %w", err)
		}
	}
	if err := os.WriteFile(mdPath, []byte(text), 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if pngPath != "" {
		if err := chart(rs, pngPath); err != nil {
			return fmt.Errorf("drawing chart: %w", err)
		}
	}
	return nil
}

// report renders the whole Markdown report.
func report(recs []record, rs []row) string {
	var b strings.Builder
	meta, _ := find(recs, "meta", "", 0)
	end, haveEnd := find(recs, "end", "", 0)
	b.WriteString("# dird benchmark: dird against OpenLDAP slapd and FreeRADIUS\n\n")
	if meta.Quick == 1 {
		b.WriteString("**Quick run (BENCH_QUICK=1): few users, one short round; a check that the harness works, not the measurement.**\n\n")
	}
	fmt.Fprintf(&b, "- run: %s", meta.Date)
	if haveEnd {
		fmt.Fprintf(&b, ", %.0f s in all", end.Secs)
	}
	fmt.Fprintf(&b, "\n- machine: %d cores (%s), %s; loads and servers share the cores\n", meta.Nproc, meta.CPU, meta.Kernel)
	fmt.Fprintf(&b, "- software: dird %s (%s), slapd %s, FreeRADIUS %s\n", meta.Dird, meta.Go, meta.Slapd, meta.FreeRADIUS)
	fmt.Fprintf(&b, "- data: %d users userNNNNN with {SSHA}, %d argonNNNNN with {ARGON2}, EAP pool %d; scale part %d users\n",
		meta.Users, meta.ArgonUsers, meta.EAPUsers, meta.ScaleUsers)
	fmt.Fprintf(&b, "- method: each scenario alternates dird and its peer, %d round(s) of %s each; figures are medians over the rounds\n\n", meta.Rounds, meta.Duration)
	b.WriteString("The ratio is dird's operations per second over the peer's, measured in the same run: above 1.0 dird is faster. " +
		"Latencies are the load generator's, in milliseconds. CPU is % of one core over the measured part (200% = both cores); " +
		"the load generator's own share is shown because it runs on the same two cores.\n\n")

	var cur string
	for i, r := range rs {
		if r.Group.Title != cur {
			cur = r.Group.Title
			fmt.Fprintf(&b, "## %s\n\n", cur)
			fmt.Fprintf(&b, "| c | dird ops/s | %[1]s ops/s | dird/%[1]s | target | met | dird p50 / p99 ms | %[1]s p50 / p99 ms | dird peak RSS MiB | %[1]s peak RSS MiB | dird CPU %% | %[1]s CPU %% | loadgen CPU %% (dird / %[1]s) | fails |\n", r.Group.Peer)
			b.WriteString("|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s | %s | %s | %s | %s / %s | %d / %d |\n",
			r.C, num(r.Dird.OpsPerS), num(r.Peer.OpsPerS), ratioText(r.Ratio), targetText(r.Target), metText(r),
			num(r.Dird.P50), num(r.Dird.P99), num(r.Peer.P50), num(r.Peer.P99),
			num(r.Dird.PeakRSS), num(r.Peer.PeakRSS), num(r.Dird.SrvCPU), num(r.Peer.SrvCPU),
			num(r.Dird.LoadCPU), num(r.Peer.LoadCPU), r.Dird.Fails, r.Peer.Fails)
		if i+1 == len(rs) || rs[i+1].Group.Title != cur {
			b.WriteString("\n")
		}
	}
	writeArgon(&b, recs, rs)
	writeScale(&b, recs, meta)
	writeFailures(&b, recs)
	return b.String()
}

// writeArgon compares dird's argon2id bind rate with the bare hash.
func writeArgon(b *strings.Builder, recs []record, rs []row) {
	h, ok := find(recs, "hash", "", 0)
	if !ok {
		return
	}
	b.WriteString("## The bare argon2id cost (m=64 MiB, t=2, p=1)\n\n")
	fmt.Fprintf(b, "One hash takes %s ms on one core; all cores together do %s hashes/s: the floor a bind rate is held against.\n\n", num(h.P50), num(h.OpsPerS))
	b.WriteString("| c | dird argon2id binds/s | % of the floor (target ≥ 85%) | met | slapd % of the floor | dird peak RSS MiB (target < 300 at c=64) |\n|---:|---:|---:|:---:|---:|---:|\n")
	for _, r := range rs {
		if r.Group.Kind != "bind-argon2" {
			continue
		}
		pct := 100 * ratio(r.Dird.OpsPerS, h.OpsPerS)
		met := yesNo(pct >= 85)
		if h.OpsPerS == 0 || r.Dird.OpsPerS == 0 {
			met = "–"
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s |\n", r.C, num(r.Dird.OpsPerS), num(pct), met, num(100*ratio(r.Peer.OpsPerS, h.OpsPerS)), num(r.Dird.PeakRSS))
	}
	b.WriteString("\n")
}

// writeScale lists import times and memory at rest.
func writeScale(b *strings.Builder, recs []record, meta record) {
	b.WriteString("## Scale\n\n")
	if meta.ScaleUsers < 100000 {
		fmt.Fprintf(b, "The scale part ran with %d users, not the issue's 100,000: its targets are not judged.\n\n", meta.ScaleUsers)
	}
	b.WriteString("| figure | dird | slapd | FreeRADIUS | target | met |\n|---|---:|---:|---:|---|:---:|\n")
	line := func(name string, d, s, f float64, haveF bool, target string, met string) {
		ft := "–"
		if haveF {
			ft = num(f)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", name, num(d), num(s), ft, target, met)
	}
	for _, n := range []int{meta.Users, meta.ScaleUsers} {
		d, okD := find(recs, "import", "dird", n)
		s, _ := find(recs, "import", "slapd", n)
		if !okD {
			continue
		}
		target, met := "", ""
		if n == meta.ScaleUsers {
			target, met = "dird < 30 s at 100,000", judge(n >= 100000, d.Secs < 30)
		}
		line(fmt.Sprintf("import of %d users, s (slapd: slapadd -q)", n), d.Secs, s.Secs, 0, false, target, met)
	}
	for _, n := range []int{meta.Users, meta.ScaleUsers} {
		d, okD := find(recs, "rss", "dird", n)
		s, _ := find(recs, "rss", "slapd", n)
		f, okF := find(recs, "rss", "freeradius", n)
		if !okD {
			continue
		}
		target, met := "", ""
		if n == meta.Users {
			target, met = "dird < 100 MiB at 10,000", judge(n == 10000, d.RSS < 100)
		}
		line(fmt.Sprintf("RSS idle at %d users, MiB", n), d.RSS, s.RSS, f.RSS, okF, target, met)
	}
	if d, ok := find(recs, "idle", "dird", 0); ok {
		s, _ := find(recs, "idle", "slapd", 0)
		line(fmt.Sprintf("RSS with %d idle LDAP connections, MiB", d.C), d.RSS, s.RSS, 0, false, "dird < 300 MiB at 10,000", judge(d.C >= 10000 && d.Fails == 0, d.RSS < 300))
	}
	d := summarize(recs, "search-scale", "dird", 8)
	s := summarize(recs, "search-scale", "slapd", 8)
	if d.Runs > 0 {
		line(fmt.Sprintf("search p99 at %d users, c=8, ms", meta.ScaleUsers), d.P99, s.P99, 0, false, "dird < 2 ms at 100,000", judge(meta.ScaleUsers >= 100000 && d.Fails == 0, d.P99 < 2))
	}
	b.WriteString("\n")
}

// writeFailures lists every run that had failures, with its first error.
func writeFailures(b *strings.Builder, recs []record) {
	var lines []string
	for _, r := range recs {
		if r.Fails > 0 || r.FirstErr != "" {
			lines = append(lines, fmt.Sprintf("- %s %s c=%d round %d: %d failures: %s", r.Kind, r.Label, r.C, r.Round, r.Fails, r.FirstErr))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("## Runs with failures\n\n" + strings.Join(lines, "\n") + "\n")
}

func judge(applies, ok bool) string {
	if !applies {
		return "–"
	}
	return yesNo(ok)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func metText(r row) string {
	met, ok := r.Met()
	if !ok {
		return "–"
	}
	return yesNo(met)
}

func targetText(t float64) string {
	if t == 0 {
		return "–"
	}
	return fmt.Sprintf("≥ %.1f×", t)
}

func ratioText(x float64) string {
	if x == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

// num prints a figure with as many decimals as its size needs.
func num(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}
