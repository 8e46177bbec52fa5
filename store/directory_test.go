package store_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

const (
	testBase  = "dc=example,dc=com"
	testAdmin = "cn=admin,dc=example,dc=com"
	people    = "ou=people," + testBase
	groups    = "ou=groups," + testBase
)

// t0 is the clock reading when a test directory is opened.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// openDir opens a directory on kv (a fresh memkv when nil) with base
// testBase and a clock at t0.
func openDir(t testing.TB, kv store.KV) (*store.Directory, *clock) {
	t.Helper()
	if kv == nil {
		db := memkv.New()
		t.Cleanup(func() { db.Close() })
		kv = db
	}
	c := &clock{t: t0}
	d, err := store.Open(context.Background(), kv, store.Options{BaseDN: testBase, Now: c.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d, c
}

// ldif builds an entry from "type: value" lines; repeated types collect
// values in order.
func ldif(t testing.TB, dn string, lines ...string) *store.Entry {
	t.Helper()
	e := &store.Entry{DN: mustParseDN(t, dn)}
	for _, l := range lines {
		typ, val, ok := strings.Cut(l, ": ")
		if !ok {
			typ, val, ok = strings.Cut(l, ":")
		}
		if !ok {
			t.Fatalf("ldif line %q has no ':'", l)
		}
		i := slices.IndexFunc(e.Attrs, func(a store.Attr) bool { return a.Type == typ })
		if i < 0 {
			e.Attrs = append(e.Attrs, store.Attr{Type: typ})
			i = len(e.Attrs) - 1
		}
		e.Attrs[i].Values = append(e.Attrs[i].Values, val)
	}
	return e
}

func ou(t testing.TB, dn string) *store.Entry {
	return ldif(t, dn, "objectClass: top", "objectClass: organizationalUnit")
}

// person is an inetOrgPerson with uid, cn, sn and mail under people.
func person(t testing.TB, uid string, extra ...string) *store.Entry {
	lines := append([]string{
		"objectClass: top", "objectClass: inetOrgPerson",
		"uid: " + uid, "cn: " + uid + " Example", "sn: Example", "mail: " + uid + "@example.com",
	}, extra...)
	return ldif(t, "uid="+uid+","+people, lines...)
}

// posixPerson is person plus posixAccount.
func posixPerson(t testing.TB, uid string, uidNumber string, extra ...string) *store.Entry {
	return person(t, uid, append([]string{
		"objectClass: posixAccount", "uidNumber: " + uidNumber, "gidNumber: 100", "homeDirectory: /home/" + uid,
	}, extra...)...)
}

func add(ctx context.Context, d *store.Directory, entries ...*store.Entry) error {
	return d.Update(ctx, func(tx *store.Txn) error {
		for _, e := range entries {
			if err := tx.Add(e, testAdmin); err != nil {
				return err
			}
		}
		return nil
	})
}

func mustAdd(t testing.TB, d *store.Directory, entries ...*store.Entry) {
	t.Helper()
	if err := add(context.Background(), d, entries...); err != nil {
		t.Fatalf("adding: %v", err)
	}
}

// tree opens a directory holding ou=people, ou=groups and alice.
func tree(t testing.TB) (*store.Directory, *clock) {
	t.Helper()
	d, c := openDir(t, nil)
	mustAdd(t, d, ou(t, people), ou(t, groups), posixPerson(t, "alice", "1000", "telephoneNumber: 1", "telephoneNumber: 2"))
	return d, c
}

func get(t testing.TB, d *store.Directory, dn string) *store.Entry {
	t.Helper()
	e, err := d.Get(context.Background(), mustParseDN(t, dn))
	if err != nil {
		t.Fatalf("Get(%s): %v", dn, err)
	}
	return e
}

func mustGone(t testing.TB, d *store.Directory, dn string) {
	t.Helper()
	if e, err := d.Get(context.Background(), mustParseDN(t, dn)); !errors.Is(err, store.ErrNoSuchObject) {
		t.Fatalf("Get(%s) = %v, %v; want ErrNoSuchObject", dn, e, err)
	}
}

func values(e *store.Entry, attr string) []string { return append([]string(nil), e.Get(attr)...) }

func TestOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		base    string
		classes []string
		attrs   map[string]string
	}{
		{"dc base is a dcObject and an organization", "dc=example,dc=com",
			[]string{"dcObject", "organization"}, map[string]string{"dc": "example", "o": "example"}},
		{"ou base is an organizationalUnit", "ou=corp,o=acme",
			[]string{"organizationalUnit"}, map[string]string{"ou": "corp"}},
		{"o base is an organization", "o=acme", []string{"organization"}, map[string]string{"o": "acme"}},
		{"other base is an extensibleObject", "cn=dird", []string{"extensibleObject"}, map[string]string{"cn": "dird"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv := memkv.New()
			defer kv.Close()
			d, err := store.Open(ctx, kv, store.Options{BaseDN: tt.base, Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Base().Equal(mustParseDN(t, tt.base)) {
				t.Errorf("Base() = %s, want %s", d.Base(), tt.base)
			}
			e := get(t, d, tt.base)
			for _, c := range tt.classes {
				if !e.HasObjectClass(c) {
					t.Errorf("base objectClass = %q, want %s among them", e.Get("objectClass"), c)
				}
			}
			for a, v := range tt.attrs {
				if got := e.Get(a); !slices.Equal(got, []string{v}) {
					t.Errorf("base %s = %q, want [%s]", a, got, v)
				}
			}
			if e.First("entryUUID") == "" || e.First("createTimestamp") != "20240101000000Z" {
				t.Errorf("base operational attributes: %v", e.Attrs)
			}

			// Reopening finds the same base entry instead of making a new one.
			d2, err := store.Open(ctx, kv, store.Options{BaseDN: tt.base, Now: func() time.Time { return t0.Add(time.Hour) }})
			if err != nil {
				t.Fatalf("reopening: %v", err)
			}
			e2 := get(t, d2, tt.base)
			if e2.First("entryUUID") != e.First("entryUUID") || e2.First("modifyTimestamp") != e.First("modifyTimestamp") {
				t.Errorf("reopening changed the base entry: %v, was %v", e2.Attrs, e.Attrs)
			}
		})
	}
	for _, base := range []string{"", "dc=example,,dc=com", "dc"} {
		t.Run("invalid base "+base+" is refused", func(t *testing.T) {
			kv := memkv.New()
			defer kv.Close()
			if _, err := store.Open(ctx, kv, store.Options{BaseDN: base}); !errors.Is(err, store.ErrInvalidDN) {
				t.Errorf("Open(%q) error = %v, want ErrInvalidDN", base, err)
			}
		})
	}
}

func TestAdd(t *testing.T) {
	tests := []struct {
		name  string
		entry func(t *testing.T) *store.Entry
		want  error
	}{
		{"person under an existing parent", func(t *testing.T) *store.Entry { return person(t, "bob") }, nil},
		{"entry with a multi-valued RDN", func(t *testing.T) *store.Entry {
			return ldif(t, "cn=Bob+sn=Smith,"+people, "objectClass: person")
		}, nil},
		{"parent does not exist", func(t *testing.T) *store.Entry {
			return ldif(t, "uid=bob,ou=nowhere,"+testBase, "objectClass: inetOrgPerson", "cn: b", "sn: b")
		}, store.ErrNoSuchObject},
		{"same DN twice", func(t *testing.T) *store.Entry { return person(t, "alice") }, store.ErrAlreadyExists},
		{"same DN in other case and spacing", func(t *testing.T) *store.Entry {
			return ldif(t, "UID=ALICE , OU=People, DC=Example, DC=Com", "objectClass: inetOrgPerson", "cn: a", "sn: a")
		}, store.ErrAlreadyExists},
		{"the base entry again", func(t *testing.T) *store.Entry {
			return ldif(t, testBase, "objectClass: dcObject", "objectClass: organization", "o: x")
		}, store.ErrAlreadyExists},
		{"outside the base", func(t *testing.T) *store.Entry {
			return ldif(t, "uid=bob,dc=other,dc=org", "objectClass: inetOrgPerson", "cn: b", "sn: b")
		}, store.ErrNoSuchObject},
		{"the root DSE", func(t *testing.T) *store.Entry {
			return ldif(t, "", "objectClass: top")
		}, store.ErrUnwillingToPerform},
		{"no objectClass", func(t *testing.T) *store.Entry {
			return ldif(t, "cn=x,"+people, "cn: x")
		}, store.ErrObjectClassViolation},
		{"groupOfNames and posixGroup on one entry", func(t *testing.T) *store.Entry {
			return ldif(t, "cn=admins,"+groups, "objectClass: groupOfNames", "objectClass: posixGroup",
				"member: uid=alice,"+people, "memberUid: alice", "gidNumber: 500")
		}, nil},
		{"two values of a single-valued attribute", func(t *testing.T) *store.Entry {
			return person(t, "bob", "displayName: Bob", "displayName: Bobby")
		}, store.ErrConstraintViolation},
		{"two uidNumbers", func(t *testing.T) *store.Entry {
			return posixPerson(t, "bob", "1001", "uidNumber: 1002")
		}, store.ErrConstraintViolation},
		{"uidNumber that is not an integer", func(t *testing.T) *store.Entry {
			return posixPerson(t, "bob", "10x1")
		}, store.ErrInvalidSyntax},
		{"member that is not a DN", func(t *testing.T) *store.Entry {
			return ldif(t, "cn=g,"+groups, "objectClass: groupOfNames", "member: not a dn")
		}, store.ErrInvalidSyntax},
		{"RDN value that breaks its syntax", func(t *testing.T) *store.Entry {
			return ldif(t, "uidNumber=abc,"+people, "objectClass: extensibleObject")
		}, store.ErrInvalidSyntax},
		{"the same value twice, differing in case", func(t *testing.T) *store.Entry {
			return person(t, "bob", "description: Hello", "description: hello")
		}, store.ErrAttributeOrValueExist},
		{"attribute without values", func(t *testing.T) *store.Entry {
			e := person(t, "bob")
			e.Attrs = append(e.Attrs, store.Attr{Type: "description"})
			return e
		}, store.ErrInvalidSyntax},
		{"uid in use by another entry, other case", func(t *testing.T) *store.Entry {
			return ldif(t, "cn=Alice Two,"+people, "objectClass: inetOrgPerson", "sn: Two", "uid: ALICE")
		}, store.ErrConstraintViolation},
		{"mail in use by another entry, other case", func(t *testing.T) *store.Entry {
			return person(t, "bob", "mail: Alice@Example.COM")
		}, store.ErrConstraintViolation},
		{"uid in use as the RDN of another entry", func(t *testing.T) *store.Entry {
			return ldif(t, "uid=Alice,"+groups, "objectClass: account")
		}, store.ErrConstraintViolation},
		{"server-maintained createTimestamp", func(t *testing.T) *store.Entry {
			return person(t, "bob", "createTimestamp: 20200101000000Z")
		}, store.ErrConstraintViolation},
		{"server-maintained entryUUID", func(t *testing.T) *store.Entry {
			return person(t, "bob", "entryUUID: 6ba7b810-9dad-41d1-80b4-00c04fd430c8")
		}, store.ErrConstraintViolation},
		{"computed memberOf", func(t *testing.T) *store.Entry {
			return person(t, "bob", "memberOf: cn=admins,"+groups)
		}, store.ErrConstraintViolation},
		{"server-maintained attribute as the RDN", func(t *testing.T) *store.Entry {
			return ldif(t, "createTimestamp=20200101000000Z,"+people, "objectClass: extensibleObject")
		}, store.ErrConstraintViolation},
	}
	// Each class's MUST attributes, one missing at a time. The RDN is a
	// description so that it supplies none of them.
	musts := []struct {
		class string
		attrs []string
	}{
		{"inetOrgPerson", []string{"objectClass: inetOrgPerson", "cn: x", "sn: x"}},
		{"person", []string{"objectClass: person", "cn: x", "sn: x"}},
		{"posixAccount", []string{"objectClass: account", "objectClass: posixAccount",
			"uid: x", "uidNumber: 1", "gidNumber: 1", "homeDirectory: /x", "cn: x"}},
		{"shadowAccount", []string{"objectClass: account", "objectClass: shadowAccount", "uid: x"}},
		{"groupOfNames", []string{"objectClass: groupOfNames", "member: uid=alice," + people, "cn: x"}},
		{"groupOfUniqueNames", []string{"objectClass: groupOfUniqueNames", "uniqueMember: uid=alice," + people, "cn: x"}},
		{"posixGroup", []string{"objectClass: groupOfNames", "objectClass: posixGroup", "member: uid=alice," + people,
			"gidNumber: 5", "cn: x"}},
		{"organizationalUnit", []string{"objectClass: organizationalUnit", "ou: x"}},
		{"organization", []string{"objectClass: organization", "o: x"}},
		{"account", []string{"objectClass: account", "uid: x"}},
	}
	for _, m := range musts {
		for i, line := range m.attrs {
			if strings.HasPrefix(line, "objectClass:") {
				continue
			}
			attr, _, _ := strings.Cut(line, ":")
			lines := slices.Delete(slices.Clone(m.attrs), i, i+1)
			tests = append(tests, struct {
				name  string
				entry func(t *testing.T) *store.Entry
				want  error
			}{m.class + " without " + attr, func(t *testing.T) *store.Entry {
				return ldif(t, "description=missing "+attr+","+people, lines...)
			}, store.ErrObjectClassViolation})
		}
		tests = append(tests, struct {
			name  string
			entry func(t *testing.T) *store.Entry
			want  error
		}{m.class + " with all it requires", func(t *testing.T) *store.Entry {
			return ldif(t, "description=complete,"+people, m.attrs...)
		}, nil})
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := tree(t)
			e := tt.entry(t)
			err := add(ctx, d, e)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Add(%s) error = %v, want %v", e.DN, err, tt.want)
			}
			if err == nil {
				get(t, d, e.DN.String())
				return
			}
			if !errors.Is(tt.want, store.ErrAlreadyExists) && len(e.DN) > 0 {
				mustGone(t, d, e.DN.String())
			}
		})
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestAddSetsAttributes(t *testing.T) {
	d, c := tree(t)
	c.Set(time.Date(2024, 2, 3, 4, 5, 6, 789, time.UTC))
	in := ldif(t, "uid=Bob,"+people, "objectClass: inetOrgPerson", "commonName: Bob", "surname: Builder",
		"rfc822Mailbox: bob@example.com")
	before := in.Clone()
	mustAdd(t, d, in)
	if !slices.EqualFunc(in.Attrs, before.Attrs, func(a, b store.Attr) bool {
		return a.Type == b.Type && slices.Equal(a.Values, b.Values)
	}) {
		t.Errorf("Add changed its argument: %v, was %v", in.Attrs, before.Attrs)
	}
	e := get(t, d, "uid=bob,"+people)
	tests := []struct {
		name string
		attr string
		want []string
	}{
		{"the RDN value is added when missing", "uid", []string{"Bob"}},
		{"aliases are stored under the canonical name (cn)", "cn", []string{"Bob"}},
		{"aliases are stored under the canonical name (sn)", "sn", []string{"Builder"}},
		{"aliases are stored under the canonical name (mail)", "mail", []string{"bob@example.com"}},
		{"createTimestamp is the clock to the second", "createTimestamp", []string{"20240203040506Z"}},
		{"modifyTimestamp starts as createTimestamp", "modifyTimestamp", []string{"20240203040506Z"}},
		{"creatorsName is the actor", "creatorsName", []string{testAdmin}},
		{"modifiersName is the actor", "modifiersName", []string{testAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Get(tt.attr); !slices.Equal(got, tt.want) {
				t.Errorf("%s = %q, want %q", tt.attr, got, tt.want)
			}
		})
	}
	t.Run("canonical attribute names", func(t *testing.T) {
		for _, a := range e.Attrs {
			if a.Type != store.LookupAttr(a.Type).Name {
				t.Errorf("stored type %q, want %q", a.Type, store.LookupAttr(a.Type).Name)
			}
		}
	})
	t.Run("entryUUID is a random UUID", func(t *testing.T) {
		u := e.First("entryUUID")
		if !uuidRE.MatchString(u) {
			t.Errorf("entryUUID = %q, want a version 4 UUID", u)
		}
		if other := get(t, d, "uid=alice,"+people).First("entryUUID"); other == u {
			t.Errorf("two entries share entryUUID %s", u)
		}
	})
	t.Run("RDN value present in another case is not repeated", func(t *testing.T) {
		mustAdd(t, d, ldif(t, "uid=Carol,"+people, "objectClass: account", "uid: carol"))
		if got := get(t, d, "uid=carol,"+people).Get("uid"); !slices.Equal(got, []string{"carol"}) {
			t.Errorf("uid = %q, want [carol]", got)
		}
	})
	t.Run("parent learns it has children", func(t *testing.T) {
		if !get(t, d, people).HasChildren() {
			t.Errorf("ou=people has no children after adds")
		}
		if get(t, d, "uid=bob,"+people).HasChildren() {
			t.Errorf("a new leaf has children")
		}
	})
	t.Run("FindUnique finds the entry by uid and mail in any case", func(t *testing.T) {
		for _, q := range [][2]string{{"uid", "BOB"}, {"mail", "Bob@Example.com"}, {"userid", "bob"}} {
			got, err := d.FindUnique(context.Background(), q[0], q[1])
			if err != nil || !got.DN.Equal(e.DN) {
				t.Errorf("FindUnique(%s, %s) = %v, %v", q[0], q[1], got, err)
			}
		}
		if _, err := d.FindUnique(context.Background(), "uid", "nobody"); !errors.Is(err, store.ErrNoSuchObject) {
			t.Errorf("FindUnique(nobody) error = %v, want ErrNoSuchObject", err)
		}
	})
}

func modify(ctx context.Context, d *store.Directory, dn store.DN, mods ...store.Mod) (*store.Entry, error) {
	var out *store.Entry
	err := d.Update(ctx, func(tx *store.Txn) error {
		e, err := tx.Modify(dn, mods, testAdmin)
		out = e
		return err
	})
	return out, err
}

func rename(ctx context.Context, d *store.Directory, dn store.DN, rdn string, deleteOld bool, sup string) (*store.Entry, error) {
	r, err := store.ParseDN(rdn)
	if err != nil {
		return nil, err
	}
	var np store.DN
	if sup != "" {
		if np, err = store.ParseDN(sup); err != nil {
			return nil, err
		}
	}
	var out *store.Entry
	err = d.Update(ctx, func(tx *store.Txn) error {
		e, err := tx.Rename(dn, r[0], deleteOld, np, testAdmin)
		out = e
		return err
	})
	return out, err
}

func del(ctx context.Context, d *store.Directory, dn store.DN) error {
	return d.Update(ctx, func(tx *store.Txn) error { return tx.Delete(dn, testAdmin) })
}

// TestUniqueness checks that uid and mail name one entry at a time, case
// ignored, whichever operation tries to take a value, and that each
// operation that drops a value frees it.
func TestUniqueness(t *testing.T) {
	ctx := context.Background()
	alice := "uid=alice," + people
	bob := "uid=bob," + people
	tests := []struct {
		name string
		op   func(t *testing.T, d *store.Directory) error
		want error
	}{
		{"add with a taken uid", func(t *testing.T, d *store.Directory) error {
			return add(ctx, d, ldif(t, "cn=x,"+people, "objectClass: inetOrgPerson", "sn: x", "uid: Alice"))
		}, store.ErrConstraintViolation},
		{"add with a taken mail", func(t *testing.T, d *store.Directory) error {
			return add(ctx, d, person(t, "carol", "mail: ALICE@example.com"))
		}, store.ErrConstraintViolation},
		{"modify adding a taken mail", func(t *testing.T, d *store.Directory) error {
			_, err := modify(ctx, d, mustParseDN(t, bob), store.Mod{Op: store.ModAdd, Type: "mail", Values: []string{"alice@EXAMPLE.com"}})
			return err
		}, store.ErrConstraintViolation},
		{"modify replacing with a taken uid", func(t *testing.T, d *store.Directory) error {
			_, err := modify(ctx, d, mustParseDN(t, "cn=carol,"+people),
				store.Mod{Op: store.ModReplace, Type: "uid", Values: []string{"ALICE"}})
			return err
		}, store.ErrConstraintViolation},
		{"rename to a taken uid elsewhere", func(t *testing.T, d *store.Directory) error {
			_, err := rename(ctx, d, mustParseDN(t, bob), "uid=Alice", true, "ou=staff,"+testBase)
			return err
		}, store.ErrConstraintViolation},
		{"modify changing only the case of its own uid", func(t *testing.T, d *store.Directory) error {
			_, err := modify(ctx, d, mustParseDN(t, "cn=carol,"+people),
				store.Mod{Op: store.ModReplace, Type: "uid", Values: []string{"CAROL"}})
			return err
		}, nil},
		{"rename keeping its own uid and mail", func(t *testing.T, d *store.Directory) error {
			if _, err := rename(ctx, d, mustParseDN(t, bob), "uid=bob", true, "ou=staff,"+testBase); err != nil {
				return err
			}
			return add(ctx, d, person(t, "bob"))
		}, store.ErrConstraintViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := tree(t)
			mustAdd(t, d, ou(t, "ou=staff,"+testBase), person(t, "bob"),
				ldif(t, "cn=carol,"+people, "objectClass: inetOrgPerson", "sn: c", "uid: carol"))
			if err := tt.op(t, d); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			// alice still owns her values.
			if e, err := d.FindUnique(ctx, "mail", "alice@example.com"); err != nil || !e.DN.Equal(mustParseDN(t, alice)) {
				t.Errorf("FindUnique(alice's mail) = %v, %v", e, err)
			}
		})
	}

	freeing := []struct {
		name string
		op   func(t *testing.T, d *store.Directory) error
	}{
		{"delete", func(t *testing.T, d *store.Directory) error { return del(ctx, d, mustParseDN(t, alice)) }},
		{"modify replacing the values", func(t *testing.T, d *store.Directory) error {
			_, err := rename(ctx, d, mustParseDN(t, alice), "cn=alice", false, "")
			if err != nil {
				return err
			}
			_, err = modify(ctx, d, mustParseDN(t, "cn=alice,"+people),
				store.Mod{Op: store.ModReplace, Type: "uid", Values: []string{"alice2"}},
				store.Mod{Op: store.ModReplace, Type: "mail", Values: []string{"alice2@example.com"}})
			return err
		}},
		{"modify deleting the values", func(t *testing.T, d *store.Directory) error {
			if _, err := rename(ctx, d, mustParseDN(t, alice), "cn=alice", false, ""); err != nil {
				return err
			}
			// posixAccount needs a uid: drop the class with it.
			_, err := modify(ctx, d, mustParseDN(t, "cn=alice,"+people),
				store.Mod{Op: store.ModDelete, Type: "objectClass", Values: []string{"posixAccount"}},
				store.Mod{Op: store.ModDelete, Type: "uidNumber"}, store.Mod{Op: store.ModDelete, Type: "gidNumber"},
				store.Mod{Op: store.ModDelete, Type: "homeDirectory"},
				store.Mod{Op: store.ModDelete, Type: "uid", Values: []string{"ALICE"}},
				store.Mod{Op: store.ModDelete, Type: "mail"})
			return err
		}},
		{"rename deleting the old RDN value", func(t *testing.T, d *store.Directory) error {
			if _, err := rename(ctx, d, mustParseDN(t, alice), "uid=alice3", true, ""); err != nil {
				return err
			}
			_, err := modify(ctx, d, mustParseDN(t, "uid=alice3,"+people),
				store.Mod{Op: store.ModReplace, Type: "mail", Values: []string{"alice3@example.com"}})
			return err
		}},
	}
	for _, tt := range freeing {
		t.Run(tt.name+" frees uid and mail", func(t *testing.T) {
			d, _ := tree(t)
			if err := tt.op(t, d); err != nil {
				t.Fatal(err)
			}
			for _, q := range [][2]string{{"uid", "alice"}, {"mail", "alice@example.com"}} {
				if e, err := d.FindUnique(ctx, q[0], q[1]); !errors.Is(err, store.ErrNoSuchObject) {
					t.Errorf("FindUnique(%s=%s) = %v, %v; want ErrNoSuchObject", q[0], q[1], e, err)
				}
			}
			mustAdd(t, d, ldif(t, "cn=new alice,"+people, "objectClass: inetOrgPerson", "sn: n",
				"uid: Alice", "mail: Alice@example.com"))
			if e, err := d.FindUnique(ctx, "uid", "alice"); err != nil || e.First("cn") != "new alice" {
				t.Errorf("FindUnique(uid=alice) = %v, %v; want the new entry", e, err)
			}
		})
	}
}

func TestModify(t *testing.T) {
	ctx := context.Background()
	alice := "uid=alice," + people
	tests := []struct {
		name  string
		mods  []store.Mod
		want  error
		check map[string][]string // attribute -> values afterwards (nil: absent)
	}{
		{"add a value", []store.Mod{{Op: store.ModAdd, Type: "telephoneNumber", Values: []string{"3"}}}, nil,
			map[string][]string{"telephoneNumber": {"1", "2", "3"}}},
		{"add a new attribute through its alias", []store.Mod{{Op: store.ModAdd, Type: "gn", Values: []string{"Alice"}}}, nil,
			map[string][]string{"givenName": {"Alice"}}},
		{"add an existing value, other case", []store.Mod{{Op: store.ModAdd, Type: "cn", Values: []string{"ALICE EXAMPLE"}}},
			store.ErrAttributeOrValueExist, nil},
		{"add one value twice", []store.Mod{{Op: store.ModAdd, Type: "description", Values: []string{"x", "X"}}},
			store.ErrAttributeOrValueExist, nil},
		{"add without values", []store.Mod{{Op: store.ModAdd, Type: "description"}}, store.ErrInvalidSyntax, nil},
		{"delete one value", []store.Mod{{Op: store.ModDelete, Type: "telephoneNumber", Values: []string{"1"}}}, nil,
			map[string][]string{"telephoneNumber": {"2"}}},
		{"delete all values", []store.Mod{{Op: store.ModDelete, Type: "telephoneNumber"}}, nil,
			map[string][]string{"telephoneNumber": nil}},
		{"delete every value by name", []store.Mod{{Op: store.ModDelete, Type: "telephoneNumber", Values: []string{"1", "2"}}}, nil,
			map[string][]string{"telephoneNumber": nil}},
		{"delete a value that is not there", []store.Mod{{Op: store.ModDelete, Type: "telephoneNumber", Values: []string{"9"}}},
			store.ErrNoSuchAttribute, nil},
		{"delete an attribute that is not there", []store.Mod{{Op: store.ModDelete, Type: "description"}},
			store.ErrNoSuchAttribute, nil},
		{"delete the RDN value", []store.Mod{{Op: store.ModDelete, Type: "uid", Values: []string{"alice"}}},
			store.ErrNotAllowedOnRDN, nil},
		{"delete the RDN attribute", []store.Mod{{Op: store.ModDelete, Type: "uid"}}, store.ErrNotAllowedOnRDN, nil},
		{"replace the RDN attribute without the RDN value", []store.Mod{{Op: store.ModReplace, Type: "uid", Values: []string{"alice2"}}},
			store.ErrNotAllowedOnRDN, nil},
		{"replace the RDN attribute keeping the RDN value", []store.Mod{{Op: store.ModReplace, Type: "uid", Values: []string{"alice", "al"}}},
			nil, map[string][]string{"uid": {"alice", "al"}}},
		{"replace values", []store.Mod{{Op: store.ModReplace, Type: "telephoneNumber", Values: []string{"7"}}}, nil,
			map[string][]string{"telephoneNumber": {"7"}}},
		{"replace with no values removes the attribute", []store.Mod{{Op: store.ModReplace, Type: "telephoneNumber"}}, nil,
			map[string][]string{"telephoneNumber": nil}},
		{"replace an absent attribute with no values", []store.Mod{{Op: store.ModReplace, Type: "description"}}, nil,
			map[string][]string{"description": nil}},
		{"replace with one value twice", []store.Mod{{Op: store.ModReplace, Type: "description", Values: []string{"a", "A"}}},
			store.ErrAttributeOrValueExist, nil},
		{"increment", []store.Mod{{Op: store.ModIncrement, Type: "uidNumber", Values: []string{"5"}}}, nil,
			map[string][]string{"uidNumber": {"1005"}}},
		{"increment by a negative amount", []store.Mod{{Op: store.ModIncrement, Type: "uidNumber", Values: []string{"-1001"}}}, nil,
			map[string][]string{"uidNumber": {"-1"}}},
		{"increment by a decimal with a leading zero", []store.Mod{{Op: store.ModIncrement, Type: "uidNumber", Values: []string{"010"}}}, nil,
			map[string][]string{"uidNumber": {"1010"}}},
		{"increment a value stored with a leading zero", []store.Mod{
			{Op: store.ModReplace, Type: "uidNumber", Values: []string{"0100"}},
			{Op: store.ModIncrement, Type: "uidNumber", Values: []string{"1"}}}, nil,
			map[string][]string{"uidNumber": {"101"}}},
		{"increment past the integer range", []store.Mod{
			{Op: store.ModReplace, Type: "uidNumber", Values: []string{"9223372036854775807"}},
			{Op: store.ModIncrement, Type: "uidNumber", Values: []string{"1"}}}, store.ErrConstraintViolation, nil},
		{"increment a non-integer attribute", []store.Mod{{Op: store.ModIncrement, Type: "cn", Values: []string{"1"}}},
			store.ErrConstraintViolation, nil},
		{"increment an absent attribute", []store.Mod{{Op: store.ModIncrement, Type: "shadowMax", Values: []string{"1"}}},
			store.ErrNoSuchAttribute, nil},
		{"increment by a non-integer", []store.Mod{{Op: store.ModIncrement, Type: "uidNumber", Values: []string{"x"}}},
			store.ErrInvalidSyntax, nil},
		{"invalid integer", []store.Mod{{Op: store.ModReplace, Type: "uidNumber", Values: []string{"abc"}}},
			store.ErrInvalidSyntax, nil},
		{"second value of a single-valued attribute", []store.Mod{{Op: store.ModAdd, Type: "uidNumber", Values: []string{"1001"}}},
			store.ErrConstraintViolation, nil},
		{"remove an attribute the schema requires", []store.Mod{{Op: store.ModDelete, Type: "sn"}},
			store.ErrObjectClassViolation, nil},
		{"remove a class with what it required", []store.Mod{
			{Op: store.ModDelete, Type: "objectClass", Values: []string{"posixaccount"}},
			{Op: store.ModDelete, Type: "homeDirectory"}}, nil,
			map[string][]string{"homeDirectory": nil, "objectClass": {"top", "inetOrgPerson"}}},
		{"mods apply in order", []store.Mod{
			{Op: store.ModAdd, Type: "description", Values: []string{"tmp"}},
			{Op: store.ModDelete, Type: "description", Values: []string{"TMP"}}}, nil,
			map[string][]string{"description": nil}},
		{"createTimestamp is not modifiable", []store.Mod{{Op: store.ModReplace, Type: "createTimestamp", Values: []string{"20200101000000Z"}}},
			store.ErrConstraintViolation, nil},
		{"modifyTimestamp is not modifiable", []store.Mod{{Op: store.ModReplace, Type: "modifyTimestamp", Values: []string{"20200101000000Z"}}},
			store.ErrConstraintViolation, nil},
		{"entryUUID is not modifiable", []store.Mod{{Op: store.ModDelete, Type: "entryUUID"}}, store.ErrConstraintViolation, nil},
		{"memberOf is not modifiable", []store.Mod{{Op: store.ModAdd, Type: "memberOf", Values: []string{groups}}},
			store.ErrConstraintViolation, nil},
		{"unknown operation", []store.Mod{{Op: 9, Type: "description", Values: []string{"x"}}}, store.ErrUnwillingToPerform, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c := tree(t)
			dn := mustParseDN(t, alice)
			before := get(t, d, alice)
			c.Set(t0.Add(90 * time.Minute))
			got, err := modify(ctx, d, dn, tt.mods...)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Modify error = %v, want %v", err, tt.want)
			}
			after := get(t, d, alice)
			if err != nil {
				if !slices.EqualFunc(after.Attrs, before.Attrs, func(a, b store.Attr) bool {
					return a.Type == b.Type && slices.Equal(a.Values, b.Values)
				}) {
					t.Errorf("failed Modify changed the entry: %v, was %v", after.Attrs, before.Attrs)
				}
				return
			}
			for attr, want := range tt.check {
				if v := after.Get(attr); !slices.Equal(v, want) {
					t.Errorf("%s = %q, want %q", attr, v, want)
				}
				if v := got.Get(attr); !slices.Equal(v, want) {
					t.Errorf("returned entry: %s = %q, want %q", attr, v, want)
				}
			}
			if ts := after.First("modifyTimestamp"); ts != "20240101013000Z" {
				t.Errorf("modifyTimestamp = %s, want 20240101013000Z", ts)
			}
			if ts := after.First("createTimestamp"); ts != "20240101000000Z" {
				t.Errorf("createTimestamp = %s, want it unchanged", ts)
			}
			if after.First("entryUUID") != before.First("entryUUID") {
				t.Errorf("entryUUID changed")
			}
		})
	}
	t.Run("missing entry", func(t *testing.T) {
		d, _ := tree(t)
		_, err := modify(ctx, d, mustParseDN(t, "uid=nobody,"+people), store.Mod{Op: store.ModAdd, Type: "description", Values: []string{"x"}})
		if !errors.Is(err, store.ErrNoSuchObject) {
			t.Errorf("error = %v, want ErrNoSuchObject", err)
		}
	})
	t.Run("modifiersName is the actor", func(t *testing.T) {
		d, _ := tree(t)
		err := d.Update(ctx, func(tx *store.Txn) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModAdd, Type: "description", Values: []string{"x"}}}, "cn=other")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, d, alice).First("modifiersName"); got != "cn=other" {
			t.Errorf("modifiersName = %q, want cn=other", got)
		}
		if got := get(t, d, alice).First("creatorsName"); got != testAdmin {
			t.Errorf("creatorsName = %q, want %s", got, testAdmin)
		}
	})
	t.Run("Quiet leaves modifyTimestamp alone", func(t *testing.T) {
		d, c := tree(t)
		c.Set(t0.Add(time.Hour))
		err := d.Update(ctx, func(tx *store.Txn) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModAdd, Type: "description", Values: []string{"x"}}}, store.Quiet)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		e := get(t, d, alice)
		if e.First("modifyTimestamp") != "20240101000000Z" || e.First("modifiersName") != testAdmin {
			t.Errorf("Quiet modify changed modifyTimestamp %s / modifiersName %s", e.First("modifyTimestamp"), e.First("modifiersName"))
		}
	})
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		dn   string
		want error
	}{
		{"leaf", "uid=alice," + people, nil},
		{"leaf named in other case", "UID=Alice, OU=People, DC=example, DC=com", nil},
		{"entry with children", people, store.ErrNotAllowedOnNonLeaf},
		{"the base entry", testBase, store.ErrUnwillingToPerform},
		{"missing entry", "uid=nobody," + people, store.ErrNoSuchObject},
		{"outside the base", "uid=x,ou=people,dc=other,dc=org", store.ErrNoSuchObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := tree(t)
			err := del(ctx, d, mustParseDN(t, tt.dn))
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Delete(%s) error = %v, want %v", tt.dn, err, tt.want)
			}
			if err == nil {
				mustGone(t, d, tt.dn)
			} else if !errors.Is(err, store.ErrNoSuchObject) {
				get(t, d, tt.dn)
			}
		})
	}
	t.Run("parent becomes a leaf after its last child goes", func(t *testing.T) {
		d, _ := tree(t)
		if err := del(ctx, d, mustParseDN(t, "uid=alice,"+people)); err != nil {
			t.Fatal(err)
		}
		if get(t, d, people).HasChildren() {
			t.Errorf("ou=people still has children")
		}
		if err := del(ctx, d, mustParseDN(t, people)); err != nil {
			t.Errorf("deleting the emptied ou: %v", err)
		}
	})
}

func TestRename(t *testing.T) {
	ctx := context.Background()
	alice := "uid=alice," + people
	tests := []struct {
		name      string
		dn        string
		rdn       string
		deleteOld bool
		sup       string
		want      error
		newDN     string
		check     map[string][]string
	}{
		{"new RDN keeping the old value", alice, "uid=alice2", false, "", nil,
			"uid=alice2," + people, map[string][]string{"uid": {"alice", "alice2"}}},
		{"new RDN deleting the old value", alice, "uid=alice2", true, "", nil,
			"uid=alice2," + people, map[string][]string{"uid": {"alice2"}}},
		{"new RDN of another type keeping the old value", alice, "cn=Alice Liddell", false, "", nil,
			"cn=Alice Liddell," + people, map[string][]string{"uid": {"alice"}, "cn": {"alice Example", "Alice Liddell"}}},
		{"new RDN value already among the values", alice, "cn=ALICE EXAMPLE", false, "", nil,
			"cn=alice example," + people, map[string][]string{"cn": {"alice Example"}}},
		{"deleting an old RDN value a class requires", alice, "cn=Alice", true, "", store.ErrObjectClassViolation, "", nil},
		{"multi-valued new RDN", alice, "uid=alice+employeeNumber=7", true, "", nil,
			"uid=alice+employeeNumber=7," + people, map[string][]string{"uid": {"alice"}, "employeeNumber": {"7"}}},
		{"new superior", alice, "uid=alice", false, "ou=staff," + testBase, nil,
			"uid=alice,ou=staff," + testBase, map[string][]string{"uid": {"alice"}}},
		{"new superior and new RDN", alice, "uid=al", true, "ou=staff," + testBase, nil,
			"uid=al,ou=staff," + testBase, map[string][]string{"uid": {"al"}}},
		{"new superior that does not exist", alice, "uid=alice", false, "ou=nowhere," + testBase, store.ErrNoSuchObject, "", nil},
		{"new superior outside the base", alice, "uid=alice", false, "dc=other,dc=org", store.ErrNoSuchObject, "", nil},
		{"new superior is the entry itself", alice, "uid=alice", false, alice, store.ErrUnwillingToPerform, "", nil},
		{"target exists", alice, "uid=bob", true, "", store.ErrAlreadyExists, "", nil},
		{"entry with children", people, "ou=persons", true, "", store.ErrNotAllowedOnNonLeaf, "", nil},
		{"the base entry", testBase, "dc=sample", true, "", store.ErrUnwillingToPerform, "", nil},
		{"missing entry", "uid=nobody," + people, "uid=somebody", true, "", store.ErrNoSuchObject, "", nil},
		{"credential attribute as the new RDN", alice, "userPassword=secret", false, "", store.ErrCredentialAttribute, "", nil},
		{"server-maintained attribute as the new RDN", alice, "createTimestamp=20200101000000Z", false, "", store.ErrConstraintViolation, "", nil},
		{"new RDN value that breaks its syntax", alice, "gidNumber=abc", false, "", store.ErrInvalidSyntax, "", nil},
		{"only the case of the RDN changes", alice, "uid=ALICE", true, "", nil,
			"uid=alice," + people, map[string][]string{"uid": {"alice"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c := tree(t)
			mustAdd(t, d, ou(t, "ou=staff,"+testBase), person(t, "bob"))
			c.Set(t0.Add(time.Hour))
			got, err := rename(ctx, d, mustParseDN(t, tt.dn), tt.rdn, tt.deleteOld, tt.sup)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Rename(%s -> %s under %q) error = %v, want %v", tt.dn, tt.rdn, tt.sup, err, tt.want)
			}
			if err != nil {
				if !errors.Is(err, store.ErrNoSuchObject) || tt.sup != "" {
					get(t, d, tt.dn)
				}
				return
			}
			if !got.DN.Equal(mustParseDN(t, tt.newDN)) {
				t.Errorf("renamed DN = %s, want %s", got.DN, tt.newDN)
			}
			if !mustParseDN(t, tt.dn).Equal(got.DN) {
				mustGone(t, d, tt.dn)
			}
			e := get(t, d, tt.newDN)
			for attr, want := range tt.check {
				if v := e.Get(attr); !slices.Equal(v, want) {
					t.Errorf("%s = %q, want %q", attr, v, want)
				}
			}
			if e.First("modifyTimestamp") != "20240101010000Z" || e.First("createTimestamp") != "20240101000000Z" {
				t.Errorf("timestamps after rename: modify %s, create %s", e.First("modifyTimestamp"), e.First("createTimestamp"))
			}
			if e.Key() == "" || e.Key() != got.Key() {
				t.Errorf("Key() = %q, returned entry's %q", e.Key(), got.Key())
			}
		})
	}
	t.Run("moving the last child updates both parents", func(t *testing.T) {
		d, _ := tree(t)
		mustAdd(t, d, ou(t, "ou=staff,"+testBase))
		if _, err := rename(ctx, d, mustParseDN(t, alice), "uid=alice", true, "ou=staff,"+testBase); err != nil {
			t.Fatal(err)
		}
		if get(t, d, people).HasChildren() || !get(t, d, "ou=staff,"+testBase).HasChildren() {
			t.Errorf("children after the move: people %v, staff %v",
				get(t, d, people).HasChildren(), get(t, d, "ou=staff,"+testBase).HasChildren())
		}
		if err := del(ctx, d, mustParseDN(t, people)); err != nil {
			t.Errorf("deleting the emptied old parent: %v", err)
		}
		if err := del(ctx, d, mustParseDN(t, "ou=staff,"+testBase)); !errors.Is(err, store.ErrNotAllowedOnNonLeaf) {
			t.Errorf("deleting the new parent: %v, want ErrNotAllowedOnNonLeaf", err)
		}
		if e, err := d.FindUnique(ctx, "uid", "alice"); err != nil || !e.DN.Equal(mustParseDN(t, "uid=alice,ou=staff,"+testBase)) {
			t.Errorf("FindUnique(alice) after the move = %v, %v", e, err)
		}
	})
}

func TestUpdateIsAtomic(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		fail func(t *testing.T, tx *store.Txn) error
		want error
	}{
		{"a failing operation", func(t *testing.T, tx *store.Txn) error {
			// bob's mail, claimed earlier in this same transaction.
			return tx.Add(person(t, "carol", "mail: BOB@example.com"), testAdmin)
		}, store.ErrConstraintViolation},
		{"the function's own error", func(t *testing.T, tx *store.Txn) error { return errBoom }, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name+" after adds leaves nothing", func(t *testing.T) {
			d, _ := tree(t)
			err := d.Update(ctx, func(tx *store.Txn) error {
				if err := tx.Add(ou(t, "ou=staff,"+testBase), testAdmin); err != nil {
					return err
				}
				if err := tx.Add(ldif(t, "uid=bob,ou=staff,"+testBase, "objectClass: inetOrgPerson", "cn: b", "sn: b", "mail: bob@example.com"), testAdmin); err != nil {
					return err
				}
				if _, err := tx.Get(mustParseDN(t, "uid=bob,ou=staff,"+testBase)); err != nil {
					return err // the transaction sees its own writes
				}
				if _, err := tx.Modify(mustParseDN(t, "uid=alice,"+people), []store.Mod{{Op: store.ModAdd, Type: "description", Values: []string{"x"}}}, testAdmin); err != nil {
					return err
				}
				if err := tx.Delete(mustParseDN(t, "uid=alice,"+people), testAdmin); err != nil {
					return err
				}
				return tt.fail(t, tx)
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Update error = %v, want %v", err, tt.want)
			}
			mustGone(t, d, "ou=staff,"+testBase)
			mustGone(t, d, "uid=bob,ou=staff,"+testBase)
			if e := get(t, d, "uid=alice,"+people); e.First("description") != "" {
				t.Errorf("alice kept the modification: %v", e.Attrs)
			}
			if _, err := d.FindUnique(ctx, "uid", "bob"); !errors.Is(err, store.ErrNoSuchObject) {
				t.Errorf("uid bob is claimed: %v", err)
			}
			if _, err := d.FindUnique(ctx, "uid", "alice"); err != nil {
				t.Errorf("uid alice lost: %v", err)
			}
			// Nothing is left half-claimed: the same adds work now.
			mustAdd(t, d, ou(t, "ou=staff,"+testBase), ldif(t, "uid=bob,ou=staff,"+testBase, "objectClass: inetOrgPerson", "cn: b", "sn: b", "mail: bob@example.com"))
		})
	}
}
