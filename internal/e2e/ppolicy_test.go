package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

const day = 24 * time.Hour

// TestPasswordPolicy drives the ppolicy states with `ldapwhoami -e
// ppolicy`, whose texts SECURITY.md §3.6 lists. Each case runs its own
// server with the policy it needs.
func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	alice := userDN("alice")

	t.Run("password older than max_age is expired", func(t *testing.T) {
		t.Parallel()
		d := startDird(t, opts{"policy.max_age": "90d"})
		loadDirectory(t, d)
		expect(t, d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy"), 0, "dn:"+alice)
		setAttr(t, d, alice, "pwdChangedTime", genTime(time.Now().Add(-100*day)))

		r := d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy")
		expect(t, r, 49, "ldap_bind: Invalid credentials (49); Password expired")
		r = d.whoami(t, alice, pwOf("alice"))
		expect(t, r, 49, "ldap_bind: Invalid credentials (49)")
		refute(t, r, "expired")
		// A wrong password on an expired account looks like any wrong
		// password.
		r = d.whoami(t, alice, "Wrong-Guess-Pass-12", "-e", "ppolicy")
		expect(t, r, 49, "Invalid credentials (49)")
		refute(t, r, "expired", "locked")

		// lock_on_expiry (the default) locked it; the administrator
		// restores it by deleting the lock, and the user must then change
		// the password.
		r = d.as(t, adminDN, adminPW, "ldapsearch", "-LLL", "-b", alice, "-s", "base", "pwdAccountLockedTime")
		expect(t, r, 0, "pwdAccountLockedTime: ")
		adminModify(t, d, fmt.Sprintf("dn: %s\nchangetype: modify\ndelete: pwdAccountLockedTime\n-\n", alice))
		expect(t, d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy"), 0, "dn:"+alice, "Password must be changed")

		// Or by setting a new password.
		bob := userDN("bob")
		setAttr(t, d, bob, "pwdChangedTime", genTime(time.Now().Add(-100*day)))
		expect(t, d.whoami(t, bob, pwOf("bob"), "-e", "ppolicy"), 49, "Password expired")
		const set = "Fresh-Start-Pw-404"
		expect(t, d.as(t, adminDN, adminPW, "ldappasswd", "-s", set, bob), 0)
		expect(t, d.whoami(t, bob, set, "-e", "ppolicy"), 0, "dn:"+bob, "Password must be changed")
	})

	t.Run("password inside the warning window warns with seconds left", func(t *testing.T) {
		t.Parallel()
		d := startDird(t, opts{"policy.max_age": "10d", "policy.expire_warning": "7d"})
		loadDirectory(t, d)
		// 9 days left: outside the 7-day window, no warning.
		setAttr(t, d, alice, "pwdChangedTime", genTime(time.Now().Add(-1*day)))
		r := d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy")
		expect(t, r, 0, "dn:"+alice)
		refute(t, r, "expires")

		changed := time.Now().Add(-5 * day).Truncate(time.Second)
		setAttr(t, d, alice, "pwdChangedTime", genTime(changed))
		r = d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy")
		expect(t, r, 0, "dn:"+alice, "ldap_bind: Success (0)", "Password expires in ")
		m := regexp.MustCompile(`Password expires in (\d+) seconds`).FindStringSubmatch(r.out())
		if m == nil {
			t.Fatalf("no \"Password expires in N seconds\"\n%s", r)
		}
		n, _ := strconv.Atoi(m[1])
		want := time.Until(changed.Add(10 * day))
		if d := time.Duration(n)*time.Second - want; d < -time.Minute || d > time.Minute {
			t.Errorf("expires in %d s, want about %d s", n, int(want.Seconds()))
		}
		// Without the control the bind just succeeds.
		r = d.whoami(t, alice, pwOf("alice"))
		expect(t, r, 0, "dn:"+alice)
		refute(t, r, "expires")
	})

	t.Run("failed binds past lockout_threshold lock the account", func(t *testing.T) {
		t.Parallel()
		d := startDird(t, opts{"policy.lockout_threshold": 3, "policy.lockout_duration": "0"})
		loadDirectory(t, d)
		// A device still trying the previous password does not lock the
		// account (CONTRACT.md: the two previous passwords do not count).
		const current = "Current-Pass-Xy-31"
		expect(t, d.as(t, alice, pwOf("alice"), "ldappasswd", "-a", pwOf("alice"), "-s", current), 0)
		for range 5 {
			expect(t, d.whoami(t, alice, pwOf("alice")), 49, "Invalid credentials (49)")
		}
		expect(t, d.whoami(t, alice, current, "-e", "ppolicy"), 0, "dn:"+alice)
		for i, guess := range []string{"Wrong-Guess-One-1", "Wrong-Guess-Two-2", "Wrong-Guess-Three-3"} {
			r := d.whoami(t, alice, guess, "-e", "ppolicy")
			expect(t, r, 49, "Invalid credentials (49)")
			refute(t, r, "Account locked")
			if t.Failed() {
				t.Fatalf("wrong bind %d", i+1)
			}
		}
		expect(t, d.whoami(t, alice, current), 49, "Invalid credentials (49)")
		expect(t, d.whoami(t, alice, current, "-e", "ppolicy"), 49, "ldap_bind: Invalid credentials (49); Account locked")
		r := d.whoami(t, alice, "Wrong-Guess-Four-4", "-e", "ppolicy")
		expect(t, r, 49, "Invalid credentials (49)")
		refute(t, r, "Account locked")

		// Other accounts are unaffected.
		expect(t, d.whoami(t, userDN("bob"), pwOf("bob")), 0, "dn:"+userDN("bob"))

		r = d.as(t, adminDN, adminPW, "ldapsearch", "-LLL", "-b", alice, "-s", "base", "pwdAccountLockedTime", "pwdFailureTime")
		expect(t, r, 0, "pwdAccountLockedTime: ", "pwdFailureTime: ")
		if n := len(attrValues(r.stdout, "pwdFailureTime")); n < 3 {
			t.Errorf("%d pwdFailureTime values after 3 failures, want at least 3\n%s", n, r)
		}
		// A locked user cannot change its password either.
		r = d.as(t, alice, current, "ldappasswd", "-a", current, "-s", "Escape-Hatch-Pw-90")
		if r.exit == 0 {
			t.Errorf("a locked user changed its password\n%s", r)
		}
		adminModify(t, d, fmt.Sprintf("dn: %s\nchangetype: modify\ndelete: pwdAccountLockedTime\n-\n", alice))
		expect(t, d.whoami(t, alice, current, "-e", "ppolicy"), 0, "dn:"+alice)
		r = d.as(t, adminDN, adminPW, "ldapsearch", "-LLL", "-b", alice, "-s", "base", "pwdAccountLockedTime", "pwdFailureTime")
		refute(t, r, "pwdAccountLockedTime", "pwdFailureTime")

		// An administrator's new password also unlocks.
		bob := userDN("bob")
		for _, guess := range []string{"Wrong-Guess-One-1", "Wrong-Guess-Two-2", "Wrong-Guess-Three-3"} {
			expect(t, d.whoami(t, bob, guess), 49)
		}
		expect(t, d.whoami(t, bob, pwOf("bob"), "-e", "ppolicy"), 49, "Account locked")
		const set = "Unlocked-By-Admin-72"
		expect(t, d.as(t, adminDN, adminPW, "ldappasswd", "-s", set, bob), 0)
		expect(t, d.whoami(t, bob, set, "-e", "ppolicy"), 0, "dn:"+bob, "Password must be changed")
	})

	t.Run("history refuses a recent password", func(t *testing.T) {
		t.Parallel()
		d := startDird(t, opts{"policy.history": 2})
		loadDirectory(t, d)
		const second = "Second-Pass-Qq-22"
		expect(t, d.as(t, alice, pwOf("alice"), "ldappasswd", "-a", pwOf("alice"), "-s", second), 0)
		r := d.as(t, alice, second, "ldappasswd", "-e", "ppolicy", "-a", second, "-s", pwOf("alice"))
		expect(t, r, 1, "Constraint violation (19)", "New password is in list of old passwords",
			"ppolicy: error=8 (New password is in list of old passwords)")
		r = d.as(t, alice, second, "ldappasswd", "-a", second, "-s", second)
		expect(t, r, 1, "Constraint violation (19)", "New password is in list of old passwords")
		expect(t, d.whoami(t, alice, second), 0, "dn:"+alice)
		// The administrator is not bound by history.
		expect(t, d.as(t, adminDN, adminPW, "ldappasswd", "-s", pwOf("alice"), alice), 0)
	})

	t.Run("expired password with grace logins left binds and says so", func(t *testing.T) {
		t.Parallel()
		d := startDird(t, opts{"policy.max_age": "90d", "policy.lock_on_expiry": false, "policy.grace_logins": 2})
		loadDirectory(t, d)
		setAttr(t, d, alice, "pwdChangedTime", genTime(time.Now().Add(-100*day)))
		// A wrong password uses no grace login.
		expect(t, d.whoami(t, alice, "Wrong-Guess-Pass-12", "-e", "ppolicy"), 49, "Invalid credentials (49)")
		expect(t, d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy"), 0,
			"dn:"+alice, "ldap_bind: Success (0)", "(Password expired, 1 grace logins remain)")
		expect(t, d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy"), 0,
			"dn:"+alice, "(Password expired, 0 grace logins remain)")
		expect(t, d.whoami(t, alice, pwOf("alice"), "-e", "ppolicy"), 49, "Invalid credentials (49); Password expired")

		// The administrator's new password ends the expiry.
		const set = "Fresh-Start-Pw-404"
		expect(t, d.as(t, adminDN, adminPW, "ldappasswd", "-s", set, alice), 0)
		r := d.whoami(t, alice, set, "-e", "ppolicy")
		expect(t, r, 0, "dn:"+alice, "Password must be changed")
		refute(t, r, "grace")
	})
}
