package opstest

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// smtpSink is a real SMTP server on loopback (emersion/go-smtp) that
// keeps what it receives; it answers 451 to the first failFirst
// messages, as a relay that is briefly unable to take mail does.
type smtpSink struct {
	addr string

	mu        sync.Mutex // guards failFirst, refused
	failFirst int
	refused   int
	got       chan receivedMail
}

type receivedMail struct {
	from, to string
	data     string
}

func newSMTPSink(t *testing.T, failFirst int) *smtpSink {
	t.Helper()
	sink := &smtpSink{failFirst: failFirst, got: make(chan receivedMail, 16)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: sink}, nil
	}))
	srv.Domain = "sink.test"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return sink
}

// wait returns the next message, failing the test after limit.
func (s *smtpSink) wait(t *testing.T, limit time.Duration) receivedMail {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-time.After(limit):
		t.Fatalf("no mail reached the SMTP server within %s", limit)
		return receivedMail{}
	}
}

type sinkSession struct {
	sink     *smtpSink
	from, to string
}

func (s *sinkSession) Reset()        { s.from, s.to = "", "" }
func (s *sinkSession) Logout() error { return nil }
func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	refuse := s.sink.refused < s.sink.failFirst
	if refuse {
		s.sink.refused++
	}
	s.sink.mu.Unlock()
	if refuse {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.sink.got <- receivedMail{from: s.from, to: s.to, data: string(b)}
	return nil
}

// newNotifySite is a site whose passwords last 90 days, whose notifier
// looks every second and sends through the SMTP server at smtpAddr, with
// a debug log (each pass of the notifier writes a line).
func newNotifySite(t *testing.T, smtpAddr string) *site {
	t.Helper()
	dir := t.TempDir()
	s := &site{t: t, dir: dir, cfg: filepath.Join(dir, "dird.yaml"), store: filepath.Join(dir, "data")}
	host, port, _ := net.SplitHostPort(smtpAddr)
	yaml := `base_dn: ` + baseDN + `
admin:
  dn: ` + adminDN + `
  password: ` + adminPW + `
store:
  path: ` + s.store + `
ldap:
  listen: 127.0.0.1:0
radius:
  listen: ""
portal:
  listen: 127.0.0.1:0
  public_url: https://id.example.com
mail:
  driver: smtp
  from: dird@example.com
  smtp_host: ` + host + `
  smtp_port: ` + port + `
policy:
  max_age: 90d
  argon2_memory: 7168
  argon2_time: 1
notify:
  expiry_notice: [7d, 3d, 1d]
  interval: 1s
log:
  level: debug
`
	if err := os.WriteFile(s.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// notifyLDIF is a directory to import: alice's password expires in about
// five days (due at the 7d notice), nomail's too but she has no address,
// and bob's was changed yesterday.
func notifyLDIF(now time.Time) string {
	gt := func(ago time.Duration) string { return now.Add(-ago).UTC().Format("20060102150405Z") }
	return `dn: ` + baseDN + `
objectClass: top
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,` + baseDN + `
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,` + baseDN + `
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
userPassword: ` + ssha(userPassword("alice")) + `
pwdChangedTime: ` + gt(85*24*time.Hour) + `

dn: uid=nomail,ou=people,` + baseDN + `
objectClass: inetOrgPerson
uid: nomail
cn: No Mail
sn: Mail
userPassword: ` + ssha(userPassword("nomail")) + `
pwdChangedTime: ` + gt(85*24*time.Hour) + `

dn: uid=bob,ou=people,` + baseDN + `
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
mail: bob@example.com
userPassword: ` + ssha(userPassword("bob")) + `
pwdChangedTime: ` + gt(24*time.Hour) + `
`
}

// passLine is one "expiry notices" line of the notifier's log.
type passLine struct {
	Msg                                     string
	Candidates, Sent, Failed, SkippedNoMail int
}

// passes returns the notifier's pass lines logged so far.
func (p *served) passes() []passLine {
	var out []passLine
	for _, l := range strings.Split(p.logText(), "\n") {
		var rec struct {
			Msg           string
			Candidates    int `json:"candidates"`
			Sent          int `json:"sent"`
			Failed        int `json:"failed"`
			SkippedNoMail int `json:"skipped_no_mail"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == "expiry notices" {
			out = append(out, passLine{rec.Msg, rec.Candidates, rec.Sent, rec.Failed, rec.SkippedNoMail})
		}
	}
	return out
}

// waitPasses waits until the notifier has logged n passes.
func (p *served) waitPasses(n int, limit time.Duration) []passLine {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if got := p.passes(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the notifier logged %d passes within %s, want %d:\n%s", len(p.passes()), limit, n, p.logText())
		}
		select {
		case <-p.done:
			p.t.Fatalf("dird serve exited: %v", p.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestExpiryNoticeOverSMTP imports users whose passwords were changed
// long ago, runs dird serve with mail.driver smtp against a real SMTP
// server on loopback, and checks that alice gets her notice once: the
// relay refuses the first try (logged, retried at the next pass, without
// the message in the log), and neither a restart nor a backup restored
// into a new store sends it again.
func TestExpiryNoticeOverSMTP(t *testing.T) {
	sink := newSMTPSink(t, 1)
	s := newNotifySite(t, sink.addr)
	ldifPath := filepath.Join(s.dir, "users.ldif")
	if err := os.WriteFile(ldifPath, []byte(notifyLDIF(time.Now())), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := s.dird("import", ldifPath); r.exit != 0 {
		t.Fatalf("dird import: %v", r)
	}

	d := s.serve()
	m := sink.wait(t, 60*time.Second)
	if m.from != "dird@example.com" || m.to != "alice@example.com" {
		t.Errorf("envelope from %q to %q, want dird@example.com to alice@example.com", m.from, m.to)
	}
	for _, want := range []string{
		"To: alice@example.com\r\n",
		"Subject: Your password expires in 5 days\r\n",
		"Your password for alice expires in 5 days",
		"https://id.example.com/security\r\n",
	} {
		if !strings.Contains(m.data, want) {
			t.Errorf("the notice lacks %q:\n%s", want, m.data)
		}
	}
	if strings.Contains(m.data, "{SSHA}") || strings.Contains(m.data, userPassword("alice")) {
		t.Errorf("the notice holds a secret:\n%s", m.data)
	}
	// Two more passes after the one that sent: nothing more is sent.
	sentAt := -1
	for n := 1; sentAt < 0 && n <= 10; n++ {
		if d.waitPasses(n, 30*time.Second)[n-1].Sent == 1 {
			sentAt = n - 1
		}
	}
	if sentAt < 0 {
		t.Fatalf("no pass of the first ten says it sent:\n%s", d.logText())
	}
	passes := d.waitPasses(sentAt+3, 30*time.Second)
	log := d.logText()
	d.stop()
	select {
	case extra := <-sink.got:
		t.Fatalf("a second notice went out:\n%s", extra.data)
	default:
	}
	if !strings.Contains(log, "expiry notice not sent; retrying at the next pass") || !strings.Contains(log, "451") {
		t.Errorf("the refused first try is not logged:\n%s", log)
	}
	if strings.Contains(log, "Your password for alice") || strings.Contains(log, "id.example.com/security") {
		t.Errorf("the log holds the message body:\n%s", log)
	}
	t.Logf("passes of the first run: %+v", passes)
	sawFailed, sawSent := false, false
	for _, p := range passes {
		if p.Candidates != 2 {
			t.Errorf("a pass found %d candidates, want 2 (alice and nomail, not bob): %+v", p.Candidates, p)
		}
		if p.SkippedNoMail != 1 {
			t.Errorf("a pass skipped %d users without mail, want 1: %+v", p.SkippedNoMail, p)
		}
		sawFailed = sawFailed || p.Failed == 1
		sawSent = sawSent || p.Sent == 1
	}
	if !sawFailed || !sawSent {
		t.Errorf("passes %+v: want one that failed and one that sent", passes)
	}

	// A restart neither loses nor repeats the notice.
	d = s.serve()
	after := d.waitPasses(2, 30*time.Second)
	d.stop()
	for _, p := range after {
		if p.Sent != 0 || p.Candidates != 2 {
			t.Errorf("after a restart: pass %+v, want 2 candidates and nothing sent", p)
		}
	}

	// A backup restored into an empty store keeps the index and the
	// record.
	backup := filepath.Join(s.dir, "dird.backup")
	if r := s.dird("backup", backup); r.exit != 0 {
		t.Fatalf("dird backup: %v", r)
	}
	restored := newNotifySite(t, sink.addr)
	if r := restored.dird("restore", backup); r.exit != 0 {
		t.Fatalf("dird restore: %v", r)
	}
	d = restored.serve()
	after = d.waitPasses(2, 30*time.Second)
	d.stop()
	for _, p := range after {
		if p.Sent != 0 || p.Candidates != 2 {
			t.Errorf("after a restore: pass %+v, want 2 candidates and nothing sent", p)
		}
	}
	select {
	case extra := <-sink.got:
		t.Fatalf("a notice went out again:\n%s", extra.data)
	default:
	}
}
