package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dird/dird/policy"
)

// The generated hashes must be ones dird verifies as they are (and, for
// {ARGON2}, in the form OpenLDAP's argon2 module reads), or every bind
// in the benchmark would fail.
func TestGeneratedDataVerifies(t *testing.T) {
	dir := t.TempDir()
	ldif, users := filepath.Join(dir, "u.ldif"), filepath.Join(dir, "users")
	// A small argon2id cost keeps the test fast; the form is the same.
	if err := run(3, 2, "dc=example,dc=com", "Bench-Password-2026", 64, 1, 1, ldif, users); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(ldif)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, l := range strings.Split(string(text), "\n") {
		if v, ok := strings.CutPrefix(l, "userPassword: "); ok {
			hashes = append(hashes, v)
		}
	}
	if len(hashes) != 5 {
		t.Fatalf("%d userPassword lines, want 5:\n%s", len(hashes), text)
	}
	for i, h := range hashes {
		want := "{SSHA}"
		if i >= 3 {
			want = "{ARGON2}$argon2id$v=19$m=64,t=1,p=1$"
		}
		if !strings.HasPrefix(h, want) {
			t.Errorf("hash %d = %q, want prefix %q", i, h, want)
		}
		for _, tc := range []struct {
			pw   string
			want bool
		}{{"Bench-Password-2026", true}, {"wrong", false}} {
			ok, err := policy.VerifyPassword(h, []byte(tc.pw))
			if err != nil || ok != tc.want {
				t.Errorf("VerifyPassword(%q, %q) = %v, %v; want %v", h, tc.pw, ok, err, tc.want)
			}
		}
	}
	for _, want := range []string{
		"dn: dc=example,dc=com\n", "dn: ou=people,dc=example,dc=com\n",
		"dn: uid=user00002,ou=people,dc=example,dc=com\n", "dn: uid=argon00001,ou=people,dc=example,dc=com\n",
		"uidNumber: 10002\n", "mail: argon00001@example.com\n",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("LDIF lacks %q", want)
		}
	}
	radius, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"user00000\tPassword-With-Header := \"" + hashes[0] + "\"\n",
		"clear00002\tCleartext-Password := \"Bench-Password-2026\"\n",
	} {
		if !strings.Contains(string(radius), want) {
			t.Errorf("users file lacks %q:\n%s", want, radius)
		}
	}
}
