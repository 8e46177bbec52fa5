package portal

import (
	"context"
	"time"

	"github.com/dird/dird/mail"
	"github.com/dird/dird/policy"
)

// job is work for the mail worker.
type job struct {
	kind   int
	who    string // jobReset: what the visitor typed
	client string
	msg    mail.Message // jobMail
}

const (
	jobReset = iota
	jobMail
)

// mailWorker does the mail work off the request: reset requests (lookup,
// token, mail) and "your password was changed" notes. A failed send is
// logged and retried a few times; the person never sees it.
func (s *Server) mailWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			if n := len(s.jobs); n > 0 {
				s.log.Warn("portal stopped with mail still queued", "count", n)
			}
			return
		case j := <-s.jobs:
			switch j.kind {
			case jobReset:
				s.issueReset(ctx, j)
			case jobMail:
				s.send(ctx, j.msg)
			}
		}
	}
}

func (s *Server) send(ctx context.Context, m mail.Message) {
	for attempt := 1; ; attempt++ {
		err := s.mail.Send(ctx, m)
		if err == nil {
			return
		}
		if attempt >= mailAttempts || ctx.Err() != nil {
			s.log.Error("sending mail failed, giving up", "to", m.To, "subject", m.Subject, "attempts", attempt, "err", err)
			return
		}
		s.log.Warn("sending mail failed, will retry", "to", m.To, "subject", m.Subject, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(mailRetryPause * time.Duration(attempt)):
		}
	}
}

// queueMFAMail tells the person an authenticator app was set up, so one
// added by someone else with an open session does not go unnoticed.
func (s *Server) queueMFAMail(a policy.Account) {
	if a.Mail == "" {
		return
	}
	s.queue(mail.Message{
		To:      a.Mail,
		Subject: "An authenticator app was set up",
		Body: "Hello " + a.Name + ",\n\n" +
			"An authenticator app was set up for your account " + a.UID + " at " +
			s.now().UTC().Format("2 January 2006, 15:04 UTC") + ". From now on the portal asks for its code.\n\n" +
			"If you did not do this, contact your administrator at once.\n",
	})
}

func (s *Server) queue(m mail.Message) {
	select {
	case s.jobs <- job{kind: jobMail, msg: m}:
	default:
		s.log.Warn("portal mail queue full, message dropped", "to", m.To, "subject", m.Subject)
	}
}

// queueChangedMail tells the person their password changed (no secret in
// it), so a change they did not make does not go unnoticed.
func (s *Server) queueChangedMail(a policy.Account, how string) {
	if a.Mail == "" {
		return
	}
	m := mail.Message{
		To:      a.Mail,
		Subject: "Your password was changed",
		Body: "Hello " + a.Name + ",\n\n" +
			"The password of your account " + a.UID + " was changed " + how + " at " +
			s.now().UTC().Format("2 January 2006, 15:04 UTC") + ".\n" +
			"Every session signed in with the old password has ended.\n\n" +
			"If you did not do this, contact your administrator at once.\n",
	}
	s.queue(m)
}

// MFARemovedLetter tells the person an administrator removed their
// authenticator app (dird mfa-reset), so that a removal they did not ask
// for does not go unnoticed. The server sends it; it lives here with the
// portal's other letters so they read alike.
func MFARemovedLetter(a policy.Account, at time.Time) mail.Message {
	return mail.Message{
		To:      a.Mail,
		Subject: "Your authenticator app was removed",
		Body: "Hello " + a.Name + ",\n\n" +
			"An administrator removed the authenticator app and the recovery codes of your account " + a.UID + " at " +
			at.UTC().Format("2 January 2006, 15:04 UTC") + ". The portal no longer asks for a code when you log in.\n" +
			"Set up an authenticator app again in Security after you log in.\n\n" +
			"If you did not ask for this, contact your administrator at once.\n",
	}
}
