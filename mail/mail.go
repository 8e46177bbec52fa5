package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
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
	return nil
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
		return &smtpSender{from: c.From, addr: net.JoinHostPort(c.SMTPHost, strconv.Itoa(c.SMTPPort))}, nil
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

// smtpSender hands messages to a relay with net/smtp: STARTTLS when the
// relay offers it, no authentication (a local relay, as for cron mail).
type smtpSender struct {
	from string
	addr string
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
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("mail: connecting to %s: %w", s.addr, err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	host, _, _ := net.SplitHostPort(s.addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: greeting from %s: %w", s.addr, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		// Opportunistic, as MTAs do between themselves; a relay on
		// loopback usually has no certificate for its name.
		if err := c.StartTLS(tlsConfig(host)); err != nil {
			return fmt.Errorf("mail: STARTTLS with %s: %w", s.addr, err)
		}
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

// tlsConfig is for opportunistic STARTTLS: encryption against passive
// reading without a certificate check, which a loopback or LAN relay
// could not pass (RFC 7435). Delivery does not depend on it.
func tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // opportunistic, see above
}
