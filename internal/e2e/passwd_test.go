package e2e

import (
	"crypto/sha1"
	"encoding/base64"
	"regexp"
	"testing"
)

var newPasswordLine = regexp.MustCompile(`(?m)^New password: (\S+)$`)

// generated returns the password ldappasswd printed as "New password: X".
func generated(t *testing.T, d *dird, r result) string {
	t.Helper()
	m := newPasswordLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no \"New password: \" line\n%s", r)
	}
	d.secret(m[1])
	return m[1]
}

// TestPasswordModify drives ldappasswd (RFC 3062 Password Modify). Note
// that ldappasswd exits 1 on any failure; the result is in its output.
func TestPasswordModify(t *testing.T) {
	t.Parallel()
	d := startDird(t, nil)
	loadDirectory(t, d)
	pw := map[string]string{}
	for _, p := range people {
		pw[p.uid] = p.pw
	}
	// binds asserts that uid's password is pw[uid] and not any of old.
	binds := func(t *testing.T, uid string, old ...string) {
		t.Helper()
		expect(t, d.whoami(t, userDN(uid), pw[uid]), 0, "dn:"+userDN(uid))
		for _, o := range old {
			expect(t, d.whoami(t, userDN(uid), o), 49, "Invalid credentials (49)")
		}
	}

	t.Run("user changes its own password with -a old -s new", func(t *testing.T) {
		const next = "Saffron-Kettle-592"
		r := d.as(t, userDN("alice"), pw["alice"], "ldappasswd", "-a", pw["alice"], "-s", next)
		expect(t, r, 0)
		old := pw["alice"]
		pw["alice"] = next
		binds(t, "alice", old)
	})
	t.Run("user changes its own password at the -A and -S prompts", func(t *testing.T) {
		// ldappasswd prompts through lutil_getpass, which reads /dev/tty
		// and falls back to stdin when there is no controlling terminal;
		// runWith starts the tools in a new session without one.
		const next = "Juniper-Anvil-317"
		r := d.tool(t, runOpts{stdin: pw["bob"] + "\n" + pw["bob"] + "\n" + next + "\n" + next + "\n"},
			"ldappasswd", "-D", userDN("bob"), "-w", pw["bob"], "-A", "-S")
		d.secret(next)
		expect(t, r, 0, "Old password: ", "Re-enter old password: ", "New password: ", "Re-enter new password: ")
		old := pw["bob"]
		pw["bob"] = next
		binds(t, "bob", old)
	})
	t.Run("user without the old password is unwilling to perform", func(t *testing.T) {
		const next = "Mosaic-Thistle-248"
		r := d.as(t, userDN("carol"), pw["carol"], "ldappasswd", "-s", next)
		expect(t, r, 1, "Server is unwilling to perform (53)")
		binds(t, "carol", next)
	})
	t.Run("wrong old password is unwilling to perform and changes nothing", func(t *testing.T) {
		const next = "Mosaic-Thistle-248"
		r := d.as(t, userDN("carol"), pw["carol"], "ldappasswd", "-a", "Not-Carols-Pass-55", "-s", next)
		expect(t, r, 1, "Server is unwilling to perform (53)")
		binds(t, "carol", next)
	})
	t.Run("an anonymous session cannot change passwords", func(t *testing.T) {
		const next = "Anonymous-Try-Pw-41"
		r := d.tool(t, runOpts{}, "ldappasswd", "-s", next, userDN("carol"))
		expect(t, r, 1, "Strong(er) authentication required (8)")
		binds(t, "carol", next)
	})
	t.Run("a user cannot set another user's password", func(t *testing.T) {
		const next = "Hijack-Attempt-734"
		r := d.as(t, userDN("carol"), pw["carol"], "ldappasswd", "-a", pw["carol"], "-s", next, userDN("dave"))
		expect(t, r, 1, "Insufficient access (50)")
		binds(t, "dave", next)
	})
	t.Run("administrator sets a password and the user must change it", func(t *testing.T) {
		const set, next = "Admin-Chosen-Pw-660", "Picked-By-Him-818"
		r := d.as(t, adminDN, adminPW, "ldappasswd", "-s", set, userDN("dave"))
		expect(t, r, 0)
		refute(t, r, "New password:")
		r = d.whoami(t, userDN("dave"), set, "-e", "ppolicy")
		expect(t, r, 0, "dn:"+userDN("dave"), "ldap_bind: Success (0)", "Password must be changed")
		// Until the change, the connection may do little else.
		r = d.as(t, userDN("dave"), set, "ldapsearch", "-e", "ppolicy", "-b", baseDN, "(uid=alice)")
		expect(t, r, 50, "Operations are restricted", "Password must be changed")
		r = d.as(t, userDN("dave"), set, "ldappasswd", "-a", set, "-s", next)
		expect(t, r, 0)
		r = d.whoami(t, userDN("dave"), next, "-e", "ppolicy")
		expect(t, r, 0, "dn:"+userDN("dave"))
		refute(t, r, "Password must be changed")
		pw["dave"] = next
		binds(t, "dave", set, people[3].pw)
	})
	t.Run("administrator without -s gets a generated password", func(t *testing.T) {
		r := d.as(t, adminDN, adminPW, "ldappasswd", userDN("erin"))
		expect(t, r, 0, "New password: ")
		old := pw["erin"]
		pw["erin"] = generated(t, d, r)
		binds(t, "erin", old)
		expect(t, d.whoami(t, userDN("erin"), pw["erin"], "-e", "ppolicy"), 0, "Password must be changed")
	})
	t.Run("user with no value at all gets a generated password", func(t *testing.T) {
		r := d.as(t, userDN("frank"), pw["frank"], "ldappasswd")
		expect(t, r, 0, "New password: ")
		old := pw["frank"]
		pw["frank"] = generated(t, d, r)
		binds(t, "frank", old)
		r = d.whoami(t, userDN("frank"), pw["frank"], "-e", "ppolicy")
		refute(t, r, "Password must be changed")
	})
	for _, tc := range []struct {
		name, pw, info string
	}{
		{"too short", "Sh0rt-7", "Password is too short for policy: at least 8 characters"},
		{"common", "password123", "Password fails quality checks: it is on the list of common or breached passwords"},
		{"contains the uid", "Xalice-Sunset-90", "Password fails quality checks: it must not contain the user name"},
	} {
		t.Run("policy failure: "+tc.name+" is a constraint violation naming the rule", func(t *testing.T) {
			r := d.as(t, userDN("alice"), pw["alice"], "ldappasswd", "-a", pw["alice"], "-s", tc.pw)
			expect(t, r, 1, "Constraint violation (19)", "Additional info: "+tc.info)
			binds(t, "alice", tc.pw)
			// The quality rules bind the administrator too.
			r = d.as(t, adminDN, adminPW, "ldappasswd", "-s", tc.pw, userDN("alice"))
			expect(t, r, 1, "Constraint violation (19)", "Additional info: "+tc.info)
			binds(t, "alice", tc.pw)
		})
	}
	t.Run("with -e ppolicy a short password names the ppolicy error", func(t *testing.T) {
		r := d.as(t, userDN("alice"), pw["alice"], "ldappasswd", "-e", "ppolicy", "-a", pw["alice"], "-s", "Sh0rt-7")
		expect(t, r, 1, "Constraint violation (19)", "ppolicy: error=6 (Password is too short for policy)")
		r = d.as(t, userDN("alice"), pw["alice"], "ldappasswd", "-e", "ppolicy", "-a", pw["alice"], "-s", "password123")
		expect(t, r, 1, "Constraint violation (19)", "ppolicy: error=5 (Password fails quality checks)")
	})
}

// sshaHash is an OpenLDAP {SSHA} value, as slapcat exports it.
func sshaHash(pw, salt string) string {
	sum := sha1.Sum([]byte(pw + salt))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// TestPasswordWritesByModify covers userPassword written with ldapadd and
// ldapmodify (CONTRACT.md, Directory): cleartext is checked and hashed,
// a hash from the administrator is kept, one value only.
func TestPasswordWritesByModify(t *testing.T) {
	t.Parallel()
	d := startDird(t, nil)
	loadDirectory(t, d)
	modify := func(t *testing.T, dn, pw, target, body string) result {
		t.Helper()
		return d.ldif(t, dn, pw, "ldapmodify", "dn: "+target+"\nchangetype: modify\n"+body)
	}
	alice, bob := userDN("alice"), userDN("bob")

	t.Run("an imported {SSHA} hash is kept and verifies", func(t *testing.T) {
		const migrated = "Migrated-Pass-321"
		d.secret(migrated)
		r := modify(t, adminDN, adminPW, alice, "replace: userPassword\nuserPassword: "+sshaHash(migrated, "s4ltS4lt")+"\n-\n")
		expect(t, r, 0)
		r = d.whoami(t, alice, migrated, "-e", "ppolicy")
		expect(t, r, 0, "dn:"+alice)
		refute(t, r, "Password must be changed") // a migrated hash is not an admin reset
		// After the upgrade to argon2id at that bind, it still verifies.
		expect(t, d.whoami(t, alice, migrated), 0, "dn:"+alice)
		expect(t, d.whoami(t, alice, pwOf("alice")), 49)
	})
	t.Run("a cleartext value from the administrator meets the policy", func(t *testing.T) {
		r := modify(t, adminDN, adminPW, bob, "replace: userPassword\nuserPassword: Sh0rt-7\n-\n")
		expect(t, r, 19, "Constraint violation (19)", "Password is too short for policy")
		r = d.ldif(t, adminDN, adminPW, "ldapadd", `dn: uid=weak,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: weak
cn: Weak Entry
sn: Entry
userPassword: password123
`)
		expect(t, r, 19, "Constraint violation (19)", "common")
		expect(t, d.whoami(t, bob, pwOf("bob")), 0, "dn:"+bob)
	})
	t.Run("a cleartext value from the administrator is an admin reset", func(t *testing.T) {
		const set = "Reset-By-Modify-515"
		expect(t, modify(t, adminDN, adminPW, bob, "replace: userPassword\nuserPassword: "+set+"\n-\n"), 0)
		expect(t, d.whoami(t, bob, set, "-e", "ppolicy"), 0, "dn:"+bob, "Password must be changed")
		// The restricted user may still change its password by modify.
		const next = "Own-Choice-Pw-626"
		r := modify(t, bob, set, bob, "delete: userPassword\nuserPassword: "+set+"\n-\nadd: userPassword\nuserPassword: "+next+"\n-\n")
		expect(t, r, 0)
		r = d.whoami(t, bob, next, "-e", "ppolicy")
		expect(t, r, 0, "dn:"+bob)
		refute(t, r, "Password must be changed")
	})
	t.Run("a second userPassword value is refused", func(t *testing.T) {
		r := modify(t, adminDN, adminPW, userDN("carol"), "add: userPassword\nuserPassword: Second-Value-Pw-737\n-\n")
		expect(t, r, 19, "Constraint violation (19)", "one password value")
		expect(t, d.whoami(t, userDN("carol"), pwOf("carol")), 0)
		expect(t, d.whoami(t, userDN("carol"), "Second-Value-Pw-737"), 49)
	})
	t.Run("a user may change nothing but its own password", func(t *testing.T) {
		r := modify(t, userDN("dave"), pwOf("dave"), userDN("dave"), "replace: mail\nmail: dave2@example.com\n-\n")
		expect(t, r, 50, "Insufficient access (50)")
		r = modify(t, userDN("dave"), pwOf("dave"), userDN("dave"), "replace: pwdChangedTime\npwdChangedTime: 20990101000000Z\n-\n")
		expect(t, r, 50, "Insufficient access (50)")
		// Replace without the old value is not the self-change form.
		r = modify(t, userDN("dave"), pwOf("dave"), userDN("dave"), "replace: userPassword\nuserPassword: Replace-Only-777\n-\n")
		if r.exit == 0 {
			t.Errorf("a user replaced its password without the old one\n%s", r)
		}
		expect(t, d.whoami(t, userDN("dave"), pwOf("dave")), 0)
	})
	t.Run("computed and operational attributes cannot be written", func(t *testing.T) {
		for _, body := range []string{
			"replace: memberOf\nmemberOf: cn=admins,ou=groups,dc=example,dc=com\n-\n",
			"replace: entryUUID\nentryUUID: 00000000-0000-0000-0000-000000000000\n-\n",
			"replace: pwdFailureTime\npwdFailureTime: 20990101000000Z\n-\n",
		} {
			r := modify(t, adminDN, adminPW, userDN("erin"), body)
			expect(t, r, 19, "Constraint violation (19)")
		}
		r := modify(t, adminDN, adminPW, userDN("erin"), "replace: pwdChangedTime\npwdChangedTime: yesterday\n-\n")
		expect(t, r, 21, "Invalid syntax (21)")
	})
}
