package ldif

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// readAll reads every record of src, collecting errors as Next returns
// them (Next resumes after a bad record).
func readAll(t testing.TB, src string) ([]*Record, []error) {
	t.Helper()
	r := NewReader(strings.NewReader(src))
	var recs []*Record
	var errs []error
	for i := 0; ; i++ {
		if i > len(src)+2 {
			t.Fatalf("Next did not reach io.EOF after %d calls", i)
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return recs, errs
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs = append(recs, rec)
	}
}

func TestReadRecords(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []*Record
	}{
		{
			name: "a content record",
			src:  "dn: uid=alice,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: alice\n",
			want: []*Record{{Line: 1, DN: "uid=alice,dc=example,dc=com", Attrs: []Attr{
				{"objectClass", []string{"inetOrgPerson"}}, {"uid", []string{"alice"}}}}},
		},
		{
			name: "version line, comments and blank lines between records",
			src:  "version: 1\n\n# people\n# a folded\n  comment\ndn: ou=a,dc=x\nou: a\n\n\n\ndn: ou=b,dc=x\n# inside\nou: b\n",
			want: []*Record{
				{Line: 6, DN: "ou=a,dc=x", Attrs: []Attr{{"ou", []string{"a"}}}},
				{Line: 11, DN: "ou=b,dc=x", Attrs: []Attr{{"ou", []string{"b"}}}},
			},
		},
		{
			name: "version line directly followed by a record",
			src:  "version: 1\ndn: ou=a,dc=x\nou: a\n",
			want: []*Record{{Line: 2, DN: "ou=a,dc=x", Attrs: []Attr{{"ou", []string{"a"}}}}},
		},
		{
			name: "continuation lines are joined without their leading space",
			src:  "dn: cn=a long\n  name,dc=x\ncn: a lo\n ng name\ndescription: x\n \n y\n",
			want: []*Record{{Line: 1, DN: "cn=a long name,dc=x", Attrs: []Attr{
				{"cn", []string{"a long name"}}, {"description", []string{"xy"}}}}},
		},
		{
			name: "base64 values and DN, CRLF line ends, no final newline",
			src:  "dn:: Y249w6lsw6huZSxkYz14\r\ncn:: w6lsw6huZQ==\r\ndescription::  IGxlYWRpbmcgc3BhY2U=\r\nempty:",
			want: []*Record{{Line: 1, DN: "cn=élène,dc=x", Attrs: []Attr{
				{"cn", []string{"élène"}}, {"description", []string{" leading space"}}, {"empty", []string{""}}}}},
		},
		{
			name: "repeated attribute lines merge, case-insensitively, in first-seen order",
			src:  "dn: cn=g,dc=x\nobjectClass: top\nmember: cn=a\nobjectclass: groupOfNames\nMEMBER: cn=b\ncn;lang-en: g\n",
			want: []*Record{{Line: 1, DN: "cn=g,dc=x", Attrs: []Attr{
				{"objectClass", []string{"top", "groupOfNames"}}, {"member", []string{"cn=a", "cn=b"}}, {"cn;lang-en", []string{"g"}}}}},
		},
		{
			name: "changetype add",
			src:  "dn: ou=a,dc=x\nchangetype: add\nou: a\n",
			want: []*Record{{Line: 1, DN: "ou=a,dc=x", ChangeType: "add", Attrs: []Attr{{"ou", []string{"a"}}}}},
		},
		{
			name: "numeric OIDs as attribute types, byte order mark",
			src:  "\xef\xbb\xbfdn: ou=a,dc=x\n2.5.4.11: a\n",
			want: []*Record{{Line: 1, DN: "ou=a,dc=x", Attrs: []Attr{{"2.5.4.11", []string{"a"}}}}},
		},
		{
			name: "an empty input has no records",
			src:  "\n\n# only a comment\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := readAll(t, tt.src)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
}

func dump(recs []*Record) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(sprintRecord(r)), "\n", " | "))
		b.WriteString("\n")
	}
	return b.String()
}

func sprintRecord(r *Record) string {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Write(r)
	w.Flush()
	return "@" + strconv.Itoa(r.Line) + " " + b.String()
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// want lists "line N: substring" per error, in order; goodDNs the
		// records still read around the bad ones.
		want    []string
		goodDNs []string
	}{
		{
			name: "bad base64",
			src:  "dn: ou=a,dc=x\nou: a\n\ndn: ou=b,dc=x\nou:: not*base64\n\ndn: ou=c,dc=x\nou: c\n",
			want: []string{"line 5: attribute ou: bad base64 value"}, goodDNs: []string{"ou=a,dc=x", "ou=c,dc=x"},
		},
		{
			name: "a continuation line at the start of the input",
			src:  " dn: ou=a,dc=x\nou: a\n\ndn: ou=b,dc=x\nou: b\n",
			want: []string{"line 1: a continuation line"}, goodDNs: []string{"ou=b,dc=x"},
		},
		{
			name: "a continuation line right after a blank line",
			src:  "dn: ou=a,dc=x\nou: a\n\n ou: b\ndn: ou=b,dc=x\n\ndn: ou=c,dc=x\nou: c\n",
			want: []string{"line 4: a continuation line"}, goodDNs: []string{"ou=a,dc=x", "ou=c,dc=x"},
		},
		{
			name: "a record without a dn line",
			src:  "objectClass: top\nou: a\n\ndn: ou=b,dc=x\nou: b\n",
			want: []string{`line 1: the record does not start with a dn: line (found "objectClass")`}, goodDNs: []string{"ou=b,dc=x"},
		},
		{
			name: "two records without a blank line between them",
			src:  "dn: ou=a,dc=x\nou: a\ndn: ou=b,dc=x\nou: b\n",
			want: []string{"line 3: a second dn: line in one record"},
		},
		{
			name: "the same value twice",
			src:  "dn: ou=a,dc=x\nou: a\ncn: x\ncn: y\ncn: x\n",
			want: []string{"line 5: attribute cn: the same value again (first at line 3)"},
		},
		{
			name: "a URL value",
			src:  "dn: cn=a,dc=x\njpegPhoto:< file:///etc/shadow\n",
			want: []string{"line 2: attribute jpegPhoto: URL values (jpegPhoto:<) are not supported"},
		},
		{
			name: "changetype modify",
			src:  "dn: cn=a,dc=x\nchangetype: modify\nreplace: cn\ncn: b\n-\n\ndn: ou=b,dc=x\nou: b\n",
			want: []string{"line 2: changetype: modify is not supported"}, goodDNs: []string{"ou=b,dc=x"},
		},
		{
			name: "changetype delete and an unknown one",
			src:  "dn: cn=a,dc=x\nchangetype: delete\n\ndn: cn=b,dc=x\nchangetype: frob\ncn: b\n",
			want: []string{"line 2: changetype: delete is not supported", `line 5: unknown changetype "frob"`},
		},
		{
			name: "changetype after attributes",
			src:  "dn: cn=a,dc=x\ncn: a\nchangetype: add\n",
			want: []string{"line 3: changetype: must come right after the dn: line"},
		},
		{
			name: "a control line",
			src:  "dn: cn=a,dc=x\ncontrol: 1.2.3 true\nchangetype: add\ncn: a\n",
			want: []string{"line 2: control: lines are not supported"},
		},
		{
			name: "a line without a colon",
			src:  "dn: cn=a,dc=x\ncn a\n",
			want: []string{`line 2: no ':' in "cn a"`},
		},
		{
			name: "a bad attribute type",
			src:  "dn: cn=a,dc=x\nc n: a\n\ndn: cn=b,dc=x\n1.2.: b\n\ndn: cn=c,dc=x\ncn;: c\n\ndn: cn=d,dc=x\n: d\n",
			want: []string{`line 2: "c n" is not an attribute type`, `line 5: "1.2." is not an attribute type`,
				`line 8: attribute description "cn;" has a bad option`, "line 11: a line begins with ':'"},
		},
		{
			name: "a dn with no attributes",
			src:  "dn: cn=a,dc=x\n\ndn: cn=b,dc=x\nchangetype: add\n",
			want: []string{`line 1: the entry "cn=a,dc=x" has no attributes`, `line 3: the entry "cn=b,dc=x" has no attributes`},
		},
		{
			name: "a base64 dn that is not UTF-8",
			src:  "dn:: /w==\ncn: a\n",
			want: []string{"line 1: the dn is not valid UTF-8"},
		},
		{
			name:    "a version other than 1, and a version line later on",
			src:     "version: 2\n\ndn: cn=a,dc=x\ncn: a\n\nversion: 1\n",
			want:    []string{`line 1: LDIF version "2" is not supported`, `line 6: the record does not start with a dn: line (found "version")`},
			goodDNs: []string{"cn=a,dc=x"},
		},
		{
			name: "line numbers count continuation lines and comments",
			src:  "# c\n#  c\n  c\ndn: cn=a,\n dc=x\ncn: a\n\ndn: cn=b,dc=x\ncn:: !!\n",
			want: []string{"line 9: attribute cn: bad base64 value"}, goodDNs: []string{"cn=a,dc=x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs := readAll(t, tt.src)
			var got []string
			for _, err := range errs {
				var le *Error
				if !errors.As(err, &le) {
					t.Errorf("error %v is not an *Error", err)
				}
				got = append(got, err.Error())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("errors %q, want %d like %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d = %q, want it to start with %q", i, got[i], tt.want[i])
				}
			}
			var dns []string
			for _, r := range recs {
				dns = append(dns, r.DN)
			}
			if !reflect.DeepEqual(dns, tt.goodDNs) {
				t.Errorf("records read %q, want %q", dns, tt.goodDNs)
			}
		})
	}
}

func TestWriter(t *testing.T) {
	long := strings.Repeat("abcdefghij", 20)
	rec := &Record{DN: "uid=alice,dc=example,dc=com", Attrs: []Attr{
		{"objectClass", []string{"inetOrgPerson"}},
		{"cn", []string{"Alice"}},
		{"description", []string{long}},
		{"sn", []string{"élise"}},
		{"l", []string{" leading"}},
		{"st", []string{"trailing "}},
		{"street", []string{":colon", "<angle", "a:b<c"}},
		{"empty", []string{""}},
		{"postalAddress", []string{"line1\nline2"}},
		{"photo", []string{"\x00\xff\xfe"}},
		{"userPassword", []string{"{SSHA}bqsKJH27OwrdDp1MtkgjDb93LixuLDLE"}},
	}}
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&Record{DN: "ou=b,dc=x", ChangeType: "add", Attrs: []Attr{{"ou", []string{"b"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "dn: uid=alice,dc=example,dc=com\n" +
		"objectClass: inetOrgPerson\n" +
		"cn: Alice\n" +
		"description: " + long[:63] + "\n " + long[63:138] + "\n " + long[138:] + "\n" +
		"sn:: w6lsaXNl\n" +
		"l:: IGxlYWRpbmc=\n" +
		"st:: dHJhaWxpbmcg\n" +
		"street:: OmNvbG9u\n" +
		"street:: PGFuZ2xl\n" +
		"street: a:b<c\n" +
		"empty:\n" +
		"postalAddress:: bGluZTEKbGluZTI=\n" +
		"photo:: AP/+\n" +
		"userPassword: {SSHA}bqsKJH27OwrdDp1MtkgjDb93LixuLDLE\n" +
		"\n" +
		"dn: ou=b,dc=x\nchangetype: add\nou: b\n\n"
	if b.String() != want {
		t.Errorf("wrote\n%s\nwant\n%s", b.String(), want)
	}
	for i, l := range strings.Split(b.String(), "\n") {
		if len(l) > 76 {
			t.Errorf("line %d is %d columns: %q", i+1, len(l), l)
		}
	}
	back, errs := readAll(t, b.String())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	rec.Line = 1
	if !reflect.DeepEqual(back[0], rec) {
		t.Errorf("read back\n%s\nwant\n%s", dump(back[:1]), dump([]*Record{rec}))
	}
}

func TestNeedsBase64(t *testing.T) {
	tests := map[string]bool{
		"":            false,
		"plain":       false,
		"a b:c<d":     false,
		"~!@#$%^&*()": false,
		" x":          true,
		":x":          true,
		"<x":          true,
		"x ":          true,
		"tab\there":   true,
		"é":           true,
		"\xff":        true,
		"del\x7f":     true,
		"nul\x00":     true,
	}
	for v, want := range tests {
		if got := NeedsBase64(v); got != want {
			t.Errorf("NeedsBase64(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestSlapcatSample reads real slapcat output (OpenLDAP 2.5, with the
// ppolicy and memberof overlays) kept as a fuzz seed.
func TestSlapcatSample(t *testing.T) {
	src := seed(t, "slapcat")
	recs, errs := readAll(t, src)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(recs) != 9 {
		t.Fatalf("read %d records, want 9", len(recs))
	}
	var carol *Record
	for _, r := range recs {
		if r.DN == "uid=carol,ou=people,dc=example,dc=com" {
			carol = r
		}
	}
	if carol == nil {
		t.Fatal("no carol")
	}
	if got := carol.Get("userPassword"); len(got) != 1 || !strings.HasPrefix(got[0], "{CRYPT}$6$") {
		t.Errorf("carol's folded base64 userPassword = %q", got)
	}
	if got := carol.Get("pwdFailureTime"); len(got) != 5 {
		t.Errorf("carol's pwdFailureTime = %q, want 5 values", got)
	}
}

// seed returns the []byte value of a corpus file in
// testdata/fuzz/FuzzParse.
func seed(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/fuzz/FuzzParse/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimPrefix(string(b), "go test fuzz v1\n")
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "[]byte(")
	s = strings.TrimSuffix(s, ")")
	v, err := strconv.Unquote(s)
	if err != nil {
		t.Fatalf("seed %s: %v", name, err)
	}
	return v
}

// FuzzParse feeds arbitrary bytes to the Reader: it must never panic or
// loop, every error must be an *Error with a line inside the input, and
// every record it accepts must survive a Writer round trip unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte("dn: cn=a,dc=x\ncn: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		recs, errs := readAll(t, string(data))
		for _, err := range errs {
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if le.Line < 1 || le.Line > lines {
				t.Fatalf("error at line %d of a %d-line input: %v", le.Line, lines, err)
			}
		}
		var b bytes.Buffer
		w := NewWriter(&b)
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		back, errs := readAll(t, b.String())
		if len(errs) > 0 {
			t.Fatalf("re-reading what the Writer wrote: %v\n%s", errs, b.String())
		}
		if len(back) != len(recs) {
			t.Fatalf("wrote %d records, read back %d", len(recs), len(back))
		}
		for i := range recs {
			a, b := *recs[i], *back[i]
			a.Line, b.Line = 0, 0
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("record %d changed in a round trip:\n%#v\n%#v", i, a, b)
			}
		}
	})
}
