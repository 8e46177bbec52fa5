package mail

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

func TestValidate(t *testing.T) {
	ok := Config{Driver: "log", From: "dird@example.com", SMTPPort: 25}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"driver", func(c *Config) { c.Driver = "sendmail" }, "mail.driver"},
		{"from", func(c *Config) { c.From = "nobody" }, "mail.from"},
		{"smtp needs host", func(c *Config) { c.Driver = "smtp" }, "mail.smtp_host"},
		{"port", func(c *Config) { c.SMTPPort = 0 }, "mail.smtp_port"},
		{"tls value", func(c *Config) { c.SMTPTLS = "ssl" }, "mail.smtp_tls"},
		{"tls empty means auto", func(c *Config) { c.SMTPTLS = "" }, ""},
		{"password without username", func(c *Config) { c.SMTPPassword = "x" }, "mail.smtp_password"},
		{"none with a login to a remote relay", func(c *Config) {
			c.Driver, c.SMTPHost, c.SMTPTLS, c.SMTPUsername = "smtp", "mail.example.com", TLSNone, "dird"
		}, "mail.smtp_tls: none"},
		{"none with a login to a loopback relay", func(c *Config) {
			c.Driver, c.SMTPHost, c.SMTPTLS, c.SMTPUsername = "smtp", "127.0.0.1", TLSNone, "dird"
		}, ""},
		{"none with a login to localhost", func(c *Config) {
			c.Driver, c.SMTPHost, c.SMTPTLS, c.SMTPUsername = "smtp", "localhost", TLSNone, "dird"
		}, ""},
		{"none without a login to a remote relay", func(c *Config) {
			c.Driver, c.SMTPHost, c.SMTPTLS = "smtp", "mail.example.com", TLSNone
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.want)
			}
			if _, err := New(c, slog.Default()); err == nil {
				t.Fatal("New accepted what Validate refused")
			}
		})
	}
}

func TestHeaderInjectionRefused(t *testing.T) {
	var buf bytes.Buffer
	s, err := New(Config{Driver: "log", From: "dird@example.com", SMTPPort: 25}, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{
		{To: "a@example.com\r\nBcc: b@example.com", Subject: "x"},
		{To: "a@example.com", Subject: "x\r\nBcc: b@example.com"},
		{To: "not an address", Subject: "x"},
	} {
		if err := s.Send(context.Background(), m); err == nil {
			t.Errorf("Send(%q, %q) accepted", m.To, m.Subject)
		}
	}
	if err := s.Send(context.Background(), Message{To: "a@example.com", Subject: "Reset", Body: "link"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "to=a@example.com") || !strings.Contains(buf.String(), "body=link") {
		t.Fatalf("log driver wrote %q", buf.String())
	}
}

// TestSMTPDelivery talks to a minimal SMTP server on loopback and checks
// the envelope and the message as received.
func TestSMTPDelivery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		say := func(s string) { conn.Write([]byte(s + "\r\n")) }
		var lines []string
		say("220 test ESMTP")
		data := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				got <- lines
				return
			}
			line = strings.TrimRight(line, "\r\n")
			lines = append(lines, line)
			switch {
			case data:
				if line == "." {
					data = false
					say("250 queued")
				}
			case strings.HasPrefix(line, "EHLO"), strings.HasPrefix(line, "HELO"):
				say("250 test")
			case line == "DATA":
				data = true
				say("354 go ahead")
			case line == "QUIT":
				say("221 bye")
				got <- lines
				return
			default:
				say("250 ok")
			}
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	s, err := New(Config{Driver: "smtp", From: "dird@example.com", SMTPHost: "127.0.0.1", SMTPPort: p}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), Message{To: "alice@example.com", Subject: "Your password was changed", Body: "Hello.\n.\nBye."})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	lines := <-got
	all := strings.Join(lines, "\n")
	for _, want := range []string{"MAIL FROM:<dird@example.com>", "RCPT TO:<alice@example.com>", "Subject: Your password was changed", "To: alice@example.com", "Hello.", "..", "Bye."} {
		if !strings.Contains(all, want) {
			t.Errorf("server did not receive %q in:\n%s", want, all)
		}
	}
}

// testPKI is a CA and a certificate it signed for 127.0.0.1 and
// localhost, made fresh for the test run.
type testPKI struct {
	caFile string // the CA in PEM, for mail.smtp_tls_ca_file
	server tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dird mail test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey := newKey()
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, server: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}
}

// relay is an SMTP server on loopback built with go-smtp, protected and
// asking for a login as the test case says.
type relay struct {
	auth bool // offer AUTH PLAIN, accepting relayUser/relayPassword

	mu        sync.Mutex // guards the fields below
	logins    []string   // "user:password" of every AUTH PLAIN tried
	delivered []string   // "from to\ndata" of every message accepted
}

const (
	relayUser     = "dird@example.com"
	relayPassword = "right-Passw0rd"
)

func (r *relay) NewSession(*gosmtp.Conn) (gosmtp.Session, error) {
	s := &relaySession{r: r}
	if r.auth {
		return &relayAuthSession{s}, nil
	}
	return s, nil
}

type relaySession struct {
	r        *relay
	from, to string
}

func (s *relaySession) Reset()        { s.from, s.to = "", "" }
func (s *relaySession) Logout() error { return nil }
func (s *relaySession) Mail(from string, _ *gosmtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *relaySession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *relaySession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.delivered = append(s.r.delivered, s.from+" "+s.to+"\n"+string(data))
	return nil
}

// relayAuthSession is a relaySession that offers AUTH PLAIN.
type relayAuthSession struct{ *relaySession }

func (s *relayAuthSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *relayAuthSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.r.mu.Lock()
		s.r.logins = append(s.r.logins, user+":"+pass)
		s.r.mu.Unlock()
		if user != relayUser || pass != relayPassword {
			return gosmtp.ErrAuthFailed
		}
		return nil
	}), nil
}

// startRelay serves r on a loopback port: "starttls" offers STARTTLS,
// "tls" speaks TLS from the first byte, "plain" neither (but then
// offers AUTH in clear, as a loopback relay may).
func startRelay(t *testing.T, r *relay, mode string, cert tls.Certificate) int {
	t.Helper()
	srv := gosmtp.NewServer(r)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	// The failed handshakes are the point of some cases, not news.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch mode {
	case "starttls":
		srv.TLSConfig = tlsCfg
	case "tls":
		srv.TLSConfig = tlsCfg
		ln = tls.NewListener(ln, tlsCfg)
	case "plain":
		srv.AllowInsecureAuth = true
	default:
		t.Fatalf("relay mode %q", mode)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSMTPTLSAndAuth delivers through relays that offer STARTTLS, TLS
// or neither, with and without a login, and checks that the password
// never shows in an error.
func TestSMTPTLSAndAuth(t *testing.T) {
	pki := newTestPKI(t)
	const wrongPassword = "wrong-Passw0rd-77"
	tests := []struct {
		name      string
		relayMode string // starttls, tls or plain
		relayAuth bool
		cfg       Config // Driver, From, SMTPHost and SMTPPort are filled in
		wantErr   []string
		wantLogin string // what the relay saw, "" for no login
	}{
		{
			name: "auto without a login, opportunistic STARTTLS with an untrusted certificate", relayMode: "starttls",
			cfg: Config{SMTPTLS: TLSAuto},
		},
		{
			name: "auto with a login requires STARTTLS and verifies", relayMode: "starttls", relayAuth: true,
			cfg:       Config{SMTPUsername: relayUser, SMTPPassword: relayPassword, SMTPTLSCAFile: pki.caFile},
			wantLogin: relayUser + ":" + relayPassword,
		},
		{
			name: "starttls with a login", relayMode: "starttls", relayAuth: true,
			cfg:       Config{SMTPTLS: TLSStartTLS, SMTPUsername: relayUser, SMTPPassword: relayPassword, SMTPTLSCAFile: pki.caFile},
			wantLogin: relayUser + ":" + relayPassword,
		},
		{
			name: "implicit TLS with a login", relayMode: "tls", relayAuth: true,
			cfg:       Config{SMTPTLS: TLSImplicit, SMTPUsername: relayUser, SMTPPassword: relayPassword, SMTPTLSCAFile: pki.caFile},
			wantLogin: relayUser + ":" + relayPassword,
		},
		{
			name: "implicit TLS without a login", relayMode: "tls",
			cfg: Config{SMTPTLS: TLSImplicit, SMTPTLSCAFile: pki.caFile},
		},
		{
			name: "none to a loopback relay logs in in clear", relayMode: "plain", relayAuth: true,
			cfg:       Config{SMTPTLS: TLSNone, SMTPUsername: relayUser, SMTPPassword: relayPassword},
			wantLogin: relayUser + ":" + relayPassword,
		},
		{
			name: "wrong password", relayMode: "starttls", relayAuth: true,
			cfg:     Config{SMTPTLS: TLSStartTLS, SMTPUsername: relayUser, SMTPPassword: wrongPassword, SMTPTLSCAFile: pki.caFile},
			wantErr: []string{"logging in to 127.0.0.1:", relayUser},
		},
		{
			name: "relay without AUTH while a username is set", relayMode: "starttls",
			cfg:     Config{SMTPTLS: TLSStartTLS, SMTPUsername: relayUser, SMTPPassword: relayPassword, SMTPTLSCAFile: pki.caFile},
			wantErr: []string{"does not offer AUTH", "mail.smtp_username"},
		},
		{
			name: "certificate from an untrusted CA", relayMode: "starttls", relayAuth: true,
			cfg:     Config{SMTPTLS: TLSStartTLS, SMTPUsername: relayUser, SMTPPassword: relayPassword},
			wantErr: []string{"STARTTLS with 127.0.0.1:", "certificate signed by unknown authority", "mail.smtp_tls_ca_file"},
		},
		{
			name: "implicit TLS, certificate from an untrusted CA", relayMode: "tls",
			cfg:     Config{SMTPTLS: TLSImplicit},
			wantErr: []string{"connecting with TLS", "certificate signed by unknown authority", "mail.smtp_tls_ca_file"},
		},
		{
			name: "starttls required but not offered", relayMode: "plain",
			cfg:     Config{SMTPTLS: TLSStartTLS, SMTPTLSCAFile: pki.caFile},
			wantErr: []string{"does not offer STARTTLS"},
		},
		{
			name: "a login in auto mode is never sent in clear", relayMode: "plain", relayAuth: true,
			cfg:     Config{SMTPUsername: relayUser, SMTPPassword: relayPassword},
			wantErr: []string{"does not offer STARTTLS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &relay{auth: tt.relayAuth}
			port := startRelay(t, r, tt.relayMode, pki.server)
			cfg := tt.cfg
			cfg.Driver, cfg.From, cfg.SMTPHost, cfg.SMTPPort = "smtp", "dird@example.com", "127.0.0.1", port
			var logBuf bytes.Buffer
			s, err := New(cfg, slog.New(slog.NewTextHandler(&logBuf, nil)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			err = s.Send(ctx, Message{To: "alice@example.com", Subject: "Reset your password", Body: "link"})
			t.Logf("Send: %v", err)

			r.mu.Lock()
			logins, delivered := r.logins, r.delivered
			r.mu.Unlock()
			if cfg.SMTPPassword != "" {
				if err != nil && strings.Contains(err.Error(), cfg.SMTPPassword) {
					t.Errorf("the error shows the password: %v", err)
				}
				if strings.Contains(logBuf.String(), cfg.SMTPPassword) {
					t.Errorf("the log shows the password: %s", logBuf.String())
				}
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("Send succeeded, want an error")
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("Send error %q does not contain %q", err, want)
					}
				}
				if len(delivered) != 0 {
					t.Errorf("the relay accepted %d messages despite the error", len(delivered))
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if len(delivered) != 1 || !strings.HasPrefix(delivered[0], "dird@example.com alice@example.com\n") ||
				!strings.Contains(delivered[0], "Subject: Reset your password") {
				t.Errorf("the relay received %q", delivered)
			}
			var wantLogins []string
			if tt.wantLogin != "" {
				wantLogins = []string{tt.wantLogin}
			}
			if !slices.Equal(logins, wantLogins) {
				t.Errorf("the relay saw logins %q, want %q", logins, wantLogins)
			}
		})
	}
}

func TestNewRejectsBadCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.pem"), "mail.smtp_tls_ca_file: reading"},
		{notPEM, "mail.smtp_tls_ca_file:"},
	} {
		_, err := New(Config{Driver: "smtp", From: "dird@example.com", SMTPHost: "127.0.0.1", SMTPPort: 25, SMTPTLSCAFile: tt.file}, slog.Default())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New with CA file %s = %v, want an error naming %s", tt.file, err, tt.want)
		}
	}
}

// TestRedact: should a relay echo the password in its refusal, the error
// dird logs shows a placeholder instead.
func TestRedact(t *testing.T) {
	err := redact(errors.New(`535 bad login "dird" "s3cret"`), "s3cret")
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "[password]") {
		t.Errorf("redact = %q", err)
	}
	orig := errors.New("535 Authentication failed")
	if got := redact(orig, ""); got != orig {
		t.Errorf("redact with no password changed the error to %q", got)
	}
}
