package ldapd

import (
	"context"
	"fmt"

	"github.com/dird/dird/store"
)

// handle runs every operation except Bind, Unbind, Abandon and StartTLS,
// which the read loop handles itself.
func (c *conn) handle(ctx context.Context, req *Request) {
	c.s.observeOp(req.Op)
	if c.unsupportedCritical(req) {
		return
	}
	if c.restricted(req) {
		return
	}
	switch op := req.Op.(type) {
	case *SearchRequest:
		c.handleSearch(ctx, req, op)
	case *AddRequest:
		c.handleAdd(ctx, req, op)
	case *ModifyRequest:
		c.handleModify(ctx, req, op)
	case *DelRequest:
		c.handleDelete(ctx, req, op)
	case *ModifyDNRequest:
		c.handleModifyDN(ctx, req, op)
	case *CompareRequest:
		c.handleCompare(ctx, req, op)
	case *ExtendedRequest:
		c.handleExtended(ctx, req, op)
	default:
		panic(fmt.Sprintf("ldapd: unexpected operation %T", op))
	}
}

// restricted enforces pwdReset: until the user changes the password, the
// connection may only bind, unbind, abandon, StartTLS and change the
// password (ppolicy.c ppolicy_restrict). A base search of one's own entry
// stays allowed, since nslcd reads it after every bind.
func (c *conn) restricted(req *Request) bool {
	dn, _, must := c.identity()
	if !must {
		return false
	}
	switch op := req.Op.(type) {
	case *ExtendedRequest:
		if op.Name == oidPasswordModify || op.Name == oidWhoAmI {
			return false
		}
	case *SearchRequest:
		if op.Scope == ScopeBase {
			if base, err := store.ParseDN(op.BaseDN); err == nil && (len(base) == 0 || base.Equal(dn)) {
				return false
			}
		}
	case *ModifyRequest:
		if target, err := store.ParseDN(op.DN); err == nil && target.Equal(dn) {
			onlyPW := true
			for _, ch := range op.Changes {
				onlyPW = onlyPW && store.LookupAttr(ch.Type).Name == "userPassword"
			}
			if onlyPW {
				return false
			}
		}
	}
	resp := &Response{MessageID: req.MessageID, AppTag: responseTagOf(req.Op),
		Result: Result{Code: resultInsufficientAccess, Diagnostic: "Operations are restricted to bind/unbind/abandon/StartTLS/modify password"}}
	if _, ok := requestControl(req, oidPasswordPolicy); ok {
		resp.Controls = []Control{{OID: oidPasswordPolicy, Value: encodePPolicyResponse(ppWarning{}, ppChangeAfterReset), HasValue: true}}
	}
	c.write(resp)
	return true
}

// reply writes an LDAPResult-shaped response for err (nil: success).
func (c *conn) reply(req *Request, err error) {
	resp := &Response{MessageID: req.MessageID, AppTag: responseTagOf(req.Op)}
	if err != nil {
		var pp int
		resp.Result, pp = resultFor(err)
		if resp.Result.Code == resultOther {
			c.s.log.Error("ldap operation failed", "conn", c.id, "msgid", req.MessageID, "op", fmt.Sprintf("%T", req.Op), "err", err)
			resp.Result.Diagnostic = fmt.Sprintf("internal error (conn %d op %d)", c.id, req.MessageID)
		}
		if _, ok := requestControl(req, oidPasswordPolicy); ok && pp != ppNoError {
			resp.Controls = []Control{{OID: oidPasswordPolicy, Value: encodePPolicyResponse(ppWarning{}, pp), HasValue: true}}
		}
	}
	c.write(resp)
}
