package metrics

import (
	"fmt"
	"net"
	"strconv"
)

// Config is the metrics section of the configuration.
type Config struct {
	// Listen serves Prometheus /metrics, /healthz and /readyz; empty
	// turns them off. Bind it to loopback or a management network: the
	// counters tell how busy the server is, and nothing authenticates a
	// scraper.
	Listen string `mapstructure:"listen"`
}

// Validate checks the section without touching the network.
func (c Config) Validate() error {
	if c.Listen == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("metrics.listen: %q is not host:port, e.g. 127.0.0.1:9100", c.Listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("metrics.listen: %q has no port number from 0 to 65535", c.Listen)
	}
	return nil
}
