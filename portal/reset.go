package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dird/dird/mail"
	"github.com/dird/dird/policy"
)

func (s *Server) getResetRequest(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "reset-request", view{Title: "Reset User Password"})
}

// postResetRequest answers the same, at once, whether or not an account
// matches: the lookup, the token and the mail happen on the mail worker,
// so neither the page nor its timing says anything about the address.
func (s *Server) postResetRequest(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(formValue(r, "email"))
	if email == "" {
		s.render(w, r, http.StatusBadRequest, "reset-request", view{Title: "Reset User Password", Error: "Enter the email address of your account."})
		return
	}
	if !s.resetIP.allow(clientAddr(r)) {
		s.audit(r, "reset_request", "", "rate_limited")
		s.render(w, r, http.StatusTooManyRequests, "reset-request", view{Title: "Reset User Password",
			Error: "Too many reset requests from your network. Wait a few minutes and try again."})
		return
	}
	select {
	case s.jobs <- job{kind: jobReset, who: email, client: clientAddr(r)}:
	default:
		s.log.Warn("portal mail queue full, reset request dropped")
	}
	s.render(w, r, http.StatusOK, "reset-sent", view{Title: "Check your email"})
}

// issueReset is the worker's half of a reset request.
func (s *Server) issueReset(ctx context.Context, j job) {
	acct, err := s.door.FindAccount(ctx, j.who)
	if errors.Is(err, policy.ErrNoSuchAccount) {
		s.auditClient(ctx, j.client, "reset_request", "", "no_such_account")
		return
	}
	if err != nil {
		s.log.Error("looking up a reset request", "err", err)
		return
	}
	if !s.resetAccount.allow(acct.DN.Norm()) {
		s.auditClient(ctx, j.client, "reset_request", acct.UID, "rate_limited")
		return
	}
	token, err := s.door.IssueResetToken(ctx, acct.DN, s.cfg.ResetTTL)
	if err != nil {
		s.log.Error("issuing a reset link", "user", acct.UID, "err", err)
		return
	}
	link := strings.TrimSuffix(s.cfg.PublicURL, "/") + "/reset/" + token
	s.auditClient(ctx, j.client, "reset_request", acct.UID, "link_sent")
	s.send(ctx, mail.Message{
		To:      acct.Mail,
		Subject: "Reset your password",
		Body: "Hello " + acct.Name + ",\n\n" +
			"Someone (we hope you) asked to reset the password of your account " + acct.UID + ".\n" +
			"To choose a new password, open this link within " + minutes(s.cfg.ResetTTL) + ":\n\n" +
			link + "\n\n" +
			"If you did not ask for this, ignore this message: your password stays as it is.\n",
	})
}

func minutes(d time.Duration) string {
	if h := int(d / time.Hour); d%time.Hour == 0 && h >= 1 {
		if h == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", h)
	}
	if n := int(d / time.Minute); n != 1 {
		return fmt.Sprintf("%d minutes", n)
	}
	return "1 minute"
}

func (s *Server) resetView(t *policy.ResetTicket) view {
	return view{Title: "Reset Password", Rules: ruleList(s.door.Summary()), Username: t.UID}
}

// getReset opens the emailed link. It only looks: mail scanners fetch
// links, so a GET never uses the token up.
func (s *Server) getReset(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	t, ok := s.ticket(w, r, token)
	if !ok {
		return
	}
	v := s.resetView(t)
	v.Token = token
	if t.Staged && t.NeedsTOTP {
		v.Title = "Authentication code"
		s.render(w, r, http.StatusOK, "reset-code", v)
		return
	}
	s.render(w, r, http.StatusOK, "reset", v)
}

// ticket checks the token and renders the page for a dead or blocked one.
func (s *Server) ticket(w http.ResponseWriter, r *http.Request, token string) (*policy.ResetTicket, bool) {
	t, err := s.door.CheckResetToken(r.Context(), token)
	if errors.Is(err, policy.ErrResetTokenInvalid) {
		s.render(w, r, http.StatusNotFound, "message", view{Title: "Link not valid",
			Message: "This reset link is not valid any more: it was used, it expired, a newer one was sent, or the password changed since. Ask for a new one."})
		return nil, false
	}
	if err != nil {
		s.internalError(w, r, err)
		return nil, false
	}
	if t.Blocked != nil {
		s.audit(r, "reset", t.UID, "blocked")
		s.render(w, r, http.StatusForbidden, "message", view{Title: "Contact your administrator", Locked: true, NoReset: true, Message: blockedMessage(t.Blocked)})
		return nil, false
	}
	return t, true
}

func blockedMessage(err error) string {
	if errors.Is(err, policy.ErrAccountExpired) {
		return "Your password has expired and your account is locked. It cannot be reset from here: contact your administrator to restore it."
	}
	return "Your account has been locked by an administrator. It cannot be reset from here: contact your administrator."
}

func (s *Server) postReset(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	t, ok := s.ticket(w, r, token)
	if !ok {
		return
	}
	pw, confirm := formValue(r, "new"), formValue(r, "confirm")
	v := s.resetView(t)
	v.Token = token
	if pw != confirm {
		v.Error = "The new password and its confirmation differ."
		s.render(w, r, http.StatusBadRequest, "reset", v)
		return
	}
	s.finishReset(w, r, t, token, []byte(pw), "")
}

func (s *Server) postResetCode(w http.ResponseWriter, r *http.Request) {
	token := chi.URLParam(r, "token")
	t, ok := s.ticket(w, r, token)
	if !ok {
		return
	}
	s.finishReset(w, r, t, token, nil, formValue(r, "code"))
}

func (s *Server) finishReset(w http.ResponseWriter, r *http.Request, t *policy.ResetTicket, token string, pw []byte, code string) {
	v := s.resetView(t)
	v.Token = token
	acct, err := s.door.ResetPassword(r.Context(), policy.Reset{Token: token, New: pw, Code: code, Front: policy.FrontPortal, Client: clientAddr(r)})
	if q, ok := policy.ErrIsQuality(err); ok {
		s.audit(r, "reset", t.UID, "policy", "rule", q.Rule)
		v.Error = "The new password does not meet the rules:"
		v.Problems = []string{q.Message}
		for _, p := range s.door.PasswordProblems(r.Context(), t.DN, string(pw)) {
			if p.Rule != q.Rule {
				v.Problems = append(v.Problems, p.Message)
			}
		}
		s.render(w, r, http.StatusBadRequest, "reset", v)
		return
	}
	switch {
	case errors.Is(err, policy.ErrTOTPRequired):
		v.Title = "Authentication code"
		s.render(w, r, http.StatusOK, "reset-code", v)
		return
	case errors.Is(err, policy.ErrTOTPUnreadable):
		s.audit(r, "reset", t.UID, "unreadable_secret")
		s.render(w, r, http.StatusForbidden, "message", view{Title: "Authenticator unavailable", Locked: true, NoReset: true, Message: msgTOTPUnreadable})
		return
	case errors.Is(err, policy.ErrTOTPWrong), errors.Is(err, policy.ErrTOTPThrottled):
		s.audit(r, "reset", t.UID, "wrong_code")
		v.Title = "Authentication code"
		v.Error = "That code is not right. Enter the current code from your authenticator app, or a recovery code."
		if errors.Is(err, policy.ErrTOTPThrottled) {
			v.Error = "Too many wrong codes. Wait a minute and try again."
		}
		s.render(w, r, http.StatusUnauthorized, "reset-code", v)
		return
	case errors.Is(err, policy.ErrResetNoPassword):
		http.Redirect(w, r, "/reset/"+token, http.StatusSeeOther)
		return
	case errors.Is(err, policy.ErrResetTokenInvalid), errors.Is(err, policy.ErrAccountExpired), errors.Is(err, policy.ErrAccountLocked):
		s.ticket(w, r, token)
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	s.queueChangedMail(*acct, "with a reset link")
	s.clearSession(w)
	s.render(w, r, http.StatusOK, "message", view{Title: "Password reset",
		Message: "Your password has been reset. Every session you had has ended; log in with the new password."})
}
