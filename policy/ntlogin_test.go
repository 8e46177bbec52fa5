package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// testSealKey is the seal key of every test door.
var testSealKey = bytes.Repeat([]byte{0x5e}, SealKeySize)

func TestSeal(t *testing.T) {
	s, err := newSealer(testSealKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newSealer(bytes.Repeat([]byte{0x17}, SealKeySize))
	if err != nil {
		t.Fatal(err)
	}
	alice := mustDN(t, "uid=alice,ou=people,"+testBase)
	secret := []byte("sixteen byte key")
	sealed, err := s.seal(ntHashAttr, alice, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, string(secret)) ||
		strings.Contains(sealed, base64.StdEncoding.EncodeToString(secret)) {
		t.Fatalf("sealed value %q does not hide its content behind %s", sealed, sealedPrefix)
	}
	again, _ := s.seal(ntHashAttr, alice, secret)
	if again == sealed {
		t.Error("sealing the same value twice gave the same text: the nonce is not fresh")
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return sealedPrefix + base64.StdEncoding.EncodeToString(b)
	}
	tests := []struct {
		name   string
		sealer *sealer
		attr   string
		dn     store.DN
		value  string
		ok     bool
	}{
		{"opens for its own entry and attribute", s, ntHashAttr, alice, sealed, true},
		{"the DN matches in its normalised form", s, "DIRDNTHASH", mustDN(t, "UID=Alice, OU=People, DC=Example, DC=Com"), sealed, true},
		{"another entry's DN does not open it", s, ntHashAttr, mustDN(t, "uid=mallory,ou=people,"+testBase), sealed, false},
		{"another attribute does not open it", s, "dirdTOTPSecret", alice, sealed, false},
		{"another key does not open it", other, ntHashAttr, alice, sealed, false},
		{"a changed nonce byte does not open", s, ntHashAttr, alice, flip(0), false},
		{"a changed ciphertext byte does not open", s, ntHashAttr, alice, flip(13), false},
		{"a changed tag byte does not open", s, ntHashAttr, alice, flip(len(raw) - 1), false},
		{"a truncated value does not open", s, ntHashAttr, alice, sealedPrefix + base64.StdEncoding.EncodeToString(raw[:20]), false},
		{"a value without the prefix does not open", s, ntHashAttr, alice, strings.TrimPrefix(sealed, sealedPrefix), false},
		{"a value that is not base64 does not open", s, ntHashAttr, alice, sealedPrefix + "!!!", false},
		{"an empty value does not open", s, ntHashAttr, alice, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.open(tc.attr, tc.dn, tc.value)
			if tc.ok && (err != nil || !bytes.Equal(got, secret)) {
				t.Fatalf("open = %q, %v; want the sealed secret", got, err)
			}
			if !tc.ok && (err == nil || got != nil) {
				t.Fatalf("open = %q, %v; want errSealed", got, err)
			}
		})
	}
}

func TestNewNeedsASealKeyForNTHash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ntHash  bool
		key     []byte
		wantErr bool
	}{
		{"nt_hash without a key is refused", true, nil, true},
		{"nt_hash with a short key is refused", true, make([]byte, 16), true},
		{"nt_hash with a 32-byte key is fine", true, testSealKey, false},
		{"no nt_hash, no key is fine", false, nil, false},
		{"a key of the wrong size is refused even without nt_hash", false, make([]byte, 31), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := store.Open(t.Context(), memkv.New(), store.Options{BaseDN: testBase})
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig()
			cfg.NTHash = tc.ntHash
			_, err = New(dir, cfg, Admin{DN: testAdminDN, Password: testAdminPW}, Options{SealKey: tc.key})
			if tc.wantErr != (err != nil) {
				t.Fatalf("New: %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, ErrNoSealKey) {
				t.Errorf("New: %v, want ErrNoSealKey", err)
			}
			if tc.wantErr && !strings.Contains(err.Error(), "policy.nt_hash") {
				t.Errorf("error %q does not name policy.nt_hash", err)
			}
		})
	}
}

func ntConfig() Config {
	cfg := testConfig()
	cfg.NTHash = true
	return cfg
}

// keptNTHash returns the NT hash kept for dn, opened; nil when none.
func (h *harness) keptNTHash(dn store.DN) []byte {
	h.t.Helper()
	e := h.entry(dn)
	v := e.First(ntHashAttr)
	if v == "" {
		return nil
	}
	p, err := h.door.seal.open(ntHashAttr, dn, v)
	if err != nil {
		h.t.Fatalf("%s of %s does not open: %v", ntHashAttr, dn, err)
	}
	if hx := strings.ToLower(hex.EncodeToString(p)); strings.Contains(strings.ToLower(v), hx) {
		h.t.Fatalf("%s holds the NT hash in clear", ntHashAttr)
	}
	return p
}

// wantNTHash checks that dn keeps the NT hash of pw ("" : none at all).
func (h *harness) wantNTHash(dn store.DN, pw string) {
	h.t.Helper()
	got := h.keptNTHash(dn)
	switch {
	case pw == "" && got != nil:
		h.t.Errorf("%s keeps an NT hash, want none", dn)
	case pw != "" && !bytes.Equal(got, NTHash([]byte(pw))):
		h.t.Errorf("%s keeps NT hash %x, want that of %q", dn, got, pw)
	}
}

func TestNTHashFollowsThePassword(t *testing.T) {
	tests := []struct {
		name string
		// do changes alice's password (she starts with alicePW, NT hash
		// kept) and returns the password whose NT hash must be kept, ""
		// for none.
		do func(h *harness, alice store.DN) string
	}{
		{"kept from Add", func(h *harness, alice store.DN) string { return alicePW }},
		{"replaced by a change of one's own", func(h *harness, alice store.DN) string {
			if err := h.selfChange(alice, alicePW, secondPW); err != nil {
				t.Fatal(err)
			}
			return secondPW
		}},
		{"replaced by an administrator's reset", func(h *harness, alice store.DN) string {
			if err := h.adminSet(alice, thirdPW); err != nil {
				t.Fatal(err)
			}
			return thirdPW
		}},
		{"replaced by an LDAP modify with cleartext", func(h *harness, alice store.DN) string {
			if err := h.modify(h.admin, alice, store.Mod{Op: store.ModReplace, Type: "userPassword", Values: []string{fourthPW}}); err != nil {
				t.Fatal(err)
			}
			return fourthPW
		}},
		{"removed when the administrator sets a hash", func(h *harness, alice store.DN) string {
			if err := h.modify(h.admin, alice, store.Mod{Op: store.ModReplace, Type: "userPassword", Values: []string{ssha(secondPW)}}); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"removed when the administrator sets a hash with Password Modify", func(h *harness, alice store.DN) string {
			if err := h.adminSet(alice, ssha(secondPW)); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"removed with the password", func(h *harness, alice store.DN) string {
			if err := h.modify(h.admin, alice, store.Mod{Op: store.ModDelete, Type: "userPassword"}); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"removed by a change while nt_hash is off", func(h *harness, alice store.DN) string {
			h.door.cfg.NTHash = false
			defer func() { h.door.cfg.NTHash = true }()
			if err := h.selfChange(alice, alicePW, secondPW); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"kept when only the account state changes", func(h *harness, alice store.DN) string {
			if err := h.modify(h.admin, alice, store.Mod{Op: store.ModReplace, Type: "pwdAccountLockedTime", Values: []string{permanentLock}}); err != nil {
				t.Fatal(err)
			}
			return alicePW
		}},
		{"the administrator cannot write it", func(h *harness, alice store.DN) string {
			err := h.modify(h.admin, alice, store.Mod{Op: store.ModReplace, Type: ntHashAttr, Values: []string{"{SEALED}AAAA"}})
			if !errors.Is(err, ErrNoUserModification) {
				t.Errorf("modify %s: %v, want ErrNoUserModification", ntHashAttr, err)
			}
			return alicePW
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, ntConfig())
			alice := h.addUser("alice", alicePW)
			h.wantNTHash(alice, alicePW)
			h.wantNTHash(alice, tc.do(h, alice))
		})
	}
}

func TestNTHashOnAddAndImport(t *testing.T) {
	h := newHarness(t, ntConfig())
	if dn := h.addUser("hashed", ssha(alicePW)); h.keptNTHash(dn) != nil {
		t.Error("Add with a hashed password keeps an NT hash")
	}
	if _, err := h.importUser(userEntry(t, "importclear", secondPW)); err != nil {
		t.Fatal(err)
	}
	h.wantNTHash(mustDN(t, "uid=importclear,"+testBase), secondPW)
	if _, err := h.importUser(userEntry(t, "importhashed", ssha(thirdPW))); err != nil {
		t.Fatal(err)
	}
	h.wantNTHash(mustDN(t, "uid=importhashed,"+testBase), "")
	_, err := h.importUser(userEntry(t, "forged", thirdPW, store.Attr{Type: ntHashAttr, Values: []string{"{SEALED}AAAA"}}))
	if err == nil {
		t.Error("an import carrying its own dirdNTHash was accepted")
	}
	// Import itself refuses a value it did not seal, whoever calls it.
	e := userEntry(t, "smuggled", ssha(thirdPW), store.Attr{Type: ntHashAttr, Values: []string{"{SEALED}AAAA"}})
	if err := h.door.Import(h.ctx, []*store.Entry{e}); err == nil {
		t.Error("Import stored a dirdNTHash it did not seal")
	}

	off := newHarness(t, testConfig())
	if dn := off.addUser("alice", alicePW); off.entry(dn).First(ntHashAttr) != "" {
		t.Error("with nt_hash off, Add keeps an NT hash")
	}
}

func TestNTHashFilledAtCleartextLogin(t *testing.T) {
	h := newHarness(t, ntConfig())
	alice := h.addUser("alice", ssha(alicePW)) // migrated: no NT hash
	out := h.loginNT("alice", alicePW)
	if out.Result != InvalidCredentials || !out.NoNTHash {
		t.Fatalf("AuthenticateNT before any cleartext login: %v NoNTHash %v, want InvalidCredentials with NoNTHash", out.Result, out.NoNTHash)
	}
	if n := len(h.failures(alice)); n != 0 {
		t.Errorf("a refusal for want of an NT hash counted %d failures, want none (nothing was checked)", n)
	}
	h.bindWant(alice, wrongPW, InvalidCredentials)
	h.wantNTHash(alice, "") // not from a wrong password
	h.bindWant(alice, alicePW, OK)
	h.wantNTHash(alice, alicePW)
	if v := h.entry(alice).First("userPassword"); !strings.HasPrefix(v, "{ARGON2}") {
		t.Errorf("userPassword %q, want it upgraded in the same write", v)
	}
	if out := h.loginNT("alice", alicePW); out.Result != OK {
		t.Errorf("AuthenticateNT after the login: %v, want OK", out.Result)
	}
	// An ordinary login afterwards writes nothing.
	before := h.entry(alice).First(ntHashAttr)
	h.bindWant(alice, alicePW, OK)
	if h.entry(alice).First(ntHashAttr) != before {
		t.Error("a login with the NT hash already kept rewrote it")
	}
}

// loginNT runs AuthenticateNT for uid with a Check that compares with
// the NT hash of pw.
func (h *harness) loginNT(uid, pw string) Outcome {
	h.t.Helper()
	want := NTHash([]byte(pw))
	out, err := h.door.AuthenticateNT(h.ctx, NTLogin{Front: FrontRADIUS, Name: uid, Check: func(nt []byte) bool { return bytes.Equal(nt, want) }})
	if err != nil {
		h.t.Fatalf("AuthenticateNT(%s): %v", uid, err)
	}
	return out
}

func TestAuthenticateNT(t *testing.T) {
	cfg := ntConfig()
	cfg.LockoutThreshold = 3
	cfg.MaxAge = 90 * 24 * time.Hour
	h := newHarness(t, cfg)
	alice := h.addUser("alice", alicePW)
	h.addUser("bob", secondPW)
	expired := h.addUser("expired", thirdPW)
	locked := h.addUser("locked", fourthPW)
	if err := h.modify(h.admin, locked, store.Mod{Op: store.ModReplace, Type: "pwdAccountLockedTime", Values: []string{permanentLock}}); err != nil {
		t.Fatal(err)
	}

	t.Run("right response is let in", func(t *testing.T) {
		out := h.loginNT("alice", alicePW)
		if out.Result != OK || !out.DN.Equal(alice) || out.Entry == nil || out.NoNTHash {
			t.Fatalf("outcome %+v, want OK with alice's DN and entry", out)
		}
	})
	t.Run("uid is matched without regard to case", func(t *testing.T) {
		if out := h.loginNT("ALICE", alicePW); out.Result != OK {
			t.Fatalf("result %v, want OK", out.Result)
		}
	})
	t.Run("unknown user is refused after the same work", func(t *testing.T) {
		var calls atomic.Int32
		out, err := h.door.AuthenticateNT(h.ctx, NTLogin{Name: "nobody", Check: func([]byte) bool { calls.Add(1); return false }})
		if err != nil || out.Result != InvalidCredentials || out.NoNTHash {
			t.Fatalf("outcome %+v, %v; want InvalidCredentials without NoNTHash", out, err)
		}
		if calls.Load() != 1 {
			t.Errorf("Check called %d times for an unknown user, want once (same work as a known one)", calls.Load())
		}
	})
	t.Run("a locked account says so only to the right response", func(t *testing.T) {
		if out := h.loginNT("locked", fourthPW); out.Result != Locked {
			t.Errorf("right response: %v, want Locked", out.Result)
		}
		if out := h.loginNT("locked", wrongPW); out.Result != InvalidCredentials {
			t.Errorf("wrong response: %v, want InvalidCredentials", out.Result)
		}
	})
	t.Run("an expired password says so only to the right response", func(t *testing.T) {
		if err := h.modify(h.admin, expired, store.Mod{Op: store.ModReplace, Type: "pwdChangedTime",
			Values: []string{store.FormatTime(h.clock.Now().Add(-91 * 24 * time.Hour))}}); err != nil {
			t.Fatal(err)
		}
		if out := h.loginNT("expired", wrongPW); out.Result != InvalidCredentials {
			t.Errorf("wrong response: %v, want InvalidCredentials", out.Result)
		}
		if out := h.loginNT("expired", thirdPW); out.Result != Expired {
			t.Errorf("right response: %v, want Expired", out.Result)
		}
	})
	t.Run("wrong responses count toward the lockout LDAP sees", func(t *testing.T) {
		bob := mustDN(t, "uid=bob,"+testBase)
		for range 3 {
			if out := h.loginNT("bob", wrongPW); out.Result != InvalidCredentials {
				t.Fatalf("wrong response: %v", out.Result)
			}
		}
		if n := len(h.failures(bob)); n != 3 {
			t.Errorf("%d failures recorded, want 3", n)
		}
		h.bindWant(bob, secondPW, Locked)
		if out := h.loginNT("bob", secondPW); out.Result != Locked {
			t.Errorf("right response after the lockout: %v, want Locked", out.Result)
		}
	})
	t.Run("a Check missing is an error, not a login", func(t *testing.T) {
		out, err := h.door.AuthenticateNT(h.ctx, NTLogin{Name: "alice"})
		if err == nil || out.Result == OK {
			t.Fatalf("AuthenticateNT without Check: %v, %v", out.Result, err)
		}
	})
	t.Run("with nt_hash off no user has an NT hash", func(t *testing.T) {
		off := newHarness(t, testConfig())
		off.addUser("carol", alicePW)
		if off.door.KeepsNTHash() || !h.door.KeepsNTHash() {
			t.Errorf("KeepsNTHash: off %v, on %v", off.door.KeepsNTHash(), h.door.KeepsNTHash())
		}
		out := off.loginNT("carol", alicePW)
		if out.Result != InvalidCredentials || !out.NoNTHash {
			t.Errorf("outcome %v NoNTHash %v, want InvalidCredentials with NoNTHash", out.Result, out.NoNTHash)
		}
	})
}
