package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// t1 is when searchTree modifies user10..user14.
var t1 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func uname(i int) string { return fmt.Sprintf("user%02d", i) }

// users returns the names userFROM..userTO.
func users(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, uname(i))
	}
	return out
}

func every(from, to, step int) []string {
	var out []string
	for i := from; i <= to; i += step {
		out = append(out, uname(i))
	}
	return out
}

func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// searchTree builds:
//
//	dc=example,dc=com
//	  ou=people: user00..user49 (inetOrgPerson+posixAccount, uidNumber 5+i,
//	             title Engineer for even i, Sales for odd), and uid=Alice
//	             (inetOrgPerson only, mail Alice.Smith@Example.COM)
//	  ou=groups: admins (groupOfNames+posixGroup: user00, user01, Alice),
//	             staff (groupOfNames: user00..user09), devs (posixGroup
//	             only: memberUid user02, user03), uniq (groupOfUniqueNames:
//	             user05)
//
// Everything is written at t0, except that user10..user14 get a
// description at t1. user00..user02 have a userPassword, user00 and user01
// a pwdChangedTime.
func searchTree(t testing.TB, kv store.KV) *store.Directory {
	t.Helper()
	ctx := context.Background()
	d, c := openDir(t, kv)
	mustAdd(t, d, ou(t, people), ou(t, groups))
	var es []*store.Entry
	for i := range 50 {
		n := uname(i)
		title := "Engineer"
		if i%2 == 1 {
			title = "Sales"
		}
		es = append(es, ldif(t, "uid="+n+","+people,
			"objectClass: top", "objectClass: inetOrgPerson", "objectClass: posixAccount",
			"uid: "+n, fmt.Sprintf("cn: User %02d", i), fmt.Sprintf("sn: %02d", i), "mail: "+n+"@example.com",
			fmt.Sprintf("uidNumber: %d", 5+i), "gidNumber: 100", "homeDirectory: /home/"+n, "title: "+title))
	}
	es = append(es, ldif(t, "uid=Alice,"+people, "objectClass: inetOrgPerson",
		"cn: Alice Smith", "sn: Smith", "mail: Alice.Smith@Example.COM"))
	member := func(i int) string { return "member: uid=" + uname(i) + "," + people }
	es = append(es,
		ldif(t, "cn=admins,"+groups, "objectClass: groupOfNames", "objectClass: posixGroup", "gidNumber: 500",
			member(0), member(1), "member: UID=Alice, OU=People, DC=Example, DC=Com", "memberUid: user00", "memberUid: user01"),
		ldif(t, "cn=staff,"+groups, append([]string{"objectClass: groupOfNames"},
			member(0), member(1), member(2), member(3), member(4), member(5), member(6), member(7), member(8), member(9))...),
		ldif(t, "cn=devs,"+groups, "objectClass: top", "objectClass: posixGroup", "gidNumber: 501",
			"memberUid: user02", "memberUid: user03"),
		ldif(t, "cn=uniq,"+groups, "objectClass: groupOfUniqueNames", "uniqueMember: uid=user05,"+people),
	)
	mustAdd(t, d, es...)
	c.Set(t1)
	for i := 10; i <= 14; i++ {
		if _, err := modify(ctx, d, mustParseDN(t, "uid="+uname(i)+","+people),
			store.Mod{Op: store.ModAdd, Type: "description", Values: []string{"moved"}}); err != nil {
			t.Fatal(err)
		}
	}
	creds, err := d.ClaimCredentials()
	if err != nil {
		t.Fatal(err)
	}
	state := map[int][]store.Mod{
		0: {{Op: store.ModAdd, Type: "userPassword", Values: []string{"{SSHA}x"}},
			{Op: store.ModAdd, Type: "pwdChangedTime", Values: []string{"20240102000000Z"}}},
		1: {{Op: store.ModAdd, Type: "userPassword", Values: []string{"{SSHA}y"}},
			{Op: store.ModAdd, Type: "pwdChangedTime", Values: []string{"20240301000000Z"}}},
		2: {{Op: store.ModAdd, Type: "userPassword", Values: []string{"{SSHA}z"}}},
	}
	err = creds.Update(ctx, func(tx *store.Txn) error {
		for i, mods := range state {
			if _, err := tx.Modify(mustParseDN(t, "uid="+uname(i)+","+people), mods, store.Quiet); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// name is how a test refers to an entry: its first RDN value.
func name(e *store.Entry) string { return e.DN[0][0].Value }

func search(ctx context.Context, d *store.Directory, req store.SearchRequest) ([]*store.Entry, error) {
	var out []*store.Entry
	err := d.Search(ctx, req, func(e *store.Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

func names(es []*store.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = name(e)
	}
	return out
}

func mustFilter(t testing.TB, s string) store.Filter {
	t.Helper()
	f, err := store.ParseFilter(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSearchFilters(t *testing.T) {
	ctx := context.Background()
	d := searchTree(t, nil)
	admins := "cn=admins," + groups
	staff := "cn=staff," + groups
	all := append(users(0, 49), "Alice")
	const sub = store.ScopeSubtree
	tests := []struct {
		name   string
		filter string
		base   string // default testBase
		scope  int
		admin  bool
		want   []string
	}{
		{"equality on indexed uid", "(uid=user03)", "", sub, false, []string{"user03"}},
		{"uid ignores case", "(uid=USER03)", "", sub, false, []string{"user03"}},
		{"uid stored in capitals found in lower case", "(uid=alice)", "", sub, false, []string{"Alice"}},
		{"mail ignores case", "(mail=alice.smith@example.com)", "", sub, false, []string{"Alice"}},
		{"mail asked in capitals", "(mail=USER04@EXAMPLE.COM)", "", sub, false, []string{"user04"}},
		{"cn ignores case", "(cn=user 03)", "", sub, false, []string{"user03"}},
		{"cn ignores repeated spaces", "(cn=USER   03 )", "", sub, false, []string{"user03"}},
		{"alias in the filter", "(commonName=alice smith)", "", sub, false, []string{"Alice"}},
		{"equality on a non-indexed attribute", "(sn=03)", "", sub, false, []string{"user03"}},
		{"non-indexed attribute ignores case", "(title=sales)", "", sub, false, every(1, 49, 2)},
		{"indexed and non-indexed in AND", "(&(objectClass=posixAccount)(title=Engineer))", "", sub, false, every(0, 48, 2)},
		{"objectClass ignores case", "(objectClass=POSIXGROUP)", "", sub, false, []string{"admins", "devs"}},
		{"a superclass matches (person for inetOrgPerson), through the index", "(objectClass=person)", "", sub, false, all},
		{"a superclass matches without the index", "(|(objectClass=organizationalPerson)(description=nothing))", "", sub, false, all},
		{"memberOf", "(memberOf=" + admins + ")", "", sub, false, []string{"user00", "user01", "Alice"}},
		{"memberOf spelled differently", "(memberOf=CN=Admins, OU=Groups, DC=Example, DC=Com)", "", sub, false,
			[]string{"user00", "user01", "Alice"}},
		{"memberOf through uniqueMember", "(memberOf=cn=uniq," + groups + ")", "", sub, false, []string{"user05"}},
		{"memberOf in AND", "(&(memberOf=" + staff + ")(title=Sales))", "", sub, false, every(1, 9, 2)},
		{"memberOf and NOT memberOf", "(&(objectClass=posixAccount)(memberOf=" + staff + ")(!(memberOf=" + admins + ")))", "", sub, false,
			users(2, 9)},
		{"memberOf of a missing group", "(memberOf=cn=nobody," + groups + ")", "", sub, false, nil},
		{"memberOf that is not a DN", "(memberOf=nonsense)", "", sub, false, nil},
		{"memberOf ignores memberUid-only groups", "(memberOf=cn=devs," + groups + ")", "", sub, false, nil},
		{"no memberOf", "(&(objectClass=posixAccount)(!(memberOf=*)))", "", sub, false, users(10, 49)},
		{"member as a DN", "(member=UID=user00,OU=people,DC=example,DC=com)", "", sub, false, []string{"admins", "staff"}},
		{"memberUid", "(memberUid=user02)", "", sub, false, []string{"devs"}},
		{"substring initial", "(uid=user1*)", "", sub, false, users(10, 19)},
		{"substring any", "(cn=*ser 4*)", "", sub, false, users(40, 49)},
		{"substring final ignores case", "(mail=*@EXAMPLE.com)", "", sub, false, all},
		{"substring initial, any and final", "(cn=u*r*5)", "", sub, false, every(5, 45, 10)},
		{"substring final", "(cn=*SMITH)", "", sub, false, []string{"Alice"}},
		{"presence", "(mail=*)", "", sub, false, all},
		{"presence of a rare attribute", "(description=*)", "", sub, false, users(10, 14)},
		{"integers order as numbers (>=)", "(uidNumber>=10)", "", sub, false, users(5, 49)},
		{"integers order as numbers (<=)", "(uidNumber<=9)", "", sub, false, users(0, 4)},
		{"integer ordering on groups", "(gidNumber>=500)", "", sub, false, []string{"admins", "devs"}},
		{"generalized time ordering", "(modifyTimestamp>=20240301000000Z)", "", sub, false, users(10, 14)},
		{"generalized time with an offset", "(modifyTimestamp>=20240301130000+0100)", "", sub, false, users(10, 14)},
		{"generalized time to the hour", "(modifyTimestamp>=2024030112Z)", "", sub, false, users(10, 14)},
		{"generalized time with a fraction", "(modifyTimestamp>=20240301120000.5Z)", "", sub, false, nil},
		{"generalized time with a fraction of an hour", "(modifyTimestamp>=2024030111.5Z)", "", sub, false, users(10, 14)},
		{"generalized time (<=)", "(modifyTimestamp<=20240101000000Z)", people, store.ScopeOne, false,
			join(users(0, 9), users(15, 49), []string{"Alice"})},
		{"NOT", "(!(title=Sales))", people, store.ScopeOne, false, append(every(0, 48, 2), "Alice")},
		{"OR of indexed children", "(|(uid=user01)(mail=user02@example.com)(uidNumber=20))", "", sub, false,
			[]string{"user01", "user02", "user15"}},
		{"OR with a child no index answers", "(|(uid=user01)(title=nobody))", "", sub, false, []string{"user01"}},
		{"OR naming one entry twice", "(|(uid=user01)(mail=user01@example.com))", "", sub, false, []string{"user01"}},
		{"nested", "(&(objectClass=inetOrgPerson)(|(uid=user1*)(memberOf=" + admins + "))(!(uidNumber>=18)))", "", sub, false,
			[]string{"user00", "user01", "user10", "user11", "user12", "Alice"}},
		{"approx", "(cn~=user 07)", "", sub, false, []string{"user07"}},
		{"extensible with caseExactMatch", "(uid:caseExactMatch:=Alice)", "", sub, false, []string{"Alice"}},
		{"extensible with caseExactMatch refuses other case", "(uid:caseExactMatch:=alice)", "", sub, false, nil},
		{"extensible by OID", "(uid:2.5.13.5:=user07)", "", sub, false, []string{"user07"}},
		{"extensible with the attribute's own rule", "(cn:=USER 07)", "", sub, false, []string{"user07"}},
		{"extensible with dn attributes", "(ou:dn:=people)", "", sub, false, append(all, "people")},
		{"extensible with an unknown rule", "(cn:1.2.3.4:=user 07)", "", sub, false, nil},
		{"userPassword never matches", "(userPassword=*)", "", sub, false, nil},
		{"userPassword never matches the administrator", "(userPassword=*)", "", sub, true, nil},
		{"userPassword equality never matches", "(userPassword={SSHA}x)", "", sub, true, nil},
		{"userPassword substring never matches", "(userPassword={SSHA}*)", "", sub, true, nil},
		{"userPassword extensible never matches", "(userPassword:caseExactMatch:={SSHA}x)", "", sub, true, nil},
		{"pwdChangedTime hidden from users", "(pwdChangedTime=*)", "", sub, false, nil},
		{"pwdChangedTime matches for the administrator", "(pwdChangedTime=*)", "", sub, true, []string{"user00", "user01"}},
		{"pwdChangedTime ordering for the administrator", "(pwdChangedTime>=20240201000000Z)", "", sub, true, []string{"user01"}},
		{"computed entryDN", "(entryDN=UID=user07,OU=People,DC=example,DC=com)", "", sub, false, []string{"user07"}},
		{"computed hasSubordinates", "(hasSubordinates=TRUE)", "", sub, false, []string{"example", "people", "groups"}},
		{"absolute true", "(&)", "", store.ScopeBase, false, []string{"example"}},
		{"absolute false", "(|)", "", sub, false, nil},
		{"unknown attribute", "(foo=bar)", "", sub, false, nil},
		{"value the syntax refuses", "(uidNumber=abc)", "", sub, false, nil},
		{"filter attribute with an option", "(uid;x-opt=user07)", "", sub, false, []string{"user07"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if base == "" {
				base = testBase
			}
			req := store.SearchRequest{Base: mustParseDN(t, base), Scope: tt.scope, Filter: mustFilter(t, tt.filter), Admin: tt.admin}
			es, err := search(ctx, d, req)
			if err != nil {
				t.Fatalf("Search(%s): %v", tt.filter, err)
			}
			got := names(es)
			if !sortedEqual(got, tt.want) {
				t.Errorf("Search(%s) = %q, want %q", tt.filter, got, tt.want)
			}
			// Search and Match agree.
			for _, e := range es {
				if ok, err := d.Match(ctx, e, req.Filter, tt.admin); !ok || err != nil {
					t.Errorf("Match(%s, %s) = %v, %v for an entry Search returned", e.DN, tt.filter, ok, err)
				}
			}
			assertKeyOrder(t, es)
		})
	}
}

func sortedEqual(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// assertKeyOrder checks that results come in strictly increasing key
// order, which paging relies on.
func assertKeyOrder(t *testing.T, es []*store.Entry) {
	t.Helper()
	for i := 1; i < len(es); i++ {
		if es[i-1].Key() >= es[i].Key() {
			t.Errorf("results out of order: %s (key %q) before %s (key %q)", es[i-1].DN, es[i-1].Key(), es[i].DN, es[i].Key())
		}
	}
}

func TestSearchScopes(t *testing.T) {
	ctx := context.Background()
	d := searchTree(t, nil)
	all := append(users(0, 49), "Alice")
	tests := []struct {
		name   string
		base   string
		scope  int
		filter string
		want   []string
	}{
		{"base", people, store.ScopeBase, "(objectClass=*)", []string{"people"}},
		{"base that does not match", people, store.ScopeBase, "(uid=*)", nil},
		{"base of a leaf", "uid=user07," + people, store.ScopeBase, "(uid=user07)", []string{"user07"}},
		{"one level", people, store.ScopeOne, "(objectClass=*)", all},
		{"one level from the naming context", testBase, store.ScopeOne, "(objectClass=*)", []string{"people", "groups"}},
		{"one level with an index", testBase, store.ScopeOne, "(objectClass=organizationalUnit)", []string{"people", "groups"}},
		{"one level does not reach grandchildren", testBase, store.ScopeOne, "(uid=user07)", nil},
		{"subtree includes the base", people, store.ScopeSubtree, "(objectClass=*)", append(all, "people")},
		{"subtree with an index", people, store.ScopeSubtree, "(objectClass=organizationalUnit)", []string{"people"}},
		{"subtree does not leave the base", groups, store.ScopeSubtree, "(uid=user07)", nil},
		{"children excludes the base", people, store.ScopeChildren, "(objectClass=*)", all},
		{"children with an index", testBase, store.ScopeChildren, "(objectClass=organizationalUnit)", []string{"people", "groups"}},
		{"children of a leaf", "uid=user07," + people, store.ScopeChildren, "(objectClass=*)", nil},
		{"base named in other case", "OU=People,DC=Example,DC=Com", store.ScopeOne, "(uid=user0*)", users(0, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := search(ctx, d, store.SearchRequest{Base: mustParseDN(t, tt.base), Scope: tt.scope, Filter: mustFilter(t, tt.filter)})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(es); !sortedEqual(got, tt.want) {
				t.Errorf("Search = %q, want %q", got, tt.want)
			}
			assertKeyOrder(t, es)
		})
	}
	for _, scope := range []int{store.ScopeBase, store.ScopeOne, store.ScopeSubtree, store.ScopeChildren} {
		for _, filter := range []string{"(objectClass=*)", "(uid=user07)"} {
			t.Run(fmt.Sprintf("missing base, scope %d, %s", scope, filter), func(t *testing.T) {
				_, err := search(ctx, d, store.SearchRequest{Base: mustParseDN(t, "ou=nowhere,"+testBase), Scope: scope, Filter: mustFilter(t, filter)})
				if !errors.Is(err, store.ErrNoSuchObject) {
					t.Errorf("error = %v, want ErrNoSuchObject", err)
				}
			})
		}
	}
}

func TestSearchSizeLimit(t *testing.T) {
	ctx := context.Background()
	d := searchTree(t, nil)
	tests := []struct {
		name    string
		filter  string
		limit   int
		want    int
		wantErr error
	}{
		{"indexed search past the limit", "(objectClass=posixAccount)", 10, 10, store.ErrSizeLimitExceeded},
		{"scanned search past the limit", "(title=Sales)", 10, 10, store.ErrSizeLimitExceeded},
		{"limit of one", "(mail=*)", 1, 1, store.ErrSizeLimitExceeded},
		{"exactly the limit", "(memberOf=cn=admins," + groups + ")", 3, 3, nil},
		{"under the limit", "(uid=user0*)", 11, 10, nil},
		{"no limit", "(mail=*)", 0, 51, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := search(ctx, d, store.SearchRequest{Base: mustParseDN(t, testBase), Scope: store.ScopeSubtree,
				Filter: mustFilter(t, tt.filter), SizeLimit: tt.limit})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if len(es) != tt.want {
				t.Errorf("%d entries before the end, want %d", len(es), tt.want)
			}
		})
	}
	t.Run("the callback's error stops the search", func(t *testing.T) {
		errStop := errors.New("enough")
		n := 0
		err := d.Search(ctx, store.SearchRequest{Base: mustParseDN(t, testBase), Scope: store.ScopeSubtree, Filter: mustFilter(t, "(mail=*)")},
			func(*store.Entry) error {
				n++
				if n == 3 {
					return errStop
				}
				return nil
			})
		if !errors.Is(err, errStop) || n != 3 {
			t.Errorf("Search = %v after %d entries, want the callback's error after 3", err, n)
		}
	})
}

// TestSearchPaging resumes searches with After, as the paged results
// control does, and checks the pages add up to the whole result.
func TestSearchPaging(t *testing.T) {
	ctx := context.Background()
	d := searchTree(t, nil)
	tests := []struct {
		name   string
		base   string
		scope  int
		filter string
	}{
		{"indexed search", testBase, store.ScopeSubtree, "(objectClass=inetOrgPerson)"},
		{"scanned subtree including its base", testBase, store.ScopeSubtree, "(objectClass=*)"},
		{"scanned one level", people, store.ScopeOne, "(title=*)"},
		{"memberOf", testBase, store.ScopeSubtree, "(memberOf=cn=staff," + groups + ")"},
		{"OR of indexes", testBase, store.ScopeSubtree, "(|(uid=user01)(uid=user02)(mail=user03@example.com)(uidNumber=20))"},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 7, 10} {
			t.Run(fmt.Sprintf("%s in pages of %d", tt.name, size), func(t *testing.T) {
				req := store.SearchRequest{Base: mustParseDN(t, tt.base), Scope: tt.scope, Filter: mustFilter(t, tt.filter)}
				whole, err := search(ctx, d, req)
				if err != nil {
					t.Fatal(err)
				}
				var paged []*store.Entry
				req.SizeLimit = size
				for pages := 0; ; pages++ {
					if pages > len(whole)+1 {
						t.Fatalf("paging does not end")
					}
					page, err := search(ctx, d, req)
					paged = append(paged, page...)
					if err == nil {
						break
					}
					if !errors.Is(err, store.ErrSizeLimitExceeded) {
						t.Fatal(err)
					}
					if len(page) != size {
						t.Fatalf("a full page has %d entries, want %d", len(page), size)
					}
					req.After = page[len(page)-1].Key()
				}
				if got, want := dns(paged), dns(whole); !slices.Equal(got, want) {
					t.Errorf("pages gave\n%q\nwant\n%q", got, want)
				}
			})
		}
	}
}

func dns(es []*store.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.DN.String()
	}
	return out
}

func TestMemberOf(t *testing.T) {
	ctx := context.Background()
	d := searchTree(t, nil)
	tests := []struct {
		name string
		dn   string
		want []string
	}{
		{"member of two groups", "uid=user00," + people, []string{"cn=admins," + groups, "cn=staff," + groups}},
		{"member through uniqueMember", "uid=user05," + people, []string{"cn=staff," + groups, "cn=uniq," + groups}},
		{"memberUid does not make memberOf", "uid=user02," + people, []string{"cn=staff," + groups}},
		{"listed under another spelling of the DN", "uid=alice," + people, []string{"cn=admins," + groups}},
		{"in no group", "uid=user30," + people, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.MemberOf(ctx, get(t, d, tt.dn))
			if err != nil {
				t.Fatal(err)
			}
			if !sortedEqual(got, tt.want) {
				t.Errorf("MemberOf = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("follows group changes", func(t *testing.T) {
		d := searchTree(t, nil)
		staff := mustParseDN(t, "cn=staff,"+groups)
		if _, err := modify(ctx, d, staff, store.Mod{Op: store.ModAdd, Type: "member", Values: []string{"uid=user30," + people}}); err != nil {
			t.Fatal(err)
		}
		if err := del(ctx, d, mustParseDN(t, "cn=admins,"+groups)); err != nil {
			t.Fatal(err)
		}
		if _, err := rename(ctx, d, staff, "cn=team", true, ""); err != nil {
			t.Fatal(err)
		}
		for dn, want := range map[string][]string{
			"uid=user30," + people: {"cn=team," + groups},
			"uid=user00," + people: {"cn=team," + groups},
			"uid=alice," + people:  nil,
		} {
			got, err := d.MemberOf(ctx, get(t, d, dn))
			if err != nil || !sortedEqual(got, want) {
				t.Errorf("MemberOf(%s) = %q, %v; want %q", dn, got, err, want)
			}
		}
		es, err := search(ctx, d, store.SearchRequest{Base: d.Base(), Scope: store.ScopeSubtree,
			Filter: mustFilter(t, "(memberOf=cn=team,"+groups+")")})
		if err != nil || !sortedEqual(names(es), append(users(0, 9), "user30")) {
			t.Errorf("Search(memberOf=team) = %q, %v", names(es), err)
		}
	})
}

// countingKV counts the entry records a search reads, through Get or
// Scan, and the Scans it starts.
type countingKV struct {
	store.KV
	entryReads atomic.Int64
	scans      atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key []byte) ([]byte, error) {
	if len(key) > 0 && key[0] == 'e' {
		c.entryReads.Add(1)
	}
	return c.KV.Get(ctx, key)
}

func (c *countingKV) Scan(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	c.scans.Add(1)
	return c.KV.Scan(ctx, prefix, func(k, v []byte) error {
		if len(k) > 0 && k[0] == 'e' {
			c.entryReads.Add(1)
		}
		return fn(k, v)
	})
}

func (c *countingKV) reset() {
	c.entryReads.Store(0)
	c.scans.Store(0)
}

var _ store.KV = (*countingKV)(nil)

// TestSearchUsesIndexes proves that equality on an indexed attribute reads
// a handful of entry records, not the whole subtree.
func TestSearchUsesIndexes(t *testing.T) {
	ctx := context.Background()
	db := memkv.New()
	t.Cleanup(func() { db.Close() })
	kv := &countingKV{KV: db}
	d, _ := openDir(t, kv)
	mustAdd(t, d, ou(t, people), ou(t, groups))
	const n = 1000
	for batch := 0; batch < n; batch += 100 {
		var es []*store.Entry
		for i := batch; i < batch+100; i++ {
			u := fmt.Sprintf("user%04d", i)
			es = append(es, ldif(t, "uid="+u+","+people, "objectClass: inetOrgPerson", "objectClass: posixAccount",
				"cn: "+u, "sn: x", "mail: "+u+"@example.com", fmt.Sprintf("uidNumber: %d", 10000+i),
				"gidNumber: 100", "homeDirectory: /home/"+u))
		}
		mustAdd(t, d, es...)
	}
	mustAdd(t, d, ldif(t, "cn=g,"+groups, "objectClass: groupOfNames",
		"member: uid=user0001,"+people, "member: uid=user0500,"+people, "member: uid=user0999,"+people))

	tests := []struct {
		name     string
		filter   string
		want     int
		maxReads int64  // the base, the group for memberOf, the candidates
		maxScans int64  // index scans; matching memberOf scans two per entry
		plan     string // what SearchRequest.Plan reports
	}{
		{"uid", "(uid=user0500)", 1, 2, 1, "index uid"},
		{"uid in other case", "(uid=USER0500)", 1, 2, 1, "index uid"},
		{"mail", "(mail=user0500@example.com)", 1, 2, 1, "index mail"},
		{"uidNumber", "(uidNumber=10500)", 1, 2, 1, "index uidNumber"},
		{"uid that nobody has", "(uid=nobody)", 0, 1, 1, "index uid"},
		{"uid in AND with unindexed", "(&(objectClass=posixAccount)(uid=user0500)(!(sn=y)))", 1, 2, 1, "index uid"},
		{"OR of uids", "(|(uid=user0001)(uid=user0002)(mail=user0003@example.com))", 3, 4, 3, "index mail,uid"},
		{"memberOf", "(memberOf=cn=g," + groups + ")", 3, 5, 6, "index memberOf"},
		{"memberOf in AND", "(&(objectClass=posixAccount)(memberOf=cn=g," + groups + "))", 3, 5, 6, "index memberOf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kv.reset()
			plan := ""
			es, err := search(ctx, d, store.SearchRequest{Base: d.Base(), Scope: store.ScopeSubtree, Filter: mustFilter(t, tt.filter),
				Plan: func(p string) { plan = p }})
			if err != nil {
				t.Fatal(err)
			}
			if plan != tt.plan {
				t.Errorf("plan %q, want %q", plan, tt.plan)
			}
			if len(es) != tt.want {
				t.Errorf("%d results, want %d", len(es), tt.want)
			}
			if r := kv.entryReads.Load(); r > tt.maxReads {
				t.Errorf("read %d entry records of %d, want at most %d", r, n, tt.maxReads)
			}
			if s := kv.scans.Load(); s > tt.maxScans {
				t.Errorf("%d scans, want at most %d", s, tt.maxScans)
			}
		})
	}
	t.Run("the counter sees a full scan", func(t *testing.T) {
		kv.reset()
		plan := ""
		if _, err := search(ctx, d, store.SearchRequest{Base: d.Base(), Scope: store.ScopeSubtree, Filter: mustFilter(t, "(sn=y)"),
			Plan: func(p string) { plan = p }}); err != nil {
			t.Fatal(err)
		}
		if plan != "scan" {
			t.Errorf("plan %q, want scan", plan)
		}
		if r := kv.entryReads.Load(); r < n {
			t.Errorf("an unindexed search read %d entry records, want at least %d", r, n)
		}
	})
}

// FuzzMatch evaluates arbitrary filters (seeds: typical SSSD and ldapsearch
// filters, testdata/fuzz/FuzzMatch) on a small directory. Properties: no
// panic; a filter and its negation never agree on an entry; and Search,
// whatever index it picks, returns exactly the entries Match accepts.
func FuzzMatch(f *testing.F) {
	ctx := context.Background()
	d, _ := openDir(f, nil)
	alice := "uid=alice," + people
	mustAdd(f, d, ou(f, people), ou(f, groups),
		posixPerson(f, "alice", "1000", "cn: Alice Smith", "mail: Alice.Smith@Example.COM", "description: a*b(c)"),
		person(f, "bob", "uidNumber: 9", "objectClass: posixAccount", "gidNumber: 10", "homeDirectory: /home/bob"),
		ldif(f, "cn=admins,"+groups, "objectClass: groupOfNames", "objectClass: posixGroup", "gidNumber: 1000",
			"member: "+alice, "memberUid: alice"),
		ldif(f, "cn=uniq,"+groups, "objectClass: groupOfUniqueNames", "uniqueMember: uid=bob,"+people),
	)
	creds, err := d.ClaimCredentials()
	if err != nil {
		f.Fatal(err)
	}
	err = creds.Update(ctx, func(tx *store.Txn) error {
		_, err := tx.Modify(mustParseDN(f, alice), []store.Mod{
			{Op: store.ModAdd, Type: "userPassword", Values: []string{"{SSHA}x"}},
			{Op: store.ModAdd, Type: "pwdChangedTime", Values: []string{"20240101000000Z"}},
			{Op: store.ModAdd, Type: "pwdAccountLockedTime", Values: []string{"000001010000Z"}}}, store.Quiet)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	entries, err := search(ctx, d, store.SearchRequest{Base: d.Base(), Scope: store.ScopeSubtree, Filter: store.Filter{Kind: store.FilterAnd}})
	if err != nil || len(entries) != 7 {
		f.Fatalf("listing the fixture: %d entries, %v", len(entries), err)
	}

	f.Fuzz(func(t *testing.T, s string) {
		flt, err := store.ParseFilter(s)
		if err != nil {
			return
		}
		not := store.Filter{Kind: store.FilterNot, Children: []store.Filter{flt}}
		for _, admin := range []bool{false, true} {
			var want []string
			for _, e := range entries {
				m, err1 := d.Match(ctx, e, flt, admin)
				n, err2 := d.Match(ctx, e, not, admin)
				if err1 != nil || err2 != nil {
					continue
				}
				if m == n {
					t.Fatalf("admin=%v: %s matches %s: %v, and its negation: %v", admin, e.DN, s, m, n)
				}
				if m {
					want = append(want, e.DN.String())
				}
			}
			got, err := search(ctx, d, store.SearchRequest{Base: d.Base(), Scope: store.ScopeSubtree, Filter: flt, Admin: admin})
			if err != nil {
				t.Fatalf("admin=%v: Search(%s): %v", admin, s, err)
			}
			if !slices.Equal(dns(got), want) {
				t.Fatalf("admin=%v: Search(%s) = %q, but Match accepts %q", admin, s, dns(got), want)
			}
			if strings.Contains(strings.ToLower(s), "userpassword") {
				for _, e := range got {
					if ok, _ := d.Match(ctx, e, store.Filter{Kind: store.FilterPresent, Attr: "userPassword"}, admin); ok {
						t.Fatalf("userPassword matched on %s", e.DN)
					}
				}
			}
		}
	})
}
