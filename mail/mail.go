package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the mail section of the configuration.
type Config struct {
	// Driver is "log" (mail is written to the log, for local use) or
	// "smtp".
	Driver string `mapstructure:"driver"`
	// From is the sender address of every message.
	From string `mapstructure:"from"`
	// SMTPHost and SMTPPort are the relay for the smtp driver.
	SMTPHost string `mapstructure:"smtp_host"`
	SMTPPort int    `mapstructure:"smtp_port"`
	// SMTPUsername and SMTPPassword log in to the relay with AUTH PLAIN
	// (a provider's submission port); "" sends without logging in.
	// SMTPPassword is never logged nor put in an error.
	SMTPUsername string `mapstructure:"smtp_username"`
	SMTPPassword string `mapstructure:"smtp_password"`
	// SMTPTLS is how the connection to the relay is protected: auto,
	// starttls, tls or none; see the TLS constants. "" means auto.
	SMTPTLS string `mapstructure:"smtp_tls"`
	// SMTPTLSCAFile is a PEM file of the CAs that verify the relay's
	// certificate (a private CA); "" uses the system's roots.
	SMTPTLSCAFile string `mapstructure:"smtp_tls_ca_file"`
}

// The values of Config.SMTPTLS.
const (
	// TLSAuto uses STARTTLS when the relay offers it, without checking
	// its certificate, as MTAs do between themselves; with a username it
	// is TLSStartTLS, so a password never crosses the network in clear
	// nor goes to a relay that only pretends to be the one configured.
	TLSAuto = "auto"
	// TLSStartTLS requires STARTTLS and a certificate that verifies.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465) and verifies
	// the certificate.
	TLSImplicit = "tls"
	// TLSNone never encrypts, for a relay on loopback.
	TLSNone = "none"
)

// tlsMode is SMTPTLS with "" read as auto, so a Config built in code
// without the key behaves as before the key existed.
func (c Config) tlsMode() string {
	if c.SMTPTLS == "" {
		return TLSAuto
	}
	return c.SMTPTLS
}

// Validate checks the section without touching the network.
func (c Config) Validate() error {
	switch c.Driver {
	case "log", "smtp":
	default:
		return fmt.Errorf("mail.driver: %q is not one of log, smtp", c.Driver)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("mail.from: %q is not an email address", c.From)
	}
	if c.Driver == "smtp" && c.SMTPHost == "" {
		return errors.New("mail.smtp_host: required when mail.driver is smtp")
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		return fmt.Errorf("mail.smtp_port: %d is not a port from 1 to 65535", c.SMTPPort)
	}
	mode := c.tlsMode()
	if !slices.Contains([]string{TLSAuto, TLSStartTLS, TLSImplicit, TLSNone}, mode) {
		return fmt.Errorf("mail.smtp_tls: %q is not one of auto, starttls, tls, none", c.SMTPTLS)
	}
	if c.SMTPPassword != "" && c.SMTPUsername == "" {
		return errors.New("mail.smtp_password: set without mail.smtp_username, so it would not be used")
	}
	if c.Driver == "smtp" && mode == TLSNone && c.SMTPUsername != "" && !isLoopback(c.SMTPHost) {
		return fmt.Errorf("mail.smtp_tls: none would send the password for mail.smtp_username in clear to %s; "+
			"use auto, starttls or tls (none with a username only for a relay on a loopback address)", c.SMTPHost)
	}
	return nil
}

// isLoopback reports whether host is on this machine, where a password
// in clear crosses no network.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Message is one plain-text email to one person.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Sender delivers messages. Send returns once the relay accepted the
// message (smtp) or it was logged (log).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// New returns the Sender the configuration names.
func New(c Config, log *slog.Logger) (Sender, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	switch c.Driver {
	case "smtp":
		s := &smtpSender{
			from:     c.From,
			host:     c.SMTPHost,
			addr:     net.JoinHostPort(c.SMTPHost, strconv.Itoa(c.SMTPPort)),
			username: c.SMTPUsername,
			password: c.SMTPPassword,
			mode:     c.tlsMode(),
		}
		// A username turns auto into required, verified STARTTLS: the
		// password goes only to the relay the certificate names.
		if s.mode == TLSAuto && s.username != "" {
			s.mode = TLSStartTLS
		}
		if c.SMTPTLSCAFile != "" {
			roots, err := readCAFile(c.SMTPTLSCAFile)
			if err != nil {
				return nil, err
			}
			s.roots = roots
		}
		return s, nil
	default:
		return &logSender{from: c.From, log: log}, nil
	}
}

// logSender writes messages to the log. It is for a laptop or a first
// try (make run): the reset link appears in the server's output. The
// body is logged whole because it is the point of the driver; it never
// holds a password, only single-use links.
type logSender struct {
	from string
	log  *slog.Logger
}

func (s *logSender) Send(ctx context.Context, m Message) error {
	if err := checkHeaders(m); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "mail (driver log, not sent)", "from", s.from, "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}

// readCAFile reads the PEM CAs of mail.smtp_tls_ca_file.
func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mail.smtp_tls_ca_file: reading %q: %w", path, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("mail.smtp_tls_ca_file: %q holds no PEM certificate", path)
	}
	return roots, nil
}

// smtpSender hands messages to a relay with net/smtp, protected and
// logged in to as the configuration says (see the TLS constants).
type smtpSender struct {
	from     string
	host     string // the name the certificate must carry
	addr     string
	username string
	password string
	mode     string         // auto (only without a username), starttls, tls, none
	roots    *x509.CertPool // nil: the system's
}

// sendTimeout bounds one delivery, so a dead relay cannot pile up
// goroutines behind the portal's requests.
const sendTimeout = 30 * time.Second

func (s *smtpSender) Send(ctx context.Context, m Message) error {
	if err := checkHeaders(m); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := s.secure(c); err != nil {
		return err
	}
	if err := s.login(c); err != nil {
		return err
	}
	if err := c.Mail(s.from); err != nil {
		return fmt.Errorf("mail: MAIL FROM at %s: %w", s.addr, err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail: RCPT TO at %s: %w", s.addr, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA at %s: %w", s.addr, err)
	}
	if _, err := w.Write(format(s.from, m, time.Now())); err != nil {
		return fmt.Errorf("mail: writing message to %s: %w", s.addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: message refused by %s: %w", s.addr, err)
	}
	return c.Quit()
}

// checkHeaders refuses line breaks in header values: an address or a
// subject must not be able to add headers (or recipients).
func checkHeaders(m Message) error {
	if _, err := mail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("mail: recipient %q is not an email address", m.To)
	}
	if strings.ContainsAny(m.To+m.Subject, "\r\n") {
		return errors.New("mail: line break in a header")
	}
	return nil
}

// format builds an RFC 5322 message with CRLF line ends.
func format(from string, m Message, now time.Time) []byte {
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	body := strings.ReplaceAll(m.Body, "\r\n", "\n")
	for line := range strings.Lines(body) {
		line = strings.TrimSuffix(line, "\n")
		b.WriteString(line + "\r\n")
	}
	return []byte(b.String())
}

// dial connects to the relay (in TLS from the first byte for mode tls)
// and reads its greeting, all within ctx's deadline.
func (s *smtpSender) dial(ctx context.Context) (*smtp.Client, error) {
	var conn net.Conn
	var err error
	if s.mode == TLSImplicit {
		d := tls.Dialer{Config: s.verifiedTLS()}
		conn, err = d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, fmt.Errorf("mail: connecting with TLS to %s: %w%s", s.addr, err, s.certHint(err))
		}
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, fmt.Errorf("mail: connecting to %s: %w", s.addr, err)
		}
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	// NewClient sees a *tls.Conn and counts the connection as encrypted,
	// which PlainAuth requires.
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mail: greeting from %s: %w", s.addr, err)
	}
	return c, nil
}

// secure runs STARTTLS as the mode asks.
func (s *smtpSender) secure(c *smtp.Client) error {
	switch s.mode {
	case TLSImplicit, TLSNone:
		return nil
	}
	offered, _ := c.Extension("STARTTLS")
	if s.mode == TLSAuto {
		if !offered {
			return nil
		}
		if err := c.StartTLS(opportunisticTLS(s.host)); err != nil {
			return fmt.Errorf("mail: STARTTLS with %s: %w", s.addr, err)
		}
		return nil
	}
	if !offered {
		return fmt.Errorf("mail: %s does not offer STARTTLS, which is required (mail.smtp_tls starttls, or auto with mail.smtp_username set)", s.addr)
	}
	if err := c.StartTLS(s.verifiedTLS()); err != nil {
		return fmt.Errorf("mail: STARTTLS with %s: %w%s", s.addr, err, s.certHint(err))
	}
	return nil
}

// login authenticates with AUTH PLAIN when a username is set. smtp.PlainAuth
// itself refuses an unencrypted connection to anything but localhost.
func (s *smtpSender) login(c *smtp.Client) error {
	if s.username == "" {
		return nil
	}
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return fmt.Errorf("mail: %s does not offer AUTH, but mail.smtp_username is set", s.addr)
	}
	if !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
		return fmt.Errorf("mail: %s does not offer AUTH PLAIN (only %s)", s.addr, mechs)
	}
	if err := c.Auth(smtp.PlainAuth("", s.username, s.password, s.host)); err != nil {
		return fmt.Errorf("mail: logging in to %s as %q: %w", s.addr, s.username, redact(err, s.password))
	}
	return nil
}

// redact keeps the password out of an error whose text came from the
// relay or from net/smtp, should either ever echo it.
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "[password]"))
}

// certHint points at mail.smtp_tls_ca_file when the relay's certificate
// did not verify, the usual cause being a private CA.
func (s *smtpSender) certHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return " (the relay's certificate is not signed by a trusted CA: set mail.smtp_tls_ca_file for a private CA)"
	case errors.As(err, &hostname):
		return fmt.Sprintf(" (the relay's certificate is not for %s: set mail.smtp_host to a name it carries)", s.host)
	case errors.As(err, &invalid):
		return " (the relay's certificate is invalid, e.g. expired)"
	}
	return ""
}

// verifiedTLS checks the relay's certificate against the name in
// mail.smtp_host.
func (s *smtpSender) verifiedTLS() *tls.Config {
	return &tls.Config{ServerName: s.host, RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

// opportunisticTLS is for auto without a username: encryption against
// passive reading without a certificate check, which a loopback or LAN
// relay could not pass (RFC 7435). Delivery does not depend on it.
func opportunisticTLS(host string) *tls.Config {
	return &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // opportunistic, see above
}
