package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
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
	adminPW   = "Adm1n-e2e-Sesame-77"
	peopleDN  = "ou=people," + baseDN
	groupsDN  = "ou=groups," + baseDN
	toolLimit = 30 * time.Second
)

// dirdBin is the binary TestMain builds.
var dirdBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	bin, cleanup, err := dirdproc.Build(raceEnabled)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer cleanup()
	dirdBin = bin
	return m.Run()
}

// opts are one test's configuration overrides, as dotted keys
// ("policy.max_age": "90d", "ldap.anonymous_read": true). A nil value
// removes a default key.
type opts map[string]any

// dird is one running `dird serve`.
type dird struct {
	t       *testing.T
	cfgPath string
	dir     string
	cmd     *exec.Cmd
	url     string // ldap://127.0.0.1:port
	addrs   map[string]string
	pid     int

	waitOnce sync.Once
	waitErr  error
	exited   chan struct{}
	logDone  chan struct{}

	mu      sync.Mutex // guards log, secrets
	log     []string
	secrets map[string]bool
}

// startDird writes a configuration to a fresh temporary directory and
// starts dird on it. Cleanup stops it (asserting exit status 0) and checks
// the log for passwords.
func startDird(t *testing.T, o opts) *dird {
	t.Helper()
	dir := t.TempDir()
	cfg := map[string]any{
		"base_dn":              baseDN,
		"admin.dn":             adminDN,
		"admin.password":       adminPW,
		"store.path":           filepath.Join(dir, "data"),
		"ldap.listen":          "127.0.0.1:0",
		"radius.listen":        "127.0.0.1:0",
		"portal.listen":        "127.0.0.1:0",
		"policy.argon2_memory": 7168,
		"policy.argon2_time":   1,
	}
	for k, v := range o {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	path := filepath.Join(dir, "dird.yaml")
	if err := os.WriteFile(path, []byte(renderYAML(cfg)), 0o600); err != nil {
		t.Fatal(err)
	}
	return launch(t, path, dir)
}

// renderYAML writes dotted keys as one level of YAML sections.
func renderYAML(cfg map[string]any) string {
	sections := map[string][]string{}
	var top []string
	for k, v := range cfg {
		sec, key, ok := strings.Cut(k, ".")
		if !ok {
			top = append(top, fmt.Sprintf("%s: %s", k, yamlValue(v)))
			continue
		}
		sections[sec] = append(sections[sec], fmt.Sprintf("  %s: %s", key, yamlValue(v)))
	}
	sort.Strings(top)
	var b strings.Builder
	for _, l := range top {
		b.WriteString(l + "\n")
	}
	names := make([]string, 0, len(sections))
	for s := range sections {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		sort.Strings(sections[s])
		b.WriteString(s + ":\n")
		for _, l := range sections[s] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func yamlValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	default:
		return fmt.Sprint(v)
	}
}

// launch starts `dird serve --config path` and waits for its listeners.
// A second launch on the same path reopens the same store.
func launch(t *testing.T, path, dir string) *dird {
	t.Helper()
	d := &dird{
		t: t, cfgPath: path, dir: dir,
		addrs:   map[string]string{},
		exited:  make(chan struct{}),
		logDone: make(chan struct{}),
		secrets: map[string]bool{adminPW: true},
	}
	cfgText, _ := os.ReadFile(path)
	wantTLS := strings.Contains(string(cfgText), "ldaps_listen")
	d.cmd = exec.Command(dirdBin, "serve", "--config", path)
	d.cmd.Dir = dir
	// Only the file configures the server: DIRD_* variables from the
	// environment of whoever runs the tests would override it.
	d.cmd.Env = dirdproc.Env()
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting dird: %v", err)
	}
	d.pid = d.cmd.Process.Pid
	listening := make(chan [2]string, 4)
	go func() {
		defer close(d.logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.log = append(d.log, line)
			d.mu.Unlock()
			var rec struct {
				Msg   string `json:"msg"`
				Front string `json:"front"`
				Addr  string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				select {
				case listening <- [2]string{rec.Front, rec.Addr}:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-d.logDone
		d.wait()
	}()
	t.Cleanup(d.cleanup)

	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		_, haveLDAP := d.addrs["ldap"]
		_, haveLDAPS := d.addrs["ldaps"]
		if haveLDAP && (!wantTLS || haveLDAPS) {
			break
		}
		select {
		case l := <-listening:
			d.addrs[l[0]] = l[1]
		case <-d.exited:
			t.Fatalf("dird exited before listening (%v); log:\n%s", d.waitErr, d.logText())
		case <-deadline.C:
			t.Fatalf("dird did not log its listeners within 20s; log:\n%s", d.logText())
		}
	}
	d.url = "ldap://" + d.addrs["ldap"]
	return d
}

func (d *dird) wait() error {
	d.waitOnce.Do(func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	})
	<-d.exited
	return d.waitErr
}

// stop sends SIGTERM and asserts a prompt exit with status 0.
func (d *dird) stop(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		t.Errorf("dird had already exited: %v", d.waitErr)
		return
	default:
	}
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("dird did not exit within 20s of SIGTERM; log:\n%s", d.logText())
	}
	<-d.logDone
	if d.waitErr != nil {
		t.Errorf("dird exited with %v after SIGTERM, want status 0; log:\n%s", d.waitErr, d.logText())
	}
	t.Logf("dird stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *dird) kill(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-d.exited
	<-d.logDone
}

func (d *dird) cleanup() {
	t := d.t
	select {
	case <-d.exited:
	default:
		d.stop(t)
	}
	<-d.logDone
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, line := range d.log {
		for s := range d.secrets {
			if len(s) >= 4 && strings.Contains(line, s) {
				t.Errorf("the log contains the password %q: %s", s, line)
			}
		}
	}
	if t.Failed() {
		t.Logf("dird log (%s):\n%s", d.cfgPath, strings.Join(d.log, "\n"))
	}
}

func (d *dird) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.log, "\n")
}

// logLines returns a copy of the log so far.
func (d *dird) logLines() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.log...)
}

// secret registers passwords that must never appear in the log.
func (d *dird) secret(pws ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range pws {
		if p != "" {
			d.secrets[p] = true
		}
	}
}

// inheritSecrets carries a predecessor's passwords over to a restarted
// server on the same store.
func (d *dird) inheritSecrets(from *dird) {
	from.mu.Lock()
	defer from.mu.Unlock()
	for s := range from.secrets {
		d.secret(s)
	}
}

// result is one tool run.
type result struct {
	stdout, stderr string
	exit           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.exit, r.stdout, r.stderr)
}

// out is stdout and stderr together (the tools split their messages
// between them, e.g. ldappasswd's "New password:" and ldap_bind lines).
func (r result) out() string { return r.stdout + r.stderr }

type runOpts struct {
	stdin string
	env   []string
}

// run runs an ldap-utils tool with a timeout and returns its output and
// exit status.
func run(t *testing.T, name string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	r := runWith(t, runOpts{}, name, args...)
	return r.stdout, r.stderr, r.exit
}

// passwordFlag reports whether flag takes a password in tool name (-s is
// the scope for ldapsearch and the new superior for ldapmodrdn).
func passwordFlag(name, flag string) bool {
	return flag == "-w" || (name == "ldappasswd" && (flag == "-a" || flag == "-s"))
}

func runWith(t *testing.T, o runOpts, name string, args ...string) result {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (ldap-utils): run make test-deps", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// Only what we pass: no ~/.ldaprc or ./ldaprc from wherever the test
	// runs; the system ldap.conf is still read, and LDAPTLS_* wins over it.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "LDAPRC=/nonexistent-ldaprc")
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Dir = t.TempDir()
	// A new session has no controlling terminal, so the tools' password
	// prompts (lutil_getpass opens /dev/tty first) read from stdin.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Stdin = strings.NewReader(o.stdin)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err = cmd.Run()
	r := result{stdout: so.String(), stderr: se.String()}
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

// tool runs an ldap-utils tool against d, registering every password on
// its command line (and in its stdin) as a secret.
func (d *dird) tool(t *testing.T, o runOpts, name string, args ...string) result {
	t.Helper()
	for i, a := range args {
		if passwordFlag(name, a) && i+1 < len(args) {
			d.secret(args[i+1])
		}
	}
	for _, l := range strings.Split(o.stdin, "\n") {
		if v, ok := strings.CutPrefix(l, "userPassword: "); ok {
			d.secret(v)
		}
	}
	return runWith(t, o, name, append([]string{"-x", "-H", d.url}, args...)...)
}

// as binds a tool run as dn with pw (no dn: anonymous).
func (d *dird) as(t *testing.T, dn, pw, name string, args ...string) result {
	t.Helper()
	if dn != "" {
		args = append([]string{"-D", dn, "-w", pw}, args...)
	}
	return d.tool(t, runOpts{}, name, args...)
}

// ldif feeds LDIF to ldapadd or ldapmodify on stdin.
func (d *dird) ldif(t *testing.T, dn, pw, name, text string, args ...string) result {
	t.Helper()
	args = append([]string{"-D", dn, "-w", pw}, args...)
	return d.tool(t, runOpts{stdin: text}, name, args...)
}

// whoami binds as dn with pw; extra args go to ldapwhoami (e.g. "-e", "ppolicy").
func (d *dird) whoami(t *testing.T, dn, pw string, extra ...string) result {
	t.Helper()
	return d.as(t, dn, pw, "ldapwhoami", extra...)
}

// expect asserts the exit status and that every want string appears in
// stdout or stderr.
func expect(t *testing.T, r result, exit int, want ...string) {
	t.Helper()
	if r.exit != exit {
		t.Errorf("exit %d, want %d\n%s", r.exit, exit, r)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.out(), w) {
			t.Errorf("output lacks %q\n%s", w, r)
		}
	}
}

// refute asserts that none of the strings appears in the output.
func refute(t *testing.T, r result, not ...string) {
	t.Helper()
	for _, n := range not {
		if strings.Contains(r.out(), n) {
			t.Errorf("output contains %q, it must not\n%s", n, r)
		}
	}
}

var dnLine = regexp.MustCompile(`(?m)^dn: (.*)$`)

// dns returns the entry DNs of ldapsearch output, in order.
func dns(out string) []string {
	var l []string
	for _, m := range dnLine.FindAllStringSubmatch(out, -1) {
		l = append(l, m[1])
	}
	return l
}

// attrValues returns the values of attr in ldapsearch -LLL output
// (unfolded, plain values only).
func attrValues(out, attr string) []string {
	var vals []string
	for _, line := range strings.Split(unfold(out), "\n") {
		if v, ok := strings.CutPrefix(line, attr+": "); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

// unfold joins LDIF continuation lines.
func unfold(s string) string { return strings.ReplaceAll(s, "\n ", "") }

// userDN is the DN of a person under ou=people.
func userDN(uid string) string { return "uid=" + uid + "," + peopleDN }

// genTime is an LDAP GeneralizedTime.
func genTime(t time.Time) string { return t.UTC().Format("20060102150405Z") }
