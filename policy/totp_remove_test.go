package policy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dird/dird/store"
)

// TestRemoveTOTP: the administrator's removal takes away a confirmed
// app with its recovery codes, a pending enrolment, or a secret that no
// longer opens; every portal session of the person ends; the next login
// asks no code; the audit event names the actor; nobody else may remove
// it; an unknown entry is no such object.
func TestRemoveTOTP(t *testing.T) {
	const front = "dird mfa-reset"
	tests := []struct {
		name    string
		setup   func(h *harness, dn store.DN)
		notMe   bool // the actor is the user, not the administrator
		unknown bool // the DN names no entry
		want    TOTPRemoval
		wantErr error
	}{
		{"confirmed app and its recovery codes", func(h *harness, dn store.DN) {
			codes := enrolTOTP(h, dn)
			if err := h.door.VerifyTOTP(h.ctx, dn, codes[0]); err != nil { // one used
				h.t.Fatal(err)
			}
		}, false, false, TOTPRemoval{App: true, RecoveryCodes: recoveryCodes - 1}, nil},
		{"enrolment not confirmed", func(h *harness, dn store.DN) {
			if _, err := h.door.BeginTOTP(h.ctx, dn, "dird", "alice"); err != nil {
				h.t.Fatal(err)
			}
		}, false, false, TOTPRemoval{Pending: true}, nil},
		{"a secret that no longer opens", func(h *harness, dn store.DN) {
			enrolTOTP(h, dn)
			other, err := newSealer(bytes.Repeat([]byte{0x17}, SealKeySize))
			if err != nil {
				h.t.Fatal(err)
			}
			h.door.seal = other
			h.clock.Advance(totpPeriod)
			if err := h.door.VerifyTOTP(h.ctx, dn, "123456"); !errors.Is(err, ErrTOTPUnreadable) {
				h.t.Fatalf("VerifyTOTP with another key: %v, want ErrTOTPUnreadable", err)
			}
		}, false, false, TOTPRemoval{App: true, RecoveryCodes: recoveryCodes}, nil},
		{"nothing to remove", func(h *harness, dn store.DN) {}, false, false, TOTPRemoval{}, nil},
		{"the user may not", func(h *harness, dn store.DN) { enrolTOTP(h, dn) }, true, false, TOTPRemoval{}, ErrInsufficientAccess},
		{"unknown entry", func(h *harness, dn store.DN) {}, false, true, TOTPRemoval{}, store.ErrNoSuchObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			rec := &recorder{}
			h.door.observe = rec.observe
			dn := h.addUser("alice", alicePW)
			tt.setup(h, dn)
			// Two portal sessions, say one on the lost phone.
			var sessions []string
			for range 2 {
				id, err := h.door.StartSession(h.ctx, dn, SessionStart{})
				if err != nil {
					t.Fatal(err)
				}
				sessions = append(sessions, id)
			}
			hadTOTP, _ := h.door.HasTOTP(h.ctx, dn)
			rec.take()
			actor, target := h.admin, dn
			if tt.notMe {
				actor = dn
			}
			if tt.unknown {
				target = mustDN(t, "uid=nobody,"+testBase)
			}
			got, err := h.door.RemoveTOTP(h.ctx, actor, target, front)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("RemoveTOTP: %v, want %v", err, tt.wantErr)
				}
				if ev := rec.take(); len(ev) != 0 {
					t.Fatalf("a refused removal was reported: %+v", ev)
				}
				if has, _ := h.door.HasTOTP(h.ctx, dn); has != hadTOTP {
					t.Fatalf("a refused removal changed HasTOTP from %v", hadTOTP)
				}
				if _, err := h.door.CheckSession(h.ctx, sessions[0], testLimits); err != nil {
					t.Fatalf("a refused removal ended a session: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.App != tt.want.App || got.Pending != tt.want.Pending || got.RecoveryCodes != tt.want.RecoveryCodes {
				t.Fatalf("RemoveTOTP = %+v, want %+v", got, tt.want)
			}
			if got.Removed() != (tt.want.App || tt.want.Pending) {
				t.Fatalf("Removed() = %v", got.Removed())
			}
			if got.Sessions != len(sessions) {
				t.Fatalf("%d sessions ended, want %d", got.Sessions, len(sessions))
			}
			for _, id := range sessions {
				if _, err := h.door.CheckSession(h.ctx, id, testLimits); !errors.Is(err, ErrNoSession) {
					t.Fatalf("a session outlived the removal: %v", err)
				}
			}
			if !got.Account.DN.Equal(dn) || got.Account.UID != "alice" || got.Account.Mail != "alice@example.com" {
				t.Fatalf("account %+v", got.Account)
			}
			ev := rec.take()
			if len(ev) != 1 || ev[0].Kind != EventTOTPRemoved || ev[0].Front != front || ev[0].Actor != h.admin.String() ||
				ev[0].User != dn.String() || ev[0].Removal.App != got.App || ev[0].Removal.RecoveryCodes != got.RecoveryCodes ||
				ev[0].Removal.Sessions != got.Sessions {
				t.Fatalf("events %+v", ev)
			}
			if has, err := h.door.HasTOTP(h.ctx, dn); has || err != nil {
				t.Fatalf("HasTOTP after removal = %v, %v", has, err)
			}
			if _, ok, err := h.door.PendingTOTP(h.ctx, dn, "dird", "alice"); ok || err != nil {
				t.Fatalf("PendingTOTP after removal = %v, %v", ok, err)
			}
			if n, _ := h.door.RecoveryCodesLeft(h.ctx, dn); n != 0 {
				t.Fatalf("%d recovery codes left", n)
			}
			// The person can enrol again, with the current seal key.
			h.door.seal, _ = newSealer(testSealKey)
			enrolTOTP(h, dn)
			if again, _ := h.door.RemoveTOTP(h.ctx, h.admin, dn, front); !again.App {
				t.Fatalf("second removal after a new enrolment = %+v", again)
			}
		})
	}
}

// enrolTOTP sets up and confirms an authenticator app for dn and returns
// the recovery codes.
func enrolTOTP(h *harness, dn store.DN) []string {
	h.t.Helper()
	enr, err := h.door.BeginTOTP(h.ctx, dn, "dird", "alice")
	if err != nil {
		h.t.Fatal(err)
	}
	secret, _ := b32.DecodeString(enr.Secret)
	codes, err := h.door.ConfirmTOTP(h.ctx, dn, totpCode(secret, totpStep(h.clock.Now())))
	if err != nil {
		h.t.Fatal(err)
	}
	return codes
}
