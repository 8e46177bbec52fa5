package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

func load(ctx context.Context, d *store.Directory, entries ...*store.Entry) error {
	return d.Update(ctx, func(tx *store.Txn) error {
		for _, e := range entries {
			if err := tx.Load(e, testAdmin); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	history := []string{
		"entryUUID: 5f3e8e9c-7f30-1041-85a5-878e8915a138",
		"createTimestamp: 20200101000000Z", "creatorsName: cn=Manager,dc=example,dc=com",
		"modifyTimestamp: 20210101000000Z", "modifiersName: uid=alice,ou=people,dc=example,dc=com",
	}
	t.Run("keeps the operational attributes it is given", func(t *testing.T) {
		d, _ := openDir(t, nil)
		mustAdd(t, d, ou(t, people))
		if err := load(ctx, d, person(t, "alice", history...)); err != nil {
			t.Fatal(err)
		}
		e := get(t, d, "uid=alice,"+people)
		for _, l := range history {
			typ, val, _ := cutLine(l)
			if got := values(e, typ); !slices.Equal(got, []string{val}) {
				t.Errorf("%s = %q, want %q", typ, got, val)
			}
		}
		// The entryUUID index points at the loaded value.
		var found []string
		err := d.Search(ctx, store.SearchRequest{Base: mustParseDN(t, testBase), Scope: store.ScopeSubtree,
			Filter: store.Filter{Kind: store.FilterEquality, Attr: "entryUUID", Value: "5F3E8E9C-7F30-1041-85A5-878E8915A138"}},
			func(e *store.Entry) error { found = append(found, e.DN.String()); return nil })
		if err != nil || !slices.Equal(found, []string{"uid=alice," + people}) {
			t.Errorf("search by entryUUID = %q, %v", found, err)
		}
	})
	t.Run("fills in what is missing as Add does", func(t *testing.T) {
		d, _ := openDir(t, nil)
		mustAdd(t, d, ou(t, people))
		if err := load(ctx, d, person(t, "bob", "createTimestamp: 20200101000000Z")); err != nil {
			t.Fatal(err)
		}
		e := get(t, d, "uid=bob,"+people)
		if got := e.First("createTimestamp"); got != "20200101000000Z" {
			t.Errorf("createTimestamp = %q", got)
		}
		if e.First("creatorsName") != testAdmin || e.First("modifiersName") != testAdmin ||
			e.First("modifyTimestamp") != "20240101000000Z" || e.First("entryUUID") == "" {
			t.Errorf("filled in: creatorsName %q modifiersName %q modifyTimestamp %q entryUUID %q",
				e.First("creatorsName"), e.First("modifiersName"), e.First("modifyTimestamp"), e.First("entryUUID"))
		}
	})
	t.Run("an empty creatorsName is kept", func(t *testing.T) {
		d, _ := openDir(t, nil)
		if err := load(ctx, d, ldif(t, people, "objectClass: organizationalUnit", "creatorsName:")); err != nil {
			t.Fatal(err)
		}
		if got := get(t, d, people).Get("creatorsName"); !slices.Equal(got, []string{""}) {
			t.Errorf("creatorsName = %q", got)
		}
	})
	refused := []struct {
		name string
		e    func(t *testing.T) *store.Entry
		want error
	}{
		{"a computed attribute", func(t *testing.T) *store.Entry { return person(t, "c", "memberOf: cn=g,dc=example,dc=com") }, store.ErrConstraintViolation},
		{"a credential attribute without Credentials", func(t *testing.T) *store.Entry { return person(t, "c", "userPassword: {SSHA}x") }, store.ErrCredentialAttribute},
		{"an entryUUID that is not a UUID", func(t *testing.T) *store.Entry { return person(t, "c", "entryUUID: nope") }, store.ErrInvalidSyntax},
		{"two entryUUIDs", func(t *testing.T) *store.Entry {
			return person(t, "c", "entryUUID: 5f3e8e9c-7f30-1041-85a5-878e8915a138", "entryUUID: 5f3e8e9c-7f30-1041-85a5-878e8915a139")
		}, store.ErrConstraintViolation},
		{"a bad timestamp", func(t *testing.T) *store.Entry { return person(t, "c", "createTimestamp: yesterday") }, store.ErrInvalidSyntax},
		{"an entry without its parent", func(t *testing.T) *store.Entry { return ldif(t, "uid=c,ou=nowhere,"+testBase, "objectClass: account") }, store.ErrNoSuchObject},
	}
	for _, tt := range refused {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			d, _ := openDir(t, nil)
			mustAdd(t, d, ou(t, people))
			if err := load(ctx, d, tt.e(t)); !errors.Is(err, tt.want) {
				t.Errorf("Load = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("Add still refuses operational attributes after a Load", func(t *testing.T) {
		d, _ := openDir(t, nil)
		err := d.Update(ctx, func(tx *store.Txn) error {
			if err := tx.Load(ou(t, people), testAdmin); err != nil {
				return err
			}
			return tx.Add(person(t, "d", "entryUUID: 5f3e8e9c-7f30-1041-85a5-878e8915a138"), testAdmin)
		})
		if !errors.Is(err, store.ErrConstraintViolation) {
			t.Errorf("Add with entryUUID after Load = %v, want a constraint violation", err)
		}
	})
}

func TestOpenNoBaseEntry(t *testing.T) {
	ctx := context.Background()
	kv := memkv.New()
	defer kv.Close()
	d, err := store.Open(ctx, kv, store.Options{BaseDN: testBase, NoBaseEntry: true})
	if err != nil {
		t.Fatal(err)
	}
	mustGone(t, d, testBase)
	// The base entry can then come from an import, with its history.
	base := ldif(t, testBase, "objectClass: dcObject", "objectClass: organization", "o: Example Corp",
		"entryUUID: 5f3e3230-7f30-1041-85a0-878e8915a138", "createTimestamp: 20200101000000Z")
	if err := load(ctx, d, base); err != nil {
		t.Fatal(err)
	}
	if got := get(t, d, testBase); got.First("o") != "Example Corp" || got.First("entryUUID") != "5f3e3230-7f30-1041-85a0-878e8915a138" {
		t.Errorf("base entry = %+v", got.Attrs)
	}
	// A later ordinary Open keeps it.
	d2, err := store.Open(ctx, kv, store.Options{BaseDN: testBase})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, d2, testBase); got.First("o") != "Example Corp" {
		t.Errorf("base entry after Open = %+v", got.Attrs)
	}
}

func cutLine(l string) (typ, val string, ok bool) {
	for i := 0; i+1 < len(l); i++ {
		if l[i] == ':' && l[i+1] == ' ' {
			return l[:i], l[i+2:], true
		}
	}
	return l, "", false
}
