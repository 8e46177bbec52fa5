package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dird/dird/config"
)

// reloads re-reads the configuration file at each SIGHUP (systemctl
// reload) and delivers it to server.Run, which applies what can change
// without a restart. A file that does not load is logged and not
// delivered: the server keeps running as it was.
func reloads(ctx context.Context, path string, log *slog.Logger) <-chan config.Config {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	out := make(chan config.Config)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			log.Info("SIGHUP: reloading the configuration", "config", path)
			cfg, err := config.Load(path)
			if err != nil {
				log.Error("reload failed: keeping the running configuration", "config", path, "err", err)
				continue
			}
			select {
			case out <- cfg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
