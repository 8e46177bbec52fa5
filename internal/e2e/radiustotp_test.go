package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The second factor over RADIUS PAP against a real `dird serve`: the
// user enrols an authenticator app in the portal over HTTP, as a person
// would, then FreeRADIUS's radclient logs in: the password gets an
// Access-Challenge with a State, and a second request with that State
// and the code (computed here by RFC 6238) gets an Access-Accept.

const (
	totpUser = "tess"
	totpPW   = "Second-Factor-Quill-81"
)

// frontAddr waits for dird's "listening" log line of front.
func frontAddr(t *testing.T, d *dird, front string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range d.logLines() {
			var rec struct{ Msg, Front, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Front == front {
				return rec.Addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dird logged no %s listener:\n%s", front, d.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// totpAt is RFC 6238's code (HMAC-SHA1, 30 s steps, 6 digits) of the
// base32 secret at t.
func totpAt(t *testing.T, b32 string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(b32)
	if err != nil {
		t.Fatalf("secret %q: %v", b32, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// portalPost posts a form as a browser on the portal's own pages would
// (Origin and Sec-Fetch-Site, for the cross-origin protection) and
// returns the page it ends on.
func portalPost(t *testing.T, c *http.Client, base, path string, kv ...string) string {
	t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading the page: %v", path, err)
	}
	return string(b)
}

// radclientAuth sends one Access-Request made of lines with radclient.
func radclientAuth(t *testing.T, addr string, lines ...string) (string, int) {
	t.Helper()
	path, err := exec.LookPath("radclient")
	if err != nil {
		t.Fatal("radclient is not installed (Debian package freeradius-utils): run make test-deps")
	}
	ctx, cancel := context.WithTimeout(context.Background(), toolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-x", "-r", "1", "-t", "5", addr, "auth", radiusSecret)
	cmd.Stdin = strings.NewReader(strings.Join(append(lines, "Message-Authenticator = 0x00"), "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("radclient did not finish within %v:\n%s", toolLimit, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running radclient: %v", err)
	}
	return string(out), code
}

func TestRadiusPAPWithAuthenticatorApp(t *testing.T) {
	d := startDird(t, opts{})
	d.secret(totpPW)
	radius := frontAddr(t, d, "radius")
	portal := "http://" + frontAddr(t, d, "portal")
	loadDirectory(t, d)
	expect(t, d.ldif(t, adminDN, adminPW, "ldapadd", "dn: "+userDN(totpUser)+"\nobjectClass: inetOrgPerson\nuid: "+totpUser+
		"\ncn: Tess Example\nsn: Example\nmail: tess@example.com\nuserPassword: "+totpPW+"\n\n"), 0)

	// Enrol in the portal: log in, re-enter the password, confirm with
	// a code. The confirmation uses the previous step's code (within the
	// one step of skew), so that the current step's code is still
	// unused for the RADIUS login.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if page := portalPost(t, c, portal, "/login", "username", totpUser, "password", totpPW); !strings.Contains(page, "Security") {
		t.Fatalf("portal login did not reach the home page:\n%s", page)
	}
	page := portalPost(t, c, portal, "/security/mfa", "password", totpPW)
	m := regexp.MustCompile(`<code class="secret">([A-Z2-7]+)</code>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("enrolment page without the secret:\n%s", page)
	}
	secret := m[1]
	page = portalPost(t, c, portal, "/security/mfa/confirm", "code", totpAt(t, secret, time.Now().Add(-30*time.Second)))
	if n := len(regexp.MustCompile(`<li><code>[A-Z2-7]{5}-[A-Z2-7]{5}</code></li>`).FindAllString(page, -1)); n != 10 {
		t.Fatalf("enrolment not confirmed (%d recovery codes shown):\n%s", n, page)
	}

	out, code := radclientAuth(t, radius, `User-Name = "`+totpUser+`"`, `User-Password = "`+totpPW+`"`)
	if !strings.Contains(out, "Received Access-Challenge") || !strings.Contains(out, `Reply-Message = "Enter the 6-digit code from your authenticator app"`) {
		t.Fatalf("radclient exit %d, want an Access-Challenge asking for the code:\n%s", code, out)
	}
	st := regexp.MustCompile(`State = (0x[0-9a-f]{32,})`).FindStringSubmatch(out)
	if st == nil {
		t.Fatalf("no State of 16 bytes or more in the Access-Challenge:\n%s", out)
	}
	out, code = radclientAuth(t, radius, `User-Name = "`+totpUser+`"`, `User-Password = "`+totpAt(t, secret, time.Now())+`"`, "State = "+st[1])
	if code != 0 || !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("radclient exit %d, want an Access-Accept for the code:\n%s", code, out)
	}
	// The same State again: answered once only.
	out, _ = radclientAuth(t, radius, `User-Name = "`+totpUser+`"`, `User-Password = "`+totpAt(t, secret, time.Now())+`"`, "State = "+st[1])
	if !strings.Contains(out, "Received Access-Reject") {
		t.Fatalf("a State answered twice: want an Access-Reject:\n%s", out)
	}
}
