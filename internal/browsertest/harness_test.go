package browsertest

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"
	"github.com/go-ldap/ldap/v3"

	"github.com/dird/dird/internal/dirdproc"
)

const (
	baseDN   = "dc=example,dc=com"
	adminDN  = "cn=admin,dc=example,dc=com"
	adminPW  = "Adm1n-browser-Sesame-77"
	peopleDN = "ou=people," + baseDN
	chromium = "/usr/bin/chromium"
	stepWait = 20 * time.Second
)

var dirdBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	bin, cleanup, err := dirdproc.Build(raceEnabled)
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: %v\n", err)
		return 1
	}
	defer cleanup()
	dirdBin = bin
	return m.Run()
}

// letter is one message the SMTP server received.
type letter struct {
	from, to string
	data     string
}

// smtpBackend keeps what it receives on a channel.
type smtpBackend struct{ got chan letter }

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b}, nil
}

type smtpSession struct {
	b        *smtpBackend
	from, to string
}

func (s *smtpSession) Reset()        { s.from, s.to = "", "" }
func (s *smtpSession) Logout() error { return nil }
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.got <- letter{from: s.from, to: s.to, data: string(data)}
	return nil
}

// dird is one running `dird serve` with its SMTP server.
type dird struct {
	t         *testing.T
	cmd       *exec.Cmd
	ldapURL   string
	portalURL string
	mail      chan letter
	exited    chan struct{}
	waitErr   error
	logDone   chan struct{}

	mu      sync.Mutex // guards log, secrets
	log     []string
	secrets []string
}

// freePort returns a loopback port nobody listens on now. The portal's
// public_url must name its port before it starts.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start launches dird with the given policy keys (YAML lines under
// policy:), mail through a new SMTP server on loopback.
func start(t *testing.T, policyLines ...string) *dird {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing (Debian package chromium): run make test-deps", chromium)
	}
	be := &smtpBackend{got: make(chan letter, 16)}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`base_dn: %s
admin:
  dn: %s
  password: %q
store:
  path: %s
ldap:
  listen: 127.0.0.1:0
radius:
  listen: ""
portal:
  listen: 127.0.0.1:%d
  public_url: http://127.0.0.1:%d
mail:
  driver: smtp
  from: dird@example.com
  smtp_host: 127.0.0.1
  smtp_port: %d
policy:
  argon2_memory: 7168
  argon2_time: 1
`, baseDN, adminDN, adminPW, filepath.Join(dir, "data"), port, port, ln.Addr().(*net.TCPAddr).Port)
	for _, l := range policyLines {
		cfg += "  " + l + "\n"
	}
	path := filepath.Join(dir, "dird.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &dird{t: t, mail: be.got, exited: make(chan struct{}), logDone: make(chan struct{}), secrets: []string{adminPW}}
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
	listening := make(chan [2]string, 8)
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
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				listening <- [2]string{rec.Front, rec.Addr}
			}
		}
	}()
	go func() {
		<-d.logDone
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(d.stop)
	addrs := map[string]string{}
	deadline := time.After(20 * time.Second)
	for addrs["ldap"] == "" || addrs["portal"] == "" {
		select {
		case l := <-listening:
			addrs[l[0]] = l[1]
		case <-d.exited:
			t.Fatalf("dird exited before listening: %v\n%s", d.waitErr, d.logText())
		case <-deadline:
			t.Fatalf("dird did not listen within 20s:\n%s", d.logText())
		}
	}
	d.ldapURL = "ldap://" + addrs["ldap"]
	d.portalURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	return d
}

// stop sends SIGTERM, asserts exit status 0, and checks the log for the
// passwords the test used.
func (d *dird) stop() {
	t := d.t
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			<-d.exited
			t.Errorf("dird did not stop within 20s of SIGTERM")
		}
	}
	if d.waitErr != nil {
		t.Errorf("dird exited with %v, want status 0", d.waitErr)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, line := range d.log {
		for _, s := range d.secrets {
			if strings.Contains(line, s) {
				t.Errorf("the log holds the password %q: %s", s, line)
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

func (d *dird) secret(pws ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.secrets = append(d.secrets, pws...)
}

// ldapConn binds as dn with pw.
func (d *dird) bind(dn, pw string) error {
	c, err := ldap.DialURL(d.ldapURL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Bind(dn, pw)
}

// admin runs fn on a connection bound as the administrator.
func (d *dird) admin(fn func(c *ldap.Conn) error) {
	d.t.Helper()
	c, err := ldap.DialURL(d.ldapURL)
	if err != nil {
		d.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(adminDN, adminPW); err != nil {
		d.t.Fatalf("admin bind: %v", err)
	}
	if err := fn(c); err != nil {
		d.t.Fatalf("as admin: %v", err)
	}
}

// addUser adds uid under ou=people with mail uid@example.com; extra
// attributes are set by the administrator afterwards (ppolicy state).
func (d *dird) addUser(uid, cn, pw string) string {
	d.t.Helper()
	d.secret(pw)
	dn := "uid=" + uid + "," + peopleDN
	d.admin(func(c *ldap.Conn) error {
		ou := ldap.NewAddRequest(peopleDN, nil)
		ou.Attribute("objectClass", []string{"organizationalUnit"})
		ou.Attribute("ou", []string{"people"})
		if err := c.Add(ou); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			return err
		}
		a := ldap.NewAddRequest(dn, nil)
		a.Attribute("objectClass", []string{"inetOrgPerson"})
		a.Attribute("uid", []string{uid})
		a.Attribute("cn", []string{cn})
		a.Attribute("sn", []string{strings.Fields(cn)[len(strings.Fields(cn))-1]})
		a.Attribute("mail", []string{uid + "@example.com"})
		a.Attribute("userPassword", []string{pw})
		return c.Add(a)
	})
	return dn
}

// setChanged writes pwdChangedTime as the administrator (ages a password).
func (d *dird) setChanged(dn string, at time.Time) {
	d.admin(func(c *ldap.Conn) error {
		m := ldap.NewModifyRequest(dn, nil)
		m.Replace("pwdChangedTime", []string{at.UTC().Format("20060102150405Z")})
		return c.Modify(m)
	})
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/reset/[A-Za-z0-9_-]+`)

// nextLetter waits for one mail to arrive.
func (d *dird) nextLetter() letter {
	d.t.Helper()
	select {
	case l := <-d.mail:
		return l
	case <-time.After(30 * time.Second):
		d.t.Fatalf("no mail within 30s; log:\n%s", d.logText())
	}
	return letter{}
}

// resetLink waits for the reset mail to addr and returns its one link.
func (d *dird) resetLink(addr string) string {
	d.t.Helper()
	for {
		l := d.nextLetter()
		if l.to != addr || !strings.Contains(l.data, "Subject: Reset your password") {
			continue
		}
		links := linkRE.FindAllString(l.data, -1)
		if len(links) != 1 || !strings.HasPrefix(links[0], d.portalURL+"/reset/") {
			d.t.Fatalf("want one link beginning with %s, got %q in:\n%s", d.portalURL, links, l.data)
		}
		return links[0]
	}
}

// browser starts a headless Chromium with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// b wraps one browser tab for a test, failing it on any error.
type b struct {
	t   *testing.T
	ctx context.Context
	d   *dird
}

func (x b) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(x.ctx, stepWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		html, _ := chromedp.Run(x.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		x.t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
}

func (x b) open(path string) { x.t.Helper(); x.do("open "+path, chromedp.Navigate(x.d.portalURL+path)) }

// field is the input a visible label names.
func field(label string) string {
	return fmt.Sprintf(`//label[normalize-space()=%q]/following-sibling::input[1]`, label)
}

func button(label string) string { return fmt.Sprintf(`//button[normalize-space()=%q]`, label) }
func link(label string) string   { return fmt.Sprintf(`//a[normalize-space()=%q]`, label) }
func heading(text string) string { return fmt.Sprintf(`//h1[normalize-space()=%q]`, text) }
func text(s string) string       { return fmt.Sprintf(`//main//*[contains(normalize-space(), %q)]`, s) }

// fill types into the fields named by their labels.
func (x b) fill(kv ...string) {
	x.t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		x.do("type into "+kv[i], chromedp.SendKeys(field(kv[i]), kv[i+1]))
	}
}

func (x b) click(label string)  { x.t.Helper(); x.do("click "+label, chromedp.Click(button(label))) }
func (x b) follow(label string) { x.t.Helper(); x.do("follow "+label, chromedp.Click(link(label))) }

// see waits until the page shows the heading.
func (x b) see(h string) { x.t.Helper(); x.do("wait for heading "+h, chromedp.WaitVisible(heading(h))) }

// seeText waits until the main part of the page contains s.
func (x b) seeText(s string) { x.t.Helper(); x.do("wait for "+s, chromedp.WaitVisible(text(s))) }

func (x b) textOf(sel string) string {
	x.t.Helper()
	ctx, cancel := context.WithTimeout(x.ctx, stepWait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		x.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// sessionCookie returns the portal's session cookie as the browser holds it.
func (x b) sessionCookie() *network.Cookie {
	x.t.Helper()
	res, err := chromedp.Call(x.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{x.d.portalURL + "/"}})
	if err != nil {
		x.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "dird_session" {
			return c
		}
	}
	return nil
}

// shot saves a full-page PNG to docs/screenshots/NAME.png when
// DIRD_SCREENSHOTS=1.
func (x b) shot(name string) {
	x.t.Helper()
	if os.Getenv("DIRD_SCREENSHOTS") != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(x.ctx, stepWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		x.t.Fatalf("screenshot %s: %v", name, err)
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		x.t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		x.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		x.t.Fatal(err)
	}
}

// totp computes an RFC 6238 code for secret at t (the test's own code).
func totp(secretB32 string, t time.Time) string {
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimSpace(secretB32))
	if err != nil {
		panic(err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[19] & 0xf
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:])&0x7fffffff)%1000000)
}

type ldapConn = ldap.Conn

// setPassword sets dn's password as the administrator (the user must then
// change it: pwdReset).
func setPassword(c *ldap.Conn, dn, pw string) error {
	m := ldap.NewModifyRequest(dn, nil)
	m.Replace("userPassword", []string{pw})
	return c.Modify(m)
}
