package portal

import (
	"errors"
	"net/http"
	"time"

	"github.com/dird/dird/policy"
)

// sessionID returns the cookie's session id, or "".
func (s *Server) sessionID(r *http.Request) string {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// session returns the request's valid session, or nil. A pending MFA
// session is only returned when allowPending.
func (s *Server) session(r *http.Request, allowPending bool) (*policy.Session, error) {
	sess, err := s.door.CheckSession(r.Context(), s.sessionID(r), s.limits)
	if errors.Is(err, policy.ErrNoSession) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if sess.MFAPending {
		if !allowPending || s.now().Sub(sess.Created) > mfaPendingMax {
			return nil, nil
		}
	} else if allowPending {
		return nil, nil
	}
	return sess, nil
}

// setSession sends the session cookie: HttpOnly, SameSite=Lax (a link
// from a mail or another site to the portal still shows the person
// logged in, but no other site can post with it), Secure with the
// __Host- prefix over https, no Domain, Path=/.
func (s *Server) setSession(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: id, Path: "/",
		MaxAge:   int(s.cfg.SessionMax.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// user is the logged-in person behind a request, with the account status
// every logged-in page shows; nil when the request has no full session.
type user struct {
	sess   *policy.Session
	status *policy.AccountStatus
}

// requireUser returns the request's user, or redirects to the login page
// and returns nil.
func (s *Server) requireUser(w http.ResponseWriter, r *http.Request) *user {
	sess, err := s.session(r, false)
	if err != nil {
		s.internalError(w, r, err)
		return nil
	}
	if sess == nil {
		if pending, _ := s.session(r, true); pending != nil {
			// Half-way through a login: the code is still to come.
			http.Redirect(w, r, "/login/code", http.StatusSeeOther)
			return nil
		}
		s.clearSession(w)
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	st, err := s.door.Status(r.Context(), sess.DN)
	if err != nil {
		s.internalError(w, r, err)
		return nil
	}
	return &user{sess: sess, status: st}
}

// expired reports whether the user's password has expired (reachable
// only with grace logins, lock_on_expiry off).
func (u *user) expired(now time.Time) bool {
	return !u.status.ExpiresAt.IsZero() && !now.Before(u.status.ExpiresAt)
}

// sessionStart describes a session about to begin for request r.
func (s *Server) sessionStart(r *http.Request, mfaPending bool) policy.SessionStart {
	return policy.SessionStart{MFAPending: mfaPending, Client: clientAddr(r), Agent: r.UserAgent()}
}
