package opstest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// newObsSite writes a configuration with every front on 127.0.0.1:0,
// RADIUS clients on loopback with secret, the metrics endpoint, cheap
// hashing, lockout after three failures, passwords that expire after 90
// days with the notifier looking every second (mail to the log), and
// extra LDAP keys (TLS).
func newObsSite(t *testing.T, secret, ldapExtra string) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir, cfg: filepath.Join(dir, "dird.yaml"), store: filepath.Join(dir, "data")}
	s.writeObsConfig(secret, ldapExtra)
	return s
}

func (s *site) writeObsConfig(secret, ldapExtra string) {
	yaml := `base_dn: ` + baseDN + `
admin:
  dn: ` + adminDN + `
  password: ` + adminPW + `
store:
  path: ` + s.store + `
ldap:
  listen: 127.0.0.1:0
` + ldapExtra + `radius:
  listen: 127.0.0.1:0
  clients:
    - {name: loopback, address: 127.0.0.0/8, secret: ` + secret + `}
portal:
  listen: 127.0.0.1:0
metrics:
  listen: 127.0.0.1:0
policy:
  argon2_memory: 7168
  argon2_time: 1
  lockout_threshold: 3
  max_age: 90d
notify:
  interval: 1s
`
	// Written whole in place of the old file, as an editor's save does,
	// so that a SIGHUP never reads half a file.
	tmp := s.cfg + ".new"
	if err := os.WriteFile(tmp, []byte(yaml), 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.cfg); err != nil {
		s.t.Fatal(err)
	}
}

// scrape reads /metrics into series ("name{labels}") and values.
func (p *served) scrape() map[string]float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		p.t.Fatalf("scraping: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("scraping: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			p.t.Fatalf("scraping: bad line %q", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		p.t.Fatalf("scraping: %v", err)
	}
	return out
}

// get returns the status and body of a GET on the metrics listener.
func (p *served) get(path string) (int, string) {
	p.t.Helper()
	resp, err := http.Get("http://" + p.metrics + path)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// radclient sends one PAP Access-Request with radclient (freeradius-utils)
// under secret, one try with a 2s timeout, and returns "accept",
// "reject" or "none" (no answer: dropped).
func (p *served) radclient(secret, user, password string) string {
	p.t.Helper()
	path, err := exec.LookPath("radclient")
	if err != nil {
		p.t.Fatal("radclient is not installed (freeradius-utils): run make test-deps")
	}
	in := fmt.Sprintf("User-Name = %q\nUser-Password = %q\nMessage-Authenticator = 0x00\n", user, password)
	r := run(p.t, []byte(in), path, "-x", "-r", "1", "-t", "2", p.radius, "auth", secret)
	switch {
	case strings.Contains(r.stdout, "Received Access-Accept"):
		return "accept"
	case strings.Contains(r.stdout, "Received Access-Reject"):
		return "reject"
	case strings.Contains(r.stdout+r.stderr, "No reply from server"):
		return "none"
	}
	p.t.Fatalf("radclient: unexpected output: %v", r)
	return ""
}

// auditLines returns the server's audit log lines, decoded.
func (p *served) auditLines() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(p.logText(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil && rec["audit"] == true {
			out = append(out, rec)
		}
	}
	return out
}

// hasAudit reports whether an audit line has every key=value of want
// (values compared as text; a []string value matches when it contains
// the wanted name).
func hasAudit(lines []map[string]any, want map[string]string) bool {
	for _, rec := range lines {
		ok := true
		for k, v := range want {
			switch got := rec[k].(type) {
			case []any:
				found := false
				for _, x := range got {
					found = found || fmt.Sprint(x) == v
				}
				ok = ok && found
			default:
				ok = ok && fmt.Sprint(got) == v
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// addPeople adds ou=people under the base, as the administrator.
func addPeople(t *testing.T, a *ldap.Conn) {
	t.Helper()
	req := ldap.NewAddRequest("ou=people,"+baseDN, nil)
	req.Attribute("objectClass", []string{"organizationalUnit"})
	req.Attribute("ou", []string{"people"})
	if err := a.Add(req); err != nil {
		t.Fatalf("adding ou=people: %v", err)
	}
}

// TestMetricsAndAudit drives a real dird serve through binds, a search,
// RADIUS PAP, a lockout, a password change, an administrator's reset and
// an expiry notice mailed (to the log driver), and checks that the
// scraped counters moved by exactly what was done, that each decision
// and change has its audit line, and that no password, secret or hash
// appears anywhere in the log.
func TestMetricsAndAudit(t *testing.T) {
	const (
		aliceDN  = "uid=alice,ou=people," + baseDN
		bobDN    = "uid=bob,ou=people," + baseDN
		doraDN   = "uid=dora,ou=people," + baseDN
		doraPW   = "Obs-Juniper-2290-Plover"
		alicePW  = "Obs-Orchid-7731-Kestrel"
		aliceNew = "Obs-Tundra-9052-Heron"
		bobPW    = "Obs-Saffron-4410-Marten"
		bobReset = "Obs-Reset-Granite-6127-Lynx"
		wrong1   = "Wrong-Guess-Pelican-1"
		wrong2   = "Wrong-Guess-Pelican-2"
	)
	s := newObsSite(t, radiusSecret, "")
	p := s.serve()

	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := p.get(path); code != http.StatusOK {
			t.Errorf("GET %s: %d %q, want 200", path, code, body)
		}
	}
	before := p.scrape()
	if _, ok := before[`dird_store_size_bytes`]; !ok {
		t.Errorf("no dird_store_size_bytes series")
	}

	a := p.admin() // an ok bind
	defer a.Close()
	addPeople(t, a)
	for _, u := range []struct{ dn, uid, pw string }{{aliceDN, "alice", alicePW}, {bobDN, "bob", bobPW}} {
		req := ldap.NewAddRequest(u.dn, nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("uid", []string{u.uid})
		req.Attribute("cn", []string{u.uid})
		req.Attribute("sn", []string{u.uid})
		req.Attribute("userPassword", []string{u.pw})
		if err := a.Add(req); err != nil {
			t.Fatalf("adding %s: %v", u.dn, err)
		}
	}
	// dora's password expires in 5 days: the notifier mails her once.
	dora := ldap.NewAddRequest(doraDN, nil)
	for _, a := range [][2]string{{"objectClass", "inetOrgPerson"}, {"uid", "dora"}, {"cn", "dora"}, {"sn", "dora"},
		{"mail", "dora@example.com"}, {"userPassword", doraPW},
		{"pwdChangedTime", time.Now().Add(-85 * 24 * time.Hour).UTC().Format("20060102150405Z")}} {
		dora.Attribute(a[0], []string{a[1]})
	}
	if err := a.Add(dora); err != nil {
		t.Fatalf("adding dora: %v", err)
	}
	p.waitLog(0, "an expiry notice sent", func(l string) bool {
		return strings.Contains(l, `"msg":"expiry notices"`) && strings.Contains(l, `"sent":1`)
	})
	if err := p.bind(aliceDN, alicePW); err != nil { // ok
		t.Fatalf("alice's bind: %v", err)
	}
	if err := p.bind(aliceDN, wrong1); ldapCode(err) != ldap.LDAPResultInvalidCredentials { // invalid
		t.Fatalf("alice's wrong bind: %v", err)
	}
	if _, err := a.Search(ldap.NewSearchRequest(baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(uid=alice)", []string{"cn"}, nil)); err != nil {
		t.Fatalf("search: %v", err)
	}
	if got := p.radclient(radiusSecret, "alice", alicePW); got != "accept" {
		t.Fatalf("PAP with the right password: %s", got)
	}
	if got := p.radclient(radiusSecret, "alice", wrong2); got != "reject" {
		t.Fatalf("PAP with a wrong password: %s", got)
	}
	// alice changes her own password (Password Modify, RFC 3062).
	c := p.dial()
	if err := c.Bind(aliceDN, alicePW); err != nil { // ok
		t.Fatalf("alice's bind before the change: %v", err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", alicePW, aliceNew)); err != nil {
		t.Fatalf("alice's password change: %v", err)
	}
	c.Close()
	// The administrator resets bob's, then three wrong binds lock bob.
	if _, err := a.PasswordModify(ldap.NewPasswordModifyRequest(bobDN, "", bobReset)); err != nil {
		t.Fatalf("resetting bob's password: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := p.bind(bobDN, wrong1); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Fatalf("bob's wrong bind %d: %v", i+1, err)
		}
	}

	after := p.scrape()
	for _, tc := range []struct {
		series string
		delta  float64
	}{
		{`dird_ldap_binds_total{outcome="ok"}`, 3},
		{`dird_ldap_binds_total{outcome="invalid_credentials"}`, 4},
		{`dird_ldap_operations_total{op="add"}`, 4},
		{`dird_mails_total{result="sent"}`, 1},
		{`dird_mails_total{result="failed"}`, 0},
		{`dird_ldap_operations_total{op="search"}`, 1},
		{`dird_ldap_operations_total{op="extended"}`, 2},
		{`dird_radius_requests_total{method="pap",outcome="accept"}`, 1},
		{`dird_radius_requests_total{method="pap",outcome="reject"}`, 1},
		{`dird_lockouts_total`, 1},
		{`dird_password_changes_total{front="ldap",kind="change"}`, 1},
		{`dird_password_changes_total{front="ldap",kind="reset"}`, 1},
	} {
		if got := after[tc.series] - before[tc.series]; got != tc.delta {
			t.Errorf("%s moved by %v, want %v", tc.series, got, tc.delta)
		}
	}
	// Every hash and verification above went through the queue.
	if got := after[`dird_hash_queue_wait_seconds_count`] - before[`dird_hash_queue_wait_seconds_count`]; got < 10 {
		t.Errorf("dird_hash_queue_wait_seconds_count moved by %v, want at least 10", got)
	}

	// The audit trail: one line per decision and per change.
	audit := p.auditLines()
	for _, want := range []map[string]string{
		{"msg": "authentication", "front": "ldap", "user": aliceDN, "outcome": "ok"},
		{"msg": "authentication", "front": "ldap", "user": aliceDN, "outcome": "invalid_credentials"},
		{"msg": "authentication", "front": "radius", "user": aliceDN, "outcome": "ok"},
		// A failed login by name is logged with the name given.
		{"msg": "authentication", "front": "radius", "user": "alice", "outcome": "invalid_credentials"},
		{"msg": "authentication", "front": "ldap", "user": adminDN, "outcome": "ok"},
		{"msg": "account locked", "user": bobDN},
		{"msg": "password changed", "front": "ldap", "user": aliceDN},
		{"msg": "password reset", "front": "ldap", "user": bobDN},
		{"msg": "directory change", "op": "add", "dn": aliceDN, "actor": adminDN, "attrs": "userPassword"},
		{"msg": "directory change", "op": "modify", "dn": aliceDN, "actor": aliceDN, "attrs": "userPassword"},
		{"msg": "directory change", "op": "modify", "dn": bobDN, "actor": adminDN, "attrs": "pwdReset"},
	} {
		if !hasAudit(audit, want) {
			t.Errorf("no audit line with %v", want)
		}
	}
	for _, rec := range audit {
		if rec["msg"] == "authentication" && rec["client"] == "" {
			t.Errorf("authentication audit line without the client address: %v", rec)
		}
	}

	// Nothing secret anywhere in the log: the passwords (right and
	// wrong), the RADIUS secret, and the stored hashes, which dird export
	// prints (it is a migration format).
	p.stop()
	exp := s.dird("export")
	if exp.exit != 0 {
		t.Fatalf("dird export: %v", exp)
	}
	var hashes []string
	for _, l := range strings.Split(exp.stdout, "\n") {
		if v, ok := strings.CutPrefix(l, "userPassword: "); ok {
			hashes = append(hashes, v)
		} else if v, ok := strings.CutPrefix(l, "userPassword:: "); ok {
			hashes = append(hashes, v)
		}
	}
	if len(hashes) != 3 {
		t.Fatalf("dird export shows %d userPassword values, want alice's, bob's and dora's:\n%s", len(hashes), exp.stdout)
	}
	log := p.logText()
	secrets := append([]string{alicePW, aliceNew, bobPW, bobReset, doraPW, wrong1, wrong2, adminPW, radiusSecret, "$argon2", "{ARGON2}"}, hashes...)
	for _, secret := range secrets {
		if strings.Contains(log, secret) {
			t.Errorf("the log contains the secret %q", secret)
		}
	}
}

// newCert writes a self-signed certificate for 127.0.0.1, named cn, to
// certPath and keyPath, and returns its DER bytes.
func newCert(t *testing.T, cn, certPath, keyPath string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// The key first: a reload between the two writes must not pair the
	// new certificate with the old key (it would fail, and keep the old).
	for _, f := range []struct {
		path string
		blk  *pem.Block
	}{{keyPath, &pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}}, {certPath, &pem.Block{Type: "CERTIFICATE", Bytes: der}}} {
		tmp := f.path + ".new"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(f.blk), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	return der
}

// startTLS dials, upgrades with StartTLS and returns the connection and
// the certificate the server showed.
func (p *served) startTLS() (*ldap.Conn, []byte) {
	p.t.Helper()
	c := p.dial()
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		c.Close()
		p.t.Fatalf("StartTLS: %v", err)
	}
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		c.Close()
		p.t.Fatal("no TLS state after StartTLS")
	}
	return c, st.PeerCertificates[0].Raw
}

// TestSIGHUPReload changes the certificate and the RADIUS client secret
// under a running dird serve and sends SIGHUP: a connection opened
// before keeps working, a new one gets the new certificate, the new
// secret works and the old one is dropped. A configuration file that does
// not load is then refused with an error and the server goes on as it
// was.
func TestSIGHUPReload(t *testing.T) {
	const (
		oldSecret = "opstest-reload-old-secret-5d1a"
		newSecret = "opstest-reload-new-secret-8c42"
		userDN    = "uid=carol,ou=people," + baseDN
		userPW    = "Reload-Quartz-3318-Osprey"
	)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "ldap.crt"), filepath.Join(dir, "ldap.key")
	oldCert := newCert(t, "dird old", certPath, keyPath)
	tlsYAML := "  tls_cert: " + certPath + "\n  tls_key: " + keyPath + "\n"
	s := newObsSite(t, oldSecret, tlsYAML)
	p := s.serve()

	before, shown := p.startTLS()
	defer before.Close()
	if string(shown) != string(oldCert) {
		t.Fatal("the server did not show the configured certificate")
	}
	if err := before.Bind(adminDN, adminPW); err != nil {
		t.Fatalf("admin bind: %v", err)
	}
	addPeople(t, before)
	req := ldap.NewAddRequest(userDN, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	for _, a := range [][2]string{{"uid", "carol"}, {"cn", "carol"}, {"sn", "carol"}, {"userPassword", userPW}} {
		req.Attribute(a[0], []string{a[1]})
	}
	if err := before.Add(req); err != nil {
		t.Fatalf("adding carol: %v", err)
	}
	if got := p.radclient(oldSecret, "carol", userPW); got != "accept" {
		t.Fatalf("PAP under the configured secret: %s", got)
	}

	newCertDER := newCert(t, "dird new", certPath, keyPath)
	s.writeObsConfig(newSecret, tlsYAML)
	mark := p.logLen()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(mark, "reloaded RADIUS clients", func(l string) bool { return strings.Contains(l, "reloaded the RADIUS clients") })

	if _, err := before.Search(ldap.NewSearchRequest(userDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"cn"}, nil)); err != nil {
		t.Errorf("the connection opened before the reload: %v", err)
	}
	after, shown := p.startTLS()
	after.Close()
	if string(shown) != string(newCertDER) {
		t.Error("a new connection after the reload was not shown the new certificate")
	}
	if got := p.radclient(newSecret, "carol", userPW); got != "accept" {
		t.Errorf("PAP under the new secret: %s, want accept", got)
	}
	if got := p.radclient(oldSecret, "carol", userPW); got != "none" {
		t.Errorf("PAP under the old secret: %s, want no answer", got)
	}

	// A broken file: logged, refused, nothing changes.
	if err := os.WriteFile(s.cfg, []byte("base_dn: [this is not a DN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mark = p.logLen()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(mark, "a reload failure", func(l string) bool { return strings.Contains(l, "reload failed: keeping the running configuration") })
	if got := p.radclient(newSecret, "carol", userPW); got != "accept" {
		t.Errorf("PAP after a failed reload: %s, want accept", got)
	}
	if _, err := before.Search(ldap.NewSearchRequest(userDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"cn"}, nil)); err != nil {
		t.Errorf("the first connection after a failed reload: %v", err)
	}
	p.stop()
}
