package portal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dird/dird/mail"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// The handler tests run the real portal over a real policy door and an
// in-memory store, through a real HTTP server on loopback; only the clock
// and mail delivery are fakes (STYLE.md §6).

const (
	base     = "dc=example,dc=com"
	adminDN  = "cn=admin,dc=example,dc=com"
	alicePW  = "Tulip-Orbit-93"
	secondPW = "Maple-Vortex-58"
	thirdPW  = "Cobalt-Heron-24"
	wrongPW  = "Wrong-Guess-17"
	public   = "https://id.example.com"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// outbox is the fake mail.Sender.
type outbox struct{ c chan mail.Message }

func (o *outbox) Send(_ context.Context, m mail.Message) error { o.c <- m; return nil }

// logBuffer collects the log so tests can check audit lines and that no
// secret was written.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

type harness struct {
	t     *testing.T
	ctx   context.Context
	clock *clock
	dir   *store.Directory
	door  *policy.Door
	p     *Server
	srv   *httptest.Server
	mail  *outbox
	log   *logBuffer
	cfg   Config

	evMu   sync.Mutex // guards events
	events []policy.Event
}

// event reports whether the door told of an event that match accepts.
func (h *harness) event(match func(policy.Event) bool) bool {
	h.evMu.Lock()
	defer h.evMu.Unlock()
	for _, e := range h.events {
		if match(e) {
			return true
		}
	}
	return false
}

func testPolicy() policy.Config {
	return policy.Config{
		MinLength: 8, MaxLength: 128, ExpireWarning: 7 * 24 * time.Hour, LockOnExpiry: true,
		LockoutDuration: 15 * time.Minute, RejectCommon: true, Hash: policy.SchemeArgon2id,
		Argon2Memory: 7168, Argon2Time: 1, Argon2Threads: 1, UpgradeHashes: true,
	}
}

func newHarness(t *testing.T, pc policy.Config) *harness {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	dir, err := store.Open(ctx, memkv.New(), store.Options{BaseDN: base, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx, clock: c, dir: dir}
	observe := func(e policy.Event) {
		h.evMu.Lock()
		defer h.evMu.Unlock()
		h.events = append(h.events, e)
	}
	door, err := policy.New(dir, pc, policy.Admin{DN: adminDN, Password: "admin-secret-1"}, policy.Options{Now: c.Now, SealKey: bytes.Repeat([]byte{7}, policy.SealKeySize), Observe: observe})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Listen: "127.0.0.1:0", PublicURL: public, ResetTTL: 10 * time.Minute, SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour}
	lb := &logBuffer{}
	ob := &outbox{c: make(chan mail.Message, 16)}
	p, err := New(cfg, door, ob, slog.New(slog.NewJSONHandler(lb, nil)), Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	h.door, h.p, h.srv, h.mail, h.log, h.cfg = door, p, srv, ob, lb, cfg
	t.Cleanup(func() {
		srv.Close()
		p.Close()
		for _, secret := range []string{alicePW, secondPW, thirdPW, wrongPW} {
			if strings.Contains(lb.String(), secret) {
				t.Errorf("the log holds the password %q", secret)
			}
		}
	})
	return h
}

// addUser adds uid (with mail uid@example.com) as the administrator.
func (h *harness) addUser(uid, pw string) store.DN {
	h.t.Helper()
	dn, _ := store.ParseDN("uid=" + uid + "," + base)
	e := &store.Entry{DN: dn}
	e.Set("objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
	e.Set("uid", uid)
	e.Set("cn", strings.ToUpper(uid[:1])+uid[1:]+" Liddell")
	e.Set("sn", "Liddell")
	e.Set("mail", uid+"@example.com")
	e.Set("userPassword", pw)
	admin, _ := store.ParseDN(adminDN)
	if err := h.door.Add(h.ctx, admin, e); err != nil {
		h.t.Fatalf("adding %s: %v", uid, err)
	}
	return dn
}

// browser is one cookie jar.
type browser struct {
	h *harness
	c *http.Client
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{h: h, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// page is a response with its body read.
type page struct {
	status int
	body   string
	header http.Header
	url    string
}

func (p page) has(s string) bool { return strings.Contains(html.UnescapeString(p.body), s) }

func (b *browser) do(req *http.Request) page {
	b.h.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(body), header: resp.Header, url: resp.Request.URL.Path}
}

func (b *browser) get(path string) page {
	req, _ := http.NewRequest("GET", b.h.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form as a same-origin browser would.
func (b *browser) post(path string, kv ...string) page {
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.h.srv.URL)
	return b.do(req)
}

func (b *browser) login(uid, pw string) page {
	return b.post("/login", "username", uid, "password", pw)
}

func (b *browser) cookie() *http.Cookie {
	u, _ := url.Parse(b.h.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == b.h.p.cookie {
			return c
		}
	}
	return nil
}

// nextMail waits for the worker to send one message.
func (h *harness) nextMail() mail.Message {
	h.t.Helper()
	select {
	case m := <-h.mail.c:
		return m
	case <-time.After(10 * time.Second):
		h.t.Fatal("no mail within 10s")
	}
	return mail.Message{}
}

// noMail asserts that nothing is sent for a while (the worker is
// asynchronous, so a short wait after a request that would have sent).
func (h *harness) noMail() {
	h.t.Helper()
	select {
	case m := <-h.mail.c:
		h.t.Fatalf("unexpected mail to %s: %s", m.To, m.Subject)
	case <-time.After(300 * time.Millisecond):
	}
}

var linkRE = regexp.MustCompile(`https?://\S+/reset/([A-Za-z0-9_-]+)`)

// resetLink asks for a reset of addr and returns the emailed link's path.
func (h *harness) resetLink(b *browser, addr string) string {
	h.t.Helper()
	p := b.post("/reset", "email", addr)
	if p.status != 200 || !p.has("Check your email") {
		h.t.Fatalf("reset request: %d %s", p.status, p.body)
	}
	m := h.nextMail()
	match := linkRE.FindStringSubmatch(m.Body)
	if match == nil {
		h.t.Fatalf("no link in the mail:\n%s", m.Body)
	}
	if !strings.HasPrefix(match[0], public+"/reset/") {
		h.t.Fatalf("link %q does not begin with portal.public_url %q", match[0], public)
	}
	return "/reset/" + match[1]
}

// totp computes an RFC 6238 code (the test's own implementation).
func totp(secretB32 string, t time.Time) string {
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secretB32)
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

var secretRE = regexp.MustCompile(`<code class="secret">([A-Z2-7]+)</code>`)
var codesRE = regexp.MustCompile(`<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})</code></li>`)

// enrol sets up TOTP for the logged-in browser and returns the secret and
// the recovery codes.
func (h *harness) enrol(b *browser) (string, []string) {
	h.t.Helper()
	p := b.post("/security/mfa", "password", alicePW)
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		h.t.Fatalf("enrolment page without secret or QR code: %s", p.body)
	}
	p = b.post("/security/mfa/confirm", "code", totp(m[1], h.clock.Now()))
	var codes []string
	for _, c := range codesRE.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != 10 {
		h.t.Fatalf("recovery page shows %d codes: %s", len(codes), p.body)
	}
	return m[1], codes
}
