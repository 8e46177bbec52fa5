package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/dird/dird/store"
)

func TestParseDN(t *testing.T) {
	one := func(typ, val string) store.RDN { return store.RDN{{Type: typ, Value: val}} }
	tests := []struct {
		name string
		in   string
		want store.DN
		str  string // String() of the result
		norm string // Norm() of the result
	}{
		{"empty string is the root", "", nil, "", ""},
		{"only spaces is the root", "   ", nil, "", ""},
		{"plain DN keeps case as written", "uid=Alice,ou=People,dc=Example,dc=com",
			store.DN{one("uid", "Alice"), one("ou", "People"), one("dc", "Example"), one("dc", "com")},
			"uid=Alice,ou=People,dc=Example,dc=com", "uid=alice,ou=people,dc=example,dc=com"},
		{"spaces around = and , are insignificant", "  uid = alice ,  ou =People  , dc= example ",
			store.DN{one("uid", "alice"), one("ou", "People"), one("dc", "example")},
			"uid=alice,ou=People,dc=example", "uid=alice,ou=people,dc=example"},
		{"spaces inside a value are kept", "cn=John  Smith,dc=x",
			store.DN{one("cn", "John  Smith"), one("dc", "x")},
			"cn=John  Smith,dc=x", "cn=john smith,dc=x"},
		{"escaped comma", `cn=Smith\, John,dc=x`,
			store.DN{one("cn", "Smith, John"), one("dc", "x")},
			`cn=Smith\, John,dc=x`, `cn=smith\, john,dc=x`},
		{"hex-escaped comma", `cn=Smith\2CJohn,dc=x`,
			store.DN{one("cn", "Smith,John"), one("dc", "x")},
			`cn=Smith\,John,dc=x`, `cn=smith\,john,dc=x`},
		{"escaped plus is not an RDN separator", `cn=a\+b`, store.DN{one("cn", "a+b")}, `cn=a\+b`, `cn=a\+b`},
		{"escaped quotes", `cn=\"q\"`, store.DN{one("cn", `"q"`)}, `cn=\"q\"`, `cn=\"q\"`},
		{"escaped backslash", `cn=a\\b`, store.DN{one("cn", `a\b`)}, `cn=a\\b`, `cn=a\\b`},
		{"escaped angle brackets and semicolon", `cn=\<a\>\;`, store.DN{one("cn", "<a>;")}, `cn=\<a\>\;`, `cn=\<a\>\;`},
		{"escaped leading hash", `cn=\#1`, store.DN{one("cn", "#1")}, `cn=\#1`, `cn=\#1`},
		{"hash inside a value needs no escape", `cn=a#1`, store.DN{one("cn", "a#1")}, `cn=a#1`, `cn=a#1`},
		{"equals sign in a value", `cn=a=b`, store.DN{one("cn", "a=b")}, `cn=a\=b`, `cn=a\=b`},
		{"escaped trailing space is kept", `cn=a\ ,dc=x`,
			store.DN{one("cn", "a "), one("dc", "x")}, `cn=a\ ,dc=x`, `cn=a,dc=x`},
		{"escaped leading space is kept", `cn=\ a`, store.DN{one("cn", " a")}, `cn=\ a`, `cn=a`},
		{"unescaped spaces before an escaped one are kept", `cn=a \ `, store.DN{one("cn", "a  ")}, `cn=a \ `, `cn=a`},
		{"escaped space inside a value", `cn=a\ b`, store.DN{one("cn", "a b")}, `cn=a b`, `cn=a b`},
		{"hex-escaped UTF-8", `cn=Lu\C4\8Di\c4\87`, store.DN{one("cn", "Lučić")}, "cn=Lučić", "cn=lučić"},
		{"raw UTF-8", "cn=Émile,dc=x", store.DN{one("cn", "Émile"), one("dc", "x")}, "cn=Émile,dc=x", "cn=émile,dc=x"},
		{"escaped control character", `cn=a\0Ab`, store.DN{one("cn", "a\nb")}, `cn=a\0ab`, `cn=a\0ab`},
		{"escaped NUL", `cn=a\00b`, store.DN{one("cn", "a\x00b")}, `cn=a\00b`, `cn=a\00b`},
		{"#hex BER octet string", "cn=#04024869,dc=x", store.DN{one("cn", "Hi"), one("dc", "x")}, "cn=Hi,dc=x", "cn=hi,dc=x"},
		{"#hex with spaces before the separator", "cn=#04024869  ,dc=x", store.DN{one("cn", "Hi"), one("dc", "x")}, "cn=Hi,dc=x", "cn=hi,dc=x"},
		{"#hex that is not BER keeps the octets", "cn=#4869", store.DN{one("cn", "Hi")}, "cn=Hi", "cn=hi"},
		{"multi-valued RDN keeps the written order", "sn=Smith+cn=John,dc=x",
			store.DN{{{Type: "sn", Value: "Smith"}, {Type: "cn", Value: "John"}}, one("dc", "x")},
			"sn=Smith+cn=John,dc=x", "cn=john+sn=smith,dc=x"},
		{"spaces around + are insignificant", "cn=John + sn=Smith",
			store.DN{{{Type: "cn", Value: "John"}, {Type: "sn", Value: "Smith"}}},
			"cn=John+sn=Smith", "cn=john+sn=smith"},
		{"aliases normalise to the canonical name", "commonName=Alice,organizationalUnitName=People,domainComponent=x",
			store.DN{one("commonName", "Alice"), one("organizationalUnitName", "People"), one("domainComponent", "x")},
			"commonName=Alice,organizationalUnitName=People,domainComponent=x", "cn=alice,ou=people,dc=x"},
		{"type names are case-insensitive", "CN=Alice,DC=X", store.DN{one("CN", "Alice"), one("DC", "X")}, "CN=Alice,DC=X", "cn=alice,dc=x"},
		{"caseExact values keep their case", "memberUid=Alice", store.DN{one("memberUid", "Alice")}, "memberUid=Alice", "memberuid=Alice"},
		{"integer values normalise", "uidNumber=0010", store.DN{one("uidNumber", "0010")}, "uidNumber=0010", "uidnumber=10"},
		{"unknown types are case-ignore", "fooBar=X", store.DN{one("fooBar", "X")}, "fooBar=X", "foobar=x"},
		{"numeric OID type", "2.5.4.3=x", store.DN{one("2.5.4.3", "x")}, "2.5.4.3=x", "2.5.4.3=x"},
		{"empty value", "cn=,dc=x", store.DN{one("cn", ""), one("dc", "x")}, "cn=,dc=x", "cn=,dc=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dn, err := store.ParseDN(tt.in)
			if err != nil {
				t.Fatalf("ParseDN(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(dn, tt.want) {
				t.Errorf("ParseDN(%q) = %#v, want %#v", tt.in, dn, tt.want)
			}
			if got := dn.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := dn.Norm(); got != tt.norm {
				t.Errorf("Norm() = %q, want %q", got, tt.norm)
			}
			if got, err := store.NormalizeDN(tt.in); err != nil || got != tt.norm {
				t.Errorf("NormalizeDN(%q) = %q, %v; want %q", tt.in, got, err, tt.norm)
			}
			back, err := store.ParseDN(dn.String())
			if err != nil || !back.Equal(dn) || back.String() != dn.String() {
				t.Errorf("ParseDN(String()) = %q, %v; want %q", back, err, dn.String())
			}
		})
	}
}

func TestParseDNRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"missing equals sign", "cn"},
		{"missing equals sign in a later RDN", "cn=a,dc"},
		{"empty attribute type", "=a"},
		{"space inside an attribute type", "c n=a"},
		{"bad character in an attribute type", "c@=a"},
		{"attribute options in a type", "cn;lang-en=a"},
		{"dangling escape", `cn=a\`},
		{"half a hex escape at the end", `cn=\4`},
		{"half a hex escape", `cn=\4g`},
		{"empty #hex value", "cn=#"},
		{"odd #hex value", "cn=#041"},
		{"non-hex in #hex value", "cn=#04zz"},
		{"garbage after #hex value", "cn=#0401 x"},
		{"semicolon as RDN separator", "cn=a;dc=b"},
		{"semicolon after #hex value", "cn=#04016161;dc=b"},
		{"empty RDN between commas", "cn=a,,dc=b"},
		{"trailing comma", "cn=a,"},
		{"leading comma", ",cn=a"},
		{"dangling plus", "cn=a+"},
		{"unescaped quote", `cn="a"`},
		{"unescaped angle bracket", "cn=a<b"},
		{"raw NUL", "cn=a\x00b"},
		{"invalid UTF-8 in the last value", "cn=\xff"},
		{"invalid UTF-8 before a comma", "cn=\xff,dc=x"},
		{"invalid UTF-8 before a plus", "cn=\xff+sn=a"},
		{"hex-escaped invalid UTF-8", `cn=\ff`},
		{"#hex value that is not UTF-8", "cn=#0401ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dn, err := store.ParseDN(tt.in)
			if !errors.Is(err, store.ErrInvalidDN) {
				t.Fatalf("ParseDN(%q) = %q, %v; want ErrInvalidDN", tt.in, dn, err)
			}
			if _, err := store.NormalizeDN(tt.in); !errors.Is(err, store.ErrInvalidDN) {
				t.Errorf("NormalizeDN(%q) error = %v, want ErrInvalidDN", tt.in, err)
			}
		})
	}
}

func mustParseDN(t testing.TB, s string) store.DN {
	t.Helper()
	dn, err := store.ParseDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return dn
}

func TestDNEqual(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"same spelling", "uid=a,dc=x", "uid=a,dc=x", true},
		{"case of types and values", "UID=Alice,DC=X", "uid=alice,dc=x", true},
		{"alias and canonical name", "commonName=x,dc=y", "cn=x,dc=y", true},
		{"spaces around separators", "cn=x , dc=y", "cn=x,dc=y", true},
		{"escaped and hex-escaped comma", `cn=a\,b`, `cn=a\2cb`, true},
		{"multi-valued RDN in any order", "cn=a+sn=b,dc=x", "sn=B+cn=A,dc=x", true},
		{"integer values compare as numbers", "uidNumber=010", "uidNumber=10", true},
		{"caseExact values differ in case", "memberUid=Alice", "memberUid=alice", false},
		{"different values", "uid=a,dc=x", "uid=b,dc=x", false},
		{"different types", "uid=a,dc=x", "cn=a,dc=x", false},
		{"different lengths", "uid=a,dc=x", "dc=x", false},
		{"an RDN is not its multi-valued extension", "cn=a", "cn=a+sn=b", false},
		{"escaped plus is not a multi-valued RDN", `cn=a\+sn\=b`, "cn=a+sn=b", false},
		{"both root", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := mustParseDN(t, tt.a), mustParseDN(t, tt.b)
			if got := a.Equal(b); got != tt.want {
				t.Errorf("%q.Equal(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := b.Equal(a); got != tt.want {
				t.Errorf("%q.Equal(%q) = %v, want %v", tt.b, tt.a, got, tt.want)
			}
			if got := a.Norm() == b.Norm(); got != tt.want {
				t.Errorf("Norm %q == %q is %v, want %v", a.Norm(), b.Norm(), got, tt.want)
			}
		})
	}
}

func TestDNIsUnder(t *testing.T) {
	tests := []struct {
		name     string
		dn, base string
		want     bool
	}{
		{"entry is under itself", "dc=example,dc=com", "dc=example,dc=com", true},
		{"child", "ou=people,dc=example,dc=com", "dc=example,dc=com", true},
		{"grandchild, other case", "uid=A,OU=People,DC=Example,DC=Com", "dc=example,dc=com", true},
		{"everything is under the root", "uid=a,dc=x", "", true},
		{"parent is not under its child", "dc=example,dc=com", "ou=people,dc=example,dc=com", false},
		{"sibling tree", "uid=a,dc=other,dc=com", "dc=example,dc=com", false},
		{"suffix of a value is not a parent", "uid=a,dc=myexample,dc=com", "dc=example,dc=com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParseDN(t, tt.dn).IsUnder(mustParseDN(t, tt.base)); got != tt.want {
				t.Errorf("%q.IsUnder(%q) = %v, want %v", tt.dn, tt.base, got, tt.want)
			}
		})
	}
}

func TestDNParentAndChild(t *testing.T) {
	tests := []struct {
		name, dn, parent string
	}{
		{"three RDNs", "uid=a,ou=people,dc=x", "ou=people,dc=x"},
		{"one RDN has the root as parent", "dc=x", ""},
		{"the root is its own parent", "", ""},
		{"multi-valued first RDN", "cn=a+sn=b,dc=x", "dc=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dn := mustParseDN(t, tt.dn)
			p := dn.Parent()
			if got := p.String(); got != tt.parent {
				t.Errorf("Parent() = %q, want %q", got, tt.parent)
			}
			if len(dn) == 0 {
				return
			}
			if c := p.Child(dn[0]); !c.Equal(dn) || c.String() != dn.String() {
				t.Errorf("Parent().Child(first RDN) = %q, want %q", c, dn)
			}
		})
	}
	t.Run("child does not share the parent's array", func(t *testing.T) {
		parent := mustParseDN(t, "ou=people,dc=x")
		a := parent.Child(store.RDN{{Type: "uid", Value: "a"}})
		b := parent.Child(store.RDN{{Type: "uid", Value: "b"}})
		if a.String() != "uid=a,ou=people,dc=x" || b.String() != "uid=b,ou=people,dc=x" {
			t.Errorf("Child = %q and %q", a, b)
		}
		if parent.String() != "ou=people,dc=x" {
			t.Errorf("parent changed to %q", parent)
		}
	})
}

// FuzzParseDN checks that ParseDN never panics and that whatever it accepts
// survives String and a second parse: entry records store DN.String() and
// decode it again, so a DN that does not round-trip is an unreadable entry.
// Seeds are in testdata/fuzz/FuzzParseDN.
func FuzzParseDN(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		dn, err := store.ParseDN(s)
		if err != nil {
			if !errors.Is(err, store.ErrInvalidDN) {
				t.Fatalf("ParseDN(%q) error %v does not wrap ErrInvalidDN", s, err)
			}
			return
		}
		str := dn.String()
		back, err := store.ParseDN(str)
		if err != nil {
			t.Fatalf("ParseDN(%q) = %q, whose String does not parse: %v", s, str, err)
		}
		if back.Norm() != dn.Norm() {
			t.Fatalf("ParseDN(%q): Norm %q, after a round trip through %q: %q", s, dn.Norm(), str, back.Norm())
		}
		if back.String() != str {
			t.Fatalf("ParseDN(%q): String %q, after a round trip: %q", s, str, back.String())
		}
		if !back.Equal(dn) || !dn.IsUnder(back) {
			t.Fatalf("ParseDN(%q): %q not Equal to itself after a round trip", s, str)
		}
	})
}
