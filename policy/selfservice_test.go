package policy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/store"
)

// Tests of the self-service API the portal (and later radiusd) calls:
// sessions, reset tokens and TOTP, all with a moved clock.

var testLimits = SessionLimits{Idle: 30 * time.Minute, Max: 12 * time.Hour}

func TestSessionLifetime(t *testing.T) {
	tests := []struct {
		name  string
		act   func(h *harness, dn store.DN)
		alive bool
	}{
		{"fresh session is valid", func(h *harness, dn store.DN) {}, true},
		{"used within the idle limit stays valid", func(h *harness, dn store.DN) { h.clock.Advance(29 * time.Minute) }, true},
		{"idle past the limit ends", func(h *harness, dn store.DN) { h.clock.Advance(31 * time.Minute) }, false},
		{"password change over LDAP ends it", func(h *harness, dn store.DN) {
			if err := h.selfChange(dn, alicePW, secondPW); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"administrator set ends it", func(h *harness, dn store.DN) {
			if err := h.adminSet(dn, secondPW); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"administrator lock ends it", func(h *harness, dn store.DN) {
			if err := h.modify(h.admin, dn, store.Mod{Op: store.ModReplace, Type: "pwdAccountLockedTime", Values: []string{permanentLock}}); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"a hash upgrade-free bind keeps it", func(h *harness, dn store.DN) { h.bindWant(dn, alicePW, OK) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			dn := h.addUser("alice", alicePW)
			id, err := h.door.StartSession(h.ctx, dn, SessionStart{})
			if err != nil {
				t.Fatal(err)
			}
			tt.act(h, dn)
			s, err := h.door.CheckSession(h.ctx, id, testLimits)
			if tt.alive && (err != nil || !s.DN.Equal(dn)) {
				t.Fatalf("CheckSession = %v, %v; want alive for %s", s, err, dn)
			}
			if !tt.alive && !errors.Is(err, ErrNoSession) {
				t.Fatalf("CheckSession err = %v, want ErrNoSession", err)
			}
		})
	}
}

func TestSessionAbsoluteTimeout(t *testing.T) {
	h := newHarness(t, testConfig())
	dn := h.addUser("alice", alicePW)
	id, err := h.door.StartSession(h.ctx, dn, SessionStart{})
	if err != nil {
		t.Fatal(err)
	}
	// Used every 20 minutes, it never idles out, but dies at 12 hours.
	for i := 0; i < 35; i++ {
		h.clock.Advance(20 * time.Minute)
		if _, err := h.door.CheckSession(h.ctx, id, testLimits); err != nil {
			t.Fatalf("after %v: %v", time.Duration(i+1)*20*time.Minute, err)
		}
	}
	h.clock.Advance(20 * time.Minute) // 12h
	if _, err := h.door.CheckSession(h.ctx, id, testLimits); !errors.Is(err, ErrNoSession) {
		t.Fatalf("at 12h: err = %v, want ErrNoSession", err)
	}
	if _, err := h.door.CheckSession(h.ctx, "not-a-session", testLimits); !errors.Is(err, ErrNoSession) {
		t.Fatalf("unknown id: err = %v", err)
	}
}

func TestResetToken(t *testing.T) {
	const ttl = 10 * time.Minute
	tests := []struct {
		name    string
		cfg     func(*Config)
		prepare func(h *harness, dn store.DN, token string)
		wantErr error
	}{
		{"valid token resets", nil, nil, nil},
		{"expired token refused", nil, func(h *harness, dn store.DN, _ string) { h.clock.Advance(ttl) }, ErrResetTokenInvalid},
		{"token just before expiry works", nil, func(h *harness, dn store.DN, _ string) { h.clock.Advance(ttl - time.Second) }, nil},
		{"later password change voids it", nil, func(h *harness, dn store.DN, _ string) {
			h.clock.Advance(time.Second)
			if err := h.selfChange(dn, alicePW, thirdPW); err != nil {
				t.Fatal(err)
			}
		}, ErrResetTokenInvalid},
		{"a newer token voids the older", nil, func(h *harness, dn store.DN, _ string) {
			if _, err := h.door.IssueResetToken(h.ctx, dn, ttl); err != nil {
				t.Fatal(err)
			}
		}, ErrResetTokenInvalid},
		{"expired account under lock_on_expiry cannot self-reset", func(c *Config) { c.MaxAge = 24 * time.Hour }, func(h *harness, dn store.DN, _ string) {
			h.clock.Advance(25 * time.Hour)
			h.login(Login{Front: FrontPortal, Name: "alice", Secret: []byte(alicePW)}) // locks it
		}, ErrAccountExpired},
		{"administrator lock blocks self-reset", nil, func(h *harness, dn store.DN, _ string) {
			if err := h.modify(h.admin, dn, store.Mod{Op: store.ModReplace, Type: "pwdAccountLockedTime", Values: []string{permanentLock}}); err != nil {
				t.Fatal(err)
			}
		}, ErrAccountLocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			h := newHarness(t, cfg)
			dn := h.addUser("alice", alicePW)
			token, err := h.door.IssueResetToken(h.ctx, dn, ttl)
			if err != nil {
				t.Fatal(err)
			}
			if len(token) < 43 {
				t.Fatalf("token %d characters, want 256 bits (43)", len(token))
			}
			if tt.prepare != nil {
				tt.prepare(h, dn, token)
			}
			if tt.wantErr == ErrAccountExpired {
				// The person asks for a link after the expiry.
				if token, err = h.door.IssueResetToken(h.ctx, dn, ttl); err != nil {
					t.Fatal(err)
				}
			}
			// Looking does not use it up.
			for i := 0; i < 2; i++ {
				tk, err := h.door.CheckResetToken(h.ctx, token)
				if tt.wantErr == nil && err != nil {
					t.Fatalf("CheckResetToken #%d: %v", i, err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) && (tk == nil || !errors.Is(tk.Blocked, tt.wantErr)) {
					t.Fatalf("CheckResetToken = %+v, %v; want %v", tk, err, tt.wantErr)
				}
			}
			_, err = h.door.ResetPassword(h.ctx, Reset{Token: token, New: []byte(secondPW)})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ResetPassword err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			h.bindWant(dn, secondPW, OK)
			if _, err := h.door.ResetPassword(h.ctx, Reset{Token: token, New: []byte(fourthPW)}); !errors.Is(err, ErrResetTokenInvalid) {
				t.Fatalf("second use: err = %v, want ErrResetTokenInvalid", err)
			}
		})
	}
}

func TestResetClearsFailureLockoutAndChecksQuality(t *testing.T) {
	cfg := testConfig()
	cfg.LockoutThreshold = 3
	h := newHarness(t, cfg)
	dn := h.addUser("alice", alicePW)
	for i := 0; i < 3; i++ {
		h.bindWant(dn, wrongPW, InvalidCredentials)
	}
	h.bindWant(dn, alicePW, Locked)
	token, err := h.door.IssueResetToken(h.ctx, dn, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.door.ResetPassword(h.ctx, Reset{Token: token, New: []byte("short")}); err == nil {
		t.Fatal("a too short password was accepted")
	} else if q, ok := ErrIsQuality(err); !ok || q.Rule != "min_length" {
		t.Fatalf("err = %v, want the min_length rule", err)
	}
	if _, err := h.door.ResetPassword(h.ctx, Reset{Token: token, New: []byte(secondPW)}); err != nil {
		t.Fatal(err)
	}
	h.bindWant(dn, secondPW, OK)
}

func TestTOTP(t *testing.T) {
	h := newHarness(t, testConfig())
	dn := h.addUser("alice", alicePW)
	if has, _ := h.door.HasTOTP(h.ctx, dn); has {
		t.Fatal("HasTOTP before enrolment")
	}
	enr, err := h.door.BeginTOTP(h.ctx, dn, "dird", "alice")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := b32.DecodeString(enr.Secret)
	if err != nil || len(secret) != secretBytes {
		t.Fatalf("secret %q: %v", enr.Secret, err)
	}
	if has, _ := h.door.HasTOTP(h.ctx, dn); has {
		t.Fatal("HasTOTP before confirmation")
	}
	if _, err := h.door.ConfirmTOTP(h.ctx, dn, "000000"); !errors.Is(err, ErrTOTPWrong) && totpCode(secret, totpStep(h.clock.Now())) != "000000" {
		t.Fatalf("wrong confirmation code: %v", err)
	}
	codes, err := h.door.ConfirmTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now())))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != recoveryCodes {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if has, _ := h.door.HasTOTP(h.ctx, dn); !has {
		t.Fatal("no TOTP after confirmation")
	}
	raw, err := h.door.creds.GetRecord(h.ctx, recTOTP, dn.Norm())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), sealedPrefix) || strings.Contains(string(raw), base64.StdEncoding.EncodeToString(secret)) || strings.Contains(string(raw), enr.Secret) {
		t.Fatalf("the stored TOTP record is not sealed: %s", raw)
	}
	// The confirmation code's step is used: the same code is a replay.
	if err := h.door.VerifyTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now()))); !errors.Is(err, ErrTOTPWrong) {
		t.Fatalf("replayed code: %v", err)
	}
	h.clock.Advance(totpPeriod)
	code := totpCode(secret, totpStep(h.clock.Now()))
	if err := h.door.VerifyTOTP(h.ctx, dn, code[:3]+" "+code[3:]); err != nil {
		t.Fatalf("current code with a space: %v", err)
	}
	if err := h.door.VerifyTOTP(h.ctx, dn, code); !errors.Is(err, ErrTOTPWrong) {
		t.Fatalf("same code twice: %v", err)
	}
	// A code from two periods ago is outside the window.
	h.clock.Advance(3 * totpPeriod)
	if err := h.door.VerifyTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now())-2)); !errors.Is(err, ErrTOTPWrong) {
		t.Fatalf("stale code: %v", err)
	}
	// Recovery codes work once each, in any case and with or without the dash.
	if err := h.door.VerifyTOTP(h.ctx, dn, codes[0]); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	if err := h.door.VerifyTOTP(h.ctx, dn, codes[0]); !errors.Is(err, ErrTOTPWrong) {
		t.Fatalf("recovery code reused: %v", err)
	}
	if n, _ := h.door.RecoveryCodesLeft(h.ctx, dn); n != recoveryCodes-1 {
		t.Fatalf("%d recovery codes left", n)
	}
	// Five wrong codes within a minute shut the door for a minute, even
	// to the right code.
	h.clock.Advance(time.Hour)
	for i := 0; i < totpMaxFailures-1; i++ {
		h.door.VerifyTOTP(h.ctx, dn, "999999x")
	}
	if err := h.door.VerifyTOTP(h.ctx, dn, "99999x"); !errors.Is(err, ErrTOTPWrong) {
		t.Fatalf("5th wrong code: %v", err)
	}
	if err := h.door.VerifyTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now()))); !errors.Is(err, ErrTOTPThrottled) {
		t.Fatalf("after 5 wrong codes: %v, want throttled", err)
	}
	h.clock.Advance(totpFailWindow)
	if err := h.door.VerifyTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now()))); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// RFC 6238 Appendix B, SHA-1 rows (8 digits there; the last 6 here).
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, tt := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		if got := totpCode(secret, totpStep(time.Unix(tt.unix, 0))); got != tt.want {
			t.Errorf("T=%d: %s, want %s", tt.unix, got, tt.want)
		}
	}
}

func TestResetWithTOTP(t *testing.T) {
	h := newHarness(t, testConfig())
	dn := h.addUser("alice", alicePW)
	enr, _ := h.door.BeginTOTP(h.ctx, dn, "dird", "alice")
	secret, _ := b32.DecodeString(enr.Secret)
	if _, err := h.door.ConfirmTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now()))); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(totpPeriod)
	token, _ := h.door.IssueResetToken(h.ctx, dn, time.Hour)
	if _, err := h.door.ResetPassword(h.ctx, Reset{Token: token, New: []byte(secondPW)}); !errors.Is(err, ErrTOTPRequired) {
		t.Fatalf("no code: %v", err)
	}
	h.bindWant(dn, alicePW, OK) // not changed yet
	if tk, err := h.door.CheckResetToken(h.ctx, token); err != nil || !tk.Staged || !tk.NeedsTOTP {
		t.Fatalf("ticket %+v, %v", tk, err)
	}
	if _, err := h.door.ResetPassword(h.ctx, Reset{Token: token, New: nil, Code: "000000x"}); !errors.Is(err, ErrTOTPWrong) {
		t.Fatalf("wrong code: %v", err)
	}
	if _, err := h.door.ResetPassword(h.ctx, Reset{Token: token, New: nil, Code: totpCode(secret, totpStep(h.clock.Now()))}); err != nil {
		t.Fatalf("right code: %v", err)
	}
	h.bindWant(dn, secondPW, OK)
	h.bindWant(dn, alicePW, InvalidCredentials)
}

func TestQualityProblemsNamesEveryRule(t *testing.T) {
	r := Rules{MinLength: 12, MaxLength: 128, RequireUpper: true, RequireDigit: true, RequireSymbol: true, RejectCommon: true}
	got := map[string]bool{}
	for _, q := range QualityProblems(r, "alice", "alice") {
		got[q.Rule] = true
	}
	for _, want := range []string{"min_length", "user_name", "require_upper", "require_digit", "require_symbol"} {
		if !got[want] {
			t.Errorf("rule %s not named; got %v", want, got)
		}
	}
	if p := QualityProblems(r, "Quiet-Harbor-Lamp-42"); len(p) != 0 {
		t.Errorf("good password: %v", p)
	}
}

// TestTOTPNeedsSealKey: without a seal key no TOTP secret is kept at all,
// rather than kept in the clear.
func TestTOTPNeedsSealKey(t *testing.T) {
	h := newHarness(t, testConfig())
	dn := h.addUser("alice", alicePW)
	h.door.seal = nil
	if _, err := h.door.BeginTOTP(h.ctx, dn, "dird", "alice"); !errors.Is(err, ErrNoSealKey) {
		t.Fatalf("BeginTOTP without a seal key: %v, want ErrNoSealKey", err)
	}
}

// TestTOTPUnreadable: a secret that no longer opens (another seal key)
// is never passed; the door says why.
func TestTOTPUnreadable(t *testing.T) {
	h := newHarness(t, testConfig())
	dn := h.addUser("alice", alicePW)
	enr, _ := h.door.BeginTOTP(h.ctx, dn, "dird", "alice")
	secret, _ := b32.DecodeString(enr.Secret)
	if _, err := h.door.ConfirmTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now()))); err != nil {
		t.Fatal(err)
	}
	other, err := newSealer(bytes.Repeat([]byte{0x17}, SealKeySize))
	if err != nil {
		t.Fatal(err)
	}
	h.door.seal = other
	h.clock.Advance(totpPeriod)
	if err := h.door.VerifyTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now()))); !errors.Is(err, ErrTOTPUnreadable) {
		t.Fatalf("VerifyTOTP with another key: %v, want ErrTOTPUnreadable", err)
	}
}

// TestPruneRecords: sessions and reset links past their limits are
// deleted, live ones kept.
func TestPruneRecords(t *testing.T) {
	h := newHarness(t, testConfig())
	dn := h.addUser("alice", alicePW)
	old, _ := h.door.StartSession(h.ctx, dn, SessionStart{})
	h.door.IssueResetToken(h.ctx, dn, 10*time.Minute)
	h.clock.Advance(time.Hour)
	fresh, _ := h.door.StartSession(h.ctx, dn, SessionStart{})
	n, err := h.door.PruneRecords(h.ctx, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // the idle session, the expired token, its index
		t.Fatalf("pruned %d records, want 3", n)
	}
	if _, err := h.door.CheckSession(h.ctx, fresh, testLimits); err != nil {
		t.Fatalf("the live session was pruned: %v", err)
	}
	if _, err := h.door.CheckSession(h.ctx, old, testLimits); !errors.Is(err, ErrNoSession) {
		t.Fatalf("the idle session: %v", err)
	}
}
