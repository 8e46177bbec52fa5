package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestWhoAmI covers simple binds as ldapwhoami makes them. It keeps the
// default argon2id cost (19 MiB, 2 passes), which the other tests lower
// to stay fast.
func TestWhoAmI(t *testing.T) {
	t.Parallel()
	d := startDird(t, opts{"policy.argon2_memory": nil, "policy.argon2_time": nil})
	loadDirectory(t, d)

	t.Run("administrator binds and is told its DN", func(t *testing.T) {
		expect(t, d.whoami(t, adminDN, adminPW), 0, "dn:cn=admin,dc=example,dc=com")
	})
	t.Run("user binds and is told its DN", func(t *testing.T) {
		expect(t, d.whoami(t, userDN("alice"), pwOf("alice")), 0, "dn:uid=alice,ou=people,dc=example,dc=com")
	})
	t.Run("wrong password is invalid credentials", func(t *testing.T) {
		r := d.whoami(t, adminDN, "Not-The-Admin-Pw-1")
		expect(t, r, 49, "ldap_bind: Invalid credentials (49)")
		refute(t, r, "dn:cn=admin")
	})
	t.Run("unknown DN is invalid credentials", func(t *testing.T) {
		expect(t, d.whoami(t, userDN("nobody"), "Whatever-Pass-99"), 49, "Invalid credentials (49)")
	})
	t.Run("DN with an empty password is refused, not anonymous", func(t *testing.T) {
		r := d.tool(t, runOpts{}, "ldapwhoami", "-D", adminDN, "-w", "")
		expect(t, r, 53, "Server is unwilling to perform (53)", "unauthenticated bind")
		refute(t, r, "anonymous")
	})
	t.Run("anonymous bind is anonymous", func(t *testing.T) {
		expect(t, d.tool(t, runOpts{}, "ldapwhoami"), 0, "anonymous")
	})
	t.Run("unknown DN costs the same work as a wrong password", func(t *testing.T) {
		// With the default argon2id cost a hash takes tens of
		// milliseconds, a network round trip on loopback well under one:
		// an unknown DN answered without hashing would be an order of
		// magnitude faster.
		conn, err := ldap.DialURL(d.url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		timeBind := func(dn string) time.Duration {
			start := time.Now()
			err := conn.Bind(dn, "Wrong-Guess-Pass-12")
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Fatalf("bind as %s: %v, want invalid credentials", dn, err)
			}
			return time.Since(start)
		}
		var known, unknown []time.Duration
		for range 7 {
			known = append(known, timeBind(userDN("frank")))
			unknown = append(unknown, timeBind(userDN("nobody")))
		}
		slices.Sort(known)
		slices.Sort(unknown)
		k, u := known[len(known)/2], unknown[len(unknown)/2]
		t.Logf("median failed bind: known user %v, unknown DN %v", k, u)
		if u < k*3/10 {
			t.Errorf("an unknown DN fails in %v, a known user's wrong password in %v: the unknown DN skips the hash", u, k)
		}
	})
}
