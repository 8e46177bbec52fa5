package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// maxEAPUsers bounds the users a peap or ttls run uses: each needs its
// own eapol_test configuration file.
const maxEAPUsers = 200

// eapolTimeout is eapol_test -t: seconds for one whole conversation.
const eapolTimeout = "10"

// eapWorker runs one eapol_test at a time: one complete PEAP-MSCHAPv2 or
// EAP-TTLS/PAP conversation per operation. eapol_test checks the MS-MPPE
// keys the server sends (it is never given -n), so exit status 0 means
// the server completed the whole conversation correctly.
type eapWorker struct {
	bin   string
	args  []string // -a host -p port -s secret -t N; -c is added per run
	confs []string // one configuration per user of the pool
	uids  []string
	rng   *rand.Rand
	out   *os.File // eapol_test's chatty output, overwritten per run
}

func (w *eapWorker) op(ctx context.Context) error {
	k := w.rng.IntN(len(w.confs))
	if err := w.out.Truncate(0); err != nil {
		return fmt.Errorf("truncating %s: %w", w.out.Name(), err)
	}
	if _, err := w.out.Seek(0, io.SeekStart); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, w.bin, append([]string{"-c", w.confs[k]}, w.args...)...)
	// A file, not a pipe: the generator never copies the output.
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("eapol_test as %s: %w; last lines: %s", w.uids[k], err, tail(w.out, 20))
	}
	return nil
}

func (w *eapWorker) close() {
	w.out.Close()
	os.Remove(w.out.Name())
}

// tail is the last n lines of f, joined with " | ", for an error text.
func tail(f *os.File, n int) string {
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-4096, 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first one is cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// wpaString quotes s for wpa_supplicant's configuration, or writes it in
// hex when quoting cannot carry it (a quote, a control character).
func wpaString(s string) string {
	for _, c := range []byte(s) {
		if c < 0x20 || c == '"' || c == 0x7f {
			return hex.EncodeToString([]byte(s))
		}
	}
	return `"` + s + `"`
}

// eapolConfig is the network block for uid: no ca_cert, so the server's
// certificate is not checked (the bench measures, it does not pin).
func eapolConfig(o *options, uid string) string {
	tls13 := "1"
	if o.tls13 {
		tls13 = "0"
	}
	eap, phase1, phase2 := "PEAP", "peapver=0 tls_disable_tlsv1_3="+tls13, "auth=MSCHAPV2"
	if o.scenario == "ttls" {
		eap, phase1, phase2 = "TTLS", "tls_disable_tlsv1_3="+tls13, "auth=PAP"
	}
	return fmt.Sprintf("network={\n\tkey_mgmt=WPA-EAP\n\teap=%s\n\tidentity=%s\n\tanonymous_identity=\"anonymous\"\n\tpassword=%s\n\tphase1=%q\n\tphase2=%q\n}\n",
		eap, wpaString(uid), wpaString(o.password), phase1, phase2)
}

// runEAP is the peap and ttls scenarios.
func runEAP(o *options) (result, error) {
	if o.secret == "" {
		return result{}, errors.New(o.scenario + " needs -secret")
	}
	bin, err := exec.LookPath("eapol_test")
	if err != nil {
		return result{}, errors.New("eapol_test not found (Debian package eapoltest)")
	}
	host, port, err := net.SplitHostPort(o.radius)
	if err != nil {
		return result{}, fmt.Errorf("-radius %q: %w", o.radius, err)
	}
	all, err := uidList(o)
	if err != nil {
		return result{}, err
	}
	dir := o.eapolConfDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dirdbench-eapol-"); err != nil {
			return result{}, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return result{}, fmt.Errorf("making -eapol-conf-dir: %w", err)
	}
	// The pool: up to maxEAPUsers distinct users at random, one
	// configuration file each, written before the clock starts.
	pick := rand.Perm(len(all))[:min(len(all), maxEAPUsers)]
	tlsv := "tls12"
	if o.tls13 {
		tlsv = "tls13"
	}
	uids := make([]string, len(pick))
	confs := make([]string, len(pick))
	for k, i := range pick {
		uids[k] = all[i]
		confs[k] = filepath.Join(dir, fmt.Sprintf("%s-%s-%s.conf", o.scenario, tlsv, fileSafe(all[i])))
		if err := os.WriteFile(confs[k], []byte(eapolConfig(o, all[i])), 0o600); err != nil {
			return result{}, fmt.Errorf("writing an eapol_test configuration: %w", err)
		}
	}
	args := []string{"-a", host, "-p", port, "-s", o.secret, "-t", eapolTimeout}
	return runLoad(o, true, func(i int) (worker, error) {
		out, err := os.CreateTemp(dir, "eapol-out-*.log")
		if err != nil {
			return nil, fmt.Errorf("making an output file: %w", err)
		}
		return &eapWorker{bin: bin, args: args, confs: confs, uids: uids, out: out,
			rng: rand.New(rand.NewPCG(rand.Uint64(), uint64(i)))}, nil
	})
}

// fileSafe is uid if it can be a file name as it is, else its hex.
func fileSafe(uid string) string {
	for _, c := range []byte(uid) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '@') {
			return "x" + hex.EncodeToString([]byte(uid))
		}
	}
	return uid
}
