package opstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dird/dird/internal/dirdproc"
)

const (
	baseDN  = "dc=example,dc=com"
	adminDN = "cn=admin,dc=example,dc=com"
	adminPW = "Adm1n-Opstest-Sesame-31"
)

// dirdBin is the binary TestMain builds.
var dirdBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	bin, cleanup, err := dirdproc.Build(raceEnabled)
	if err != nil {
		fmt.Fprintf(os.Stderr, "opstest: %v\n", err)
		return 1
	}
	defer cleanup()
	dirdBin = bin
	return m.Run()
}

// site is one dird installation: a configuration file and its store, in
// a temporary directory.
type site struct {
	t     *testing.T
	dir   string
	cfg   string
	store string
}

// radiusSecret is the shared secret of the RADIUS client on loopback.
const radiusSecret = "opstest-radius-secret-2f9c81"

// newSite writes a configuration with LDAP on 127.0.0.1:0 and cheap
// hashing, and a store that does not exist yet.
func newSite(t *testing.T) *site { return newSiteWith(t, false) }

// newSiteWith is newSite, with RADIUS on 127.0.0.1:0 (loopback clients,
// radiusSecret) when radius is set.
func newSiteWith(t *testing.T, radius bool) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir, cfg: filepath.Join(dir, "dird.yaml"), store: filepath.Join(dir, "data")}
	radiusYAML := "  listen: \"\"\n"
	if radius {
		radiusYAML = "  listen: 127.0.0.1:0\n  clients:\n    - {name: loopback, address: 127.0.0.0/8, secret: " + radiusSecret + "}\n"
	}
	yaml := `base_dn: ` + baseDN + `
admin:
  dn: ` + adminDN + `
  password: ` + adminPW + `
store:
  path: ` + s.store + `
ldap:
  listen: 127.0.0.1:0
radius:
` + radiusYAML + `portal:
  listen: 127.0.0.1:0
policy:
  argon2_memory: 7168
  argon2_time: 1
`
	if err := os.WriteFile(s.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// result is one run of a command.
type result struct {
	stdout, stderr string
	exit           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.exit, r.stdout, r.stderr)
}

// run runs a command with a time limit; stdin may be nil.
func run(t *testing.T, stdin []byte, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = dirdproc.Env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s %s: %v", name, strings.Join(args, " "), err)
	}
	return r
}

// dird runs one dird command on the site ("import", "x.ldif" ...).
func (s *site) dird(args ...string) result {
	s.t.Helper()
	return run(s.t, nil, dirdBin, append(append([]string(nil), args...), "--config", s.cfg)...)
}

// served is a running dird serve.
type served struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // the LDAP listener
	radius string // the RADIUS listener, when there is one
	// metrics is the metrics listener, when metrics.listen is set.
	metrics string

	mu   sync.Mutex // guards log
	log  []string
	grew chan struct{} // signalled (without blocking) at each new log line
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
}

// serve starts dird serve on the site and waits for its LDAP listener.
// The test's cleanup stops it if the test did not.
func (s *site) serve() *served {
	t := s.t
	t.Helper()
	p := &served{t: t, done: make(chan struct{}), grew: make(chan struct{}, 1)}
	p.cmd = exec.Command(dirdBin, "serve", "--config", s.cfg)
	p.cmd.Env = dirdproc.Env()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	radius := make(chan string, 1)
	metrics := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
			select {
			case p.grew <- struct{}{}:
			default:
			}
			var rec struct{ Msg, Front, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				switch rec.Front {
				case "ldap":
					addrs <- rec.Addr
				case "radius":
					radius <- rec.Addr
				case "metrics":
					metrics <- rec.Addr
				}
			}
		}
	}()
	go func() {
		<-logDone
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.stop()
		}
		if t.Failed() {
			t.Logf("dird serve log:\n%s", p.logText())
		}
	})
	select {
	case p.addr = <-addrs:
	case <-p.done:
		t.Fatalf("dird serve exited (%v) before listening:\n%s", p.err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("dird serve did not listen within 30s:\n%s", p.logText())
	}
	// serve starts RADIUS after LDAP, before its control socket.
	if strings.Contains(readFile(t, s.cfg), "clients:") {
		select {
		case p.radius = <-radius:
		case <-time.After(30 * time.Second):
			t.Fatalf("dird serve did not log its RADIUS listener:\n%s", p.logText())
		}
	}
	// The metrics endpoint starts last, once every front is up.
	if strings.Contains(readFile(t, s.cfg), "metrics:\n  listen: 127.") {
		select {
		case p.metrics = <-metrics:
		case <-time.After(30 * time.Second):
			t.Fatalf("dird serve did not log its metrics listener:\n%s", p.logText())
		}
	}
	return p
}

// waitLog waits until a log line after the first skip lines satisfies
// match, and returns it; it fails the test after 30s or if the server
// exits.
func (p *served) waitLog(skip int, what string, match func(line string) bool) string {
	p.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		p.mu.Lock()
		lines := p.log[min(skip, len(p.log)):]
		for _, l := range lines {
			if match(l) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.grew:
		case <-p.done:
			p.t.Fatalf("dird serve exited waiting for %s:\n%s", what, p.logText())
		case <-timeout:
			p.t.Fatalf("no %s in the log within 30s:\n%s", what, p.logText())
		}
	}
}

// logLen is how many lines the server has logged so far.
func (p *served) logLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

func (p *served) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

// stop sends SIGTERM and expects exit status 0.
func (p *served) stop() {
	t := p.t
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("dird serve did not stop within 30s of SIGTERM")
	}
	if p.err != nil {
		t.Errorf("dird serve exited with %v after SIGTERM:\n%s", p.err, p.logText())
	}
}

// dial connects to the server's LDAP listener.
func (p *served) dial() *ldap.Conn {
	p.t.Helper()
	c, err := ldap.DialURL("ldap://" + p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// bind binds one new connection as dn and returns the bind's error.
func (p *served) bind(dn, pw string) error {
	p.t.Helper()
	c := p.dial()
	defer c.Close()
	return c.Bind(dn, pw)
}

// admin returns a connection bound as the administrator.
func (p *served) admin() *ldap.Conn {
	p.t.Helper()
	c := p.dial()
	if err := c.Bind(adminDN, adminPW); err != nil {
		c.Close()
		p.t.Fatalf("admin bind: %v", err)
	}
	return c
}

// entry reads one entry as the administrator, with the attributes asked
// for; nil when it does not exist.
func (p *served) entry(dn string, attrs ...string) *ldap.Entry {
	p.t.Helper()
	c := p.admin()
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		p.t.Fatalf("reading %s: %v", dn, err)
	}
	return res.Entries[0]
}

// ldapCode is the LDAP result code of err, or -1.
func ldapCode(err error) int {
	if e, ok := err.(*ldap.Error); ok {
		return int(e.ResultCode)
	}
	if err == nil {
		return 0
	}
	return -1
}

// pap sends a PAP Access-Request with radtest (freeradius-utils), which
// adds the Message-Authenticator dird requires, and reports whether it
// was accepted.
func (p *served) pap(user, password string) bool {
	p.t.Helper()
	path, err := exec.LookPath("radtest")
	if err != nil {
		p.t.Fatal("radtest is not installed (freeradius-utils): run make test-deps")
	}
	// radtest user password server nas-port secret ppp-hint nas-name
	r := run(p.t, nil, path, user, password, p.radius, "0", radiusSecret, "0", "127.0.0.1")
	switch {
	case strings.Contains(r.stdout, "Received Access-Accept"):
		return true
	case strings.Contains(r.stdout, "Received Access-Reject"):
		return false
	}
	p.t.Fatalf("radtest got no answer: %v", r)
	return false
}
