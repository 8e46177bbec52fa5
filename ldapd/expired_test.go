package ldapd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dird/dird/internal/dirdtest"
)

// TestExpiredPasswordChangeOnTheBindConnection follows SSSD at the login
// prompt: a bind that answers passwordExpired, then Password Modify with
// the old password on the same (anonymous) connection. lock_on_expiry
// decides whether the change is allowed.
func TestExpiredPasswordChangeOnTheBindConnection(t *testing.T) {
	tests := []struct {
		name         string
		lockOnExpiry bool
		wantCode     uint16
	}{
		{"lock_on_expiry false lets the user change it", false, 0},
		{"lock_on_expiry true refuses the change", true, ldap.LDAPResultInsufficientAccessRights},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := dirdtest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
			cfg := dirdtest.Config(t)
			cfg.Policy.MaxAge = 10 * 24 * time.Hour
			cfg.Policy.LockOnExpiry = tt.lockOnExpiry
			d := dirdtest.Start(t, cfg, dirdtest.Options{Now: clock.Now})
			seed(t, d)
			clock.Advance(11 * 24 * time.Hour)

			other := dial(t, d)
			if err := other.Bind(aliceDN, "wrong-password-z"); code(err) != ldap.LDAPResultInvalidCredentials {
				t.Fatalf("wrong bind: %v", err)
			}
			// A connection whose bind failed with a wrong password may
			// not change anything.
			if _, err := other.PasswordModify(ldap.NewPasswordModifyRequest(aliceDN, alicePW, "Fresh-Start-Lake-31")); code(err) != ldap.LDAPResultStrongAuthRequired {
				t.Fatalf("change after a wrong bind: %v, want 8", err)
			}

			c := dial(t, d)
			if err := c.Bind(aliceDN, alicePW); code(err) != ldap.LDAPResultInvalidCredentials {
				t.Fatalf("bind with the expired password: %v, want 49", err)
			}
			// Nothing but the change: the connection is anonymous.
			if _, err := c.Search(ldap.NewSearchRequest(peopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil, nil)); code(err) != ldap.LDAPResultInsufficientAccessRights {
				t.Fatalf("search after the expired bind: %v, want 50", err)
			}
			if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("uid=bob,"+peopleDN, alicePW, "Fresh-Start-Lake-31")); code(err) != ldap.LDAPResultStrongAuthRequired {
				t.Fatalf("changing another user's password: %v, want 8", err)
			}
			_, err := c.PasswordModify(ldap.NewPasswordModifyRequest(aliceDN, alicePW, "Fresh-Start-Lake-31"))
			if code(err) != tt.wantCode {
				t.Fatalf("change after the expired bind: %v, want code %d", err, tt.wantCode)
			}
			newWorks := dial(t, d).Bind(aliceDN, "Fresh-Start-Lake-31") == nil
			if newWorks != (tt.wantCode == 0) {
				t.Fatalf("bind with the new password works = %v, want %v", newWorks, tt.wantCode == 0)
			}
		})
	}
}

// TestGraceLoginRestrictsTheConnection: after a grace login the
// connection may only change the password, as after a reset.
func TestGraceLoginRestrictsTheConnection(t *testing.T) {
	clock := dirdtest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cfg := dirdtest.Config(t)
	cfg.Policy.MaxAge = 10 * 24 * time.Hour
	cfg.Policy.LockOnExpiry = false
	cfg.Policy.GraceLogins = 2
	d := dirdtest.Start(t, cfg, dirdtest.Options{Now: clock.Now})
	seed(t, d)
	clock.Advance(11 * 24 * time.Hour)
	c := dial(t, d)
	if err := c.Bind(aliceDN, alicePW); err != nil {
		t.Fatalf("grace bind: %v", err)
	}
	_, err := c.Search(ldap.NewSearchRequest(peopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil, nil))
	if code(err) != ldap.LDAPResultInsufficientAccessRights || !strings.Contains(err.Error(), "Operations are restricted") {
		t.Fatalf("search after a grace login: %v, want 50 restricted", err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", alicePW, "Fresh-Start-Lake-31")); err != nil {
		t.Fatalf("change after a grace login: %v", err)
	}
	if _, err := c.Search(ldap.NewSearchRequest(peopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil, nil)); err != nil {
		t.Fatalf("search after the change: %v", err)
	}
}
