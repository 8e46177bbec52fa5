package radiusd_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/dird/dird/internal/dirdproc"
)

// The tests below drive a real `dird serve` (the binary, built once per
// test run) with wpa_supplicant's eapol_test (Debian package eapoltest,
// which `make test-deps` installs). eapol_test plays a Wi-Fi client and
// its access point at once: it runs PEAP or EAP-TTLS against dird over
// RADIUS, pins dird's certificate (ca_cert), and checks that the
// MS-MPPE keys dird sends match the ones it derived itself; it exits 0
// only when both hold. It is never given -n, which would skip the key
// check.

var (
	dirdBinOnce sync.Once
	dirdBin     string
	dirdBinErr  error
)

// dirdBinary builds dird once for the package's process-level tests.
func dirdBinary(t testing.TB) string {
	t.Helper()
	dirdBinOnce.Do(func() {
		// The binary outlives this test; the OS's temporary directory
		// reclaims it.
		dirdBin, _, dirdBinErr = dirdproc.Build(raceEnabled)
	})
	if dirdBinErr != nil {
		t.Fatal(dirdBinErr)
	}
	return dirdBin
}

// eapSecret is the shared secret of the loopback RADIUS client.
const eapSecret = "eapol-test-secret-7d1c52e9"

// servedDird is a running dird serve.
type servedDird struct {
	t   testing.TB
	cmd *exec.Cmd
	dir string // the store's directory
	// confDir holds eapol_test configurations (eapolTest may run on
	// several goroutines, where t.TempDir and t.Fatal may not be used).
	confDir string
	ldap    string // host:port
	radius  string
	acct    string

	mu   sync.Mutex // guards log
	log  []string
	done chan struct{}
	err  error
}

// serveDird starts dird serve with RADIUS on loopback, the given policy
// lines added to the configuration (indented under policy:).
func serveDird(t testing.TB, policyYAML string) *servedDird {
	t.Helper()
	bin := dirdBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dird.yaml")
	store := filepath.Join(dir, "data")
	yaml := `base_dn: dc=example,dc=com
admin:
  dn: cn=admin,dc=example,dc=com
  password: Adm1n-Eapol-Sesame-31
store:
  path: ` + store + `
ldap:
  listen: 127.0.0.1:0
radius:
  listen: 127.0.0.1:0
  clients:
    - {name: loopback, address: 127.0.0.0/8, secret: ` + eapSecret + `}
portal:
  listen: 127.0.0.1:0
policy:
  argon2_memory: 7168
  argon2_time: 1
  nt_hash: true
` + policyYAML
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &servedDird{t: t, dir: store, confDir: t.TempDir(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--config", cfg)
	p.cmd.Env = dirdproc.Env()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan [2]string, 8)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
			var rec struct{ Msg, Front, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				listening <- [2]string{rec.Front, rec.Addr}
			}
		}
	}()
	go func() {
		<-logDone
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("dird serve log (last 200 lines):\n%s", p.logTail(200))
		}
	})
	deadline := time.After(60 * time.Second)
	for p.ldap == "" || p.radius == "" || p.acct == "" {
		select {
		case l := <-listening:
			switch l[0] {
			case "ldap":
				p.ldap = l[1]
			case "radius":
				p.radius = l[1]
			case "radius-accounting":
				p.acct = l[1]
			}
		case <-p.done:
			t.Fatalf("dird serve exited (%v) before listening:\n%s", p.err, p.logTail(50))
		case <-deadline:
			t.Fatalf("dird serve did not listen within 60s:\n%s", p.logTail(50))
		}
	}
	return p
}

func (p *servedDird) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("dird serve did not stop within 30s of SIGTERM")
	}
}

func (p *servedDird) logTail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.log
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// logHas reports whether a log line holds every one of parts.
func (p *servedDird) logHas(parts ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.log {
		all := true
		for _, s := range parts {
			if !strings.Contains(l, s) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// waitLog waits for a log line holding every one of parts.
func (p *servedDird) waitLog(parts ...string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !p.logHas(parts...) {
		if time.Now().After(deadline) {
			p.t.Fatalf("log never had a line with %q", parts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *servedDird) admin() *ldap.Conn {
	p.t.Helper()
	c, err := ldap.DialURL("ldap://" + p.ldap)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := c.Bind("cn=admin,dc=example,dc=com", "Adm1n-Eapol-Sesame-31"); err != nil {
		c.Close()
		p.t.Fatalf("admin bind: %v", err)
	}
	return c
}

// seed adds ou=people and one inetOrgPerson per uid: password pair.
func (p *servedDird) seed(users map[string]string) {
	p.t.Helper()
	c := p.admin()
	defer c.Close()
	r := ldap.NewAddRequest(peopleDN, nil)
	r.Attribute("objectClass", []string{"organizationalUnit"})
	r.Attribute("ou", []string{"people"})
	if err := c.Add(r); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		p.t.Fatalf("add %s: %v", peopleDN, err)
	}
	for uid, pw := range users {
		r := ldap.NewAddRequest(userDN(uid), nil)
		r.Attribute("objectClass", []string{"inetOrgPerson"})
		r.Attribute("cn", []string{uid + " Example"})
		r.Attribute("sn", []string{"Example"})
		r.Attribute("userPassword", []string{pw})
		if err := c.Add(r); err != nil {
			p.t.Fatalf("add %s: %v", uid, err)
		}
	}
}

func (p *servedDird) modify(uid, attr string, vals ...string) {
	p.t.Helper()
	c := p.admin()
	defer c.Close()
	m := ldap.NewModifyRequest(userDN(uid), nil)
	m.Replace(attr, vals)
	if err := c.Modify(m); err != nil {
		p.t.Fatalf("modify %s %s: %v", uid, attr, err)
	}
}

// bind binds as uid over LDAP.
func (p *servedDird) bind(uid, pw string) error {
	c, err := ldap.DialURL("ldap://" + p.ldap)
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close()
	return c.Bind(userDN(uid), pw)
}

// supplicant is one eapol_test network block.
type supplicant struct {
	eap      string // PEAP or TTLS
	phase2   string // auth=MSCHAPV2, auth=PAP
	tls13    bool
	user, pw string
	fragment int // fragment_size; 0: the default
	timeout  int // eapol_test -t, seconds; 0: 20
	extra    []string
}

// eapolResult is one eapol_test run.
type eapolResult struct {
	exit int
	out  string
}

// eapolTest runs eapol_test against p with sup and returns its exit code
// and output. eapol_test must be installed: the test fails otherwise.
func (p *servedDird) eapolTest(sup supplicant) eapolResult {
	bin, err := exec.LookPath("eapol_test")
	if err != nil {
		p.t.Error("eapol_test not found (Debian package eapoltest): run make test-deps")
		return eapolResult{exit: -1}
	}
	phase1 := "tls_disable_tlsv1_3=1"
	if sup.tls13 {
		phase1 = "tls_disable_tlsv1_3=0"
	}
	if sup.eap == "PEAP" {
		phase1 = "peapver=0 " + phase1
	}
	conf := fmt.Sprintf(`network={
	key_mgmt=WPA-EAP
	eap=%s
	identity=%q
	anonymous_identity="anonymous"
	password=%q
	phase1=%q
	phase2=%q
	ca_cert=%q
`, sup.eap, sup.user, sup.pw, phase1, sup.phase2, filepath.Join(p.dir, "eap-cert.pem"))
	if sup.fragment > 0 {
		conf += fmt.Sprintf("\tfragment_size=%d\n", sup.fragment)
	}
	conf += "}\n"
	f, err := os.CreateTemp(p.confDir, "eapol-*.conf")
	if err == nil {
		_, err = f.WriteString(conf)
		f.Close()
	}
	if err != nil {
		p.t.Error(err)
		return eapolResult{exit: -1}
	}
	path := f.Name()
	host, port, _ := strings.Cut(p.radius, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	timeout := sup.timeout
	if timeout == 0 {
		timeout = 20
	}
	args := append([]string{"-c", path, "-a", host, "-p", port, "-s", eapSecret, "-t", fmt.Sprint(timeout)}, sup.extra...)
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return eapolResult{0, string(out)}
	case errors.As(err, &ee) && ctx.Err() == nil:
		return eapolResult{ee.ExitCode(), string(out)}
	}
	p.t.Errorf("eapol_test: %v\n%s", err, tailLines(string(out), 60))
	return eapolResult{exit: -1}
}

func tailLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// eapolExitReject is Debian's eapol_test 2.10 exit status after an
// Access-Reject: it checks the (absent) MPPE keys first and returns -4.
// A timeout is 254. A reject is also recognised by its log line.
const eapolExitReject = 252

func TestEAPOLTest(t *testing.T) {
	d := serveDird(t, "  lockout_threshold: 3\n  max_age: 2160h\n")
	pw := map[string]string{
		"alice": "Wonderland-2026", "bob": "Builder-Bob-99", "locked": "Behind-Bars-101",
		"expired": "Old-As-The-Hills-2", "victim": "Right-Password-6",
	}
	d.seed(pw)
	d.modify("locked", "pwdAccountLockedTime", "000001010000Z")
	d.modify("expired", "pwdChangedTime", "20200101000000Z")
	d.waitLog("radius EAP server certificate", "sha256")

	type tc struct {
		name string
		sup  supplicant
		want int
	}
	var tests []tc
	for _, m := range []struct{ eap, phase2, name string }{
		{"PEAP", "auth=MSCHAPV2", "PEAP-MSCHAPv2"},
		{"TTLS", "auth=PAP", "EAP-TTLS/PAP"},
		{"TTLS", "auth=MSCHAPV2", "EAP-TTLS/MSCHAPv2"},
	} {
		for _, tls13 := range []bool{false, true} {
			v := "TLS 1.2"
			if tls13 {
				v = "TLS 1.3"
			}
			tests = append(tests,
				tc{m.name + " over " + v + " with the right password", supplicant{eap: m.eap, phase2: m.phase2, tls13: tls13, user: "alice", pw: pw["alice"]}, 0},
				tc{m.name + " over " + v + " with a wrong password", supplicant{eap: m.eap, phase2: m.phase2, tls13: tls13, user: "bob", pw: "not-bobs-password"}, eapolExitReject},
			)
		}
	}
	tests = append(tests,
		tc{"PEAP-MSCHAPv2 with 150-byte fragments", supplicant{eap: "PEAP", phase2: "auth=MSCHAPV2", user: "alice", pw: pw["alice"], fragment: 150,
			extra: []string{"-N", "12:d:200"}}, 0},
		tc{"EAP-TTLS/PAP with 150-byte fragments over TLS 1.3", supplicant{eap: "TTLS", phase2: "auth=PAP", tls13: true, user: "alice", pw: pw["alice"], fragment: 150,
			extra: []string{"-N", "12:d:200"}}, 0},
		tc{"PEAP-MSCHAPv2 on a locked account", supplicant{eap: "PEAP", phase2: "auth=MSCHAPV2", user: "locked", pw: pw["locked"]}, eapolExitReject},
		// E=648 makes wpa_supplicant wait for a new password from its
		// user (MS-CHAPv2 Change-Password, which dird does not serve):
		// it never answers, so the run ends in its timeout, unaccepted,
		// and eapol_test exits as after a reject (no keys).
		tc{"PEAP-MSCHAPv2 on an expired password gets E=648", supplicant{eap: "PEAP", phase2: "auth=MSCHAPV2", user: "expired", pw: pw["expired"], timeout: 4}, eapolExitReject},
		tc{"EAP-TTLS/PAP on a locked account", supplicant{eap: "TTLS", phase2: "auth=PAP", user: "locked", pw: pw["locked"]}, eapolExitReject},
		tc{"EAP-TTLS/PAP on an expired password", supplicant{eap: "TTLS", phase2: "auth=PAP", user: "expired", pw: pw["expired"]}, eapolExitReject},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := d.eapolTest(tt.sup)
			if r.exit != tt.want {
				t.Errorf("eapol_test exit %d, want %d\n%s", r.exit, tt.want, tailLines(r.out, 80))
			}
			switch {
			case strings.Contains(r.out, "(Access-Accept)") && tt.want != 0:
				t.Errorf("eapol_test got an Access-Accept:\n%s", tailLines(r.out, 40))
			case tt.sup.user == "expired" && tt.sup.eap == "PEAP":
				if !strings.Contains(r.out, "E=648") {
					t.Errorf("eapol_test did not get MS-CHAPv2 error 648:\n%s", tailLines(r.out, 40))
				}
			case tt.sup.user == "locked" && tt.sup.eap == "PEAP" && !strings.Contains(r.out, "E=647"):
				t.Errorf("eapol_test did not get MS-CHAPv2 error 647:\n%s", tailLines(r.out, 40))
			case tt.sup.user == "bob" && tt.sup.eap == "PEAP" && !strings.Contains(r.out, "E=691"):
				t.Errorf("eapol_test did not get MS-CHAPv2 error 691:\n%s", tailLines(r.out, 40))
			case tt.want == eapolExitReject && !strings.Contains(r.out, "(Access-Reject)"):
				t.Errorf("eapol_test did not get an Access-Reject:\n%s", tailLines(r.out, 40))
			}
			if tt.want == 0 && !strings.Contains(r.out, "MPPE keys OK: 1  mismatch: 0") {
				t.Errorf("eapol_test did not confirm the MPPE keys:\n%s", tailLines(r.out, 40))
			}
		})
	}
	t.Run("the inner identity is authorised, never the outer one", func(t *testing.T) {
		if d.logHas(`"user":"anonymous"`) {
			t.Error("a log line names the outer identity anonymous as the user")
		}
		if !d.logHas(`"msg":"radius access"`, `"user":"alice"`, `"outer_identity":"anonymous"`, `"result":"ok"`) {
			t.Error("no radius access line for alice behind the outer identity anonymous")
		}
	})
	t.Run("locked and expired say so in the log", func(t *testing.T) {
		d.waitLog(`"user":"locked"`, `"result":"locked"`)
		d.waitLog(`"user":"expired"`, `"result":"expired"`)
	})
	t.Run("a PEAP wrong-password streak locks the account for LDAP", func(t *testing.T) {
		for i := range 3 {
			r := d.eapolTest(supplicant{eap: "PEAP", phase2: "auth=MSCHAPV2", user: "victim", pw: fmt.Sprintf("wrong-password-%d", i)})
			if r.exit != eapolExitReject {
				t.Fatalf("attempt %d: eapol_test exit %d, want %d", i, r.exit, eapolExitReject)
			}
		}
		if err := d.bind("victim", pw["victim"]); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Errorf("LDAP bind with the right password after 3 PEAP failures: %v, want invalidCredentials (locked)", err)
		}
		if r := d.eapolTest(supplicant{eap: "PEAP", phase2: "auth=MSCHAPV2", user: "victim", pw: pw["victim"]}); r.exit != eapolExitReject {
			t.Errorf("PEAP with the right password on the locked account: exit %d, want %d", r.exit, eapolExitReject)
		}
		d.waitLog(`"user":"victim"`, `"result":"locked"`)
	})
}

// goClientHello is the first flight of a Go TLS client (TLS 1.2 and 1.3
// offered), for tests that open conversations without finishing them.
func goClientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go tls.Client(a, &tls.Config{InsecureSkipVerify: true}).Handshake()
	buf := make([]byte, 4096)
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	return buf[:n]
}

// rssKiB is the resident memory of process pid, from /proc.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kib)
			return kib
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// halfOpen opens n conversations from one socket, each to the point
// where the server has answered a ClientHello with its TLS flight (with
// hello nil: has answered the Identity), and leaves them there.
func halfOpen(addr string, n int, hello []byte) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 4096)
	exchange := func(p *radius.Packet) (*radius.Packet, error) {
		q := *p
		q.Attributes = append(radius.Attributes{{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, 16)}}, p.Attributes...)
		b, err := q.MarshalBinary()
		if err != nil {
			return nil, err
		}
		m := hmac.New(md5.New, []byte(eapSecret))
		m.Write(b)
		copy(b[22:38], m.Sum(nil))
		if _, err := c.Write(b); err != nil {
			return nil, err
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		k, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		return radius.Parse(buf[:k], []byte(eapSecret))
	}
	for i := range n {
		id := byte(i)
		p := radius.New(radius.CodeAccessRequest, []byte(eapSecret))
		p.Identifier = 2 * id
		p.Add(rfc2869.EAPMessage_Type, radius.Attribute([]byte{2, id, 0, 14, 1, 'a', 'n', 'o', 'n', 'y', 'm', 'o', 'u', 's'}))
		r, err := exchange(p)
		if err != nil {
			return fmt.Errorf("identity %d: %w", i, err)
		}
		st, err := rfc2865.State_Lookup(r)
		if err != nil || r.Code != radius.CodeAccessChallenge {
			return fmt.Errorf("identity %d: got %s without State", i, r.Code)
		}
		if hello == nil {
			continue
		}
		eapID := r.Get(rfc2869.EAPMessage_Type)[1]
		msg := append([]byte{2, eapID, 0, 0, 25, 0}, hello...)
		msg[2], msg[3] = byte(len(msg)>>8), byte(len(msg))
		p = radius.New(radius.CodeAccessRequest, []byte(eapSecret))
		p.Identifier = 2*id + 1
		for len(msg) > 0 {
			k := min(len(msg), 253)
			p.Add(rfc2869.EAPMessage_Type, radius.Attribute(msg[:k]))
			msg = msg[k:]
		}
		rfc2865.State_Set(p, st)
		if r, err = exchange(p); err != nil {
			return fmt.Errorf("client hello %d: %w", i, err)
		}
		if r.Code != radius.CodeAccessChallenge {
			return fmt.Errorf("client hello %d: got %s, want the server's TLS flight", i, r.Code)
		}
	}
	return nil
}

// TestEAPHalfOpenFlood opens more conversations than the server keeps
// (4096, of which at most 1024 with a TLS handshake), each with its TLS
// handshake started and abandoned, and checks that the oldest are
// evicted with a log line, memory stays bounded, and
// real supplicants are still served during and after the flood.
func TestEAPHalfOpenFlood(t *testing.T) {
	d := serveDird(t, "")
	d.seed(map[string]string{"alice": "Wonderland-2026"})
	hello := goClientHello(t)
	before := rssKiB(t, d.cmd.Process.Pid)
	// 16 x 220 conversations stopped at their Identity, 16 x 100 in
	// their TLS handshake: 5120 in all.
	const workers, identities, handshakes = 16, 220, 100
	errs := make(chan error, 2*workers)
	start := time.Now()
	for range workers {
		go func() { errs <- halfOpen(d.radius, identities, nil) }()
		go func() { errs <- halfOpen(d.radius, handshakes, hello) }()
	}
	// A real supplicant in the middle of the flood.
	during := d.eapolTest(supplicant{eap: "TTLS", phase2: "auth=PAP", user: "alice", pw: "Wonderland-2026", tls13: true})
	for range 2 * workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	after := rssKiB(t, d.cmd.Process.Pid)
	t.Logf("%d half-open conversations (%d in TLS) in %s; dird RSS %d MiB before, %d MiB after (race detector: %v)",
		workers*(identities+handshakes), workers*handshakes, elapsed.Round(time.Millisecond), before/1024, after/1024, raceEnabled)
	if during.exit != 0 {
		t.Errorf("eapol_test during the flood: exit %d\n%s", during.exit, tailLines(during.out, 40))
	}
	d.waitLog("radius EAP conversation evicted: too many open conversations", `"max":4096`)
	d.waitLog("radius EAP conversation evicted: too many TLS handshakes open", `"max":1024`)
	// At most 1024 open TLS handshakes of about 40 KiB each; the race
	// detector multiplies memory by 5 to 10.
	limit := 128 << 10
	if raceEnabled {
		limit = 1 << 20
	}
	if after-before > limit {
		t.Errorf("RSS grew by %d MiB over the flood, want at most %d MiB", (after-before)/1024, limit>>10)
	}
	if r := d.eapolTest(supplicant{eap: "PEAP", phase2: "auth=MSCHAPV2", user: "alice", pw: "Wonderland-2026"}); r.exit != 0 {
		t.Errorf("eapol_test after the flood: exit %d\n%s", r.exit, tailLines(r.out, 40))
	}
}
