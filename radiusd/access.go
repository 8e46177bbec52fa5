package radiusd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/microsoft"

	"github.com/dird/dird/policy"
)

// Reply-Messages (RFC 2865 §5.18) a person sees on a VPN client or in a
// captive sign-in screen. Locked and expired are only said when the
// password was right: policy answers InvalidCredentials otherwise.
const (
	msgWrong         = "Wrong user name or password"
	msgLocked        = "Your account is locked; contact your administrator"
	msgExpired       = "Your password has expired; change it in the portal or contact your administrator"
	msgMustChange    = "Your password was set by an administrator; change it in the portal"
	msgNoMSCHAPv2    = "MS-CHAPv2 is not available on this server; use PAP"
	msgNoMSCHAPv1    = "MS-CHAP version 1 is not accepted; use MS-CHAPv2 or PAP"
	msgNoMethod      = "This authentication method is not available on this server; use PAP"
	msgInternalError = "Internal error (id %d); try again later"
)

// access answers an Access-Request. The method is chosen by the
// credential attribute the request carries.
func (s *Server) access(ctx context.Context, r *request) reply {
	p := r.pkt
	user := rfc2865.UserName_GetString(p)
	logArgs := []any{"req", r.id, "client", r.client.name, "user", user}
	switch {
	case hasAttr(p, rfc2869.EAPMessage_Type):
		return s.eap(ctx, r, logArgs)
	case hasVendorAttr(p, microsoft.MSCHAP2Response_Lookup):
		return s.mschapv2(ctx, r, user, logArgs)
	case hasVendorAttr(p, microsoft.MSCHAPResponse_Lookup):
		// MS-CHAPv1 (RFC 2433) rests on the LM hash or a DES of the NT
		// hash with no mutual authentication; FreeRADIUS still accepts
		// it, dird does not. radtest -t mschap sends it.
		s.log.Warn("radius access rejected: MS-CHAP version 1 (MS-CHAP-Response) is refused as too weak; configure the client for MS-CHAPv2 or PAP", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgNoMSCHAPv1}
	case hasAttr(p, rfc2865.CHAPPassword_Type):
		s.log.Warn("radius access rejected: CHAP needs the cleartext password, which dird does not keep; use PAP", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgNoMethod}
	case hasAttr(p, rfc2865.UserPassword_Type):
		return s.pap(ctx, r, user, logArgs)
	}
	s.log.Warn("radius access rejected: no User-Password, MS-CHAP2-Response or EAP-Message", logArgs...)
	return reply{code: radius.CodeAccessReject, message: msgWrong}
}

// pap checks a User-Password (RFC 2865 §5.2) through the policy door.
func (s *Server) pap(ctx context.Context, r *request, user string, logArgs []any) reply {
	logArgs = append(logArgs, "method", "pap")
	// RFC 2865 §5.2: 16 to 128 bytes, NUL padded to a multiple of 16;
	// radius.UserPassword refuses other lengths and cuts at the first NUL.
	pw, err := radius.UserPassword(r.pkt.Get(rfc2865.UserPassword_Type), r.client.secret, r.pkt.Authenticator[:])
	if err != nil {
		s.log.Warn("radius access rejected: User-Password cannot be decoded", append(logArgs, "err", err.Error())...)
		return reply{code: radius.CodeAccessReject, message: msgWrong}
	}
	defer clear(pw)
	if user == "" {
		s.log.Warn("radius access rejected: no User-Name", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgWrong}
	}
	if st, ok := r.pkt.Lookup(rfc2865.State_Type); ok {
		// The answer to an Access-Challenge: User-Password is the code
		// (papcode.go).
		return s.papCode(ctx, r, user, string(st), pw, logArgs)
	}
	out, err := s.door.Authenticate(ctx, policy.Login{Front: policy.FrontRADIUS, Name: user, Secret: pw, Client: r.client.name + " " + r.src.String()})
	if err != nil {
		return s.failure(r, err, logArgs)
	}
	s.log.Info("radius access", append(logArgs, "result", out.Result.String())...)
	rep := outcomeReply(out)
	if out.Result != policy.OK {
		return rep
	}
	// Groups first, so that a user this client refuses is not asked for
	// a code (which would use one up for nothing).
	authz, ok := s.authorizeGroups(ctx, r.client, out, logArgs...)
	if !ok {
		return reply{code: radius.CodeAccessReject, message: msgNoDialIn}
	}
	rep.attrs = append(rep.attrs, authz...)
	if out.DN != nil && !out.Admin {
		hasTOTP, err := s.door.HasTOTP(ctx, out.DN)
		if err != nil {
			return s.failure(r, fmt.Errorf("reading whether the account has an authenticator app: %w", err), logArgs)
		}
		if hasTOTP {
			return s.papChallenge(ctx, r, user, out, rep, logArgs)
		}
	}
	return rep
}

// outcomeReply maps a policy outcome onto RADIUS for PAP and plain
// MS-CHAPv2: accepted with a warning when there is one to give, rejected
// with words a person understands.
func outcomeReply(out policy.Outcome) reply {
	switch out.Result {
	case policy.OK:
		r := reply{code: radius.CodeAccessAccept}
		switch {
		case out.MustChange:
			// The LDAP front lets such a bind succeed, restricted to
			// changing the password; on a network there is nothing to
			// restrict, and refusing would keep the user off the
			// network the portal is reached through. So: accept, and
			// say it.
			r.message = msgMustChange
		case out.GraceRemaining >= 0:
			r.message = fmt.Sprintf("Your password has expired; %s left: change it in the portal now",
				plural(out.GraceRemaining, "grace login"))
		case out.ExpiresIn > 0:
			r.message = expiresMessage(out.ExpiresIn)
		}
		return r
	case policy.Locked:
		return reply{code: radius.CodeAccessReject, message: msgLocked}
	case policy.Expired:
		return reply{code: radius.CodeAccessReject, message: msgExpired}
	}
	return reply{code: radius.CodeAccessReject, message: msgWrong}
}

// expiresMessage says how long a password has left: in days, rounded to
// the nearest (4 days 23 hours reads "5 days"), and in hours, rounded up,
// on its last day.
func expiresMessage(d time.Duration) string {
	if d < 24*time.Hour {
		return "Your password expires in " + plural(int(math.Ceil(d.Hours())), "hour")
	}
	return "Your password expires in " + plural(int(math.Round(d.Hours()/24)), "day")
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// failure is radiusd's one mapping of an error onto RADIUS. Busy (the
// hashing queue is full) and shutting down get no reply, so the access
// point retries, perhaps with another server; anything else is an
// Access-Reject whose Reply-Message carries the id logged with the error.
func (s *Server) failure(r *request, err error, logArgs []any) reply {
	logArgs = append(logArgs, "err", err.Error())
	switch {
	case errors.Is(err, policy.ErrBusy):
		s.log.Warn("radius request not answered: too many authentications in progress; the client will retry", logArgs...)
		return reply{silent: true}
	case errors.Is(err, context.Canceled) && s.ctx.Err() != nil:
		s.log.Warn("radius request not answered: shutting down", logArgs...)
		return reply{silent: true}
	}
	s.log.Error("radius access failed", logArgs...)
	return reply{code: radius.CodeAccessReject, message: fmt.Sprintf(msgInternalError, r.id)}
}

// replyAttrs is the reply's attributes but Message-Authenticator and
// Proxy-State, which encodeReply adds.
func (s *Server) replyAttrs(out reply) radius.Attributes {
	var attrs radius.Attributes
	if out.message != "" {
		attrs = append(attrs, &radius.AVP{Type: rfc2865.ReplyMessage_Type, Attribute: radius.Attribute(out.message)})
	}
	return append(attrs, out.attrs...)
}

func hasAttr(p *radius.Packet, t radius.Type) bool {
	_, ok := p.Lookup(t)
	return ok
}

// hasVendorAttr reports whether lookup (a layeh vendor dictionary
// function) finds its attribute in p, well-formed or not.
func hasVendorAttr(p *radius.Packet, lookup func(*radius.Packet) ([]byte, error)) bool {
	_, err := lookup(p)
	return !errors.Is(err, radius.ErrNoAttribute)
}
