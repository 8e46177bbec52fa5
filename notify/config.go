package notify

import (
	"errors"
	"fmt"
	"time"
)

// Config is the notify section of the configuration.
type Config struct {
	// ExpiryNotice lists how long before a password expires the user is
	// emailed, once each; an empty list sends none.
	ExpiryNotice []time.Duration `mapstructure:"expiry_notice"`
	// Interval is how often the notifier looks for due notices; 0 turns
	// the notifier off.
	Interval time.Duration `mapstructure:"interval"`
}

// Validate checks the section without touching the file system.
func (c Config) Validate() error {
	seen := map[time.Duration]int{}
	for i, d := range c.ExpiryNotice {
		if d <= 0 {
			return fmt.Errorf("notify.expiry_notice[%d]: must be positive, e.g. 7d", i)
		}
		if j, dup := seen[d]; dup {
			return fmt.Errorf("notify.expiry_notice[%d]: %s is already notify.expiry_notice[%d]", i, d, j)
		}
		seen[d] = i
	}
	switch {
	case c.Interval < 0:
		return errors.New("notify.interval: must not be negative")
	case c.Interval > 0 && c.Interval < time.Second:
		return fmt.Errorf("notify.interval: %s is below 1s; use e.g. 1h, or 0 for off", c.Interval)
	}
	return nil
}
