package portal

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// TestLabels: the controls carry CONTRACT.md's pinned labels.
func TestLabels(t *testing.T) {
	h := newHarness(t, testPolicy())
	h.addUser("alice", alicePW)
	b := h.browser()
	link := h.resetLink(h.browser(), "alice@example.com")
	checks := []struct {
		name   string
		page   func() page
		labels []string
	}{
		{"login", func() page { return b.get("/") }, []string{`<label for="username">Username</label>`, `<label for="password">Password</label>`, `>Log in</button>`, `>Reset User Password</a>`}},
		{"reset request", func() page { return b.get("/reset") }, []string{`<label for="email">Email</label>`, `>Send Reset Request</button>`}},
		{"reset", func() page { return b.get(link) }, []string{`<label for="new">New Password</label>`, `<label for="confirm">Confirm New Password</label>`, `>Reset Password</button>`}},
		{"security", func() page { b.login("alice", alicePW); return b.get("/security") }, []string{
			`<label for="current">Current Password</label>`, `<label for="new">New Password</label>`,
			`<label for="confirm">Confirm New Password</label>`, `>Update Password</button>`, `>Security</a>`, `>Log out</button>`, "Set up authenticator app"}},
		{"home", func() page { return b.get("/") }, []string{`>Security</a>`, `>Log out</button>`, "Welcome, Alice Liddell"}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			p := c.page()
			if p.status != 200 {
				t.Fatalf("status %d", p.status)
			}
			for _, l := range c.labels {
				if !strings.Contains(p.body, l) {
					t.Errorf("page lacks %s", l)
				}
			}
		})
	}
}

// TestHeaders: every page carries the security headers, and pages
// (not the stylesheet) are never cached.
func TestHeaders(t *testing.T) {
	h := newHarness(t, testPolicy())
	b := h.browser()
	for _, path := range []string{"/", "/reset", "/reset/not-a-token", "/nope", "/healthz"} {
		p := b.get(path)
		want := map[string]string{
			"X-Content-Type-Options":    "nosniff",
			"Referrer-Policy":           "no-referrer",
			"Cache-Control":             "no-store",
			"Strict-Transport-Security": "max-age=31536000",
		}
		for k, v := range want {
			if got := p.header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		csp := p.header.Get("Content-Security-Policy")
		for _, d := range []string{"frame-ancestors 'none'", "default-src 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, d)
			}
		}
		if strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP allows scripts: %q", path, csp)
		}
	}
	if p := b.get("/healthz"); p.status != 200 {
		t.Errorf("/healthz: %d", p.status)
	}
	if p := b.get("/static/style.css"); p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %s", p.status, p.header.Get("Content-Type"))
	}
	if p := b.get("/"); p.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", p.header.Get("Content-Type"))
	}
}

// TestCrossOrigin: a form posted from another site is refused, the login
// form included (login CSRF); a GET never changes anything.
func TestCrossOrigin(t *testing.T) {
	h := newHarness(t, testPolicy())
	h.addUser("alice", alicePW)
	b := h.browser()
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "https://evil.example.net"},
	} {
		req, _ := http.NewRequest("POST", h.srv.URL+"/login", strings.NewReader("username=alice&password="+alicePW))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if p := b.do(req); p.status != http.StatusForbidden {
			t.Errorf("login posted with %v: status %d, want 403", hdr, p.status)
		}
	}
	if b.cookie() != nil {
		t.Fatal("a cross-site login set a session")
	}
	// A form from public_url's origin is accepted whatever the Host
	// header (a reverse proxy in front).
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", h.srv.URL+"/login", strings.NewReader("username=alice&password="+alicePW))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", public)
	req.Host = "internal:8080"
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Set-Cookie"), "dird_session=") {
		t.Fatalf("login from public_url's origin: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	if p := b.get("/logout"); p.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /logout: %d, want 405", p.status)
	}
}

// TestLogin covers the outcomes of the login form and the cookie.
func TestLogin(t *testing.T) {
	pc := testPolicy()
	pc.LockoutThreshold = 3
	h := newHarness(t, pc)
	dn := h.addUser("alice", alicePW)
	b := h.browser()
	for _, tt := range []struct{ user, pw string }{{"alice", wrongPW}, {"nobody", alicePW}, {"alice", ""}} {
		if p := b.login(tt.user, tt.pw); p.status != http.StatusUnauthorized || !p.has("The username or password is incorrect.") {
			t.Errorf("login %s/%q: %d", tt.user, tt.pw, p.status)
		}
	}
	p := b.login("alice", alicePW)
	if p.status != 200 || !p.has("Welcome, Alice Liddell") || !p.has("Password expires") {
		t.Fatalf("login: %d %s", p.status, p.body)
	}
	c := b.cookie()
	if c == nil || len(c.Value) < 43 {
		t.Fatalf("session cookie %v", c)
	}
	if !h.event(func(e policy.Event) bool {
		return e.Kind == policy.EventAuth && e.Front == policy.FrontPortal && e.Client == "127.0.0.1" && e.Result == policy.OK && e.User == dn.String()
	}) {
		t.Error("the door did not report the portal login with its client address (the audit line)")
	}
	// The cookie: HttpOnly, SameSite, Secure and __Host- (public_url is https).
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(h.srv.URL+"/login", map[string][]string{"username": {"alice"}, "password": {alicePW}})
	if err != nil {
		t.Fatal(err)
	}
	set := resp.Header.Get("Set-Cookie")
	resp.Body.Close()
	for _, want := range []string{"__Host-dird_session=", "HttpOnly", "SameSite=Lax", "Secure", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %s", set, want)
		}
	}
	// Failures count toward the same lockout as LDAP: three wrong, then
	// the right password shows the locked page.
	for i := 0; i < 3; i++ {
		h.browser().login("alice", wrongPW)
	}
	if e, _ := h.dir.Get(h.ctx, dn); e.First("pwdAccountLockedTime") == "" {
		t.Fatal("three portal failures did not lock the account")
	}
	if p := h.browser().login("alice", alicePW); p.status != http.StatusForbidden || !p.has("Your account is locked") || !p.has(">Reset User Password</a>") {
		t.Errorf("locked login: %d %s", p.status, p.body)
	}
	if p := h.browser().login("alice", wrongPW); p.has("locked") {
		t.Error("the locked state was disclosed to a wrong password")
	}
	// The lock ends the existing session too.
	if p := b.get("/"); !p.has(`<label for="username">Username</label>`) {
		t.Error("a session survived the account's lock")
	}
	if !h.event(func(e policy.Event) bool { return e.Kind == policy.EventLockout && e.User == dn.String() }) {
		t.Error("no lockout event (audit line) for the portal failures")
	}
	// Logout ends the session on the server, not only the cookie.
	h.clock.Advance(16 * time.Minute)
	b2 := h.browser()
	b2.login("alice", alicePW)
	old := b2.cookie().Value
	b2.post("/logout")
	if _, err := h.door.CheckSession(h.ctx, old, h.p.limits); err == nil {
		t.Error("the session is still valid after logout")
	}
}

func TestLoginRateLimitPerAddress(t *testing.T) {
	h := newHarness(t, testPolicy())
	b := h.browser()
	for i := 0; i < loginsPerAddress; i++ {
		b.login("nobody", wrongPW)
	}
	if p := b.login("nobody", wrongPW); p.status != http.StatusTooManyRequests {
		t.Fatalf("login %d from one address: %d, want 429", loginsPerAddress+1, p.status)
	}
	h.clock.Advance(time.Minute)
	if p := b.login("nobody", wrongPW); p.status != http.StatusUnauthorized {
		t.Fatalf("after a minute: %d", p.status)
	}
}

// TestExpiry: the warning on every login within expire_warning, in days
// then hours; the expired page after.
func TestExpiry(t *testing.T) {
	pc := testPolicy()
	pc.MaxAge = 90 * 24 * time.Hour
	tests := []struct {
		after   time.Duration
		status  int
		want    string
		warning bool
	}{
		{80 * 24 * time.Hour, 200, "in 10 days", false},
		{85 * 24 * time.Hour, 200, "Your password expires in 5 days", true},
		{89*24*time.Hour + 20*time.Hour, 200, "Your password expires in 4 hours", true},
		{90 * 24 * time.Hour, http.StatusForbidden, "Contact your administrator", false},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			h := newHarness(t, pc)
			h.addUser("alice", alicePW)
			h.clock.Advance(tt.after)
			for i := 0; i < 2; i++ { // every login
				b := h.browser()
				p := b.login("alice", alicePW)
				if p.status != tt.status || !p.has(tt.want) {
					t.Fatalf("login %d: %d, want %d with %q:\n%s", i, p.status, tt.status, tt.want, p.body)
				}
				if tt.warning && !strings.Contains(p.body, `<a href="/security">Change your password in Security</a>`) {
					t.Error("the warning does not link to Security")
				}
				if !tt.warning && p.has("Your password expires in") {
					t.Error("warned outside expire_warning")
				}
			}
		})
	}
}

// TestMustChange: after an administrator set the password, the portal
// sends the person to change it and nowhere else.
func TestMustChange(t *testing.T) {
	h := newHarness(t, testPolicy())
	dn := h.addUser("alice", alicePW)
	admin, _ := store.ParseDN(adminDN)
	if _, err := h.door.ChangePassword(h.ctx, policy.Change{Actor: admin, Target: dn, New: []byte(secondPW), HasNew: true}); err != nil {
		t.Fatal(err)
	}
	b := h.browser()
	p := b.login("alice", secondPW)
	if p.url != "/security" || !p.has("You must change your password.") {
		t.Fatalf("must-change login landed on %s:\n%s", p.url, p.body)
	}
	if p := b.get("/"); p.url != "/security" {
		t.Errorf("home reached before the change: %s", p.url)
	}
	p = b.post("/security/password", "current", secondPW, "new", thirdPW, "confirm", thirdPW)
	if p.url != "/" || !p.has("Your password was changed") || p.has("You must change") {
		t.Fatalf("after the change: %s %s", p.url, p.body)
	}
}

// TestChangePassword: Security's form, each failed rule named, the old
// sessions ended everywhere and this one re-issued, a mail sent.
func TestChangePassword(t *testing.T) {
	pc := testPolicy()
	pc.RequireDigit, pc.RequireSymbol, pc.MinLength = true, true, 12
	h := newHarness(t, pc)
	h.addUser("alice", alicePW)
	b, other := h.browser(), h.browser()
	b.login("alice", alicePW)
	other.login("alice", alicePW)
	for _, rule := range []string{"At least 12 characters", "A digit.", "A symbol or punctuation character.", "Not a common or breached password"} {
		if p := b.get("/security"); !p.has(rule) {
			t.Errorf("the rules list lacks %q", rule)
		}
	}
	tests := []struct {
		name              string
		current, new, cnf string
		status            int
		want              []string
	}{
		{"confirmation differs", alicePW, "Quiet-Harbor-Lamp-42", "Quiet-Harbor-Lamp-43", 400, []string{"confirmation differ"}},
		{"wrong current password", wrongPW, "Quiet-Harbor-Lamp-42", "Quiet-Harbor-Lamp-42", 401, []string{"current password is not right"}},
		{"every broken rule named", alicePW, "alice", "alice", 400, []string{"at least 12 characters", "must contain a digit", "must contain a symbol", "user name"}},
		{"common password", alicePW, "password", "password", 400, []string{"common or breached", "at least 12 characters", "must contain a digit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/security/password", "current", tt.current, "new", tt.new, "confirm", tt.cnf)
			if p.status != tt.status {
				t.Errorf("status %d, want %d", p.status, tt.status)
			}
			for _, w := range tt.want {
				if !p.has(w) {
					t.Errorf("page lacks %q:\n%s", w, p.body)
				}
			}
		})
	}
	before := b.cookie().Value
	p := b.post("/security/password", "current", alicePW, "new", "Quiet-Harbor-Lamp-42", "confirm", "Quiet-Harbor-Lamp-42")
	if p.url != "/" || !p.has("Your password was changed") {
		t.Fatalf("change: %s %d", p.url, p.status)
	}
	if after := b.cookie().Value; after == before {
		t.Error("the session id was not re-issued after the change")
	}
	if _, err := h.door.CheckSession(h.ctx, before, h.p.limits); err == nil {
		t.Error("the old session id still works")
	}
	if p := other.get("/"); !p.has(`<label for="username">`) {
		t.Error("another session of the user survived the change")
	}
	if m := h.nextMail(); m.To != "alice@example.com" || m.Subject != "Your password was changed" || strings.Contains(m.Body, "Quiet-Harbor") {
		t.Errorf("changed-password mail: %+v", m)
	}
	if !h.event(func(e policy.Event) bool {
		return e.Kind == policy.EventPasswordChange && e.Front == policy.FrontPortal && e.Client == "127.0.0.1"
	}) {
		t.Error("no password change event (audit line) from the portal")
	}
	if !strings.Contains(h.log.String(), `"event":"password_change","user":"alice","result":"policy","client":"127.0.0.1","rule":"min_length"`) {
		t.Error("no portal audit line for a refused change")
	}
}

// TestChangeElsewhereEndsSessions: a change over another front (here the
// door as LDAP calls it) ends portal sessions.
func TestChangeElsewhereEndsSessions(t *testing.T) {
	h := newHarness(t, testPolicy())
	dn := h.addUser("alice", alicePW)
	b := h.browser()
	b.login("alice", alicePW)
	h.clock.Advance(time.Second)
	if _, err := h.door.ChangePassword(h.ctx, policy.Change{Actor: dn, Old: []byte(alicePW), HasOld: true, New: []byte(secondPW), HasNew: true, Front: policy.FrontLDAP}); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/"); !p.has(`<label for="username">`) {
		t.Error("the portal session survived a password change over LDAP")
	}
}

func TestSessionTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // a request after each
		alive bool
	}{
		{"used within the idle limit", []time.Duration{29 * time.Minute}, true},
		{"idle past the limit", []time.Duration{31 * time.Minute}, false},
		{"used every 25 minutes until 11h40", repeat(28, 25*time.Minute), true},
		{"past the absolute limit however used", repeat(29, 25*time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testPolicy())
			h.addUser("alice", alicePW)
			b := h.browser()
			b.login("alice", alicePW)
			var p page
			for _, d := range tt.steps {
				h.clock.Advance(d)
				p = b.get("/")
			}
			if got := p.has("Welcome, Alice"); got != tt.alive {
				t.Fatalf("alive = %v, want %v", got, tt.alive)
			}
		})
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// TestResetRequest: the same answer whether or not the address exists;
// mail only for an account; the link from public_url whatever the Host
// header says; the per-address and per-account limits.
func TestResetRequest(t *testing.T) {
	h := newHarness(t, testPolicy())
	h.addUser("alice", alicePW)
	b := h.browser()
	known := b.post("/reset", "email", "alice@example.com")
	h.nextMail()
	unknown := b.post("/reset", "email", "nobody@example.com")
	h.noMail()
	if known.status != unknown.status || known.body != unknown.body {
		t.Fatalf("known and unknown addresses answer differently:\n%d %s\n%d %s", known.status, known.body, unknown.status, unknown.body)
	}
	// A forged Host header does not reach the link.
	req, _ := http.NewRequest("POST", h.srv.URL+"/reset", strings.NewReader("email=alice%40example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "evil.example.net"
	b.do(req)
	if m := h.nextMail(); strings.Contains(m.Body, "evil") || !strings.Contains(m.Body, public+"/reset/") {
		t.Fatalf("link not from public_url:\n%s", m.Body)
	}
	// Per account: 3 an hour (two used above), whatever the address.
	h.browser().post("/reset", "email", "alice@example.com")
	h.nextMail()
	h.browser().post("/reset", "email", "ALICE@example.com")
	h.noMail()
	// Per address: 5 per 15 minutes (five used above).
	if p := b.post("/reset", "email", "y@example.com"); p.status != http.StatusTooManyRequests {
		t.Fatalf("6th request from one address: %d, want 429", p.status)
	}
	h.clock.Advance(time.Hour)
	h.resetLink(b, "alice") // by uid works too
}

// TestResetLink: GET does not use the token, POST does, once; expiry;
// voided by a later change; clears a failure lockout; mail after.
func TestResetLink(t *testing.T) {
	pc := testPolicy()
	pc.LockoutThreshold = 3
	h := newHarness(t, pc)
	dn := h.addUser("alice", alicePW)
	b := h.browser()
	session := h.browser()
	session.login("alice", alicePW)
	for i := 0; i < 3; i++ {
		h.browser().login("alice", wrongPW)
	}
	link := h.resetLink(b, "alice@example.com")
	for i := 0; i < 3; i++ { // mail scanners
		if p := h.browser().get(link); p.status != 200 || !p.has("Choose a new password for") {
			t.Fatalf("GET %d of the link: %d", i, p.status)
		}
	}
	if p := b.post(link, "new", secondPW, "confirm", thirdPW); p.status != 400 || !p.has("differ") {
		t.Fatalf("mismatch: %d", p.status)
	}
	if p := b.post(link, "new", "alice123", "confirm", "alice123"); p.status != 400 || !p.has("user name") {
		t.Fatalf("weak password: %d %s", p.status, p.body)
	}
	p := b.post(link, "new", secondPW, "confirm", secondPW)
	if p.status != 200 || !p.has("Your password has been reset") {
		t.Fatalf("reset: %d %s", p.status, p.body)
	}
	if m := h.nextMail(); m.Subject != "Your password was changed" {
		t.Errorf("mail after reset: %q", m.Subject)
	}
	if !h.event(func(e policy.Event) bool {
		return e.Kind == policy.EventPasswordReset && e.Front == policy.FrontPortal && e.User == dn.String()
	}) {
		t.Error("no password reset event (audit line)")
	}
	if p := b.get(link); p.status != http.StatusNotFound || !p.has("not valid any more") {
		t.Errorf("used link: %d", p.status)
	}
	if p := b.post(link, "new", thirdPW, "confirm", thirdPW); p.status != http.StatusNotFound {
		t.Errorf("second POST of the link: %d", p.status)
	}
	// The lockout is gone and the old session ended.
	if e, _ := h.dir.Get(h.ctx, dn); e.First("pwdAccountLockedTime") != "" || e.First("pwdFailureTime") != "" {
		t.Error("the reset left the failure lockout")
	}
	if p := session.get("/"); !p.has(`<label for="username">`) {
		t.Error("a session survived the reset")
	}
	if p := h.browser().login("alice", secondPW); !p.has("Welcome") {
		t.Error("cannot log in with the new password")
	}

	// Expiry of the link, moved clock.
	link = h.resetLink(b, "alice@example.com")
	h.clock.Advance(h.cfg.ResetTTL)
	if p := b.get(link); p.status != http.StatusNotFound {
		t.Errorf("link after reset_ttl: %d", p.status)
	}
	// Voided by a later change on another front.
	h.clock.Advance(time.Hour)
	link = h.resetLink(b, "alice@example.com")
	h.clock.Advance(time.Second)
	if _, err := h.door.ChangePassword(h.ctx, policy.Change{Actor: dn, Old: []byte(secondPW), HasOld: true, New: []byte(thirdPW), HasNew: true, Front: policy.FrontLDAP}); err != nil {
		t.Fatal(err)
	}
	if p := b.post(link, "new", "Quiet-Harbor-Lamp-42", "confirm", "Quiet-Harbor-Lamp-42"); p.status != http.StatusNotFound {
		t.Errorf("link after a later change: %d", p.status)
	}
}

// TestResetExpiredAccount: under lock_on_expiry an expired account cannot
// reset itself; the page says to contact the administrator.
func TestResetExpiredAccount(t *testing.T) {
	pc := testPolicy()
	pc.MaxAge = 30 * 24 * time.Hour
	h := newHarness(t, pc)
	h.addUser("alice", alicePW)
	h.clock.Advance(31 * 24 * time.Hour)
	b := h.browser()
	link := h.resetLink(b, "alice@example.com")
	p := b.get(link)
	if p.status != http.StatusForbidden || !p.has("contact your administrator") {
		t.Fatalf("expired account's link: %d %s", p.status, p.body)
	}
	if p := b.post(link, "new", secondPW, "confirm", secondPW); p.status != http.StatusForbidden {
		t.Fatalf("expired account's reset POST: %d", p.status)
	}
	if p := h.browser().login("alice", secondPW); p.has("Welcome") {
		t.Fatal("the expired account reset itself")
	}
}

// TestMFA: enrolment with a confirmation code, recovery codes once, the
// code asked at login and at reset.
func TestMFA(t *testing.T) {
	h := newHarness(t, testPolicy())
	h.addUser("alice", alicePW)
	b := h.browser()
	b.login("alice", alicePW)
	if p := b.post("/security/mfa", "password", wrongPW); p.status != http.StatusUnauthorized || !p.has("Your password is not right.") || secretRE.MatchString(p.body) {
		t.Fatalf("enrolment without the password: %d", p.status)
	}
	p := b.post("/security/mfa", "password", alicePW)
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no secret on the enrolment page")
	}
	if p := b.post("/security/mfa/confirm", "code", "12345x"); p.status != 400 || !p.has("not right") || !strings.Contains(p.body, "data:image/png") {
		t.Fatalf("wrong confirmation code: %d", p.status)
	}
	p = b.post("/security/mfa/confirm", "code", totp(m[1], h.clock.Now()))
	if n := len(codesRE.FindAllString(p.body, -1)); n != 10 {
		t.Fatalf("%d recovery codes shown", n)
	}
	codes := codesRE.FindAllStringSubmatch(p.body, -1)
	if m := h.nextMail(); m.Subject != "An authenticator app was set up" || m.To != "alice@example.com" {
		t.Errorf("mail after enrolment: %+v", m)
	}
	if p := b.get("/security"); p.has(codes[0][1]) {
		t.Fatal("recovery codes shown twice")
	}
	h.clock.Advance(30 * time.Second)

	// Login: the password alone gives no session.
	c := h.browser()
	p = c.login("alice", alicePW)
	if p.url != "/login/code" || !p.has("Authentication code") {
		t.Fatalf("login with MFA landed on %s", p.url)
	}
	if p := c.get("/security"); p.has("Current Password") || p.url != "/login/code" {
		t.Fatal("a pending session reached Security")
	}
	if p := c.post("/login/code", "code", "000000x"); p.status != 401 {
		t.Fatalf("wrong code: %d %s %s", p.status, p.url, p.body)
	}
	pending := c.cookie().Value
	code := totp(m[1], h.clock.Now())
	if p := c.post("/login/code", "code", code); !p.has("Welcome") {
		t.Fatalf("right code: %d %s", p.status, p.body)
	}
	if c.cookie().Value == pending {
		t.Error("the session id was not renewed after the code")
	}
	d := h.browser()
	d.login("alice", alicePW)
	if p := d.post("/login/code", "code", code); p.has("Welcome") {
		t.Fatal("a TOTP code was accepted twice")
	}
	if p := d.post("/login/code", "code", codes[1][1]); !p.has("Welcome") {
		t.Fatal("a recovery code was refused at login")
	}

	// Reset: new password twice, then the code.
	h.clock.Advance(time.Minute)
	link := h.resetLink(b, "alice@example.com")
	p = b.post(link, "new", secondPW, "confirm", secondPW)
	if !p.has("Authentication code") || !strings.Contains(p.body, `action="`+link+`/code"`) {
		t.Fatalf("no code step at reset: %s", p.body)
	}
	if p := h.browser().login("alice", secondPW); p.url == "/login/code" {
		t.Fatal("the password changed before the code")
	}
	if p := b.post(link+"/code", "code", "999999"); p.status != 401 || !p.has("not right") {
		t.Fatalf("wrong code at reset: %d", p.status)
	}
	if p := b.get(link); !p.has("Authentication code") {
		t.Error("reopening the link does not go back to the code step")
	}
	if p := b.post(link+"/code", "code", totp(m[1], h.clock.Now())); !p.has("Your password has been reset") {
		t.Fatalf("right code at reset: %d %s", p.status, p.body)
	}
	if p := h.browser().login("alice", secondPW); p.url != "/login/code" {
		t.Fatalf("new password after reset: %s", p.url)
	}
}

// TestGraceLogin: with lock_on_expiry off and grace logins, an expired
// password still logs in, straight to the change form.
func TestGraceLogin(t *testing.T) {
	pc := testPolicy()
	pc.MaxAge, pc.LockOnExpiry, pc.GraceLogins = 30*24*time.Hour, false, 2
	h := newHarness(t, pc)
	h.addUser("alice", alicePW)
	h.clock.Advance(31 * 24 * time.Hour)
	b := h.browser()
	p := b.login("alice", alicePW)
	if p.url != "/security" || !p.has("Your password has expired.") {
		t.Fatalf("grace login landed on %s:\n%s", p.url, p.body)
	}
	if p := b.post("/security/password", "current", alicePW, "new", secondPW, "confirm", secondPW); p.url != "/" || !p.has("Welcome") {
		t.Fatalf("change after a grace login: %s", p.url)
	}
	if p := h.browser().login("alice", secondPW); !p.has("Welcome") || p.has("expired") {
		t.Fatal("the new password does not log in plainly")
	}
}

// TestOtherSessions: Security lists the person's sessions and logs out
// the others.
func TestOtherSessions(t *testing.T) {
	h := newHarness(t, testPolicy())
	h.addUser("alice", alicePW)
	b, other := h.browser(), h.browser()
	b.login("alice", alicePW)
	other.login("alice", alicePW)
	p := b.get("/security")
	if strings.Count(p.body, "<tr><td>") != 2 || !p.has("now (this browser)") || !p.has("Log out other sessions") {
		t.Fatalf("sessions section:\n%s", p.body)
	}
	p = b.post("/security/sessions")
	if p.url != "/security" || !p.has("Your other sessions have been logged out.") || p.has("Log out other sessions") {
		t.Fatalf("after ending the others: %s\n%s", p.url, p.body)
	}
	if p := other.get("/"); !p.has(`<label for="username">`) {
		t.Error("the other session survived")
	}
	if p := b.get("/"); !p.has("Welcome") {
		t.Error("this session was ended too")
	}
}
