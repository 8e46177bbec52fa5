package ldapd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dird/dird/store"
)

// handleSearch answers a SearchRequest (RFC 4511 §4.5) with the paged
// results control (RFC 2696).
func (c *conn) handleSearch(ctx context.Context, req *Request, op *SearchRequest) {
	done := &Response{MessageID: req.MessageID, AppTag: AppSearchDone}
	base, err := store.ParseDN(op.BaseDN)
	if err != nil {
		done.Result = Result{Code: resultInvalidDNSyntax, Diagnostic: "invalid DN"}
		c.write(done)
		return
	}
	if len(base) == 0 && op.Scope == ScopeBase {
		n := c.searchRootDSE(req, op)
		c.s.log.Debug("ldap search", "conn", c.id, "msgid", req.MessageID, "base", "", "scope", "base",
			"filter", loggableFilter(op.Filter).String(), "plan", "rootDSE", "entries", n, "attrs", strings.Join(op.Attributes, " "))
		return
	}
	bound, admin, _ := c.identity()
	if bound == nil && !c.s.cfg.AnonymousRead {
		done.Result = Result{Code: resultInsufficientAccess, Diagnostic: "anonymous search is disabled (ldap.anonymous_read)"}
		c.write(done)
		return
	}
	if len(base) == 0 && op.Scope != ScopeBase {
		// Searching from the root: the only naming context is ours.
		base = c.s.dir.Base()
		if op.Scope == ScopeOne {
			op.Scope = ScopeBase
		}
	}
	var pageSize int
	var cookie []byte
	paged := false
	if ctl, ok := requestControl(req, oidPagedResults); ok {
		pageSize, cookie, err = decodePagedResults(ctl.Value)
		if err != nil {
			done.Result = Result{Code: resultProtocolError, Diagnostic: "paged results control value is malformed"}
			c.write(done)
			return
		}
		paged = true
		if pageSize == 0 {
			// RFC 2696 §3: size zero abandons the paged search.
			done.Controls = []Control{{OID: oidPagedResults, Value: encodePagedResults(0, nil), HasValue: true}}
			c.write(done)
			return
		}
	}
	if op.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(op.TimeLimit)*time.Second)
		defer cancel()
	}
	sel := newSelection(op.Attributes, admin)
	plan := ""
	sreq := store.SearchRequest{Base: base, Scope: op.Scope, Filter: op.Filter, SizeLimit: op.SizeLimit, After: string(cookie), Admin: admin,
		Plan: func(p string) { plan = p }}
	sent := 0
	defer func() {
		// One line per search, so an administrator can see what a client
		// such as SSSD asks and whether an index answered it.
		c.s.log.Debug("ldap search", "conn", c.id, "msgid", req.MessageID, "base", base.String(), "scope", scopeName(op.Scope),
			"filter", loggableFilter(op.Filter).String(), "plan", plan, "entries", sent, "paged", paged, "result", done.Result.Code)
	}()
	last := ""
	var buf []byte
	errPage := errors.New("page full")
	err = c.s.dir.Search(ctx, sreq, func(e *store.Entry) error {
		if paged && sent >= pageSize {
			return errPage
		}
		attrs, err := c.entryAttributes(ctx, e, sel)
		if err != nil {
			return err
		}
		buf = encodeResponse(buf[:0], &Response{MessageID: req.MessageID, AppTag: AppSearchEntry,
			EntryDN: e.DN.String(), Attributes: attrs, TypesOnly: op.TypesOnly})
		if err := c.writeBuffered(buf); err != nil {
			return err
		}
		sent++
		last = e.Key()
		return nil
	})
	if paged {
		next := []byte(nil)
		if errors.Is(err, errPage) {
			next = []byte(last)
			err = nil
		}
		done.Controls = []Control{{OID: oidPagedResults, Value: encodePagedResults(0, next), HasValue: true}}
	}
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		done.Result = Result{Code: resultTimeLimitExceeded}
	case errors.Is(err, context.Canceled):
		return // abandoned: no response (RFC 4511 §4.11)
	case errors.Is(err, store.ErrNoSuchObject):
		done.Result = Result{Code: resultNoSuchObject, MatchedDN: c.matchedDN(ctx, base)}
	default:
		res, _ := resultFor(err)
		done.Result = res
		if res.Code == resultOther {
			c.s.log.Error("ldap search failed", "conn", c.id, "msgid", req.MessageID, "err", err)
		}
	}
	c.write(done)
}

// scopeName is the scope as ldapsearch -s spells it.
func scopeName(scope int) string {
	switch scope {
	case ScopeBase:
		return "base"
	case ScopeOne:
		return "one"
	case ScopeSubtree:
		return "sub"
	case ScopeChildren:
		return "children"
	}
	return fmt.Sprint(scope)
}

// loggableFilter is f with the values asserted on secret attributes
// (userPassword, ...) replaced, since a filter can carry a guessed
// password and the log must never hold one.
func loggableFilter(f store.Filter) store.Filter {
	if len(f.Children) > 0 {
		kids := make([]store.Filter, len(f.Children))
		for i, k := range f.Children {
			kids[i] = loggableFilter(k)
		}
		f.Children = kids
		return f
	}
	if f.Attr != "" && store.LookupAttr(f.Attr).Class == store.Secret {
		f.Value, f.Initial, f.Final, f.Any = "", "", "", nil
		if f.Kind == store.FilterSubstrings {
			f.Any = []string{"redacted"}
		} else {
			f.Value = "redacted"
		}
	}
	return f
}

// matchedDN is the deepest existing ancestor of dn (RFC 4511 §4.1.9).
func (c *conn) matchedDN(ctx context.Context, dn store.DN) string {
	for p := dn.Parent(); len(p) > 0; p = p.Parent() {
		if _, err := c.s.dir.Get(ctx, p); err == nil {
			return p.String()
		}
	}
	return ""
}

// selection is the attribute list of a search, resolved once.
type selection struct {
	allUser, allOper, none bool
	named                  map[string]bool // canonical lower-case names
	admin                  bool
}

func newSelection(list []string, admin bool) selection {
	s := selection{named: map[string]bool{}, admin: admin}
	if len(list) == 0 {
		s.allUser = true
	}
	for _, a := range list {
		switch a {
		case "*":
			s.allUser = true
		case "+":
			s.allOper = true
		case "1.1":
			s.none = len(list) == 1
		default:
			s.named[store.LookupAttr(a).Lower()] = true
		}
	}
	return s
}

// wants reports whether the attribute is selected and visible.
func (s selection) wants(at *store.AttrType) bool {
	if s.none || at.Class == store.Secret || (at.Class == store.PolicyState && !s.admin) {
		return false
	}
	if s.named[at.Lower()] {
		return true
	}
	if at.Operational {
		return s.allOper
	}
	return s.allUser
}

// computed attributes are added when selected.
var computedAttrs = []string{"memberOf", "hasSubordinates", "entryDN", "subschemaSubentry"}

func (c *conn) entryAttributes(ctx context.Context, e *store.Entry, sel selection) ([]Attribute, error) {
	if sel.none {
		return nil, nil
	}
	size := len(e.Attrs) + 2
	if !sel.allUser && !sel.allOper {
		size = len(sel.named)
	}
	out := make([]Attribute, 0, size)
	for _, a := range e.Attrs {
		if sel.wants(store.LookupAttr(a.Type)) {
			out = append(out, Attribute{Type: a.Type, Values: a.Values})
		}
	}
	for _, name := range computedAttrs {
		at := store.LookupAttr(name)
		if !sel.wants(at) {
			continue
		}
		var vals []string
		switch name {
		case "memberOf":
			m, err := c.s.dir.MemberOf(ctx, e)
			if err != nil {
				return nil, err
			}
			vals = m
		case "hasSubordinates":
			vals = []string{"FALSE"}
			if e.HasChildren() {
				vals[0] = "TRUE"
			}
		case "entryDN":
			vals = []string{e.DN.String()}
		case "subschemaSubentry":
			vals = []string{"cn=Subschema"}
		}
		if len(vals) > 0 {
			out = append(out, Attribute{Type: at.Name, Values: vals})
		}
	}
	return out, nil
}

// searchRootDSE answers the base search of "" (RFC 4512 §5.1), readable
// anonymously so clients can discover what the server supports.
func (c *conn) searchRootDSE(req *Request, op *SearchRequest) (entries int) {
	root := &store.Entry{}
	root.Set("objectClass", "top", "OpenLDAProotDSE")
	root.Set("namingContexts", c.s.dir.Base().String())
	root.Set("supportedLDAPVersion", "3")
	root.Set("supportedExtension", oidPasswordModify, oidWhoAmI)
	if c.s.tls != nil {
		root.Set("supportedExtension", oidStartTLS, oidPasswordModify, oidWhoAmI)
	}
	root.Set("supportedControl", oidPagedResults, oidPasswordPolicy, oidManageDsaIT)
	root.Set("supportedFeatures", oidFeatureAllOpAttrs, oidFeatureAbsoluteTF)
	root.Set("supportedSASLMechanisms")
	root.Set("subschemaSubentry", "cn=Subschema")
	root.Set("vendorName", "dird")
	ok, err := c.s.dir.Match(context.Background(), root, op.Filter, false)
	done := &Response{MessageID: req.MessageID, AppTag: AppSearchDone}
	if err == nil && ok {
		sel := newSelection(op.Attributes, false)
		var attrs []Attribute
		for _, a := range root.Attrs {
			// RootDSE attributes are operational (RFC 4512 §5.1) but
			// clients that ask for "*" expect them, as OpenLDAP gives
			// objectClass; named or "+" selects them.
			at := store.LookupAttr(a.Type)
			if sel.none {
				break
			}
			if sel.allOper || sel.named[at.Lower()] || (sel.allUser && a.Type == "objectClass") || (sel.allUser && len(op.Attributes) == 0) {
				attrs = append(attrs, Attribute{Type: a.Type, Values: a.Values})
			}
		}
		c.write(&Response{MessageID: req.MessageID, AppTag: AppSearchEntry, Attributes: attrs, TypesOnly: op.TypesOnly})
		entries = 1
	}
	c.write(done)
	return entries
}
