package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	eq := func(a, v string) Filter { return Filter{Kind: FilterEquality, Attr: a, Value: v} }
	tests := []struct {
		name string
		in   string
		want Filter
		// canon is String() of the result when it differs from in.
		canon string
	}{
		{"equality", "(uid=jdoe)", eq("uid", "jdoe"), ""},
		{"attribute options and OIDs", "(2.5.4.3;lang-en=x)", eq("2.5.4.3;lang-en", "x"), ""},
		{"empty value", "(description=)", eq("description", ""), ""},
		{"spaces are part of the value", "(cn= a b )", eq("cn", " a b "), ""},
		{"present", "(objectClass=*)", Filter{Kind: FilterPresent, Attr: "objectClass"}, ""},
		{"approx", "(cn~=jon)", Filter{Kind: FilterApprox, Attr: "cn", Value: "jon"}, ""},
		{"greater or equal", "(age>=21)", Filter{Kind: FilterGreaterOrEqual, Attr: "age", Value: "21"}, ""},
		{"less or equal", "(age<=65)", Filter{Kind: FilterLessOrEqual, Attr: "age", Value: "65"}, ""},
		{"initial", "(cn=jo*)", Filter{Kind: FilterSubstrings, Attr: "cn", Initial: "jo"}, ""},
		{"final", "(cn=*son)", Filter{Kind: FilterSubstrings, Attr: "cn", Final: "son"}, ""},
		{"any", "(cn=*o*)", Filter{Kind: FilterSubstrings, Attr: "cn", Any: []string{"o"}}, ""},
		{"all three in order", "(cn=a*b*c*d)",
			Filter{Kind: FilterSubstrings, Attr: "cn", Initial: "a", Any: []string{"b", "c"}, Final: "d"}, ""},
		{"empty any dropped", "(cn=a**b)", Filter{Kind: FilterSubstrings, Attr: "cn", Initial: "a", Final: "b"}, "(cn=a*b)"},
		{"escaped star is a value", `(cn=\2a)`, eq("cn", "*"), ""},
		{"escapes in substrings", `(cn=\28*\29)`, Filter{Kind: FilterSubstrings, Attr: "cn", Initial: "(", Final: ")"}, ""},
		{"uppercase hex", `(cn=\5C\00)`, eq("cn", "\\\x00"), `(cn=\5c\00)`},
		{"UTF-8 escaped", `(sn=Lu\c4\8di\c4\87)`, eq("sn", "Lučić"), "(sn=Lučić)"},
		{"UTF-8 raw", "(sn=Lučić)", eq("sn", "Lučić"), ""},
		{"binary value", `(objectGUID=\ff\fe)`, eq("objectGUID", "\xff\xfe"), ""},
		{"control character", `(cn=a\0ab)`, eq("cn", "a\nb"), ""},
		{"and", "(&(a=1)(b=2))", Filter{Kind: FilterAnd, Children: []Filter{eq("a", "1"), eq("b", "2")}}, ""},
		{"or", "(|(a=1)(b=2))", Filter{Kind: FilterOr, Children: []Filter{eq("a", "1"), eq("b", "2")}}, ""},
		{"not", "(!(a=1))", Filter{Kind: FilterNot, Children: []Filter{eq("a", "1")}}, ""},
		{"absolute true", "(&)", Filter{Kind: FilterAnd}, ""},
		{"absolute false", "(|)", Filter{Kind: FilterOr}, ""},
		{"nested", "(&(objectClass=person)(|(uid=jo*)(!(mail=*))))", Filter{Kind: FilterAnd, Children: []Filter{
			eq("objectClass", "person"),
			{Kind: FilterOr, Children: []Filter{
				{Kind: FilterSubstrings, Attr: "uid", Initial: "jo"},
				{Kind: FilterNot, Children: []Filter{{Kind: FilterPresent, Attr: "mail"}}},
			}},
		}}, ""},
		{"extensible attr", "(cn:=Jo)", Filter{Kind: FilterExtensible, Attr: "cn", Value: "Jo"}, ""},
		{"extensible dn", "(ou:dn:=People)", Filter{Kind: FilterExtensible, Attr: "ou", Value: "People", DNAttributes: true}, ""},
		{"extensible DN uppercase", "(ou:DN:=People)", Filter{Kind: FilterExtensible, Attr: "ou", Value: "People", DNAttributes: true}, "(ou:dn:=People)"},
		{"extensible rule", "(cn:2.5.13.5:=Jo)", Filter{Kind: FilterExtensible, Attr: "cn", MatchingRule: "2.5.13.5", Value: "Jo"}, ""},
		{"extensible all", "(cn:dn:caseExactMatch:=Jo)",
			Filter{Kind: FilterExtensible, Attr: "cn", MatchingRule: "caseExactMatch", Value: "Jo", DNAttributes: true}, ""},
		{"extensible rule only", "(:caseExactMatch:=Jo)", Filter{Kind: FilterExtensible, MatchingRule: "caseExactMatch", Value: "Jo"}, ""},
		{"extensible dn and rule only", "(:dn:2.5.13.5:=Jo)",
			Filter{Kind: FilterExtensible, MatchingRule: "2.5.13.5", Value: "Jo", DNAttributes: true}, ""},
		{"rule starting with dn", "(cn:dnx:=v)", Filter{Kind: FilterExtensible, Attr: "cn", MatchingRule: "dnx", Value: "v"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFilter(tt.in)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseFilter(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.in
			}
			if s := got.String(); s != canon {
				t.Errorf("String() = %q, want %q", s, canon)
			}
			again, err := ParseFilter(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip of %q = %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no parentheses", "uid=x"},
		{"missing close", "(uid=x"},
		{"missing close nested", "(&(uid=x)"},
		{"extra close", "(uid=x))"},
		{"trailing filter", "(a=1)(b=2)"},
		{"empty parentheses", "()"},
		{"no operator", "(uid)"},
		{"no attribute", "(=x)"},
		{"no attribute present", "(=*)"},
		{"space in attribute", "(ui d=x)"},
		{"space before operator", "(uid =x)"},
		{"bad operator", "(uid>x)"},
		{"unescaped open paren", "(cn=a(b)"},
		{"unescaped NUL", "(cn=a\x00b)"},
		{"star in approx", "(cn~=a*)"},
		{"star in greater", "(cn>=*)"},
		{"star in extensible", "(cn:=a*)"},
		{"only stars", "(cn=**)"},
		{"short escape", `(cn=\4)`},
		{"bad escape", `(cn=\zz)`},
		{"legacy escape", `(cn=\*)`},
		{"escape at end", `(cn=\`},
		{"extensible without attr or rule", "(:=x)"},
		{"extensible dn without rule", "(:dn:=x)"},
		{"extensible empty rule", "(cn::=x)"},
		{"extensible missing colon equals", "(cn:rule=x)"},
		{"not with two", "(!(a=1)(b=2))"},
		{"not without filter", "(!)"},
		{"and with garbage", "(&x)"},
		{"too deep", strings.Repeat("(!", 65) + "(a=1)" + strings.Repeat(")", 65)},
		{"far too deep", strings.Repeat("(&", 100000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.in)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %v, want error", tt.in, f)
			}
			if !errors.Is(err, ErrInvalidFilter) {
				t.Errorf("error %v does not wrap ErrInvalidFilter", err)
			}
		})
	}
	ok := strings.Repeat("(!", 63) + "(a=1)" + strings.Repeat(")", 63)
	if _, err := ParseFilter(ok); err != nil {
		t.Errorf("64 levels rejected: %v", err)
	}
}

func TestFilterStringEscapes(t *testing.T) {
	f := Filter{Kind: FilterEquality, Attr: "cn", Value: "a*b(c)d\\e\x00f\x7fg\u200bh\xffié"}
	want := `(cn=a\2ab\28c\29d\5ce\00f\7fg\e2\80\8bh\ffié)`
	if got := f.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"(uid=jdoe)",
		"(&(objectClass=person)(|(uid=jo*)(!(mail=*))))",
		"(cn=a*b*c*d)",
		`(cn=\28*\29\00)`,
		"(cn:dn:caseExactMatch:=Jo)",
		"(:dn:2.5.13.5:=Jo)",
		"(age>=21)",
		"(cn~=jon)",
		"(|)",
		"(sn=Lučić)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		f1, err := ParseFilter(s)
		if err != nil {
			return
		}
		s1 := f1.String()
		f2, err := ParseFilter(s1)
		if err != nil {
			t.Fatalf("ParseFilter(%q) ok, but its String %q does not parse: %v", s, s1, err)
		}
		if !reflect.DeepEqual(f1, f2) {
			t.Fatalf("round trip changed the filter:\n%q -> %#v\n%q -> %#v", s, f1, s1, f2)
		}
		if s2 := f2.String(); s2 != s1 {
			t.Fatalf("String not canonical: %q then %q", s1, s2)
		}
	})
}
