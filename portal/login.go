package portal

import (
	"errors"
	"net/http"
	"strings"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// getRoot is the login page for a visitor and the home page after login.
func (s *Server) getRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	sess, err := s.session(r, false)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if sess == nil {
		if pending, _ := s.session(r, true); pending != nil {
			http.Redirect(w, r, "/login/code", http.StatusSeeOther)
			return
		}
		s.render(w, r, http.StatusOK, "login", view{Title: "Log in"})
		return
	}
	u := s.requireUser(w, r)
	if u == nil {
		return
	}
	if u.status.MustChange || u.expired(s.now()) {
		// A must-change or (with grace logins) expired password: the
		// change comes before anything else.
		http.Redirect(w, r, "/security", http.StatusSeeOther)
		return
	}
	v := view{Title: "Home", User: u.status}
	if u.status.Warn {
		v.Warning = timeLeft(s.now(), u.status.ExpiresAt)
	}
	switch r.URL.Query().Get("done") {
	case "password":
		v.Notice = "Your password was changed. Use the new one everywhere from now on."
	case "mfa":
		v.Notice = "Your authenticator app is set up."
	}
	s.render(w, r, http.StatusOK, "home", v)
}

func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	name, pw := formValue(r, "username"), formValue(r, "password")
	if !s.loginIP.allow(clientAddr(r)) {
		s.audit(r, "login", name, "rate_limited")
		s.render(w, r, http.StatusTooManyRequests, "login", view{Title: "Log in", Username: name,
			Error: "Too many login attempts from your network. Wait a minute and try again."})
		return
	}
	// A new login ends whatever session the browser had (no fixation).
	if old := s.sessionID(r); old != "" {
		if err := s.door.EndSession(r.Context(), old); err != nil {
			s.internalError(w, r, err)
			return
		}
	}
	// The door writes the audit line of the password check (with the
	// client address); the portal adds only what the door cannot see.
	out, err := s.door.Authenticate(r.Context(), policy.Login{Front: policy.FrontPortal, Client: clientAddr(r), Name: name, Secret: []byte(pw)})
	if err != nil {
		if errors.Is(err, policy.ErrBusy) {
			s.render(w, r, http.StatusServiceUnavailable, "login", view{Title: "Log in", Username: name, Error: "The server is busy. Try again in a moment."})
			return
		}
		s.internalError(w, r, err)
		return
	}
	switch {
	case out.Result == policy.Locked:
		s.render(w, r, http.StatusForbidden, "message", view{Title: "Account locked", Locked: true,
			Message: "Your account is locked. If you mistyped your password several times, wait and try again later, or reset your password. Otherwise contact your administrator."})
		return
	case out.Result == policy.Expired:
		s.render(w, r, http.StatusForbidden, "message", view{Title: "Password expired", Locked: true, NoReset: true,
			Message: "Your password has expired and your account is locked. Contact your administrator to restore it."})
		return
	case out.Result != policy.OK || out.Admin || out.DN == nil:
		s.clearSession(w)
		s.render(w, r, http.StatusUnauthorized, "login", view{Title: "Log in", Username: name, Error: "The username or password is incorrect."})
		return
	}
	hasTOTP, err := s.door.HasTOTP(r.Context(), out.DN)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	id, err := s.door.StartSession(r.Context(), out.DN, s.sessionStart(r, hasTOTP))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setSession(w, id)
	if hasTOTP {
		s.audit(r, "login", name, "password_ok_code_required")
		http.Redirect(w, r, "/login/code", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) getLoginCode(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r, true)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if sess == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login-code", view{Title: "Authentication code"})
}

func (s *Server) postLoginCode(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r, true)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if sess == nil {
		s.clearSession(w)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	name := uidOf(sess.DN)
	err = s.door.VerifyTOTP(r.Context(), sess.DN, formValue(r, "code"))
	switch {
	case errors.Is(err, policy.ErrTOTPThrottled):
		s.audit(r, "login_code", name, "throttled")
		s.render(w, r, http.StatusTooManyRequests, "login-code", view{Title: "Authentication code", Error: "Too many wrong codes. Wait a minute and try again."})
		return
	case errors.Is(err, policy.ErrTOTPUnreadable):
		s.audit(r, "login_code", name, "unreadable_secret")
		s.render(w, r, http.StatusForbidden, "message", view{Title: "Authenticator unavailable", Locked: true, NoReset: true, Message: msgTOTPUnreadable})
		return
	case errors.Is(err, policy.ErrTOTPWrong), errors.Is(err, policy.ErrTOTPRequired):
		s.audit(r, "login_code", name, "wrong_code")
		s.render(w, r, http.StatusUnauthorized, "login-code", view{Title: "Authentication code", Error: "That code is not right. Enter the current code from your authenticator app, or a recovery code."})
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	// The half-way session is replaced by a full one with a new id.
	if err := s.door.EndSession(r.Context(), s.sessionID(r)); err != nil {
		s.internalError(w, r, err)
		return
	}
	id, err := s.door.StartSession(r.Context(), sess.DN, s.sessionStart(r, false))
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.setSession(w, id)
	s.audit(r, "login_code", name, "ok")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) postLogout(w http.ResponseWriter, r *http.Request) {
	if id := s.sessionID(r); id != "" {
		sess, _ := s.door.CheckSession(r.Context(), id, s.limits)
		if err := s.door.EndSession(r.Context(), id); err != nil {
			s.internalError(w, r, err)
			return
		}
		if sess != nil {
			s.audit(r, "logout", uidOf(sess.DN), "ok")
		}
	}
	s.clearSession(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// uidOf is the login name in a DN's first RDN (uid=alice,...), or the DN.
func uidOf(dn store.DN) string {
	if len(dn) > 0 && len(dn[0]) == 1 && strings.EqualFold(dn[0][0].Type, "uid") {
		return dn[0][0].Value
	}
	return dn.String()
}

const msgTOTPUnreadable = "Your authenticator app cannot be checked: the server's key changed or your account was renamed since you set it up. Contact your administrator."
