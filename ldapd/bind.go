package ldapd

import (
	"context"
	"errors"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// handleBind answers a BindRequest (RFC 4511 §4.2, RFC 4513 §5) through
// the policy door, with the password policy control (draft-behera §8.1)
// when the client asked for it.
func (c *conn) handleBind(ctx context.Context, req *Request, op *BindRequest) {
	resp := &Response{MessageID: req.MessageID, AppTag: AppBindResponse}
	_, wantPP := requestControl(req, oidPasswordPolicy)
	warn, ppErr := ppWarning{}, ppNoError
	defer func() {
		if wantPP {
			resp.Controls = append(resp.Controls, Control{OID: oidPasswordPolicy, Value: encodePPolicyResponse(warn, ppErr), HasValue: true})
		}
		c.write(resp)
	}()
	// Any bind attempt, successful or not, first drops the old identity
	// (RFC 4513 §5.1: a failed bind leaves the connection anonymous).
	c.setIdentity(nil, false, false)
	switch {
	case op.Version != 3:
		resp.Result = Result{Code: resultProtocolError, Diagnostic: "requested protocol version not allowed"}
		return
	case !op.Simple:
		resp.Result = Result{Code: resultAuthMethodNotSupported, Diagnostic: "SASL mechanism not supported"}
		return
	case op.Name == "" && len(op.Password) == 0:
		return // anonymous bind
	case op.Name != "" && len(op.Password) == 0:
		resp.Result = Result{Code: resultUnwillingToPerform, Diagnostic: "unauthenticated bind (DN with no password) disallowed"}
		return
	case op.Name == "":
		resp.Result = Result{Code: resultInvalidCredentials}
		return
	}
	dn, err := store.ParseDN(op.Name)
	if err != nil {
		resp.Result = Result{Code: resultInvalidDNSyntax, Diagnostic: "invalid DN"}
		return
	}
	out, err := c.s.door.Authenticate(ctx, policy.Login{Front: policy.FrontLDAP, DN: dn, Secret: op.Password, Client: c.nc.RemoteAddr().String()})
	if err != nil {
		if errors.Is(err, policy.ErrBusy) {
			resp.Result = Result{Code: resultBusy, Diagnostic: "too many authentications in progress, try again"}
		} else {
			c.s.log.Error("ldap bind failed", "conn", c.id, "msgid", req.MessageID, "err", err)
			resp.Result = Result{Code: resultOther, Diagnostic: "internal error"}
		}
		return
	}
	c.s.log.Info("ldap bind", "conn", c.id, "dn", dn.String(), "result", out.Result.String())
	switch out.Result {
	case policy.OK:
		// A grace login, like an administrator's reset, only lets the
		// user change the password on this connection (ppolicy.c
		// restricts both).
		c.setIdentity(out.DN, out.Admin, out.MustChange || out.GraceRemaining >= 0)
		switch {
		case out.MustChange:
			ppErr = ppChangeAfterReset
		case out.GraceRemaining >= 0:
			warn = ppWarning{Kind: ppWarnGrace, Value: out.GraceRemaining}
		case out.ExpiresIn > 0:
			warn = ppWarning{Kind: ppWarnExpire, Value: int(out.ExpiresIn.Seconds())}
		}
	case policy.Locked:
		resp.Result = Result{Code: resultInvalidCredentials}
		ppErr = ppAccountLocked
	case policy.Expired:
		resp.Result = Result{Code: resultInvalidCredentials}
		ppErr = ppPasswordExpired
		c.mu.Lock()
		c.expired = out.DN
		c.mu.Unlock()
	default:
		resp.Result = Result{Code: resultInvalidCredentials}
	}
}

func (c *conn) setIdentity(dn store.DN, admin, mustChange bool) {
	c.mu.Lock()
	c.bound, c.admin, c.mustChange, c.expired = dn, admin, mustChange, nil
	c.mu.Unlock()
}
