package store

import (
	"slices"
	"strings"
)

// Change is one committed write, for the audit trail: who made it, to
// which entry, the operation, and the names (never the values) of the
// attributes it wrote.
type Change struct {
	// Actor is the DN that asked for the write; "" for the entries the
	// server creates itself at first start.
	Actor string
	// Op is add, modify, delete or modrdn.
	Op string
	DN DN
	// NewDN is where modrdn moved the entry.
	NewDN DN
	// Attrs are the attributes added, changed or removed, by name,
	// sorted; the bookkeeping ones (modifyTimestamp, modifiersName) are
	// left out.
	Attrs []string
}

// record notes a write for Options.OnChange. Quiet writes (bind-state
// bookkeeping) are not changes anyone made and are left out.
func (t *Txn) record(actor, op string, dn DN, old, e *Entry) {
	if t.d.onChange == nil || actor == Quiet {
		return
	}
	c := Change{Actor: actor, Op: op, DN: dn, Attrs: changedAttrs(old, e)}
	if op == "modrdn" && e != nil {
		c.NewDN = e.DN
	}
	t.changes = append(t.changes, c)
}

// reportChanges hands a committed transaction's writes to OnChange.
func (d *Directory) reportChanges(changes []Change) {
	if d.onChange == nil {
		return
	}
	for _, c := range changes {
		d.onChange(c)
	}
}

// changedAttrs lists the attribute names whose values differ between old
// and e (either may be nil).
func changedAttrs(old, e *Entry) []string {
	seen := map[string]bool{}
	var names []string
	consider := func(x, y *Entry) {
		if x == nil {
			return
		}
		for _, a := range x.Attrs {
			name := LookupAttr(a.Type).Name
			key := strings.ToLower(name)
			if seen[key] || key == "modifytimestamp" || key == "modifiersname" {
				continue
			}
			seen[key] = true
			var other []string
			if y != nil {
				other = y.Get(a.Type)
			}
			if !slices.Equal(a.Values, other) {
				names = append(names, name)
			}
		}
	}
	consider(e, old)
	consider(old, e)
	slices.Sort(names)
	return names
}
