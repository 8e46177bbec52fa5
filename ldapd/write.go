package ldapd

import (
	"context"
	"fmt"
	"strings"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// Add, Modify, Delete, ModifyDN and Compare (RFC 4511 §4.6 - §4.10). Add
// and Modify go through the policy door, which owns every credential
// attribute and the rule that only the administrator writes, except a
// user's own password.

func (c *conn) handleAdd(ctx context.Context, req *Request, op *AddRequest) {
	dn, err := store.ParseDN(op.DN)
	if err != nil {
		c.reply(req, err)
		return
	}
	e := &store.Entry{DN: dn}
	for _, a := range op.Attributes {
		e.Attrs = append(e.Attrs, store.Attr{Type: a.Type, Values: a.Values})
	}
	bound, _, _ := c.identity()
	err = c.s.door.Add(ctx, bound, e)
	c.audit("add", dn, err)
	c.reply(req, err)
}

func (c *conn) handleModify(ctx context.Context, req *Request, op *ModifyRequest) {
	dn, err := store.ParseDN(op.DN)
	if err != nil {
		c.reply(req, err)
		return
	}
	mods := make([]store.Mod, len(op.Changes))
	for i, ch := range op.Changes {
		mods[i] = store.Mod{Op: store.ModOp(ch.Op), Type: ch.Type, Values: ch.Values}
	}
	bound, _, must := c.identity()
	if bound == nil {
		c.reply(req, fmt.Errorf("%w: anonymous users may not modify entries", policy.ErrInsufficientAccess))
		return
	}
	err = c.s.door.Modify(ctx, bound, dn, mods)
	if err == nil && must && dn.Equal(bound) {
		c.setIdentity(bound, false, false)
	}
	c.audit("modify", dn, err)
	c.reply(req, err)
}

func (c *conn) handleDelete(ctx context.Context, req *Request, op *DelRequest) {
	dn, err := store.ParseDN(op.DN)
	if err == nil {
		err = c.requireAdmin("delete entries")
	}
	if err == nil {
		bound, _, _ := c.identity()
		err = c.s.dir.Update(ctx, func(tx *store.Txn) error { return tx.Delete(dn, bound.String()) })
	}
	c.audit("delete", dn, err)
	c.reply(req, err)
}

func (c *conn) handleModifyDN(ctx context.Context, req *Request, op *ModifyDNRequest) {
	dn, err := store.ParseDN(op.DN)
	var newRDN store.DN
	var sup store.DN
	if err == nil {
		err = c.requireAdmin("rename entries")
	}
	if err == nil {
		newRDN, err = store.ParseDN(op.NewRDN)
		if err == nil && len(newRDN) != 1 {
			err = fmt.Errorf("%w: newrdn must be one RDN", store.ErrInvalidDN)
		}
	}
	if err == nil && op.HasSuperior {
		sup, err = store.ParseDN(op.NewSuperior)
	}
	if err == nil {
		bound, _, _ := c.identity()
		err = c.s.dir.Update(ctx, func(tx *store.Txn) error {
			_, err := tx.Rename(dn, newRDN[0], op.DeleteOldRDN, sup, bound.String())
			return err
		})
	}
	c.audit("modrdn", dn, err)
	c.reply(req, err)
}

func (c *conn) handleCompare(ctx context.Context, req *Request, op *CompareRequest) {
	resp := &Response{MessageID: req.MessageID, AppTag: AppCompareResponse}
	bound, admin, _ := c.identity()
	at := store.LookupAttr(op.Type)
	switch {
	case bound == nil && !c.s.cfg.AnonymousRead:
		resp.Result = Result{Code: resultInsufficientAccess, Diagnostic: "anonymous compare is disabled (ldap.anonymous_read)"}
	case at.Class == store.Secret:
		// A compare of userPassword is a password check without lockout
		// or audit: refuse it outright (draft-behera §8.1 trap).
		resp.Result = Result{Code: resultInsufficientAccess, Diagnostic: at.Name + " cannot be compared"}
	case at.Class == store.PolicyState && !admin:
		resp.Result = Result{Code: resultInsufficientAccess, Diagnostic: at.Name + " is readable by the administrator only"}
	}
	if resp.Result.Code != 0 {
		c.write(resp)
		return
	}
	dn, err := store.ParseDN(op.DN)
	var e *store.Entry
	if err == nil {
		e, err = c.s.dir.Get(ctx, dn)
	}
	if err != nil {
		c.reply(req, err)
		return
	}
	var vals []string
	if strings.EqualFold(at.Name, "memberOf") {
		vals, err = c.s.dir.MemberOf(ctx, e)
		if err != nil {
			c.reply(req, err)
			return
		}
	} else {
		vals = e.Get(at.Name)
	}
	if len(vals) == 0 {
		resp.Result = Result{Code: resultNoSuchAttribute}
		c.write(resp)
		return
	}
	ok, _ := c.s.dir.Match(ctx, e, store.Filter{Kind: store.FilterEquality, Attr: op.Type, Value: op.Value}, admin)
	resp.Result.Code = resultCompareFalse
	if ok {
		resp.Result.Code = resultCompareTrue
	}
	c.write(resp)
}

func (c *conn) requireAdmin(what string) error {
	if _, admin, _ := c.identity(); !admin {
		return fmt.Errorf("%w: only the administrator may %s", policy.ErrInsufficientAccess, what)
	}
	return nil
}

// audit logs one line per change, never with a value.
func (c *conn) audit(op string, dn store.DN, err error) {
	bound, _, _ := c.identity()
	if err != nil {
		c.s.log.Info("ldap "+op, "conn", c.id, "by", bound.String(), "dn", dn.String(), "err", err)
		return
	}
	c.s.log.Info("ldap "+op, "conn", c.id, "by", bound.String(), "dn", dn.String(), "result", "success")
}
