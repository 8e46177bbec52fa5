package ldapd

import (
	"context"
	"errors"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// handleExtended answers Password Modify (RFC 3062) and WhoAmI (RFC 4532);
// StartTLS is handled by the read loop, anything else is protocolError as
// slapd answers it.
func (c *conn) handleExtended(ctx context.Context, req *Request, op *ExtendedRequest) {
	switch op.Name {
	case oidWhoAmI:
		bound, _, _ := c.identity()
		authz := ""
		if bound != nil {
			authz = "dn:" + bound.String()
		}
		c.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse,
			ResponseValue: []byte(authz), HasResponseValue: true})
	case oidPasswordModify:
		c.passwordModify(ctx, req, op)
	default:
		c.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse,
			Result: Result{Code: resultProtocolError, Diagnostic: "unsupported extended operation"}})
	}
}

// passwordModify follows slapd's passwd.c in codes and texts, so that
// ldappasswd, SSSD and nslcd read what they expect.
func (c *conn) passwordModify(ctx context.Context, req *Request, op *ExtendedRequest) {
	resp := &Response{MessageID: req.MessageID, AppTag: AppExtendedResponse}
	pp := ppNoError
	defer func() {
		if _, ok := requestControl(req, oidPasswordPolicy); ok && resp.Result.Code != resultSuccess && pp != ppNoError {
			resp.Controls = []Control{{OID: oidPasswordPolicy, Value: encodePPolicyResponse(ppWarning{}, pp), HasValue: true}}
		}
		c.write(resp)
	}()
	bound, _, must := c.identity()
	c.mu.Lock()
	expired := c.expired
	c.mu.Unlock()
	if bound == nil && expired == nil {
		resp.Result = Result{Code: resultStrongAuthRequired, Diagnostic: "only authenticated users may change passwords"}
		return
	}
	var id, oldPW, newPW []byte
	var hasID, hasOld, hasNew bool
	if op.HasValue {
		if len(op.Value) == 0 {
			resp.Result = Result{Code: resultProtocolError, Diagnostic: "empty request data field"}
			return
		}
		var err error
		id, oldPW, newPW, hasID, hasOld, hasNew, err = decodePasswdModify(op.Value)
		if err != nil {
			resp.Result = Result{Code: resultProtocolError, Diagnostic: "data decoding error"}
			return
		}
	}
	switch {
	case hasOld && len(oldPW) == 0:
		resp.Result = Result{Code: resultUnwillingToPerform, Diagnostic: "old password value is empty"}
		return
	case hasNew && len(newPW) == 0:
		resp.Result = Result{Code: resultUnwillingToPerform, Diagnostic: "new password value is empty"}
		return
	}
	target := bound
	if hasID {
		dn, err := store.ParseDN(string(id))
		if err != nil || len(dn) == 0 {
			resp.Result = Result{Code: resultInvalidDNSyntax, Diagnostic: "Invalid DN"}
			return
		}
		target = dn
	}
	if bound == nil {
		// After a bind that proved an expired password: only that
		// user's own change, with the old password again.
		if target != nil && !target.Equal(expired) || !hasOld || !hasNew {
			resp.Result = Result{Code: resultStrongAuthRequired, Diagnostic: "only authenticated users may change passwords"}
			return
		}
		bound, target = expired, expired
	}
	gen, err := c.s.door.ChangePassword(ctx, policy.Change{
		Actor: bound, Target: target, Old: oldPW, HasOld: hasOld, New: newPW, HasNew: hasNew, Front: policy.FrontLDAP,
		Client: c.nc.RemoteAddr().String(),
	})
	c.audit("password modify", target, err)
	if err != nil {
		resp.Result, pp = resultFor(err)
		if errors.Is(err, policy.ErrMustSupplyOld) {
			resp.Result.Diagnostic = "old password required to change your own password"
		}
		if resp.Result.Code == resultOther {
			c.s.log.Error("ldap password modify failed", "conn", c.id, "msgid", req.MessageID, "err", err)
		}
		return
	}
	switch {
	case expired != nil && target.Equal(expired):
		// Changed: the user binds again with the new password.
		c.mu.Lock()
		c.expired = nil
		c.mu.Unlock()
	case must && target.Equal(bound):
		c.setIdentity(bound, false, false)
	}
	if gen != nil {
		resp.ResponseValue = encodePasswdModifyResponse(gen)
		resp.HasResponseValue = true
	}
}
