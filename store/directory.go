package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Indexed lists the attributes with an equality index, in the order
// search prefers them when a filter offers several (most selective first).
var Indexed = []string{"entryUUID", "uid", "mail", "uidNumber", "gidNumber", "memberUid", "member", "uniqueMember", "cn", "objectClass"}

// unique lists attributes whose values may appear on one entry only.
var unique = []string{"uid", "mail"}

var indexedSet = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range Indexed {
		m[strings.ToLower(a)] = true
	}
	return m
}()

// Options configure a Directory.
type Options struct {
	// BaseDN is the naming context; its entry is created at first open.
	BaseDN string
	// NoBaseEntry leaves an absent base entry absent, for read-only uses
	// of a store that may never have been served (dird export).
	NoBaseEntry bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AdminDN, when set and directly under BaseDN, gets an entry at first
	// open so the administrator exists in the tree (searchable, and no one
	// can add another entry under its name). Its password stays in the
	// configuration.
	AdminDN string
	// OnChange, when set, is told of every committed write but the quiet
	// ones (observe.go), for the audit trail. It must be quick.
	OnChange func(Change)
}

// Directory is the LDAP directory kept in a KV. It is safe for concurrent
// use.
type Directory struct {
	kv       KV
	base     DN
	baseKey  string
	now      func() time.Time
	claimed  atomic.Bool
	onChange func(Change)
}

// Open returns the directory in kv, creating the base entry when absent.
func Open(ctx context.Context, kv KV, o Options) (*Directory, error) {
	base, err := ParseDN(o.BaseDN)
	if err != nil || len(base) == 0 {
		return nil, fmt.Errorf("opening directory: base DN %q: %w", o.BaseDN, ErrInvalidDN)
	}
	d := &Directory{kv: kv, base: base, baseKey: treeKey(base), now: o.Now, onChange: o.OnChange}
	if d.now == nil {
		d.now = time.Now
	}
	_, err = d.Get(ctx, base)
	if errors.Is(err, ErrNoSuchObject) && o.NoBaseEntry {
		err = nil
	} else if errors.Is(err, ErrNoSuchObject) {
		err = d.Update(ctx, func(tx *Txn) error { return tx.addBase() })
	}
	if err != nil {
		return nil, fmt.Errorf("opening directory: %w", err)
	}
	if admin, err := ParseDN(o.AdminDN); err == nil && len(admin) == len(base)+1 && admin.IsUnder(base) {
		if _, err := d.Get(ctx, admin); errors.Is(err, ErrNoSuchObject) {
			err = d.Update(ctx, func(tx *Txn) error { return tx.addAdmin(admin) })
			if err != nil && !errors.Is(err, ErrAlreadyExists) {
				return nil, fmt.Errorf("opening directory: adding the administrator's entry: %w", err)
			}
		}
	}
	return d, nil
}

// addAdmin creates the administrator's entry: a role, with no password.
func (t *Txn) addAdmin(dn DN) error {
	e := &Entry{DN: dn}
	switch strings.ToLower(dn[0][0].Type) {
	case "cn":
		e.Set("objectClass", "top", "organizationalRole")
	case "uid":
		e.Set("objectClass", "top", "account")
	default:
		e.Set("objectClass", "top", "extensibleObject")
	}
	e.Set("description", "dird administrator; its password is set in the configuration (admin.password)")
	return t.insert(e, "")
}

// Base returns the naming context.
func (d *Directory) Base() DN { return d.base }

// KV returns the underlying store (for backup and export).
func (d *Directory) KV() KV { return d.kv }

// Now returns the directory's clock reading.
func (d *Directory) Now() time.Time { return d.now() }

// Credentials is the only handle that may write credential attributes
// (userPassword, pwd*, sealed secrets). Package policy claims it once.
type Credentials struct{ d *Directory }

// ClaimCredentials hands out the credential writer exactly once, so that
// whoever claims it first (policy, wired by server) is the only writer.
func (d *Directory) ClaimCredentials() (*Credentials, error) {
	if !d.claimed.CompareAndSwap(false, true) {
		return nil, errors.New("store: credentials already claimed")
	}
	return &Credentials{d: d}, nil
}

// Update runs fn in a transaction that may write credential attributes.
func (c *Credentials) Update(ctx context.Context, fn func(tx *Txn) error) error {
	return c.d.update(ctx, true, fn)
}

// Update runs fn in one serializable transaction (retried on conflict, so
// fn must have no outside effects). Credential attributes are refused.
func (d *Directory) Update(ctx context.Context, fn func(tx *Txn) error) error {
	return d.update(ctx, false, fn)
}

func (d *Directory) update(ctx context.Context, creds bool, fn func(tx *Txn) error) error {
	var last *Txn // the attempt that committed, when one did
	err := d.kv.Update(ctx, func(kt Tx) error {
		last = &Txn{d: d, tx: kt, creds: creds, now: d.now()}
		return fn(last)
	})
	if err == nil && last != nil {
		d.reportChanges(last.changes)
	}
	return err
}

// Get reads the entry at dn, or ErrNoSuchObject.
func (d *Directory) Get(ctx context.Context, dn DN) (*Entry, error) {
	tk := treeKey(dn)
	rec, err := d.kv.Get(ctx, entryKey(tk))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchObject, dn)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dn, err)
	}
	return decodeEntry(tk, rec)
}

// FindUnique returns the entry whose unique attribute (uid or mail) has
// value, or ErrNoSuchObject.
func (d *Directory) FindUnique(ctx context.Context, attr, value string) (*Entry, error) {
	at := LookupAttr(attr)
	nv, err := at.normalize(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %s=%s", ErrNoSuchObject, attr, value)
	}
	tk, err := d.kv.Get(ctx, uniqueKey(at.lower, nv))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s=%s", ErrNoSuchObject, attr, value)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up %s=%s: %w", attr, value, err)
	}
	rec, err := d.kv.Get(ctx, entryKey(string(tk)))
	if err != nil {
		return nil, fmt.Errorf("reading entry for %s=%s: %w", attr, value, err)
	}
	return decodeEntry(string(tk), rec)
}

// Txn is one directory transaction; see Directory.Update.
type Txn struct {
	d     *Directory
	tx    Tx
	creds bool
	now   time.Time
	// loading is set during Load: operational attributes are kept.
	loading bool
	// changes are this attempt's writes, reported once it commits.
	changes []Change
}

// Now is the transaction's clock reading.
func (t *Txn) Now() time.Time { return t.now }

// Get reads an entry inside the transaction.
func (t *Txn) Get(dn DN) (*Entry, error) {
	tk := treeKey(dn)
	rec, err := t.tx.Get(entryKey(tk))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchObject, dn)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dn, err)
	}
	return decodeEntry(tk, rec)
}

func (t *Txn) put(e *Entry) error {
	return t.tx.Put(entryKey(e.key), e.encode())
}

// checkWritable refuses attributes the caller may not write.
func (t *Txn) checkWritable(name string) error {
	at := LookupAttr(name)
	if t.loading && loadKept[at.lower] {
		return nil
	}
	if at.Class != Public && !t.creds {
		return fmt.Errorf("%w: %s", ErrCredentialAttribute, at.Name)
	}
	if at.NoUserMod && at.Class == Public {
		return fmt.Errorf("%w: %s: no user modification allowed", ErrConstraintViolation, at.Name)
	}
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (t *Txn) addBase() error {
	rdn := t.d.base[0]
	e := &Entry{DN: t.d.base}
	typ := strings.ToLower(rdn[0].Type)
	switch typ {
	case "dc":
		e.Set("objectClass", "top", "dcObject", "organization")
		e.Set("o", rdn[0].Value)
	case "o":
		e.Set("objectClass", "top", "organization")
	case "ou":
		e.Set("objectClass", "top", "organizationalUnit")
	case "c":
		e.Set("objectClass", "top", "country")
	default:
		e.Set("objectClass", "top", "extensibleObject")
	}
	for _, ava := range rdn {
		e.Set(ava.Type, ava.Value)
	}
	return t.insert(e, "")
}

// Add creates e; its parent must exist (the base entry excepted).
func (t *Txn) Add(e *Entry, actor string) error {
	for _, a := range e.Attrs {
		if err := t.checkWritable(a.Type); err != nil {
			return err
		}
	}
	if len(e.DN) == 0 {
		return fmt.Errorf("%w: the root DSE cannot be added", ErrUnwillingToPerform)
	}
	// insert copies the RDN values into the attributes, so the RDN's
	// types are written as much as the listed ones.
	for _, ava := range e.DN[0] {
		if err := t.checkWritable(ava.Type); err != nil {
			return err
		}
	}
	if !e.DN.IsUnder(t.d.base) {
		return fmt.Errorf("%w: %s is not under %s", ErrNoSuchObject, e.DN, t.d.base)
	}
	return t.insert(e, actor)
}

// loadKept are the operational attributes Load keeps (lower case).
var loadKept = map[string]bool{"entryuuid": true, "createtimestamp": true, "creatorsname": true, "modifytimestamp": true, "modifiersname": true}

// Load adds e as an import does (dird import): like Add, except that the
// operational attributes e carries (entryUUID, createTimestamp,
// creatorsName, modifyTimestamp, modifiersName) are kept instead of
// refused, so that an entry keeps its identity and history across a
// migration or an export and import; those missing are filled in as Add
// fills them. Computed attributes (memberOf, hasSubordinates, entryDN, ...)
// are still refused: they are not stored.
func (t *Txn) Load(e *Entry, actor string) error {
	if v := e.Get("entryUUID"); len(v) > 0 && !isUUID(v[0]) {
		return fmt.Errorf("%w: entryUUID: %q is not a UUID", ErrInvalidSyntax, v[0])
	}
	t.loading = true
	defer func() { t.loading = false }()
	return t.Add(e, actor)
}

// isUUID reports whether s has the RFC 4122 text form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !isHex(c):
			return false
		}
	}
	return true
}

// insert adds the entry after normalising its attributes, adding the RDN
// values, checking the schema and claiming unique values.
func (t *Txn) insert(e *Entry, actor string) error {
	e = e.Clone()
	if err := normalizeAttrs(e); err != nil {
		return err
	}
	for _, ava := range e.DN[0] {
		at := LookupAttr(ava.Type)
		if _, err := at.normalize(ava.Value); err != nil {
			return err
		}
		if !containsValue(at, e.Get(ava.Type), ava.Value) {
			e.Set(ava.Type, append(e.Get(ava.Type), ava.Value)...)
		}
	}
	if err := checkSchema(e); err != nil {
		return err
	}
	e.key = treeKey(e.DN)
	if _, err := t.tx.Get(entryKey(e.key)); err == nil {
		return fmt.Errorf("%w: %s", ErrAlreadyExists, e.DN)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if len(e.DN) > len(t.d.base) {
		parent, err := t.Get(e.DN.Parent())
		if errors.Is(err, ErrNoSuchObject) {
			return fmt.Errorf("%w: parent %s does not exist", ErrNoSuchObject, e.DN.Parent())
		} else if err != nil {
			return err
		}
		parent.children++
		if err := t.put(parent); err != nil {
			return err
		}
	} else if err := t.tx.Put(timeIndexBuilt, nil); err != nil {
		// The base entry goes into an empty store, whose password change
		// index is complete from here on (see EnsurePwdChangedIndex).
		return err
	}
	ts := FormatTime(t.now.Truncate(time.Second))
	if e.First("entryUUID") == "" {
		e.Set("entryUUID", newUUID())
	}
	switch {
	case t.loading:
		// An import keeps the history it brings and fills in the rest.
		for _, kv := range [][2]string{{"createTimestamp", ts}, {"creatorsName", actor}, {"modifyTimestamp", ts}, {"modifiersName", actor}} {
			if len(e.Get(kv[0])) == 0 {
				e.Set(kv[0], kv[1])
			}
		}
	default:
		if e.First("createTimestamp") == "" {
			e.Set("createTimestamp", ts)
			e.Set("creatorsName", actor)
		}
		e.Set("modifyTimestamp", ts)
		e.Set("modifiersName", actor)
	}
	if err := t.reindex(nil, e); err != nil {
		return err
	}
	t.record(actor, "add", e.DN, nil, e)
	return t.put(e)
}

// normalizeAttrs gives every attribute its canonical name, merges repeats,
// checks syntax and refuses duplicate values.
func normalizeAttrs(e *Entry) error {
	var out []Attr
	seen := map[string]int{}
	for _, a := range e.Attrs {
		at := LookupAttr(a.Type)
		i, ok := seen[at.lower]
		if !ok {
			i = len(out)
			seen[at.lower] = i
			out = append(out, Attr{Type: at.Name})
		}
		for _, v := range a.Values {
			if _, err := at.normalize(v); err != nil {
				return err
			}
			if containsValue(at, out[i].Values, v) {
				return fmt.Errorf("%w: %s: value #%d provided more than once", ErrAttributeOrValueExist, at.Name, len(out[i].Values))
			}
			out[i].Values = append(out[i].Values, v)
		}
	}
	// An attribute listed without values is no attribute (RFC 4511 §4.7
	// forbids it; OpenLDAP refuses it with a syntax error).
	for _, a := range out {
		if len(a.Values) == 0 {
			return fmt.Errorf("%w: %s: no values given", ErrInvalidSyntax, a.Type)
		}
	}
	e.Attrs = out
	return nil
}

func containsValue(at *AttrType, vals []string, v string) bool {
	nv, err := at.normalize(v)
	if err != nil {
		return false
	}
	for _, x := range vals {
		if nx, err := at.normalize(x); err == nil && nx == nv {
			return true
		}
	}
	return false
}

// normSet returns the normalised values of attr on e (nil e: none).
func normSet(e *Entry, attr string) map[string]bool {
	if e == nil {
		return nil
	}
	at := LookupAttr(attr)
	vals := e.Get(attr)
	if len(vals) == 0 {
		return nil
	}
	if at.lower == "objectclass" {
		vals = withSuperclasses(vals)
	}
	m := make(map[string]bool, len(vals))
	for _, v := range vals {
		if nv, err := at.normalize(v); err == nil {
			m[nv] = true
		}
	}
	return m
}

// reindex moves index and uniqueness keys from old to new (either may be
// nil for an add or a delete).
func (t *Txn) reindex(old, new *Entry) error {
	var oldKey, newKey, newDN string
	if old != nil {
		oldKey = old.key
	}
	if new != nil {
		newKey = new.key
		newDN = new.DN.String()
	}
	moved := oldKey != newKey
	if err := t.reindexPwdChanged(old, new); err != nil {
		return err
	}
	for _, attr := range Indexed {
		lower := strings.ToLower(attr)
		before, after := normSet(old, attr), normSet(new, attr)
		for v := range before {
			if !after[v] || moved {
				if err := t.tx.Delete(append(indexPrefix(lower, v), oldKey...)); err != nil {
					return err
				}
			}
		}
		for v := range after {
			if !before[v] || moved {
				if err := t.tx.Put(append(indexPrefix(lower, v), newKey...), []byte(newDN)); err != nil {
					return err
				}
			}
		}
	}
	for _, attr := range unique {
		lower := strings.ToLower(attr)
		before, after := normSet(old, attr), normSet(new, attr)
		for v := range before {
			if !after[v] {
				if err := t.tx.Delete(uniqueKey(lower, v)); err != nil {
					return err
				}
			}
		}
		for v := range after {
			if before[v] && !moved {
				continue
			}
			k := uniqueKey(lower, v)
			owner, err := t.tx.Get(k)
			switch {
			case err == nil && string(owner) != oldKey:
				return fmt.Errorf("%w: %s '%s' is already in use by another entry", ErrConstraintViolation, attr, v)
			case err != nil && !errors.Is(err, ErrNotFound):
				return err
			}
			if err := t.tx.Put(k, []byte(newKey)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ModOp is the kind of one modification.
type ModOp int

// Modification kinds, numbered as in RFC 4511 §4.6 and RFC 4525.
const (
	ModAdd       ModOp = 0
	ModDelete    ModOp = 1
	ModReplace   ModOp = 2
	ModIncrement ModOp = 3
)

// Mod is one change of a Modify.
type Mod struct {
	Op     ModOp
	Type   string
	Values []string
}

// Modify applies mods to the entry at dn atomically and returns the new
// entry.
func (t *Txn) Modify(dn DN, mods []Mod, actor string) (*Entry, error) {
	for _, m := range mods {
		if err := t.checkWritable(m.Type); err != nil {
			return nil, err
		}
	}
	old, err := t.Get(dn)
	if err != nil {
		return nil, err
	}
	e := old.Clone()
	if err := applyMods(e, mods); err != nil {
		return nil, err
	}
	return e, t.rewrite(old, e, actor)
}

// Replace stores e in place of the entry at the same DN, keeping its
// position; used by policy for credential state.
//
// old names the entry; what is compared with e and reindexed is the entry
// as stored, so a caller cannot pass an old entry that differs from it.
// Without Credentials, e must carry exactly the stored credential
// attributes: dropping one is writing it too.
func (t *Txn) Replace(old, e *Entry, actor string) error {
	cur, err := t.Get(old.DN)
	if err != nil {
		return err
	}
	if !e.DN.Equal(cur.DN) {
		return fmt.Errorf("%w: replacing %s: use Rename to change a DN", ErrUnwillingToPerform, cur.DN)
	}
	if !t.creds {
		for _, x := range [2]*Entry{e, cur} {
			for _, a := range x.Attrs {
				if LookupAttr(a.Type).Class != Public && !slices.Equal(e.Get(a.Type), cur.Get(a.Type)) {
					return fmt.Errorf("%w: %s", ErrCredentialAttribute, a.Type)
				}
			}
		}
	}
	return t.rewrite(cur, e, actor)
}

func (t *Txn) rewrite(old, e *Entry, actor string) error {
	for _, ava := range e.DN[0] {
		if !containsValue(LookupAttr(ava.Type), e.Get(ava.Type), ava.Value) {
			return fmt.Errorf("%w: %s", ErrNotAllowedOnRDN, ava.Type)
		}
	}
	if err := checkSchema(e); err != nil {
		return err
	}
	e.key = old.key
	e.children = old.children
	if actor != "-" {
		e.Set("modifyTimestamp", FormatTime(t.now.Truncate(time.Second)))
		e.Set("modifiersName", actor)
	}
	if err := t.reindex(old, e); err != nil {
		return err
	}
	t.record(actor, "modify", e.DN, old, e)
	return t.put(e)
}

// Quiet is the actor that leaves modifyTimestamp and modifiersName alone:
// bind-state bookkeeping (failure times) is not a modification a client
// made, and SSSD's modifyTimestamp-based refresh should not see it.
const Quiet = "-"

func applyMods(e *Entry, mods []Mod) error {
	for _, m := range mods {
		at := LookupAttr(m.Type)
		for _, v := range m.Values {
			if _, err := at.normalize(v); err != nil {
				return err
			}
		}
		cur := e.Get(at.Name)
		switch m.Op {
		case ModAdd:
			if len(m.Values) == 0 {
				return fmt.Errorf("%w: %s: no values given", ErrInvalidSyntax, at.Name)
			}
			next := append([]string(nil), cur...)
			for _, v := range m.Values {
				if containsValue(at, next, v) {
					return fmt.Errorf("%w: modify/add: %s: value #0 already exists", ErrAttributeOrValueExist, at.Name)
				}
				next = append(next, v)
			}
			e.Set(at.Name, next...)
		case ModDelete:
			if len(cur) == 0 {
				return fmt.Errorf("%w: modify/delete: %s: no such attribute", ErrNoSuchAttribute, at.Name)
			}
			if len(m.Values) == 0 {
				e.Set(at.Name)
				continue
			}
			next := append([]string(nil), cur...)
			for _, v := range m.Values {
				nv, _ := at.normalize(v)
				i := slices.IndexFunc(next, func(x string) bool { nx, _ := at.normalize(x); return nx == nv })
				if i < 0 {
					return fmt.Errorf("%w: modify/delete: %s: no such value", ErrNoSuchAttribute, at.Name)
				}
				next = append(next[:i], next[i+1:]...)
			}
			e.Set(at.Name, next...)
		case ModReplace:
			var next []string
			for _, v := range m.Values {
				if containsValue(at, next, v) {
					return fmt.Errorf("%w: modify/replace: %s: value provided more than once", ErrAttributeOrValueExist, at.Name)
				}
				next = append(next, v)
			}
			e.Set(at.Name, next...)
		case ModIncrement:
			if at.match != integerMatch || len(m.Values) != 1 {
				return fmt.Errorf("%w: modify/increment: %s: needs one integer value of an integer attribute", ErrConstraintViolation, at.Name)
			}
			if len(cur) == 0 {
				return fmt.Errorf("%w: modify/increment: %s: no such attribute", ErrNoSuchAttribute, at.Name)
			}
			// Decimal only: fmt.Sscan would read "010" as octal 8.
			b, _ := strconv.ParseInt(strings.TrimSpace(m.Values[0]), 10, 64)
			var next []string
			for _, v := range cur {
				a, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return fmt.Errorf("%w: %s: %q is not an integer", ErrInvalidSyntax, at.Name, v)
				}
				sum := a + b
				if (b > 0 && sum < a) || (b < 0 && sum > a) {
					return fmt.Errorf("%w: modify/increment: %s: result out of range", ErrConstraintViolation, at.Name)
				}
				next = append(next, strconv.FormatInt(sum, 10))
			}
			e.Set(at.Name, next...)
		default:
			return fmt.Errorf("%w: unknown modify operation %d", ErrUnwillingToPerform, m.Op)
		}
	}
	return nil
}

// Delete removes a leaf entry; actor is who asked (the audit trail).
func (t *Txn) Delete(dn DN, actor string) error {
	if len(dn) <= len(t.d.base) {
		return fmt.Errorf("%w: the base entry cannot be deleted", ErrUnwillingToPerform)
	}
	old, err := t.Get(dn)
	if err != nil {
		return err
	}
	if old.children > 0 {
		return fmt.Errorf("%w: subordinate objects must be deleted first", ErrNotAllowedOnNonLeaf)
	}
	parent, err := t.Get(dn.Parent())
	if err != nil {
		return err
	}
	parent.children--
	if err := t.put(parent); err != nil {
		return err
	}
	if err := t.reindex(old, nil); err != nil {
		return err
	}
	t.record(actor, "delete", old.DN, old, nil)
	return t.tx.Delete(entryKey(old.key))
}

// Rename moves a leaf entry to newRDN under newParent (nil: same parent),
// keeping or deleting the old RDN values (RFC 4511 §4.9).
func (t *Txn) Rename(dn DN, newRDN RDN, deleteOld bool, newParent DN, actor string) (*Entry, error) {
	if len(dn) <= len(t.d.base) {
		return nil, fmt.Errorf("%w: the base entry cannot be renamed", ErrUnwillingToPerform)
	}
	old, err := t.Get(dn)
	if err != nil {
		return nil, err
	}
	if old.children > 0 {
		return nil, fmt.Errorf("%w: subtree rename is not supported", ErrNotAllowedOnNonLeaf)
	}
	for _, ava := range newRDN {
		if err := t.checkWritable(ava.Type); err != nil {
			return nil, err
		}
	}
	if newParent == nil {
		newParent = dn.Parent()
	}
	if !newParent.IsUnder(t.d.base) {
		return nil, fmt.Errorf("%w: %s is not under %s", ErrNoSuchObject, newParent, t.d.base)
	}
	if newParent.IsUnder(dn) {
		// The entry would become its own parent and, once its old
		// record is deleted, an orphan.
		return nil, fmt.Errorf("%w: %s cannot move under itself", ErrUnwillingToPerform, dn)
	}
	e := old.Clone()
	e.DN = newParent.Child(newRDN)
	e.key = treeKey(e.DN)
	if deleteOld {
		for _, ava := range dn[0] {
			if newRDN.has(ava) {
				continue
			}
			at := LookupAttr(ava.Type)
			nv, _ := at.normalize(ava.Value)
			vals := slices.DeleteFunc(append([]string(nil), e.Get(ava.Type)...), func(x string) bool { nx, _ := at.normalize(x); return nx == nv })
			e.Set(ava.Type, vals...)
		}
	}
	for _, ava := range newRDN {
		at := LookupAttr(ava.Type)
		if _, err := at.normalize(ava.Value); err != nil {
			return nil, err
		}
		if !containsValue(at, e.Get(ava.Type), ava.Value) {
			e.Set(at.Name, append(e.Get(ava.Type), ava.Value)...)
		}
	}
	if err := checkSchema(e); err != nil {
		return nil, err
	}
	if e.key != old.key {
		if _, err := t.tx.Get(entryKey(e.key)); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrAlreadyExists, e.DN)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if !newParent.Equal(dn.Parent()) {
		np, err := t.Get(newParent)
		if err != nil {
			return nil, fmt.Errorf("%w: new superior %s does not exist", ErrNoSuchObject, newParent)
		}
		np.children++
		op, err := t.Get(dn.Parent())
		if err != nil {
			return nil, err
		}
		op.children--
		if err := t.put(np); err != nil {
			return nil, err
		}
		if err := t.put(op); err != nil {
			return nil, err
		}
	}
	e.Set("modifyTimestamp", FormatTime(t.now.Truncate(time.Second)))
	e.Set("modifiersName", actor)
	if err := t.reindex(old, e); err != nil {
		return nil, err
	}
	if e.key != old.key {
		if err := t.tx.Delete(entryKey(old.key)); err != nil {
			return nil, err
		}
	}
	t.record(actor, "modrdn", old.DN, old, e)
	return e, t.put(e)
}

func (r RDN) has(a AVA) bool {
	at := LookupAttr(a.Type)
	nv, _ := at.normalize(a.Value)
	for _, x := range r {
		if LookupAttr(x.Type).lower == at.lower {
			if nx, _ := at.normalize(x.Value); nx == nv {
				return true
			}
		}
	}
	return false
}
