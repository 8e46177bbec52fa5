package sssdtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dird/dird/internal/dirdproc"
)

const (
	baseDN    = "dc=example,dc=com"
	adminDN   = "cn=admin,dc=example,dc=com"
	adminPW   = "Adm1n-sssd-Sesame-77"
	peopleDN  = "ou=people," + baseDN
	toolLimit = 60 * time.Second
	lockPath  = "/run/lock/dird-sssdtest.lock"
)

// dirdBin is the binary TestMain builds.
var dirdBin string

// guarded are the host files that installing or running SSSD and nslcd
// could change (pam-auth-update, nsswitch edits); they must be
// byte-identical after the run.
func guarded() []string {
	files := []string{"/etc/nsswitch.conf", "/etc/nslcd.conf", "/etc/sssd/sssd.conf"}
	common, _ := filepath.Glob("/etc/pam.d/common-*")
	return append(files, common...)
}

// checksums maps each guarded file to the SHA-256 of its content, or
// "absent".
func checksums() map[string]string {
	sums := map[string]string{}
	for _, f := range guarded() {
		b, err := os.ReadFile(f)
		if err != nil {
			sums[f] = "absent"
			continue
		}
		h := sha256.Sum256(b)
		sums[f] = hex.EncodeToString(h[:])
	}
	return sums
}

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		// Not skipped: make test runs as root, and a silent skip would
		// hide that nothing was tested.
		fmt.Fprintln(os.Stderr, "sssdtest: must run as root (it runs sssd and nslcd in private mount namespaces)")
		return 1
	}
	for _, tool := range []string{"sssd", "nslcd", "pamtester", "getent", "unshare", "nsenter", "setpriv", "mount", "ldapadd", "ldapmodify", "ldapwhoami", "ldappasswd"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "sssdtest: %s is not installed: run make test-deps (TEST_DEBS)\n", tool)
			return 1
		}
	}
	for _, lib := range []string{"pam_sss.so", "pam_ldap.so"} {
		if matches, _ := filepath.Glob("/usr/lib/*/security/" + lib); len(matches) == 0 {
			fmt.Fprintf(os.Stderr, "sssdtest: %s is not installed: run make test-deps (TEST_DEBS)\n", lib)
			return 1
		}
	}
	// Only one SSSD test run per host: they would share nothing on disk,
	// but two sssd monitors and nslcds at once make failures hard to read
	// and the brief for this suite says one at a time.
	// /run/lock is standard on Debian, but a bare container may lack it.
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o1777); err != nil {
		fmt.Fprintf(os.Stderr, "sssdtest: %v\n", err)
		return 1
	}
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sssdtest: opening %s: %v\n", lockPath, err)
		return 1
	}
	defer lock.Close()
	if err := flockWithin(lock, 10*time.Minute); err != nil {
		fmt.Fprintf(os.Stderr, "sssdtest: %v\n", err)
		return 1
	}
	before := checksums()
	bin, cleanup, err := dirdproc.Build(raceEnabled)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sssdtest: %v\n", err)
		return 1
	}
	defer cleanup()
	dirdBin = bin
	code := m.Run()
	after := checksums()
	for _, f := range guarded() {
		if before[f] != after[f] {
			fmt.Fprintf(os.Stderr, "FAIL: %s changed during the test (sha256 %s -> %s)\n", f, before[f], after[f])
			code = 1
		}
	}
	return code
}

// flockWithin takes an exclusive lock on f, waiting at most d.
func flockWithin(f *os.File, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another SSSD test run holds %s after %v", f.Name(), d)
		}
		time.Sleep(time.Second) // another run holds it: nothing to wait on but time
	}
}

// dird is one running `dird serve` with StartTLS.
type dird struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	addr   string // 127.0.0.1:port
	url    string // ldap://127.0.0.1:port
	caFile string

	exited  chan struct{}
	waitErr error
	logDone chan struct{}

	mu      sync.Mutex // guards log, secrets
	log     []string
	secrets map[string]bool
}

// startDird starts dird with StartTLS and the given policy keys (YAML
// lines under policy:, e.g. "max_age: 10d").
func startDird(t *testing.T, policy ...string) *dird {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile := writeCerts(t, dir)
	cfg := fmt.Sprintf(`base_dn: %s
admin:
  dn: %s
  password: %s
store:
  path: %s
ldap:
  listen: 127.0.0.1:0
  tls_cert: %s
  tls_key: %s
radius:
  listen: 127.0.0.1:0
portal:
  listen: 127.0.0.1:0
log:
  level: debug
policy:
  argon2_memory: 7168
  argon2_time: 1
`, baseDN, adminDN, adminPW, filepath.Join(dir, "data"), certFile, keyFile)
	for _, p := range policy {
		cfg += "  " + p + "\n"
	}
	path := filepath.Join(dir, "dird.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &dird{t: t, dir: dir, caFile: caFile, exited: make(chan struct{}), logDone: make(chan struct{}),
		secrets: map[string]bool{adminPW: true}}
	d.cmd = exec.Command(dirdBin, "serve", "--config", path)
	d.cmd.Dir = dir
	d.cmd.Env = dirdproc.Env()
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting dird: %v", err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(d.logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log = append(d.log, line)
			d.mu.Unlock()
			var rec struct{ Msg, Front, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Front == "ldap" {
				select {
				case listening <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-d.logDone
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(d.stop)
	select {
	case d.addr = <-listening:
	case <-d.exited:
		t.Fatalf("dird exited before listening (%v); log:\n%s", d.waitErr, d.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("dird did not listen within 30s; log:\n%s", d.logText())
	}
	d.url = "ldap://" + d.addr
	return d
}

// stop ends dird with SIGTERM (by its pid), expects exit status 0, and
// checks that no password the test used reached the log.
func (d *dird) stop() {
	t := d.t
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
			if d.waitErr != nil {
				t.Errorf("dird exited with %v after SIGTERM, want 0", d.waitErr)
			}
		case <-time.After(30 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
			t.Errorf("dird did not exit within 30s of SIGTERM")
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, line := range d.log {
		for s := range d.secrets {
			if strings.Contains(line, s) {
				t.Errorf("the log contains the password %q: %s", s, line)
			}
		}
	}
	if t.Failed() {
		t.Logf("dird log:\n%s", strings.Join(d.log, "\n"))
	}
}

func (d *dird) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.log, "\n")
}

// secret registers passwords that must never appear in the log.
func (d *dird) secret(pws ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range pws {
		if len(p) >= 4 {
			d.secrets[p] = true
		}
	}
}

// result is one tool run.
type result struct {
	out  string // stdout and stderr together
	exit int
}

func (r result) String() string { return fmt.Sprintf("exit %d, output:\n%s", r.exit, r.out) }

// run runs a command with stdin, a time bound and no controlling
// terminal (so prompts read stdin).
func run(t *testing.T, stdin string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "LDAPRC=/nonexistent-ldaprc", "LANG=C", "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := result{out: out.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("%s %q did not finish within %v\n%s", name, args, toolLimit, r)
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", name, err)
	}
	return r
}

// ldap runs an OpenLDAP tool against d over StartTLS (-ZZ), trusting the
// test's CA.
func (d *dird) ldap(t *testing.T, stdin, tool string, args ...string) result {
	t.Helper()
	for i, a := range args {
		if (a == "-w" || (tool == "ldappasswd" && (a == "-a" || a == "-s"))) && i+1 < len(args) {
			d.secret(args[i+1])
		}
	}
	args = append([]string{"-x", "-ZZ", "-H", d.url}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), toolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "LDAPRC=/nonexistent-ldaprc", "LDAPTLS_CACERT="+d.caFile, "LDAPTLS_REQCERT=demand")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := result{out: out.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		t.Fatalf("%s did not finish within %v\n%s", tool, toolLimit, r)
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", tool, err)
	}
	return r
}

// admin feeds LDIF to ldapadd or ldapmodify as the administrator and
// fails the test unless it succeeds.
func (d *dird) admin(t *testing.T, tool, ldif string) {
	t.Helper()
	for _, l := range strings.Split(ldif, "\n") {
		if v, ok := strings.CutPrefix(l, "userPassword: "); ok {
			d.secret(v)
		}
	}
	if r := d.ldap(t, ldif, tool, "-D", adminDN, "-w", adminPW); r.exit != 0 {
		t.Fatalf("%s as admin: %s\nLDIF:\n%s", tool, r, ldif)
	}
}

// setChanged writes pwdChangedTime, which ages (or expires) a password.
func (d *dird) setChanged(t *testing.T, dn string, at time.Time) {
	t.Helper()
	d.admin(t, "ldapmodify", fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: pwdChangedTime\npwdChangedTime: %s\n",
		dn, at.UTC().Format("20060102150405Z")))
}

// whoami binds as dn with pw and reports whether the bind succeeded.
func (d *dird) whoami(t *testing.T, dn, pw string) bool {
	t.Helper()
	r := d.ldap(t, "", "ldapwhoami", "-D", dn, "-w", pw)
	if r.exit != 0 && !strings.Contains(r.out, "Invalid credentials (49)") {
		t.Fatalf("ldapwhoami as %s: neither success nor invalidCredentials: %s", dn, r)
	}
	return r.exit == 0
}

// search is one "ldap search" line of dird's debug log.
type search struct {
	Base, Scope, Filter, Plan string
	Entries                   int
}

// searches returns the searches in d's log so far.
func (d *dird) searches() []search {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []search
	for _, line := range d.log {
		var rec struct {
			Msg, Base, Scope, Filter, Plan string
			Entries                        int
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "ldap search" {
			out = append(out, search{rec.Base, rec.Scope, rec.Filter, rec.Plan, rec.Entries})
		}
	}
	return out
}

// checkSearches logs every distinct search a client sent (with how often
// and how it was answered) and fails the test for any one- or
// subtree-level search answered by a scan: each search SSSD and nslcd
// send at a login names an indexed attribute.
func checkSearches(t *testing.T, client string, d *dird, since int) {
	t.Helper()
	all := d.searches()[since:]
	if len(all) == 0 {
		t.Errorf("%s sent no search that dird logged: is log.level debug and the plan line there?", client)
		return
	}
	type key struct{ scope, filter, plan string }
	count := map[key]int{}
	for _, s := range all {
		count[key{s.Scope, s.Filter, s.Plan}]++
	}
	keys := make([]key, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].filter != keys[j].filter {
			return keys[i].filter < keys[j].filter
		}
		return keys[i].scope < keys[j].scope
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %dx scope=%s plan=%q filter=%s\n", count[k], k.scope, k.plan, k.filter)
	}
	t.Logf("searches %s sent (%d in all, %d distinct):\n%s", client, len(all), len(keys), b.String())
	for _, s := range unindexed(all) {
		t.Errorf("%s search not answered from an index (plan %q): scope=%s filter=%s", client, s.Plan, s.Scope, s.Filter)
	}
}

// unindexed returns the searches that read more than the index or the
// entry named: a scan of the tree, or no plan logged at all.
func unindexed(all []search) []search {
	var out []search
	for _, s := range all {
		if s.Plan == "scan" || s.Plan == "" {
			out = append(out, s)
		}
	}
	return out
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by
// it, and returns the CA, certificate and key PEM file paths.
func writeCerts(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dird sssdtest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The CA is world-readable: sssd_be and nslcd read it.
	return write("ca.pem", "CERTIFICATE", caDER, 0o644), write("cert.pem", "CERTIFICATE", leafDER, 0o600), write("key.pem", "PRIVATE KEY", keyDER, 0o600)
}
