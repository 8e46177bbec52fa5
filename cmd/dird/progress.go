package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/dird/dird/server"
)

// progress shows an import's advance on stderr: on a terminal, one line
// redrawn in place with the rate and the time left; otherwise (a log, a
// pipe) a plain line every plainEvery records, so that a log stays short.
type progress struct {
	w        io.Writer
	terminal bool

	phase     string
	start     time.Time // of the phase
	lastDraw  time.Time
	lastPlain int
	drawn     bool // a terminal line is on screen
}

const plainEvery = 10000

// isTerminal reports whether w is a terminal. golang.org/x/term asks the
// terminal driver (an ioctl) rather than trusting a character device:
// /dev/null is one too.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, terminal: isTerminal(w)}
}

// update takes one reading from server.Import.
func (p *progress) update(r server.Progress) {
	now := time.Now()
	if r.Phase != p.phase {
		p.finish()
		p.phase, p.start, p.lastPlain = r.Phase, now, 0
	}
	if p.terminal {
		if now.Sub(p.lastDraw) < 100*time.Millisecond && r.Done != r.Total {
			return
		}
		p.lastDraw = now
		fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(r, now))
		p.drawn = true
		return
	}
	if r.Done >= p.lastPlain+plainEvery {
		p.lastPlain = r.Done - r.Done%plainEvery
		fmt.Fprintf(p.w, "dird import: %s\n", p.line(r, now))
	}
}

// line is "checking: 45000/100000 entries, 8123/s, 7s left".
func (p *progress) line(r server.Progress, now time.Time) string {
	if r.Phase == "compacting" {
		return "compacting the store"
	}
	what := "records"
	if r.Phase != "reading" {
		what = "entries"
	}
	s := fmt.Sprintf("%s: %d", r.Phase, r.Done)
	if r.Total > 0 {
		s += fmt.Sprintf("/%d", r.Total)
	}
	s += " " + what
	el := now.Sub(p.start)
	if el < 200*time.Millisecond || r.Done == 0 {
		return s
	}
	rate := float64(r.Done) / el.Seconds()
	s += fmt.Sprintf(", %.0f/s", rate)
	if r.Total > r.Done {
		left := time.Duration(float64(r.Total-r.Done) / rate * float64(time.Second))
		s += fmt.Sprintf(", %s left", left.Round(time.Second))
	}
	return s
}

// finish ends the terminal line of the current phase.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
