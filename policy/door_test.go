package policy

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// The door's tests run over a real memkv directory, never a mocked store
// (STYLE.md §6). Hashing uses argon2id at the configuration floor (7168 KiB,
// one pass) so that the package's tests stay quick under -race; one test
// checks the defaults.

const (
	testBase    = "dc=example,dc=com"
	testAdminDN = "cn=admin,dc=example,dc=com"
	testAdminPW = "admin-secret-1"

	// alicePW and friends pass the default rules (8 characters, not
	// common, no part of the account's names).
	alicePW  = "Tulip-Orbit-93"
	wrongPW  = "Wrong-Guess-17"
	secondPW = "Maple-Vortex-58"
	thirdPW  = "Cobalt-Heron-24"
	fourthPW = "Quartz-Lantern-71"
)

// fakeClock is a clock the tests move by hand. It starts on a whole second,
// which is where second-truncated timestamps and microsecond ones differ
// most.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testConfig is the configuration defaults with cheap hashing.
func testConfig() Config {
	return Config{
		MinLength:        8,
		MaxLength:        128,
		ExpireWarning:    7 * 24 * time.Hour,
		LockOnExpiry:     true,
		LockoutDuration:  15 * time.Minute,
		RejectCommon:     true,
		Hash:             SchemeArgon2id,
		Argon2Memory:     7168,
		Argon2Time:       1,
		Argon2Threads:    1,
		UpgradeHashes:    true,
		LockoutThreshold: 0,
	}
}

// harness is one door over a fresh in-memory directory.
type harness struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeClock
	dir   *store.Directory
	door  *Door
	admin store.DN
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	ctx := context.Background()
	clock := newFakeClock()
	dir, err := store.Open(ctx, memkv.New(), store.Options{BaseDN: testBase, Now: clock.Now})
	if err != nil {
		t.Fatalf("opening directory: %v", err)
	}
	door, err := New(dir, cfg, Admin{DN: testAdminDN, Password: testAdminPW}, Options{Now: clock.Now, SealKey: testSealKey})
	if err != nil {
		t.Fatalf("policy.New: %v", err)
	}
	return &harness{t: t, ctx: ctx, clock: clock, dir: dir, door: door, admin: mustDN(t, testAdminDN)}
}

func mustDN(t *testing.T, s string) store.DN {
	t.Helper()
	dn, err := store.ParseDN(s)
	if err != nil {
		t.Fatalf("parsing DN %q: %v", s, err)
	}
	return dn
}

// userEntry is an inetOrgPerson with the given password value (cleartext
// or a hash), plus extra attributes.
func userEntry(t *testing.T, uid, password string, extra ...store.Attr) *store.Entry {
	t.Helper()
	name := strings.ToUpper(uid[:1]) + uid[1:]
	e := &store.Entry{DN: mustDN(t, "uid="+uid+","+testBase), Attrs: []store.Attr{
		{Type: "objectClass", Values: []string{"top", "person", "organizationalPerson", "inetOrgPerson"}},
		{Type: "uid", Values: []string{uid}},
		{Type: "cn", Values: []string{name + " Liddell"}},
		{Type: "sn", Values: []string{"Liddell"}},
		{Type: "mail", Values: []string{uid + "@example.com"}},
	}}
	if password != "" {
		e.Attrs = append(e.Attrs, store.Attr{Type: "userPassword", Values: []string{password}})
	}
	for _, a := range extra {
		if a.Type == "objectClass" {
			e.Set("objectClass", append(append([]string(nil), e.Get("objectClass")...), a.Values...)...)
			continue
		}
		e.Attrs = append(e.Attrs, a)
	}
	return e
}

// addUser adds uid with password as the administrator.
func (h *harness) addUser(uid, password string, extra ...store.Attr) store.DN {
	h.t.Helper()
	e := userEntry(h.t, uid, password, extra...)
	if err := h.door.Add(h.ctx, h.admin, e); err != nil {
		h.t.Fatalf("adding %s: %v", e.DN, err)
	}
	return e.DN
}

func (h *harness) entry(dn store.DN) *store.Entry {
	h.t.Helper()
	e, err := h.dir.Get(h.ctx, dn)
	if err != nil {
		h.t.Fatalf("reading %s: %v", dn, err)
	}
	return e
}

func (h *harness) login(l Login) Outcome {
	h.t.Helper()
	out, err := h.door.Authenticate(h.ctx, l)
	if err != nil {
		h.t.Fatalf("Authenticate(%v, %q): %v", l.DN, l.Name, err)
	}
	return out
}

func (h *harness) bind(dn store.DN, pw string) Outcome {
	h.t.Helper()
	return h.login(Login{Front: FrontLDAP, DN: dn, Secret: []byte(pw)})
}

// bindWant binds and checks the result.
func (h *harness) bindWant(dn store.DN, pw string, want Result) Outcome {
	h.t.Helper()
	out := h.bind(dn, pw)
	if out.Result != want {
		h.t.Fatalf("bind %s with %q: got %v, want %v", dn, pw, out.Result, want)
	}
	return out
}

func (h *harness) failures(dn store.DN) []string {
	h.t.Helper()
	return h.entry(dn).Get("pwdFailureTime")
}

func (h *harness) modify(actor, dn store.DN, mods ...store.Mod) error {
	return h.door.Modify(h.ctx, actor, dn, mods)
}

// selfChange is a user changing its own password with the old one.
func (h *harness) selfChange(dn store.DN, old, new string) error {
	_, err := h.door.ChangePassword(h.ctx, Change{Actor: dn, Old: []byte(old), HasOld: true, New: []byte(new), HasNew: true, Front: FrontLDAP})
	return err
}

func (h *harness) adminSet(dn store.DN, new string) error {
	_, err := h.door.ChangePassword(h.ctx, Change{Actor: h.admin, Target: dn, New: []byte(new), HasNew: true, Front: FrontLDAP})
	return err
}

// ssha returns an OpenLDAP {SSHA} value of pw.
func ssha(pw string) string {
	salt := []byte("pepper!!")
	sum := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

func TestAuthenticate(t *testing.T) {
	h := newHarness(t, testConfig())
	alice := h.addUser("alice", alicePW)
	tests := []struct {
		name      string
		login     Login
		want      Result
		wantAdmin bool
		wantDN    store.DN
	}{
		{"user by DN with the right password is let in", Login{DN: alice, Secret: []byte(alicePW)}, OK, false, alice},
		{"user by uid with the right password is let in", Login{Name: "alice", Secret: []byte(alicePW)}, OK, false, alice},
		{"uid is matched without regard to case", Login{Name: "ALICE", Secret: []byte(alicePW)}, OK, false, alice},
		{"administrator by DN is let in as admin", Login{DN: h.admin, Secret: []byte(testAdminPW)}, OK, true, h.admin},
		{"administrator with a wrong password is refused", Login{DN: h.admin, Secret: []byte(wrongPW)}, InvalidCredentials, false, nil},
		{"wrong password is refused", Login{DN: alice, Secret: []byte(wrongPW)}, InvalidCredentials, false, nil},
		{"password differing in case is refused", Login{DN: alice, Secret: []byte(strings.ToLower(alicePW))}, InvalidCredentials, false, nil},
		{"unknown DN is refused", Login{DN: mustDN(t, "uid=nobody,"+testBase), Secret: []byte(alicePW)}, InvalidCredentials, false, nil},
		{"DN outside the base is refused", Login{DN: mustDN(t, "uid=alice,dc=other,dc=org"), Secret: []byte(alicePW)}, InvalidCredentials, false, nil},
		{"unknown uid is refused", Login{Name: "nobody", Secret: []byte(alicePW)}, InvalidCredentials, false, nil},
		{"empty uid is refused", Login{Name: "", Secret: []byte(alicePW)}, InvalidCredentials, false, nil},
		{"entry without a password is refused", Login{DN: mustDN(t, testBase), Secret: []byte(alicePW)}, InvalidCredentials, false, nil},
		{"empty secret for a user is refused", Login{DN: alice, Secret: nil}, InvalidCredentials, false, nil},
		{"empty secret for the administrator is refused", Login{DN: h.admin, Secret: []byte{}}, InvalidCredentials, false, nil},
		{"empty secret by uid is refused", Login{Name: "alice", Secret: []byte{}}, InvalidCredentials, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := h.door.Authenticate(h.ctx, tc.login)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if out.Result != tc.want {
				t.Fatalf("result %v, want %v", out.Result, tc.want)
			}
			if out.Admin != tc.wantAdmin {
				t.Errorf("Admin %v, want %v", out.Admin, tc.wantAdmin)
			}
			if !out.DN.Equal(tc.wantDN) {
				t.Errorf("DN %v, want %v", out.DN, tc.wantDN)
			}
			if tc.want == OK && !tc.wantAdmin && (out.Entry == nil || !out.Entry.DN.Equal(tc.wantDN)) {
				t.Errorf("Entry %v, want the user's entry", out.Entry)
			}
			if tc.want != OK && out.Entry != nil {
				t.Errorf("a refused login carries the entry %s", out.Entry.DN)
			}
			if out.MustChange || out.ExpiresIn != 0 || out.GraceRemaining != -1 {
				t.Errorf("unexpected warnings: MustChange %v, ExpiresIn %v, GraceRemaining %d", out.MustChange, out.ExpiresIn, out.GraceRemaining)
			}
		})
	}
}

func TestAddHashesCleartext(t *testing.T) {
	h := newHarness(t, testConfig())
	alice := h.addUser("alice", alicePW)
	e := h.entry(alice)
	stored := e.First("userPassword")
	if !strings.HasPrefix(stored, "{ARGON2}$argon2id$v=19$m=7168,t=1,p=1$") {
		t.Errorf("stored userPassword %q is not argon2id with the configured parameters", stored)
	}
	if strings.Contains(stored, alicePW) {
		t.Errorf("stored userPassword %q contains the cleartext", stored)
	}
	if got, want := e.First("pwdChangedTime"), store.FormatTime(h.clock.Now()); got != want {
		t.Errorf("pwdChangedTime %q, want %q", got, want)
	}
	if e.First("pwdReset") != "" {
		t.Errorf("an added user has pwdReset %q", e.First("pwdReset"))
	}
	h.bindWant(alice, alicePW, OK)
}

func TestAddRefuses(t *testing.T) {
	h := newHarness(t, testConfig())
	alice := mustDN(t, "uid=alice,"+testBase)
	tests := []struct {
		name  string
		actor store.DN
		entry *store.Entry
		check func(error) bool
	}{
		{"a user may not add entries", alice, userEntry(t, "bob", secondPW), func(err error) bool { return errors.Is(err, ErrInsufficientAccess) }},
		{"two passwords are refused", h.admin, userEntry(t, "bob", "", store.Attr{Type: "userPassword", Values: []string{secondPW, thirdPW}}),
			func(err error) bool { return errors.Is(err, ErrOnePassword) }},
		{"a weak cleartext password is refused", h.admin, userEntry(t, "bob", "short"), func(err error) bool {
			q, ok := ErrIsQuality(err)
			return ok && q.Rule == "min_length" && q.PPolicyError == 6
		}},
		{"failure times cannot be added", h.admin, userEntry(t, "bob", secondPW, store.Attr{Type: "pwdFailureTime", Values: []string{"20250101000000Z"}}),
			func(err error) bool { return errors.Is(err, ErrNoUserModification) }},
		{"an unverifiable hash is refused", h.admin, userEntry(t, "bob", "{SSHA}"), func(err error) bool { return errors.Is(err, store.ErrInvalidSyntax) }},
		{"an unsupported crypt variant is refused", h.admin, userEntry(t, "bob", "{CRYPT}abJnggxhB/yWI"), func(err error) bool { return errors.Is(err, store.ErrInvalidSyntax) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := h.door.Add(h.ctx, tc.actor, tc.entry)
			if !tc.check(err) {
				t.Fatalf("Add: got %v", err)
			}
			if _, err := h.dir.Get(h.ctx, tc.entry.DN); !errors.Is(err, store.ErrNoSuchObject) {
				t.Errorf("the refused entry exists (%v)", err)
			}
		})
	}
}

func TestDefaultHashParameters(t *testing.T) {
	cfg := testConfig()
	cfg.Argon2Memory, cfg.Argon2Time, cfg.Argon2Threads = DefaultArgon2Memory, DefaultArgon2Time, DefaultArgon2Threads
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the default configuration does not validate: %v", err)
	}
	h := newHarness(t, cfg)
	alice := h.addUser("alice", alicePW)
	if stored := h.entry(alice).First("userPassword"); !strings.Contains(stored, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("stored userPassword %q is not argon2id m=19456,t=2,p=1", stored)
	}
	h.bindWant(alice, alicePW, OK)
}

func TestImportedHash(t *testing.T) {
	for _, upgrade := range []bool{true, false} {
		name := "with upgrade_hashes an SSHA value is re-hashed after a successful bind"
		if !upgrade {
			name = "without upgrade_hashes an SSHA value is kept"
		}
		t.Run(name, func(t *testing.T) {
			cfg := testConfig()
			cfg.UpgradeHashes = upgrade
			h := newHarness(t, cfg)
			imported := ssha(alicePW)
			alice := h.addUser("alice", imported)
			if got := h.entry(alice).First("userPassword"); got != imported {
				t.Fatalf("Add stored %q, want the administrator's hash %q kept", got, imported)
			}
			h.bindWant(alice, wrongPW, InvalidCredentials)
			if got := h.entry(alice).First("userPassword"); got != imported {
				t.Fatalf("a failed bind changed the hash to %q", got)
			}
			h.bindWant(alice, alicePW, OK)
			got := h.entry(alice).First("userPassword")
			if upgrade && !strings.HasPrefix(got, "{ARGON2}$argon2id$v=19$m=7168,t=1,p=1$") {
				t.Errorf("after the bind userPassword is %q, want an argon2id hash", got)
			}
			if !upgrade && got != imported {
				t.Errorf("after the bind userPassword is %q, want %q kept", got, imported)
			}
			h.bindWant(alice, alicePW, OK)
			h.bindWant(alice, wrongPW, InvalidCredentials)
		})
	}
}

func TestLockout(t *testing.T) {
	lockoutConfig := func(duration time.Duration) Config {
		cfg := testConfig()
		cfg.LockoutThreshold = 3
		cfg.LockoutDuration = duration
		return cfg
	}

	t.Run("the third failure locks and the lock ends after lockout_duration", func(t *testing.T) {
		h := newHarness(t, lockoutConfig(15*time.Minute))
		alice := h.addUser("alice", alicePW)
		for i := 1; i <= 2; i++ {
			h.bindWant(alice, wrongPW, InvalidCredentials)
			if v := h.entry(alice).First("pwdAccountLockedTime"); v != "" {
				t.Fatalf("locked after %d failures (%s)", i, v)
			}
		}
		h.bindWant(alice, wrongPW, InvalidCredentials)
		if h.entry(alice).First("pwdAccountLockedTime") == "" {
			t.Fatal("not locked after the third failure")
		}
		out := h.bindWant(alice, alicePW, Locked)
		if !out.DN.Equal(alice) || out.Entry != nil {
			t.Errorf("locked outcome: DN %v, Entry %v; want the DN and no entry", out.DN, out.Entry)
		}
		// A wrong password on a locked account must look like any other.
		h.bindWant(alice, wrongPW, InvalidCredentials)
		// ...and it still counts: guesses during a lock are what the
		// hourly throttle bounds.
		if n := len(h.failures(alice)); n != 4 {
			t.Errorf("%d failures recorded, want 4 (failures count while locked)", n)
		}
		h.clock.Advance(14 * time.Minute)
		h.bindWant(alice, alicePW, Locked)
		h.clock.Advance(time.Minute)
		h.bindWant(alice, alicePW, OK)
		e := h.entry(alice)
		if e.First("pwdAccountLockedTime") != "" || len(e.Get("pwdFailureTime")) != 0 {
			t.Errorf("after a successful bind: pwdAccountLockedTime %q, pwdFailureTime %v; want both cleared",
				e.First("pwdAccountLockedTime"), e.Get("pwdFailureTime"))
		}
	})

	t.Run("failures from before an ended lock do not re-lock at once", func(t *testing.T) {
		h := newHarness(t, lockoutConfig(15*time.Minute))
		alice := h.addUser("alice", alicePW)
		for range 3 {
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		h.bindWant(alice, alicePW, Locked)
		h.clock.Advance(16 * time.Minute)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		h.bindWant(alice, alicePW, OK)
	})

	t.Run("after an ended lock the threshold counts only new failures", func(t *testing.T) {
		h := newHarness(t, lockoutConfig(15*time.Minute))
		alice := h.addUser("alice", alicePW)
		for range 3 {
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		oldLock := h.entry(alice).First("pwdAccountLockedTime")
		h.clock.Advance(16 * time.Minute)
		for i := 1; i <= 2; i++ {
			h.bindWant(alice, wrongPW, InvalidCredentials)
			if got := h.entry(alice).First("pwdAccountLockedTime"); got != oldLock {
				t.Fatalf("locked again (%s) after %d new failures", got, i)
			}
		}
		h.bindWant(alice, wrongPW, InvalidCredentials)
		if got := h.entry(alice).First("pwdAccountLockedTime"); got == oldLock {
			t.Fatal("three new failures did not lock again")
		}
		h.bindWant(alice, alicePW, Locked)
	})

	t.Run("with lockout_duration 0 the lock lasts until the administrator deletes it", func(t *testing.T) {
		h := newHarness(t, lockoutConfig(0))
		alice := h.addUser("alice", alicePW)
		for range 3 {
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		h.clock.Advance(30 * 24 * time.Hour)
		h.bindWant(alice, alicePW, Locked)
		if err := h.modify(alice, alice, store.Mod{Op: store.ModDelete, Type: "pwdAccountLockedTime"}); !errors.Is(err, ErrInsufficientAccess) {
			t.Errorf("the user unlocking itself: got %v, want ErrInsufficientAccess", err)
		}
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModDelete, Type: "pwdAccountLockedTime"}); err != nil {
			t.Fatalf("admin deleting pwdAccountLockedTime: %v", err)
		}
		if f := h.failures(alice); len(f) != 0 {
			t.Errorf("unlocking left failures %v that would re-lock the account", f)
		}
		h.bindWant(alice, alicePW, OK)
	})

	t.Run("a burst of failures at one instant records distinct values", func(t *testing.T) {
		cfg := lockoutConfig(15 * time.Minute)
		cfg.LockoutThreshold = 10
		h := newHarness(t, cfg)
		alice := h.addUser("alice", alicePW)
		for range 5 {
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		vals := h.failures(alice)
		if len(vals) != 5 {
			t.Fatalf("pwdFailureTime %v: %d values, want 5", vals, len(vals))
		}
		seen := map[time.Time]bool{}
		for _, v := range vals {
			ts, err := store.ParseGeneralizedTime(v)
			if err != nil {
				t.Fatalf("pwdFailureTime %q: %v", v, err)
			}
			if seen[ts] {
				t.Errorf("pwdFailureTime %v repeats %q", vals, v)
			}
			seen[ts] = true
		}
	})

	t.Run("failure times stay distinct with a clock finer than a microsecond", func(t *testing.T) {
		h := newHarness(t, testConfig())
		alice := h.addUser("alice", alicePW)
		seen := map[time.Time]bool{}
		for range 4 {
			h.clock.Advance(300 * time.Nanosecond)
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		for _, v := range h.failures(alice) {
			ts, _ := store.ParseGeneralizedTime(v)
			seen[ts] = true
		}
		if len(seen) != 4 {
			t.Errorf("pwdFailureTime %v: %d distinct instants, want 4", h.failures(alice), len(seen))
		}
	})

	t.Run("success clears the failures", func(t *testing.T) {
		h := newHarness(t, lockoutConfig(15*time.Minute))
		alice := h.addUser("alice", alicePW)
		for range 2 {
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		h.bindWant(alice, alicePW, OK)
		if f := h.failures(alice); len(f) != 0 {
			t.Fatalf("pwdFailureTime %v after a success", f)
		}
		// Two more failures do not reach the threshold of three.
		for range 2 {
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		h.bindWant(alice, alicePW, OK)
	})

	t.Run("a bind by uid counts toward the same lockout", func(t *testing.T) {
		h := newHarness(t, lockoutConfig(15*time.Minute))
		alice := h.addUser("alice", alicePW)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		h.login(Login{Front: FrontRADIUS, Name: "alice", Secret: []byte(wrongPW)})
		h.login(Login{Front: FrontPortal, Name: "alice", Secret: []byte(wrongPW)})
		if out := h.login(Login{Front: FrontRADIUS, Name: "alice", Secret: []byte(alicePW)}); out.Result != Locked {
			t.Fatalf("after three failures across fronts: %v, want Locked", out.Result)
		}
	})
}

// throttleConfig hashes more cheaply still than testConfig: the throttle
// tests make a few hundred attempts, and are not about hashing.
func throttleConfig() Config {
	cfg := testConfig() // lockout_threshold 0: lockout off
	cfg.Argon2Memory = 1024
	return cfg
}

func TestThrottle(t *testing.T) {
	h := newHarness(t, throttleConfig())
	alice := h.addUser("alice", alicePW)
	for range maxRecordedFailures {
		h.clock.Advance(10 * time.Second)
		h.bindWant(alice, wrongPW, InvalidCredentials)
	}
	// Past the bound the secret is not checked: the right password gets
	// the same answer as a guess, so the answer confirms nothing.
	h.bindWant(alice, alicePW, InvalidCredentials)
	for range 5 {
		h.bindWant(alice, wrongPW, InvalidCredentials)
	}
	if n := len(h.failures(alice)); n != maxRecordedFailures {
		t.Errorf("%d pwdFailureTime values stored, want %d", n, maxRecordedFailures)
	}
	// The password change path is throttled too: guessing the old
	// password there must not go past the hourly limit.
	if err := h.selfChange(alice, wrongPW, secondPW); !errors.Is(err, ErrOldPasswordWrong) {
		t.Errorf("a change with a wrong old password while throttled: got %v, want ErrOldPasswordWrong", err)
	}
	if err := h.selfChange(alice, alicePW, secondPW); !errors.Is(err, ErrOldPasswordWrong) {
		t.Errorf("a change with the right old password while throttled: got %v, want ErrOldPasswordWrong (no confirmation)", err)
	}
	if n := len(h.failures(alice)); n != maxRecordedFailures {
		t.Errorf("%d pwdFailureTime values stored after change attempts, want %d", n, maxRecordedFailures)
	}
	h.clock.Advance(time.Hour)
	h.bindWant(alice, alicePW, OK)
	if f := h.failures(alice); len(f) != 0 {
		t.Errorf("%d pwdFailureTime values after the success", len(f))
	}
}

func TestThrottleKeepsTheNewestFailures(t *testing.T) {
	h := newHarness(t, throttleConfig())
	alice := h.addUser("alice", alicePW)
	// Two old failures in one second, the first on the whole second
	// ("...00Z") and the second half a second later ("...00.5Z"), which
	// sorts first as a string. Once the hour has passed and 99 new
	// failures push the count past the cap, the oldest by time must go.
	h.bindWant(alice, wrongPW, InvalidCredentials)
	first := h.failures(alice)[0]
	h.clock.Advance(500 * time.Millisecond)
	h.bindWant(alice, wrongPW, InvalidCredentials)
	h.clock.Advance(time.Hour + time.Second)
	for range maxRecordedFailures - 1 {
		h.clock.Advance(time.Second)
		h.bindWant(alice, wrongPW, InvalidCredentials)
	}
	vals := h.failures(alice)
	if len(vals) != maxRecordedFailures {
		t.Fatalf("%d values stored, want %d", len(vals), maxRecordedFailures)
	}
	for _, v := range vals {
		if v == first {
			t.Errorf("the oldest failure %s was kept and a newer one dropped", first)
		}
	}
}

func TestPreviousPasswordsDoNotCount(t *testing.T) {
	h := newHarness(t, testConfig())
	alice := h.addUser("alice", alicePW)
	h.clock.Advance(time.Hour)
	if err := h.selfChange(alice, alicePW, secondPW); err != nil {
		t.Fatalf("first change: %v", err)
	}
	h.clock.Advance(time.Hour)
	if err := h.selfChange(alice, secondPW, thirdPW); err != nil {
		t.Fatalf("second change: %v", err)
	}
	tests := []struct {
		name  string
		pw    string
		count bool
	}{
		{"the password before last does not count", alicePW, false},
		{"the previous password does not count", secondPW, false},
		{"a random wrong password counts", wrongPW, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.failures(alice))
			h.bindWant(alice, tc.pw, InvalidCredentials)
			added := len(h.failures(alice)) - before
			if want := map[bool]int{true: 1, false: 0}[tc.count]; added != want {
				t.Errorf("%d failures added, want %d", added, want)
			}
		})
	}
	h.bindWant(alice, thirdPW, OK)
}

func TestExpiry(t *testing.T) {
	const day = 24 * time.Hour
	expiryConfig := func() Config {
		cfg := testConfig()
		cfg.MaxAge = 90 * day
		return cfg
	}

	t.Run("inside expire_warning the login is warned", func(t *testing.T) {
		h := newHarness(t, expiryConfig())
		alice := h.addUser("alice", alicePW)
		h.clock.Advance(82 * day)
		if out := h.bindWant(alice, alicePW, OK); out.ExpiresIn != 0 {
			t.Errorf("8 days before expiry ExpiresIn is %v, want no warning", out.ExpiresIn)
		}
		h.clock.Advance(3*day + time.Hour)
		out := h.bindWant(alice, alicePW, OK)
		if want := 5*day - time.Hour; out.ExpiresIn < want-time.Second || out.ExpiresIn > want {
			t.Errorf("ExpiresIn %v, want about %v", out.ExpiresIn, want)
		}
		if out.MustChange || out.GraceRemaining != -1 {
			t.Errorf("MustChange %v GraceRemaining %d, want false and -1", out.MustChange, out.GraceRemaining)
		}
	})

	t.Run("with lock_on_expiry an expired account is locked until an administrator restores it", func(t *testing.T) {
		h := newHarness(t, expiryConfig())
		alice := h.addUser("alice", alicePW)
		h.clock.Advance(91 * day)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		out := h.bindWant(alice, alicePW, Expired)
		if !out.DN.Equal(alice) {
			t.Errorf("Expired outcome DN %v, want %v", out.DN, alice)
		}
		if got := h.entry(alice).First("pwdAccountLockedTime"); got != "000001010000Z" {
			t.Fatalf("pwdAccountLockedTime %q, want 000001010000Z", got)
		}
		h.bindWant(alice, wrongPW, InvalidCredentials)
		h.clock.Advance(day)
		h.bindWant(alice, alicePW, Expired)
		if err := h.selfChange(alice, alicePW, secondPW); !errors.Is(err, ErrAccountExpired) {
			t.Errorf("self-service change on the expired account: got %v, want ErrAccountExpired", err)
		}

		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModDelete, Type: "pwdAccountLockedTime"}); err != nil {
			t.Fatalf("admin deleting pwdAccountLockedTime: %v", err)
		}
		if got, want := h.entry(alice).First("pwdChangedTime"), store.FormatTime(h.clock.Now()); got != want {
			t.Errorf("after the restore pwdChangedTime is %q, want now %q", got, want)
		}
		out = h.bindWant(alice, alicePW, OK)
		if !out.MustChange {
			t.Error("after the restore the login is not told to change the password")
		}
		if err := h.selfChange(alice, alicePW, secondPW); err != nil {
			t.Fatalf("changing after the restore: %v", err)
		}
		if out := h.bindWant(alice, secondPW, OK); out.MustChange {
			t.Error("MustChange still set after the user's change")
		}
	})

	t.Run("an administrator setting a new password restores an expired account", func(t *testing.T) {
		h := newHarness(t, expiryConfig())
		alice := h.addUser("alice", alicePW)
		h.clock.Advance(91 * day)
		h.bindWant(alice, alicePW, Expired)
		if err := h.adminSet(alice, secondPW); err != nil {
			t.Fatalf("admin setting a password: %v", err)
		}
		if out := h.bindWant(alice, secondPW, OK); !out.MustChange {
			t.Error("the admin-set password is not marked must-change")
		}
	})

	t.Run("an expiry lock replaces an ended lockout", func(t *testing.T) {
		cfg := expiryConfig()
		cfg.LockoutThreshold = 3
		h := newHarness(t, cfg)
		alice := h.addUser("alice", alicePW)
		h.clock.Advance(89 * day)
		for range 3 {
			h.bindWant(alice, wrongPW, InvalidCredentials)
		}
		h.clock.Advance(2 * day)
		h.bindWant(alice, alicePW, Expired)
		if got := h.entry(alice).First("pwdAccountLockedTime"); got != "000001010000Z" {
			t.Errorf("pwdAccountLockedTime %q, want 000001010000Z", got)
		}
	})

	t.Run("without lock_on_expiry grace logins are counted down", func(t *testing.T) {
		cfg := expiryConfig()
		cfg.LockOnExpiry = false
		cfg.GraceLogins = 2
		cfg.LockoutThreshold = 3
		h := newHarness(t, cfg)
		alice := h.addUser("alice", alicePW)
		h.clock.Advance(91 * day)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		for _, want := range []int{1, 0} {
			h.clock.Advance(time.Minute)
			out := h.bindWant(alice, alicePW, OK)
			if out.GraceRemaining != want {
				t.Errorf("GraceRemaining %d, want %d", out.GraceRemaining, want)
			}
			if out.Entry == nil {
				t.Error("a grace login carries no entry")
			}
		}
		if f := h.failures(alice); len(f) != 0 {
			t.Errorf("a grace login left the failures %v", f)
		}
		if got := h.entry(alice).First("pwdAccountLockedTime"); got != "" {
			t.Errorf("pwdAccountLockedTime %q without lock_on_expiry", got)
		}
		h.clock.Advance(time.Minute)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		h.bindWant(alice, alicePW, Expired)
		if err := h.selfChange(alice, alicePW, secondPW); err != nil {
			t.Fatalf("changing the expired password without lock_on_expiry: %v", err)
		}
		out := h.bindWant(alice, secondPW, OK)
		if out.GraceRemaining != -1 || out.ExpiresIn != 0 {
			t.Errorf("after the change GraceRemaining %d ExpiresIn %v", out.GraceRemaining, out.ExpiresIn)
		}
	})

	t.Run("a password without pwdChangedTime never expires", func(t *testing.T) {
		h := newHarness(t, expiryConfig())
		alice := h.addUser("alice", alicePW)
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModDelete, Type: "pwdChangedTime"}); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(400 * day)
		if out := h.bindWant(alice, alicePW, OK); out.ExpiresIn != 0 {
			t.Errorf("ExpiresIn %v", out.ExpiresIn)
		}
	})
}

// TestSameWorkForUnknownUsers stands in for a timing test, which would be
// flaky: an unknown user, a user without a password, and a locked or
// expired account with a wrong password must cost as many hash
// verifications as an ordinary wrong password.
func TestSameWorkForUnknownUsers(t *testing.T) {
	cfg := testConfig()
	cfg.LockoutThreshold = 3
	cfg.MaxAge = 90 * 24 * time.Hour
	h := newHarness(t, cfg)
	var verifications atomic.Int64
	h.door.verifyHook = func() { verifications.Add(1) }
	alice := h.addUser("alice", alicePW)
	if err := h.selfChange(alice, alicePW, fourthPW); err != nil {
		t.Fatal(err)
	}
	locked := h.addUser("lockedout", secondPW)
	for range 3 {
		h.bindWant(locked, wrongPW, InvalidCredentials)
	}
	h.bindWant(locked, secondPW, Locked)
	expired := h.addUser("expired", thirdPW)
	if err := h.modify(h.admin, expired, store.Mod{Op: store.ModReplace, Type: "pwdChangedTime", Values: []string{"20200101000000Z"}}); err != nil {
		t.Fatal(err)
	}
	h.bindWant(expired, thirdPW, Expired)

	cost := func(l Login) int64 {
		t.Helper()
		verifications.Store(0)
		if out := h.login(l); out.Result != InvalidCredentials {
			t.Fatalf("result %v, want InvalidCredentials", out.Result)
		}
		return verifications.Load()
	}
	want := cost(Login{DN: alice, Secret: []byte(wrongPW)})
	if want < 1 {
		t.Fatalf("a wrong password cost %d verifications; is the hook called?", want)
	}
	tests := []struct {
		name  string
		login Login
	}{
		{"unknown DN", Login{DN: mustDN(t, "uid=nobody,"+testBase), Secret: []byte(wrongPW)}},
		{"unknown uid", Login{Name: "nobody", Secret: []byte(wrongPW)}},
		{"entry without a password", Login{DN: mustDN(t, testBase), Secret: []byte(wrongPW)}},
		{"wrong password by uid", Login{Name: "alice", Secret: []byte(wrongPW)}},
		{"locked account, wrong password", Login{DN: locked, Secret: []byte(wrongPW)}},
		{"expired account, wrong password", Login{DN: expired, Secret: []byte(wrongPW)}},
		{"previous password", Login{DN: alice, Secret: []byte(alicePW)}},
	}
	for _, tc := range tests {
		t.Run(tc.name+" costs what a wrong password costs", func(t *testing.T) {
			if got := cost(tc.login); got != want {
				t.Errorf("%d verifications, want %d", got, want)
			}
		})
	}
}

func TestConcurrentFailuresAreAllRecorded(t *testing.T) {
	h := newHarness(t, testConfig())
	alice := h.addUser("alice", alicePW)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := h.door.Authenticate(h.ctx, Login{Front: FrontRADIUS, Name: "alice", Secret: []byte(wrongPW)})
			if err == nil && out.Result != InvalidCredentials {
				err = errors.New("result " + out.Result.String())
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent bind: %v", err)
		}
	}
	vals := h.failures(alice)
	if len(vals) != n {
		t.Errorf("%d pwdFailureTime values, want %d", len(vals), n)
	}
	seen := map[string]bool{}
	for _, v := range vals {
		if seen[v] {
			t.Errorf("pwdFailureTime %q recorded twice", v)
		}
		seen[v] = true
	}
}

func TestBusyQueue(t *testing.T) {
	h := newHarness(t, testConfig())
	alice := h.addUser("alice", alicePW)
	// Fill the hashing queue, then a login whose context ends first gets
	// ErrBusy rather than waiting or answering.
	for range cap(h.door.sem) {
		h.door.sem <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Millisecond)
	defer cancel()
	_, err := h.door.Authenticate(ctx, Login{DN: alice, Secret: []byte(alicePW)})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("Authenticate with a full queue: got %v, want ErrBusy", err)
	}
	for range cap(h.door.sem) {
		<-h.door.sem
	}
	h.bindWant(alice, alicePW, OK)
}
