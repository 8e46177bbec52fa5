package portal

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// Config is the portal section of the configuration.
type Config struct {
	// Listen is the HTTP address; empty turns the portal off.
	Listen string `mapstructure:"listen"`
	// PublicURL is the base of links in emails, and says whether the
	// portal is reached over https (cookies are then Secure). It is never
	// taken from a request's Host header, which an attacker chooses.
	PublicURL string `mapstructure:"public_url"`
	// ResetTTL is how long an emailed reset link works.
	ResetTTL time.Duration `mapstructure:"reset_ttl"`
	// SessionIdle ends a session not used for this long (NIST AAL2: 30m).
	SessionIdle time.Duration `mapstructure:"session_idle"`
	// SessionMax ends a session this long after login (NIST AAL2: 12h).
	SessionMax time.Duration `mapstructure:"session_max"`
}

// maxResetTTL bounds reset links: a link is as good as the password it
// lets a reader set, and mailboxes are kept for years.
const maxResetTTL = 24 * time.Hour

// Validate checks the section without touching the file system.
func (c Config) Validate() error {
	if c.Listen != "" {
		_, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("portal.listen: %q is not host:port, e.g. 127.0.0.1:8080", c.Listen)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("portal.listen: %q has no port number from 0 to 65535", c.Listen)
		}
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("portal.public_url: %q is not an http:// or https:// URL, e.g. https://id.example.com", c.PublicURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("portal.public_url: %q must have no user, query or fragment", c.PublicURL)
	}
	switch {
	case c.ResetTTL <= 0:
		return errors.New("portal.reset_ttl: must be positive, e.g. 10m")
	case c.ResetTTL > maxResetTTL:
		return fmt.Errorf("portal.reset_ttl: %s is longer than the 24h allowed", c.ResetTTL)
	case c.SessionIdle <= 0:
		return errors.New("portal.session_idle: must be positive, e.g. 30m")
	case c.SessionMax <= 0:
		return errors.New("portal.session_max: must be positive, e.g. 12h")
	case c.SessionIdle > c.SessionMax:
		return fmt.Errorf("portal.session_idle: %s is longer than portal.session_max %s", c.SessionIdle, c.SessionMax)
	}
	return nil
}
