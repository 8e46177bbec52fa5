package portal

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Listen: "127.0.0.1:8080", PublicURL: "https://id.example.com", ResetTTL: 10 * time.Minute, SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour}
	if err := good.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		key  string
	}{
		{"listen without a port", func(c *Config) { c.Listen = "localhost" }, "portal.listen"},
		{"listen port out of range", func(c *Config) { c.Listen = "127.0.0.1:70000" }, "portal.listen"},
		{"public_url not a URL", func(c *Config) { c.PublicURL = "id.example.com" }, "portal.public_url"},
		{"public_url with a query", func(c *Config) { c.PublicURL = "https://id.example.com/?x=1" }, "portal.public_url"},
		{"reset_ttl zero", func(c *Config) { c.ResetTTL = 0 }, "portal.reset_ttl"},
		{"reset_ttl over a day", func(c *Config) { c.ResetTTL = 25 * time.Hour }, "portal.reset_ttl"},
		{"session_idle zero", func(c *Config) { c.SessionIdle = 0 }, "portal.session_idle"},
		{"session_max zero", func(c *Config) { c.SessionMax = 0 }, "portal.session_max"},
		{"idle longer than max", func(c *Config) { c.SessionIdle = 13 * time.Hour }, "portal.session_idle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.key+":") {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.key)
			}
		})
	}
	off := good
	off.Listen = ""
	if err := off.Validate(); err != nil {
		t.Fatalf("portal off: %v", err)
	}
}

func TestTimeLeftAndAge(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{7 * 24 * time.Hour, "7 days"},
		{47 * time.Hour, "1 day"},
		{23*time.Hour + time.Minute, "24 hours"},
		{2 * time.Hour, "2 hours"},
		{30 * time.Minute, "less than an hour"},
	} {
		if got := timeLeft(now, now.Add(tt.d)); got != tt.want {
			t.Errorf("timeLeft(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := passwordAge(now, now.Add(-36*time.Hour)); got != "1 day old" {
		t.Errorf("passwordAge = %q", got)
	}
	if got := minutes(10 * time.Minute); got != "10 minutes" {
		t.Errorf("minutes = %q", got)
	}
	if got := minutes(2 * time.Hour); got != "2 hours" {
		t.Errorf("minutes = %q", got)
	}
}
