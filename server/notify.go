package server

import (
	"context"
	"fmt"
	"time"

	"github.com/dird/dird/mail"
	"github.com/dird/dird/notify"
)

// startNotifier starts the password expiry notifier (notify.interval 0:
// off) in the server's wait group; Shutdown stops it through
// s.stopNotify. now is the clock its decisions read (nil: time.Now).
func (s *Server) startNotifier(now func() time.Time) error {
	s.stopNotify = func() {}
	if s.cfg.Notify.Interval <= 0 {
		return nil
	}
	sender, err := mail.New(s.cfg.Mail, s.log.With("component", "mail"))
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	sender = s.observeMail(sender) // dird_mails_total
	n := notify.New(s.cfg.Notify, s.dir, s.door, sender, notify.Options{
		PublicURL: s.cfg.Portal.PublicURL,
		Now:       now,
		Log:       s.log.With("component", "notify"),
	})
	ctx, cancel := context.WithCancel(context.Background())
	s.stopNotify = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		n.Run(ctx)
	}()
	return nil
}
