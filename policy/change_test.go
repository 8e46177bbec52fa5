package policy

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/store"
)

func TestMustChange(t *testing.T) {
	t.Run("a password the administrator sets must be changed at next login", func(t *testing.T) {
		h := newHarness(t, testConfig())
		alice := h.addUser("alice", alicePW)
		if err := h.adminSet(alice, secondPW); err != nil {
			t.Fatalf("admin setting a password: %v", err)
		}
		if got := h.entry(alice).First("pwdReset"); got != "TRUE" {
			t.Errorf("pwdReset %q, want TRUE", got)
		}
		h.bindWant(alice, alicePW, InvalidCredentials)
		if out := h.bindWant(alice, secondPW, OK); !out.MustChange {
			t.Fatal("login after the admin's change is not MustChange")
		}
		if err := h.selfChange(alice, secondPW, thirdPW); err != nil {
			t.Fatalf("the user's own change: %v", err)
		}
		if got := h.entry(alice).First("pwdReset"); got != "" {
			t.Errorf("pwdReset %q after the user's change, want none", got)
		}
		if out := h.bindWant(alice, thirdPW, OK); out.MustChange {
			t.Error("MustChange after the user's own change")
		}
	})

	t.Run("a generated password is returned, follows the rules and must be changed", func(t *testing.T) {
		cfg := testConfig()
		cfg.MinLength = 24
		cfg.RequireDigit, cfg.RequireSymbol, cfg.RequireUpper, cfg.RequireLower = true, true, true, true
		h := newHarness(t, cfg)
		alice := h.addUser("alice", "Tulip-Orbit-93-Long-Enough!")
		gen, err := h.door.ChangePassword(h.ctx, Change{Actor: h.admin, Target: alice, Front: FrontLDAP})
		if err != nil {
			t.Fatalf("admin generating a password: %v", err)
		}
		if len(gen) == 0 {
			t.Fatal("no generated password returned")
		}
		if err := CheckQuality(h.door.Rules(), string(gen), "alice"); err != nil {
			t.Errorf("generated password %q breaks the rules: %v", gen, err)
		}
		if got := h.entry(alice).First("pwdReset"); got != "TRUE" {
			t.Errorf("pwdReset %q, want TRUE", got)
		}
		if stored := h.entry(alice).First("userPassword"); !strings.HasPrefix(stored, "{ARGON2}$argon2id$") {
			t.Errorf("generated password stored as %q", stored)
		}
		if out := h.bindWant(alice, string(gen), OK); !out.MustChange {
			t.Error("login with the generated password is not MustChange")
		}
	})

	t.Run("a password given with the change is not echoed back", func(t *testing.T) {
		h := newHarness(t, testConfig())
		alice := h.addUser("alice", alicePW)
		gen, err := h.door.ChangePassword(h.ctx, Change{Actor: alice, Old: []byte(alicePW), HasOld: true, New: []byte(secondPW), HasNew: true})
		if err != nil || gen != nil {
			t.Fatalf("ChangePassword = %q, %v; want nil, nil", gen, err)
		}
	})
}

func TestChangePasswordRefuses(t *testing.T) {
	cfg := testConfig()
	cfg.LockoutThreshold = 5
	h := newHarness(t, cfg)
	alice := h.addUser("alice", alicePW)
	bob := h.addUser("bob", secondPW)
	isQuality := func(rule string, pp int) func(error) bool {
		return func(err error) bool {
			q, ok := ErrIsQuality(err)
			return ok && q.Rule == rule && q.PPolicyError == pp && strings.HasPrefix(q.Message, "Password ")
		}
	}
	is := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
	tests := []struct {
		name         string
		change       Change
		check        func(error) bool
		wantFailures int // added to alice's pwdFailureTime
	}{
		{"a user without the old password must supply it",
			Change{Actor: alice, New: []byte(thirdPW), HasNew: true}, is(ErrMustSupplyOld), 0},
		{"a wrong old password is refused and counts as a failure",
			Change{Actor: alice, Old: []byte(wrongPW), HasOld: true, New: []byte(thirdPW), HasNew: true}, is(ErrOldPasswordWrong), 1},
		{"a user may not change another user's password",
			Change{Actor: alice, Target: bob, Old: []byte(secondPW), HasOld: true, New: []byte(thirdPW), HasNew: true}, is(ErrInsufficientAccess), 0},
		{"anonymous may not change a password",
			Change{Actor: nil, Target: alice, Old: []byte(alicePW), HasOld: true, New: []byte(thirdPW), HasNew: true}, is(ErrInsufficientAccess), 0},
		{"nobody changes the administrator's password",
			Change{Actor: h.admin, Target: h.admin, New: []byte(thirdPW), HasNew: true}, is(ErrInsufficientAccess), 0},
		{"a too short password is refused as passwordTooShort",
			Change{Actor: alice, Old: []byte(alicePW), HasOld: true, New: []byte("Ab3-x"), HasNew: true}, isQuality("min_length", 6), 0},
		{"a common password is refused",
			Change{Actor: alice, Old: []byte(alicePW), HasOld: true, New: []byte("password123"), HasNew: true}, isQuality("reject_common", 5), 0},
		{"a password containing the uid is refused",
			Change{Actor: alice, Old: []byte(alicePW), HasOld: true, New: []byte("Xy-alice-Quartz-9"), HasNew: true}, isQuality("user_name", 5), 0},
		{"a password containing the surname is refused",
			Change{Actor: alice, Old: []byte(alicePW), HasOld: true, New: []byte("liddell-Quartz-9"), HasNew: true}, isQuality("personal_info", 5), 0},
		{"the administrator's cleartext is held to the quality rules",
			Change{Actor: h.admin, Target: alice, New: []byte("short"), HasNew: true}, isQuality("min_length", 6), 0},
		{"an unverifiable hash from the administrator is refused",
			Change{Actor: h.admin, Target: alice, New: []byte("{SSHA}bm90IGEgaGFzaA"), HasNew: true}, is(store.ErrInvalidSyntax), 0},
		{"a change for an unknown entry is refused",
			Change{Actor: h.admin, Target: mustDN(t, "uid=nobody,"+testBase), New: []byte(thirdPW), HasNew: true}, is(store.ErrNoSuchObject), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.failures(alice))
			hashBefore := h.entry(alice).First("userPassword")
			_, err := h.door.ChangePassword(h.ctx, tc.change)
			if !tc.check(err) {
				t.Fatalf("ChangePassword: got %v", err)
			}
			if got := len(h.failures(alice)) - before; got != tc.wantFailures {
				t.Errorf("%d failures added, want %d", got, tc.wantFailures)
			}
			if h.entry(alice).First("userPassword") != hashBefore {
				t.Error("the refused change changed the password")
			}
		})
	}
	h.bindWant(alice, alicePW, OK)
	h.bindWant(bob, secondPW, OK)
}

func TestChangePasswordOnLockedAccount(t *testing.T) {
	cfg := testConfig()
	cfg.LockoutThreshold = 3
	h := newHarness(t, cfg)
	alice := h.addUser("alice", alicePW)
	for range 3 {
		h.bindWant(alice, wrongPW, InvalidCredentials)
	}
	if err := h.selfChange(alice, wrongPW, secondPW); !errors.Is(err, ErrOldPasswordWrong) {
		t.Errorf("wrong old password on a locked account: got %v, want ErrOldPasswordWrong", err)
	}
	if err := h.selfChange(alice, alicePW, secondPW); !errors.Is(err, ErrAccountLocked) {
		t.Errorf("right old password on a locked account: got %v, want ErrAccountLocked", err)
	}
	if n := len(h.failures(alice)); n != 4 {
		t.Errorf("%d failures, want 4 (the wrong old password counts while locked)", n)
	}
	// The administrator's change unlocks.
	if err := h.adminSet(alice, secondPW); err != nil {
		t.Fatal(err)
	}
	e := h.entry(alice)
	if e.First("pwdAccountLockedTime") != "" || len(e.Get("pwdFailureTime")) != 0 {
		t.Errorf("after the admin's change: pwdAccountLockedTime %q, pwdFailureTime %v", e.First("pwdAccountLockedTime"), e.Get("pwdFailureTime"))
	}
	h.bindWant(alice, secondPW, OK)
}

func TestHistory(t *testing.T) {
	cfg := testConfig()
	cfg.History = 3
	h := newHarness(t, cfg)
	alice := h.addUser("alice", alicePW)
	seq := []string{alicePW, secondPW, thirdPW, fourthPW}
	for i := 1; i < len(seq); i++ {
		h.clock.Advance(24 * time.Hour)
		if err := h.selfChange(alice, seq[i-1], seq[i]); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	if n := len(h.entry(alice).Get("pwdHistory")); n != 3 {
		t.Errorf("%d pwdHistory values, want 3", n)
	}
	for _, tc := range []struct{ name, pw string }{
		{"the current password is refused", fourthPW},
		{"the previous password is refused", thirdPW},
		{"the password before that is refused", secondPW},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.selfChange(alice, fourthPW, tc.pw)
			q, ok := ErrIsQuality(err)
			if !ok || q.PPolicyError != 8 || q.Rule != "history" {
				t.Fatalf("got %v, want a QualityError with PPolicyError 8", err)
			}
			if !strings.HasPrefix(q.Message, "New password is in list of old passwords") {
				t.Errorf("message %q", q.Message)
			}
		})
	}
	t.Run("the administrator bypasses history but not quality", func(t *testing.T) {
		if _, ok := ErrIsQuality(h.adminSet(alice, "short")); !ok {
			t.Error("admin setting a short password: want a QualityError")
		}
		if err := h.adminSet(alice, fourthPW); err != nil {
			t.Errorf("admin re-setting the current password: %v", err)
		}
		h.bindWant(alice, fourthPW, OK)
	})
}

func TestHistoryBoundary(t *testing.T) {
	cfg := testConfig()
	cfg.History = 3
	h := newHarness(t, cfg)
	alice := h.addUser("alice", alicePW)
	seq := []string{alicePW, secondPW, thirdPW, fourthPW}
	for i := 1; i < len(seq); i++ {
		h.clock.Advance(24 * time.Hour)
		if err := h.selfChange(alice, seq[i-1], seq[i]); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	// history 3: the current and the last 2 are refused, the third back
	// is not.
	if err := h.selfChange(alice, fourthPW, alicePW); err != nil {
		t.Errorf("reusing the third password back: %v", err)
	}
}

var historyValue = regexp.MustCompile(`^(\d{14}(?:\.\d+)?Z)#1\.3\.6\.1\.4\.1\.1466\.115\.121\.1\.40#(\d+)#(.*)$`)

func TestChangeEffects(t *testing.T) {
	cfg := testConfig()
	cfg.LockoutThreshold = 5
	h := newHarness(t, cfg)
	alice := h.addUser("alice", alicePW, store.Attr{Type: "objectClass", Values: []string{"shadowAccount"}})
	if got, want := h.entry(alice).First("shadowLastChange"), strconv.FormatInt(h.clock.Now().Unix()/86400, 10); got != want {
		t.Errorf("shadowLastChange after Add %q, want %q", got, want)
	}
	h.bindWant(alice, wrongPW, InvalidCredentials)
	h.bindWant(alice, wrongPW, InvalidCredentials)
	h.clock.Advance(3*24*time.Hour + 90*time.Minute)
	before := h.entry(alice)
	oldHash := before.First("userPassword")
	if err := h.selfChange(alice, alicePW, secondPW); err != nil {
		t.Fatal(err)
	}
	e := h.entry(alice)
	now := h.clock.Now()
	if got, want := e.First("pwdChangedTime"), store.FormatTime(now); got != want {
		t.Errorf("pwdChangedTime %q, want %q", got, want)
	}
	if got, want := e.First("shadowLastChange"), strconv.FormatInt(now.Unix()/86400, 10); got != want {
		t.Errorf("shadowLastChange %q, want %q", got, want)
	}
	hist := e.Get("pwdHistory")
	if len(hist) != 1 {
		t.Fatalf("pwdHistory %v, want one value", hist)
	}
	m := historyValue.FindStringSubmatch(hist[0])
	if m == nil {
		t.Fatalf("pwdHistory %q is not time#1.3.6.1.4.1.1466.115.121.1.40#len#hash", hist[0])
	}
	if ts, err := store.ParseGeneralizedTime(m[1]); err != nil || !ts.Equal(now) {
		t.Errorf("pwdHistory time %q (%v), want %v", m[1], err, now)
	}
	if m[3] != oldHash || m[2] != strconv.Itoa(len(oldHash)) {
		t.Errorf("pwdHistory holds %s#%s, want the previous hash %q of length %d", m[2], m[3], oldHash, len(oldHash))
	}
	if len(e.Get("pwdFailureTime")) != 0 || e.First("pwdReset") != "" {
		t.Errorf("pwdFailureTime %v pwdReset %q after the change", e.Get("pwdFailureTime"), e.First("pwdReset"))
	}
	if e.First("userPassword") == oldHash || !strings.HasPrefix(e.First("userPassword"), "{ARGON2}") {
		t.Errorf("userPassword %q after the change", e.First("userPassword"))
	}
	if got := e.First("modifiersName"); got != alice.String() {
		t.Errorf("modifiersName %q, want %q", got, alice)
	}

	// A lock is cleared by the administrator's change.
	if err := h.modify(h.admin, alice, store.Mod{Op: store.ModReplace, Type: "pwdAccountLockedTime", Values: []string{"000001010000Z"}}); err != nil {
		t.Fatal(err)
	}
	h.bindWant(alice, secondPW, Locked)
	if err := h.adminSet(alice, thirdPW); err != nil {
		t.Fatal(err)
	}
	if got := h.entry(alice).First("pwdAccountLockedTime"); got != "" {
		t.Errorf("pwdAccountLockedTime %q after the admin's change", got)
	}
	if got := len(h.entry(alice).Get("pwdHistory")); got != 2 {
		t.Errorf("%d pwdHistory values, want 2", got)
	}
	h.bindWant(alice, thirdPW, OK)
}

func TestModify(t *testing.T) {
	const day = 24 * time.Hour
	cfg := testConfig()
	cfg.MaxAge = 90 * day
	newH := func(t *testing.T) (*harness, store.DN, store.DN) {
		h := newHarness(t, cfg)
		return h, h.addUser("alice", alicePW), h.addUser("bob", secondPW)
	}
	pw := func(op store.ModOp, vals ...string) store.Mod {
		return store.Mod{Op: op, Type: "userPassword", Values: vals}
	}

	t.Run("a user changes its own password by deleting the old value and adding the new", func(t *testing.T) {
		h, alice, _ := newH(t)
		if err := h.modify(alice, alice, pw(store.ModDelete, alicePW), pw(store.ModAdd, thirdPW)); err != nil {
			t.Fatalf("self-change by modify: %v", err)
		}
		h.bindWant(alice, alicePW, InvalidCredentials)
		if out := h.bindWant(alice, thirdPW, OK); out.MustChange {
			t.Error("a user's own change is MustChange")
		}
	})

	refusals := []struct {
		name  string
		actor string // "alice" or "admin"
		mods  []store.Mod
		check func(error) bool
	}{
		{"a user replacing its password must supply the old one", "alice",
			[]store.Mod{pw(store.ModReplace, thirdPW)}, func(err error) bool { return errors.Is(err, ErrMustSupplyOld) }},
		{"a user adding a password without deleting the old one must supply it", "alice",
			[]store.Mod{pw(store.ModAdd, thirdPW)}, func(err error) bool { return errors.Is(err, ErrMustSupplyOld) }},
		{"a user with a wrong old value is refused", "alice",
			[]store.Mod{pw(store.ModDelete, wrongPW), pw(store.ModAdd, thirdPW)}, func(err error) bool { return errors.Is(err, ErrOldPasswordWrong) }},
		{"a user may not modify another attribute", "alice",
			[]store.Mod{{Op: store.ModReplace, Type: "mail", Values: []string{"a@example.org"}}}, func(err error) bool { return errors.Is(err, ErrInsufficientAccess) }},
		{"a user may not unlock itself", "alice",
			[]store.Mod{{Op: store.ModDelete, Type: "pwdFailureTime"}}, func(err error) bool { return errors.Is(err, ErrInsufficientAccess) }},
		{"a user's weak new password is refused", "alice",
			[]store.Mod{pw(store.ModDelete, alicePW), pw(store.ModAdd, "qwerty123")}, func(err error) bool { _, ok := ErrIsQuality(err); return ok }},
		{"two userPassword values are refused", "admin",
			[]store.Mod{pw(store.ModReplace, thirdPW, fourthPW)}, func(err error) bool { return errors.Is(err, ErrOnePassword) }},
		{"two values added by a user are refused", "alice",
			[]store.Mod{pw(store.ModDelete, alicePW), pw(store.ModAdd, thirdPW, fourthPW)}, func(err error) bool { return errors.Is(err, ErrOnePassword) }},
		{"the administrator's weak cleartext is refused", "admin",
			[]store.Mod{pw(store.ModReplace, "alice2025")}, func(err error) bool {
				q, ok := ErrIsQuality(err)
				return ok && q.Rule == "user_name"
			}},
		{"the administrator's unverifiable hash is refused", "admin",
			[]store.Mod{pw(store.ModReplace, "{SSHA}")}, func(err error) bool { return errors.Is(err, store.ErrInvalidSyntax) }},
		{"adding pwdFailureTime is refused", "admin",
			[]store.Mod{{Op: store.ModAdd, Type: "pwdFailureTime", Values: []string{"20250301100000Z"}}}, func(err error) bool { return errors.Is(err, ErrNoUserModification) }},
		{"replacing pwdHistory is refused", "admin",
			[]store.Mod{{Op: store.ModReplace, Type: "pwdHistory", Values: []string{"x"}}}, func(err error) bool { return errors.Is(err, ErrNoUserModification) }},
		{"pwdChangedTime must be a generalized time", "admin",
			[]store.Mod{{Op: store.ModReplace, Type: "pwdChangedTime", Values: []string{"yesterday"}}}, func(err error) bool { return errors.Is(err, store.ErrInvalidSyntax) }},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			h, alice, _ := newH(t)
			actor := alice
			if tc.actor == "admin" {
				actor = h.admin
			}
			before := h.entry(alice)
			err := h.modify(actor, alice, tc.mods...)
			if !tc.check(err) {
				t.Fatalf("Modify: got %v", err)
			}
			after := h.entry(alice)
			for _, a := range []string{"userPassword", "mail", "pwdChangedTime", "pwdReset"} {
				if after.First(a) != before.First(a) {
					t.Errorf("the refused modify changed %s", a)
				}
			}
			h.bindWant(alice, alicePW, OK)
		})
	}

	t.Run("a user may not change another user's password", func(t *testing.T) {
		h, alice, bob := newH(t)
		err := h.modify(alice, bob, pw(store.ModDelete, secondPW), pw(store.ModAdd, thirdPW))
		if !errors.Is(err, ErrInsufficientAccess) {
			t.Fatalf("got %v, want ErrInsufficientAccess", err)
		}
		h.bindWant(bob, secondPW, OK)
	})

	t.Run("the administrator's cleartext is checked, hashed and must be changed", func(t *testing.T) {
		h, alice, _ := newH(t)
		if err := h.modify(h.admin, alice, pw(store.ModReplace, thirdPW)); err != nil {
			t.Fatal(err)
		}
		e := h.entry(alice)
		if !strings.HasPrefix(e.First("userPassword"), "{ARGON2}$argon2id$") {
			t.Errorf("userPassword stored as %q", e.First("userPassword"))
		}
		if e.First("pwdReset") != "TRUE" {
			t.Errorf("pwdReset %q, want TRUE", e.First("pwdReset"))
		}
		if len(e.Get("pwdHistory")) != 1 {
			t.Errorf("pwdHistory %v, want the previous hash", e.Get("pwdHistory"))
		}
		if out := h.bindWant(alice, thirdPW, OK); !out.MustChange {
			t.Error("not MustChange after the admin's modify")
		}
	})

	t.Run("the administrator's hash is kept and need not be changed", func(t *testing.T) {
		h, alice, _ := newH(t)
		if err := h.modify(h.admin, alice, pw(store.ModReplace, alicePW)); err != nil {
			t.Fatal(err) // first a cleartext set, so that pwdReset is there to clear
		}
		hashed := ssha(thirdPW)
		if err := h.modify(h.admin, alice, pw(store.ModReplace, hashed)); err != nil {
			t.Fatal(err)
		}
		e := h.entry(alice)
		if e.First("userPassword") != hashed {
			t.Errorf("userPassword %q, want %q kept", e.First("userPassword"), hashed)
		}
		if e.First("pwdReset") != "" {
			t.Errorf("pwdReset %q after a migrated hash", e.First("pwdReset"))
		}
		if out := h.bindWant(alice, thirdPW, OK); out.MustChange {
			t.Error("MustChange after a migrated hash")
		}
	})

	t.Run("the administrator changes ordinary attributes and the password at once", func(t *testing.T) {
		h, alice, _ := newH(t)
		err := h.modify(h.admin, alice,
			store.Mod{Op: store.ModReplace, Type: "mail", Values: []string{"liddell@example.org"}},
			pw(store.ModReplace, thirdPW))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.entry(alice).First("mail"); got != "liddell@example.org" {
			t.Errorf("mail %q", got)
		}
		h.bindWant(alice, thirdPW, OK)
	})

	t.Run("the administrator ages a password through pwdChangedTime", func(t *testing.T) {
		h, alice, _ := newH(t)
		aged := store.FormatTime(h.clock.Now().Add(-100 * day))
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModReplace, Type: "pwdChangedTime", Values: []string{aged}}); err != nil {
			t.Fatal(err)
		}
		if got := h.entry(alice).First("pwdChangedTime"); got != aged {
			t.Errorf("pwdChangedTime %q, want %q", got, aged)
		}
		h.bindWant(alice, alicePW, Expired)
	})

	t.Run("the administrator locks an account with 000001010000Z", func(t *testing.T) {
		h, alice, _ := newH(t)
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModAdd, Type: "pwdAccountLockedTime", Values: []string{"000001010000Z"}}); err != nil {
			t.Fatal(err)
		}
		h.bindWant(alice, alicePW, Locked)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		h.clock.Advance(day) // lockout_duration does not end it
		h.bindWant(alice, alicePW, Locked)
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModDelete, Type: "pwdAccountLockedTime"}); err != nil {
			t.Fatal(err)
		}
		if out := h.bindWant(alice, alicePW, OK); out.MustChange {
			t.Error("unlocking an account whose password has not expired asks for a change")
		}
	})

	t.Run("the administrator restores with a new password and the lock's deletion in one modify", func(t *testing.T) {
		h, alice, _ := newH(t)
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModAdd, Type: "pwdAccountLockedTime", Values: []string{"000001010000Z"}}); err != nil {
			t.Fatal(err)
		}
		err := h.modify(h.admin, alice, pw(store.ModReplace, thirdPW), store.Mod{Op: store.ModDelete, Type: "pwdAccountLockedTime"})
		if err != nil {
			t.Fatalf("replace userPassword + delete pwdAccountLockedTime: %v", err)
		}
		if out := h.bindWant(alice, thirdPW, OK); !out.MustChange {
			t.Error("not MustChange after the admin's restore")
		}
	})

	t.Run("the administrator's pwdChangedTime beside a migrated hash keeps its age", func(t *testing.T) {
		h, alice, _ := newH(t)
		aged := store.FormatTime(h.clock.Now().Add(-100 * day))
		err := h.modify(h.admin, alice, pw(store.ModReplace, ssha(thirdPW)),
			store.Mod{Op: store.ModReplace, Type: "pwdChangedTime", Values: []string{aged}})
		if err != nil {
			t.Fatal(err)
		}
		if got := h.entry(alice).First("pwdChangedTime"); got != aged {
			t.Errorf("pwdChangedTime %q, want the administrator's %q", got, aged)
		}
		h.bindWant(alice, thirdPW, Expired)
	})

	t.Run("the administrator clears failures", func(t *testing.T) {
		h, alice, _ := newH(t)
		h.bindWant(alice, wrongPW, InvalidCredentials)
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModDelete, Type: "pwdFailureTime"}); err != nil {
			t.Fatal(err)
		}
		if f := h.failures(alice); len(f) != 0 {
			t.Errorf("pwdFailureTime %v", f)
		}
	})

	t.Run("the administrator sets pwdReset", func(t *testing.T) {
		h, alice, _ := newH(t)
		if err := h.modify(h.admin, alice, store.Mod{Op: store.ModReplace, Type: "pwdReset", Values: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
		if out := h.bindWant(alice, alicePW, OK); !out.MustChange {
			t.Error("not MustChange after pwdReset TRUE")
		}
	})
}
