package mail

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
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
