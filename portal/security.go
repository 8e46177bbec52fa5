package portal

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/dird/dird/policy"
)

func (s *Server) securityView(r *http.Request, u *user) view {
	v := view{Title: "Security", User: u.status, Rules: ruleList(s.door.Summary()), Expired: u.expired(s.now())}
	if u.status.Warn {
		v.Warning = timeLeft(s.now(), u.status.ExpiresAt)
	}
	sessions, err := s.door.Sessions(r.Context(), u.sess.DN, s.sessionID(r), s.limits)
	if err != nil {
		s.log.Warn("listing a user's sessions", "user", u.status.UID, "err", err)
	}
	v.Sessions = sessions
	return v
}

func (s *Server) getSecurity(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	v := s.securityView(r, u)
	if r.URL.Query().Get("done") == "sessions" {
		v.Notice = "Your other sessions have been logged out."
	}
	s.render(w, r, http.StatusOK, "security", v)
}

// postEndSessions logs out every other session of the user.
func (s *Server) postEndSessions(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	n, err := s.door.EndOtherSessions(r.Context(), u.sess.DN, s.sessionID(r))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.audit(r, "end_other_sessions", u.status.UID, "ok", "count", n)
	http.Redirect(w, r, "/security?done=sessions", http.StatusSeeOther)
}

// postPassword is the change in Security: Current, New, Confirm. Every
// rule the new password breaks is named. On success every other session
// of the user has ended (the password stamp moved) and this one is
// re-issued with a new id.
func (s *Server) postPassword(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	cur, pw, confirm := formValue(r, "current"), formValue(r, "new"), formValue(r, "confirm")
	v := s.securityView(r, u)
	who := u.status.UID
	fail := func(status int, msg string, problems []string) {
		v.Error, v.Problems = msg, problems
		s.render(w, r, status, "security", v)
	}
	if pw != confirm {
		s.audit(r, "password_change", who, "confirmation_mismatch")
		fail(http.StatusBadRequest, "The new password and its confirmation differ.", nil)
		return
	}
	_, err := s.door.ChangePassword(r.Context(), policy.Change{
		Actor: u.sess.DN, Old: []byte(cur), HasOld: true, New: []byte(pw), HasNew: true, Front: policy.FrontPortal, Client: clientAddr(r),
	})
	if q, ok := policy.ErrIsQuality(err); ok {
		s.audit(r, "password_change", who, "policy", "rule", q.Rule)
		fail(http.StatusBadRequest, "The new password does not meet the rules:", s.problems(r, u, pw, q))
		return
	}
	switch {
	case errors.Is(err, policy.ErrOldPasswordWrong):
		s.audit(r, "password_change", who, "wrong_current_password")
		fail(http.StatusUnauthorized, "Your current password is not right.", nil)
		return
	case errors.Is(err, policy.ErrAccountExpired), errors.Is(err, policy.ErrAccountLocked):
		s.audit(r, "password_change", who, "locked")
		s.clearSession(w)
		s.render(w, r, http.StatusForbidden, "message", view{Title: "Account locked", Locked: true, NoReset: true, Message: "Your account is locked. Contact your administrator."})
		return
	case errors.Is(err, policy.ErrBusy):
		fail(http.StatusServiceUnavailable, "The server is busy. Try again in a moment.", nil)
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	// Every session ended with the change; this browser gets a new one.
	s.door.EndSession(r.Context(), s.sessionID(r))
	id, err := s.door.StartSession(r.Context(), u.sess.DN, s.sessionStart(r, false))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setSession(w, id)
	s.queueChangedMail(u.status.Account, "in the portal's Security settings")
	http.Redirect(w, r, "/?done=password", http.StatusSeeOther)
}

// problems lists every rule pw breaks, starting from the one the door
// reported (which may be history, which the list does not check).
func (s *Server) problems(r *http.Request, u *user, pw string, first *policy.QualityError) []string {
	out := []string{first.Message}
	for _, q := range s.door.PasswordProblems(r.Context(), u.sess.DN, pw) {
		if q.Rule != first.Rule {
			out = append(out, q.Message)
		}
	}
	return out
}

func (s *Server) postMFABegin(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	// Re-authentication before a change to the second factor (ASVS 5.0
	// 7.5.1): a session left open must not be enough to replace it. A
	// wrong password counts toward the lockout like any other.
	out, err := s.door.Authenticate(r.Context(), policy.Login{Front: policy.FrontPortal, Client: clientAddr(r), DN: u.sess.DN, Secret: []byte(formValue(r, "password"))})
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if out.Result != policy.OK {
		s.audit(r, "mfa_enrol", u.status.UID, "wrong_password")
		if out.Result != policy.InvalidCredentials {
			s.clearSession(w)
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		v := s.securityView(r, u)
		v.MFAError = "Your password is not right."
		s.render(w, r, http.StatusUnauthorized, "security", v)
		return
	}
	enr, err := s.door.BeginTOTP(r.Context(), u.sess.DN, s.issuer, u.status.UID)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.audit(r, "mfa_enrol", u.status.UID, "started")
	s.renderEnroll(w, r, u, enr, http.StatusOK, "")
}

func (s *Server) renderEnroll(w http.ResponseWriter, r *http.Request, u *user, enr policy.TOTPEnrollment, status int, msg string) {
	png, err := qrcode.Encode(enr.URI, qrcode.Medium, 256)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, status, "mfa-enroll", view{
		Title: "Set up an authenticator app", User: u.status, Error: msg, Secret: enr.Secret,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
	})
}

func (s *Server) postMFAConfirm(w http.ResponseWriter, r *http.Request) {
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	codes, err := s.door.ConfirmTOTP(r.Context(), u.sess.DN, formValue(r, "code"))
	switch {
	case errors.Is(err, policy.ErrTOTPNotEnrolling):
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return
	case errors.Is(err, policy.ErrTOTPWrong), errors.Is(err, policy.ErrTOTPThrottled):
		s.audit(r, "mfa_enrol", u.status.UID, "wrong_code")
		enr, ok, perr := s.door.PendingTOTP(r.Context(), u.sess.DN, s.issuer, u.status.UID)
		if perr != nil || !ok {
			http.Redirect(w, r, "/security", http.StatusSeeOther)
			return
		}
		msg := "That code is not right. Check the time on your phone and enter the code the app shows now."
		if errors.Is(err, policy.ErrTOTPThrottled) {
			msg = "Too many wrong codes. Wait a minute and try again."
		}
		s.renderEnroll(w, r, u, enr, http.StatusBadRequest, msg)
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	s.audit(r, "mfa_enrol", u.status.UID, "ok")
	s.queueMFAMail(u.status.Account)
	st, err := s.door.Status(r.Context(), u.sess.DN)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "mfa-codes", view{Title: "Recovery codes", User: st, Codes: codes})
}
