package opstest

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238's default, what the portal's TOTP uses
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestMFAReset: a person enrols an authenticator app in the portal (a
// plain HTTP client with a cookie jar, as a browser would), so the
// portal's login asks for a code; the administrator runs dird mfa-reset,
// once with dird serve running (through its control socket) and once
// with it stopped (on the store); afterwards the login goes straight
// home, the person is emailed, an audit line names the administrator,
// an unknown user is exit 1, and neither the secret nor a recovery code
// appears in any output or log.
func TestMFAReset(t *testing.T) {
	const (
		aliceDN = "uid=alice,ou=people," + baseDN
		alicePW = "Mfa-Lantern-8841-Osprey"
	)
	for _, mode := range []struct {
		name    string
		running bool
		user    string // how the administrator names alice
	}{
		{"server running, by uid", true, "alice"},
		{"server stopped, by DN", false, aliceDN},
	} {
		t.Run(mode.name, func(t *testing.T) {
			s := newSite(t)
			p := s.serve()
			portal := p.portalAddr()
			a := p.admin()
			addPeople(t, a)
			req := ldap.NewAddRequest(aliceDN, nil)
			req.Attribute("objectClass", []string{"inetOrgPerson"})
			for k, v := range map[string]string{"uid": "alice", "cn": "Alice Liddell", "sn": "Liddell", "mail": "alice@example.com", "userPassword": alicePW} {
				req.Attribute(k, []string{v})
			}
			if err := a.Add(req); err != nil {
				t.Fatalf("adding alice: %v", err)
			}
			a.Close()

			b := newBrowser(t, portal)
			if where := b.login("alice", alicePW); where != "/" {
				t.Fatalf("login before enrolment went to %s, want /", where)
			}
			secret, codes := b.enrolTOTP(alicePW)
			b.post("/logout", nil)
			if where := b.login("alice", alicePW); where != "/login/code" {
				t.Fatalf("login after enrolment went to %s, want /login/code", where)
			}
			// Signed in on the phone about to be lost (a recovery code
			// in place of the app's code): mfa-reset must end it.
			if where, _ := b.post("/login/code", url.Values{"code": {codes[0]}}); where != "/" {
				t.Fatalf("login with a recovery code went to %s, want /", where)
			}

			var outputs []string // everything dird printed or logged
			var audit string     // the audit line of the removal
			if mode.running {
				skip := p.logLen()
				r := s.dird("mfa-reset", mode.user)
				outputs = append(outputs, r.stdout, r.stderr)
				want := "removed the authenticator app and 9 unused recovery codes of " + aliceDN + "; ended 1 portal session; alice@example.com was told by email\n"
				if r.exit != 0 || r.stdout != want {
					t.Fatalf("dird mfa-reset: %v\nwant stdout %q", r, want)
				}
				audit = p.waitLog(skip, "the audit line of the removal", func(l string) bool { return strings.Contains(l, `"msg":"authenticator removed"`) })
				// "/" shows the login form to someone not logged in.
				if body := b.get("/"); strings.Contains(body, "Alice Liddell") || !strings.Contains(body, "Reset User Password") {
					t.Errorf("after mfa-reset the signed-in browser is still signed in:\n%s", body)
				}
				p.waitLog(skip, "the letter to alice", func(l string) bool {
					return strings.Contains(l, `"subject":"Your authenticator app was removed"`) && strings.Contains(l, "alice@example.com")
				})
			} else {
				p.stop()
				r := s.dird("mfa-reset", mode.user)
				outputs = append(outputs, r.stdout, r.stderr)
				want := "removed the authenticator app and 9 unused recovery codes of " + aliceDN + "; ended 1 portal session; alice@example.com was told by email\n"
				if r.exit != 0 || r.stdout != want {
					t.Fatalf("dird mfa-reset: %v\nwant stdout %q", r, want)
				}
				for _, l := range strings.Split(r.stderr, "\n") {
					if strings.Contains(l, `"msg":"authenticator removed"`) {
						audit = l
					}
				}
				if !strings.Contains(r.stderr, `"subject":"Your authenticator app was removed"`) {
					t.Errorf("no letter to alice in the stderr of mfa-reset (mail.driver log):\n%s", r.stderr)
				}
				// Stopped, unknown users are refused from the store too.
				r = s.dird("mfa-reset", "mallory")
				outputs = append(outputs, r.stdout, r.stderr)
				if r.exit != 1 || r.stderr != "dird mfa-reset: there is no user with uid mallory\n" {
					t.Errorf("unknown user with the server stopped: %v", r)
				}
				p = s.serve()
				portal = p.portalAddr()
				b = newBrowser(t, portal)
			}
			var line struct {
				Audit              bool
				Front, User, Actor string
				App, Pending       bool
				RecoveryCodes      int `json:"recovery_codes"`
				SessionsEnded      int `json:"sessions_ended"`
			}
			if err := json.Unmarshal([]byte(audit), &line); err != nil {
				t.Fatalf("audit line %q: %v", audit, err)
			}
			if !line.Audit || line.Front != "dird mfa-reset" || line.User != aliceDN || line.Actor != adminDN || !line.App || line.Pending || line.RecoveryCodes != 9 || line.SessionsEnded != 1 {
				t.Errorf("audit line %s", audit)
			}

			// The portal now lets alice in with her password alone, and
			// she may set up an app again.
			b.post("/logout", nil)
			if where := b.login("alice", alicePW); where != "/" {
				t.Fatalf("login after mfa-reset went to %s, want / (no code asked)", where)
			}
			if body := b.get("/security"); !strings.Contains(body, "Set up authenticator app") {
				t.Errorf("Security after mfa-reset does not offer to set up an app:\n%s", body)
			}

			// Again: nothing left to remove. Unknown users, by uid or DN,
			// are exit 1; a broken DN is a bad command line.
			for _, tc := range []struct {
				user         string
				exit         int
				stdout, errs string
			}{
				// Nothing to remove, but the session alice just began ends.
				{"alice", 0, aliceDN + " has no authenticator app; ended 1 portal session\n", ""},
				{"mallory", 1, "", "dird mfa-reset: there is no user with uid mallory\n"},
				{"uid=mallory,ou=people," + baseDN, 1, "", "dird mfa-reset: there is no entry uid=mallory,ou=people," + baseDN + "\n"},
				{"uid=alice,,", 2, "", "dird mfa-reset: "},
			} {
				r := s.dird("mfa-reset", tc.user)
				outputs = append(outputs, r.stdout, r.stderr)
				if r.exit != tc.exit || r.stdout != tc.stdout || !strings.HasPrefix(r.stderr, tc.errs) || (tc.errs == "" && r.stderr != "") {
					t.Errorf("dird mfa-reset %s: %v\nwant exit %d, stdout %q, stderr %q", tc.user, r, tc.exit, tc.stdout, tc.errs)
				}
			}
			p.stop()

			outputs = append(outputs, p.logText())
			raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
			for _, out := range outputs {
				for _, s := range append([]string{secret, fmt.Sprintf("%x", raw)}, codes...) {
					if strings.Contains(out, s) {
						t.Errorf("a secret (%.4s...) appears in the output or log", s)
					}
				}
			}
		})
	}
}

// portalAddr waits for the portal's listener in the log.
func (p *served) portalAddr() string {
	p.t.Helper()
	l := p.waitLog(0, "the portal listener", func(l string) bool {
		return strings.Contains(l, `"msg":"listening"`) && strings.Contains(l, `"front":"portal"`)
	})
	var rec struct{ Addr string }
	if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Addr == "" {
		p.t.Fatalf("portal listener line %q: %v", l, err)
	}
	return rec.Addr
}

// browser is a person's HTTP client on the portal: a cookie jar, and
// redirects followed.
type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newBrowser(t *testing.T, addr string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: "http://" + addr, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// post sends a form and returns the path it ended on and the body.
func (b *browser) post(path string, form url.Values) (string, string) {
	b.t.Helper()
	resp, err := b.hc.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("POST %s: %s\n%s", path, resp.Status, body)
	}
	return resp.Request.URL.Path, string(body)
}

func (b *browser) get(path string) string {
	b.t.Helper()
	resp, err := b.hc.Get(b.base + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return string(body)
}

// login posts the login form and returns where the portal sent the
// person: "/" (home) or "/login/code" (a code is asked).
func (b *browser) login(user, pw string) string {
	b.t.Helper()
	where, _ := b.post("/login", url.Values{"username": {user}, "password": {pw}})
	return where
}

var (
	keyRE  = regexp.MustCompile(`<code class="secret">([A-Z2-7]+)</code>`)
	codeRE = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

// enrolTOTP sets up an authenticator app from Security, as a person
// would: the key from the page, the code computed from it. It returns
// the key and the recovery codes shown.
func (b *browser) enrolTOTP(pw string) (secret string, codes []string) {
	b.t.Helper()
	_, page := b.post("/security/mfa", url.Values{"password": {pw}})
	m := keyRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no key on the enrolment page:\n%s", page)
	}
	secret = m[1]
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		b.t.Fatalf("key %q: %v", secret, err)
	}
	_, page = b.post("/security/mfa/confirm", url.Values{"code": {totp(raw, time.Now())}})
	for _, c := range codeRE.FindAllStringSubmatch(page, -1) {
		codes = append(codes, html.UnescapeString(c[1]))
	}
	if len(codes) != 10 {
		b.t.Fatalf("%d recovery codes shown after confirmation:\n%s", len(codes), page)
	}
	return secret, codes
}

// totp is the RFC 6238 code (SHA-1, 6 digits, 30 s) at t, computed here
// independently of dird's own implementation.
func totp(secret []byte, t time.Time) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}
