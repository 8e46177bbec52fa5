package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dird/dird/store"
)

// importUser prepares and imports one entry, as dird import does.
func (h *harness) importUser(e *store.Entry) (hashed bool, err error) {
	h.t.Helper()
	p, hashed, err := h.door.PrepareImport(h.ctx, e)
	if err != nil {
		return false, err
	}
	return hashed, h.door.Import(h.ctx, []*store.Entry{p})
}

func TestImportKeepsHashesAndState(t *testing.T) {
	h := newHarness(t, testConfig())
	history := "20240101000000Z#1.3.6.1.4.1.1466.115.121.1.40#38#" + ssha(secondPW)
	e := userEntry(t, "alice", ssha(alicePW),
		store.Attr{Type: "pwdChangedTime", Values: []string{"20250201000000Z"}},
		store.Attr{Type: "pwdHistory", Values: []string{history}},
		store.Attr{Type: "pwdReset", Values: []string{"true"}},
		store.Attr{Type: "pwdGraceUseTime", Values: []string{"20250202000000Z"}},
		store.Attr{Type: "entryUUID", Values: []string{"5f3e8e9c-7f30-1041-85a5-878e8915a138"}},
		store.Attr{Type: "createTimestamp", Values: []string{"20200101000000Z"}},
		store.Attr{Type: "creatorsName", Values: []string{"cn=Manager,dc=example,dc=com"}},
	)
	hashed, err := h.importUser(e)
	if err != nil {
		t.Fatal(err)
	}
	if hashed {
		t.Error("a hashed password was reported as hashed by the import")
	}
	got := h.entry(e.DN)
	for attr, want := range map[string]string{
		"userPassword":    ssha(alicePW),
		"pwdChangedTime":  "20250201000000Z",
		"pwdHistory":      history,
		"pwdReset":        "TRUE",
		"pwdGraceUseTime": "20250202000000Z",
		"entryUUID":       "5f3e8e9c-7f30-1041-85a5-878e8915a138",
		"createTimestamp": "20200101000000Z",
		"creatorsName":    "cn=Manager,dc=example,dc=com",
		"modifiersName":   testAdminDN,
	} {
		if v := got.Get(attr); !slices.Equal(v, []string{want}) {
			t.Errorf("%s = %q, want %q", attr, v, want)
		}
	}
	// The imported history is a previous password: no failure.
	h.bindWant(e.DN, secondPW, InvalidCredentials)
	if f := h.failures(e.DN); len(f) != 0 {
		t.Errorf("the imported previous password counted as a failure: %q", f)
	}
	// The {SSHA} hash verifies, and pwdReset means must-change.
	if out := h.bindWant(e.DN, alicePW, OK); !out.MustChange {
		t.Error("an imported pwdReset: TRUE did not ask for a change")
	}
}

func TestImportedFailuresCount(t *testing.T) {
	cfg := testConfig()
	cfg.LockoutThreshold = 3
	h := newHarness(t, cfg)
	e := userEntry(t, "alice", ssha(alicePW), store.Attr{Type: "pwdFailureTime", Values: []string{"20250301095900.123456Z"}})
	if _, err := h.importUser(e); err != nil {
		t.Fatal(err)
	}
	h.bindWant(e.DN, wrongPW, InvalidCredentials)
	h.bindWant(e.DN, wrongPW, InvalidCredentials)
	if h.entry(e.DN).First("pwdAccountLockedTime") == "" {
		t.Error("two failures after an imported one did not reach the threshold of 3")
	}
	h.bindWant(e.DN, alicePW, Locked)
}

func TestImportLockedAccountStaysLocked(t *testing.T) {
	h := newHarness(t, testConfig())
	e := userEntry(t, "carol", "{CRYPT}$6$pepper$"+shaCrypt([]byte(alicePW), "pepper", 5000, true), store.Attr{Type: "pwdAccountLockedTime", Values: []string{"000001010000Z"}})
	if _, err := h.importUser(e); err != nil {
		t.Fatal(err)
	}
	h.bindWant(e.DN, alicePW, Locked)
}

func TestImportCleartext(t *testing.T) {
	h := newHarness(t, testConfig())
	e := userEntry(t, "bob", alicePW)
	hashed, err := h.importUser(e)
	if err != nil {
		t.Fatal(err)
	}
	if !hashed {
		t.Error("cleartext was not reported as hashed")
	}
	got := h.entry(e.DN)
	if pw := got.First("userPassword"); !strings.HasPrefix(pw, "{ARGON2}$argon2id$") {
		t.Errorf("stored %q, want an argon2id hash", pw)
	}
	if got.First("pwdChangedTime") != "20250301100000Z" || got.First("pwdReset") != "" {
		t.Errorf("pwdChangedTime %q, pwdReset %q; want the import time and no reset", got.First("pwdChangedTime"), got.First("pwdReset"))
	}
	h.bindWant(e.DN, alicePW, OK)
}

func TestImportRefuses(t *testing.T) {
	tests := []struct {
		name  string
		entry func(t *testing.T) *store.Entry
		want  error
		msg   string
	}{
		{"a weak cleartext password", func(t *testing.T) *store.Entry { return userEntry(t, "bob", "password") }, nil, "common"},
		{"an unknown scheme, rather than hashing it as cleartext", func(t *testing.T) *store.Entry { return userEntry(t, "bob", "{SASL}bob@EXAMPLE.COM") },
			ErrUnknownScheme, "unrecognised"},
		{"a malformed hash", func(t *testing.T) *store.Entry { return userEntry(t, "bob", "{SSHA}!!") }, ErrMalformedHash, ""},
		{"two passwords", func(t *testing.T) *store.Entry {
			return userEntry(t, "bob", ssha(alicePW), store.Attr{Type: "userPassword", Values: []string{ssha(secondPW)}})
		}, ErrOnePassword, "2 values"},
		{"ppolicy state dird does not keep", func(t *testing.T) *store.Entry {
			return userEntry(t, "bob", "", store.Attr{Type: "pwdPolicySubentry", Values: []string{"cn=default,dc=example,dc=com"}})
		}, ErrNoUserModification, "pwdPolicySubentry"},
		{"a bad time", func(t *testing.T) *store.Entry {
			return userEntry(t, "bob", "", store.Attr{Type: "pwdChangedTime", Values: []string{"yesterday"}})
		}, store.ErrInvalidSyntax, "pwdChangedTime"},
		{"a bad pwdReset", func(t *testing.T) *store.Entry {
			return userEntry(t, "bob", "", store.Attr{Type: "pwdReset", Values: []string{"yes"}})
		}, store.ErrInvalidSyntax, "pwdReset"},
		{"a history hash dird cannot verify", func(t *testing.T) *store.Entry {
			return userEntry(t, "bob", "", store.Attr{Type: "pwdHistory", Values: []string{"20240101000000Z#1.3.6.1.4.1.1466.115.121.1.40#12#{K5KEY}bob"}})
		}, ErrUnknownScheme, "pwdHistory"},
		{"a malformed history value", func(t *testing.T) *store.Entry {
			return userEntry(t, "bob", "", store.Attr{Type: "pwdHistory", Values: []string{"{SSHA}abc"}})
		}, store.ErrInvalidSyntax, "pwdHistory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			e := tt.entry(t)
			_, err := h.importUser(e)
			if err == nil {
				t.Fatal("imported")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if _, err := h.dir.Get(h.ctx, e.DN); !errors.Is(err, store.ErrNoSuchObject) {
				t.Errorf("the entry was written: %v", err)
			}
		})
	}
}

func TestImportRefusesCleartextThatSkippedPrepare(t *testing.T) {
	h := newHarness(t, testConfig())
	ok := userEntry(t, "alice", ssha(alicePW))
	bad := userEntry(t, "bob", alicePW)
	err := h.door.Import(h.ctx, []*store.Entry{ok, bad})
	if err == nil || !strings.Contains(err.Error(), "uid=bob") {
		t.Fatalf("Import of a cleartext password = %v, want a refusal naming bob", err)
	}
	// All or nothing: alice, first in the batch, is not there either.
	if _, err := h.dir.Get(h.ctx, ok.DN); !errors.Is(err, store.ErrNoSuchObject) {
		t.Errorf("alice was written: %v", err)
	}
}

func TestImportBatchIsAllOrNothing(t *testing.T) {
	h := newHarness(t, testConfig())
	a := userEntry(t, "alice", ssha(alicePW))
	dup := userEntry(t, "bob", ssha(alicePW))
	dup.Set("mail", "alice@example.com")
	err := h.door.Import(h.ctx, []*store.Entry{a, dup})
	if !errors.Is(err, store.ErrConstraintViolation) || !strings.Contains(err.Error(), "uid=bob") {
		t.Fatalf("Import = %v, want a uniqueness violation naming bob", err)
	}
	if _, err := h.dir.Get(h.ctx, a.DN); !errors.Is(err, store.ErrNoSuchObject) {
		t.Errorf("alice was written: %v", err)
	}
}
