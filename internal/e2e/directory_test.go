package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestDirectoryTools drives ldapadd, ldapsearch, ldapmodify, ldapdelete,
// ldapmodrdn and ldapcompare against one server, in order: later
// subtests read what earlier ones wrote.
func TestDirectoryTools(t *testing.T) {
	t.Parallel()
	d := startDird(t, nil)
	alice, bob, carol := userDN("alice"), userDN("bob"), userDN("carol")
	staff := "cn=staff," + groupsDN

	t.Run("ldapadd loads people and groups", func(t *testing.T) {
		r := d.ldif(t, adminDN, adminPW, "ldapadd", directoryLDIF())
		expect(t, r, 0,
			`adding new entry "ou=people,dc=example,dc=com"`,
			`adding new entry "uid=alice,ou=people,dc=example,dc=com"`,
			`adding new entry "cn=staff,ou=groups,dc=example,dc=com"`)
		if r.exit != 0 {
			t.FailNow()
		}
	})
	t.Run("entry missing a required attribute is an object class violation", func(t *testing.T) {
		r := d.ldif(t, adminDN, adminPW, "ldapadd", `dn: uid=nosn,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: nosn
cn: No Surname
`)
		expect(t, r, 65, "Object class violation (65)", "sn")
	})
	t.Run("adding an existing DN answers already exists", func(t *testing.T) {
		r := d.ldif(t, adminDN, adminPW, "ldapadd", personLDIF(people[0]))
		expect(t, r, 68, "Already exists (68)")
	})
	t.Run("a uid already taken by another entry is a constraint violation", func(t *testing.T) {
		r := d.ldif(t, adminDN, adminPW, "ldapadd", `dn: cn=Alice Again,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
cn: Alice Again
sn: Again
uid: alice
`)
		expect(t, r, 19, "Constraint violation (19)")
	})
	t.Run("a user cannot add entries", func(t *testing.T) {
		r := d.ldif(t, alice, pwOf("alice"), "ldapadd", `dn: uid=mallory,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: mallory
cn: Mallory
sn: Mallory
`)
		expect(t, r, 50, "Insufficient access (50)")
	})

	// Search.
	search := func(t *testing.T, dn, pw string, args ...string) result {
		t.Helper()
		return d.as(t, dn, pw, "ldapsearch", append([]string{"-LLL"}, args...)...)
	}
	for _, attrs := range [][]string{nil, {"userPassword"}, {"*", "+"}, {"*", "+", "userPassword"}} {
		t.Run(fmt.Sprintf("user search for uid=alice never returns userPassword (attrs %q)", attrs), func(t *testing.T) {
			r := search(t, bob, pwOf("bob"), append([]string{"-b", baseDN, "(uid=alice)"}, attrs...)...)
			expect(t, r, 0)
			if got := dns(r.stdout); !slices.Equal(got, []string{alice}) {
				t.Errorf("entries %q, want just %s\n%s", got, alice, r)
			}
			if attrs == nil || slices.Contains(attrs, "*") {
				expect(t, r, 0, "cn: Alice Liddell", "mail: alice@example.com", "uidNumber: 10001")
			}
			refute(t, r, "userPassword", "Tulip-Orbit", "{ARGON2}", "$argon2")
		})
	}
	t.Run("no filter on userPassword matches, even for the administrator", func(t *testing.T) {
		for _, f := range []string{"(userPassword=*)", "(userPassword=" + pwOf("alice") + ")", "(&(uid=alice)(userPassword=*))"} {
			r := search(t, adminDN, adminPW, "-b", baseDN, f, "1.1")
			expect(t, r, 0)
			if got := dns(r.stdout); len(got) != 0 {
				t.Errorf("filter %s matched %q", f, got)
			}
		}
	})
	t.Run("memberOf lists the user's groups", func(t *testing.T) {
		r := search(t, bob, pwOf("bob"), "-b", baseDN, "(uid=alice)", "memberOf")
		expect(t, r, 0)
		if got := attrValues(r.stdout, "memberOf"); !slices.Equal(got, []string{staff}) {
			t.Errorf("memberOf %q, want [%s]\n%s", got, staff, r)
		}
	})
	t.Run("memberOf filter finds the members", func(t *testing.T) {
		r := search(t, bob, pwOf("bob"), "-b", baseDN, "(memberOf=cn=STAFF,ou=groups,dc=example,dc=com)", "1.1")
		expect(t, r, 0)
		got := dns(r.stdout)
		sort.Strings(got)
		if want := []string{alice, bob}; !slices.Equal(got, want) {
			t.Errorf("entries %q, want %q", got, want)
		}
	})
	t.Run("paged search returns every entry exactly once", func(t *testing.T) {
		// Not -LLL: the pagedresults cookies are printed as comments.
		r := d.as(t, adminDN, adminPW, "ldapsearch", "-E", "pr=2/noprompt", "-b", peopleDN, "(objectClass=inetOrgPerson)", "1.1")
		expect(t, r, 0, "with pagedResults control: size=2", "pagedresults: cookie=")
		got := dns(r.stdout)
		sort.Strings(got)
		var want []string
		for _, p := range people {
			want = append(want, userDN(p.uid))
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("paged entries %q, want each of %q once", got, want)
		}
		if n := strings.Count(r.stdout, "# search result"); n != (len(people)+1)/2 {
			t.Errorf("%d pages, want %d\n%s", n, (len(people)+1)/2, r)
		}
	})
	t.Run("size limit past two entries is size limit exceeded", func(t *testing.T) {
		r := search(t, adminDN, adminPW, "-z", "2", "-b", peopleDN, "(objectClass=inetOrgPerson)", "1.1")
		expect(t, r, 4, "Size limit exceeded (4)")
		if n := len(dns(r.stdout)); n != 2 {
			t.Errorf("%d entries before the limit, want 2\n%s", n, r)
		}
	})
	t.Run("anonymous search of the directory is refused", func(t *testing.T) {
		r := search(t, "", "", "-b", baseDN, "(uid=alice)")
		expect(t, r, 50, "Insufficient access (50)")
		if len(dns(r.stdout)) != 0 {
			t.Errorf("anonymous search returned entries\n%s", r)
		}
	})
	t.Run("anonymous RootDSE read shows what the server supports", func(t *testing.T) {
		r := d.tool(t, runOpts{}, "ldapsearch", "-LLL", "-b", "", "-s", "base", "+")
		expect(t, r, 0,
			"namingContexts: dc=example,dc=com",
			"supportedExtension: 1.3.6.1.4.1.4203.1.11.1",
			"supportedExtension: 1.3.6.1.4.1.4203.1.11.3",
			"supportedControl: 1.2.840.113556.1.4.319",
			"supportedControl: 1.3.6.1.4.1.42.2.27.8.5.1",
			"supportedLDAPVersion: 3")
	})
	t.Run("search scopes base, one and sub", func(t *testing.T) {
		var everyone []string
		for _, p := range people {
			everyone = append(everyone, userDN(p.uid))
		}
		for _, tc := range []struct {
			scope string
			want  []string
		}{
			{"base", []string{peopleDN}},
			{"one", everyone},
			{"sub", append([]string{peopleDN}, everyone...)},
		} {
			r := search(t, alice, pwOf("alice"), "-s", tc.scope, "-b", peopleDN, "(objectClass=*)", "1.1")
			expect(t, r, 0)
			got := dns(r.stdout)
			sort.Strings(got)
			want := slices.Clone(tc.want)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("scope %s: entries %q, want %q", tc.scope, got, want)
			}
		}
	})

	// Modify.
	t.Run("administrator replaces mail", func(t *testing.T) {
		r := d.ldif(t, adminDN, adminPW, "ldapmodify", fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: mail\nmail: alice.liddell@example.com\n-\n", alice))
		expect(t, r, 0, `modifying entry "`+alice+`"`)
		r = search(t, bob, pwOf("bob"), "-b", baseDN, "(mail=ALICE.LIDDELL@example.com)", "mail")
		if got := attrValues(r.stdout, "mail"); !slices.Equal(got, []string{"alice.liddell@example.com"}) {
			t.Errorf("mail after replace %q\n%s", got, r)
		}
	})
	t.Run("administrator adds and deletes a member value", func(t *testing.T) {
		r := d.ldif(t, adminDN, adminPW, "ldapmodify", fmt.Sprintf("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n-\n", staff, carol))
		expect(t, r, 0)
		r = search(t, alice, pwOf("alice"), "-b", carol, "-s", "base", "memberOf")
		got := attrValues(r.stdout, "memberOf")
		if !slices.Contains(got, staff) {
			t.Errorf("carol's memberOf %q lacks %s after adding her\n%s", got, staff, r)
		}
		r = d.ldif(t, adminDN, adminPW, "ldapmodify", fmt.Sprintf("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n-\n", staff, carol))
		expect(t, r, 0)
		r = search(t, alice, pwOf("alice"), "-b", staff, "-s", "base", "member")
		got = attrValues(r.stdout, "member")
		sort.Strings(got)
		if want := []string{alice, bob}; !slices.Equal(got, want) {
			t.Errorf("staff members %q after deleting carol, want %q", got, want)
		}
	})
	t.Run("a user cannot modify someone else", func(t *testing.T) {
		r := d.ldif(t, bob, pwOf("bob"), "ldapmodify", fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: mail\nmail: hacked@example.com\n-\n", alice))
		expect(t, r, 50, "Insufficient access (50)")
	})
	t.Run("a user cannot change someone else's password by modify", func(t *testing.T) {
		r := d.ldif(t, bob, pwOf("bob"), "ldapmodify", fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: Stolen-Account-981\n-\n", alice))
		expect(t, r, 50, "Insufficient access (50)")
		expect(t, d.whoami(t, alice, pwOf("alice")), 0, "dn:"+alice)
	})
	t.Run("user changes its own password by deleting the old value and adding the new", func(t *testing.T) {
		const newPW = "Lantern-Drift-846"
		r := d.ldif(t, carol, pwOf("carol"), "ldapmodify", fmt.Sprintf(
			"dn: %s\nchangetype: modify\ndelete: userPassword\nuserPassword: %s\n-\nadd: userPassword\nuserPassword: %s\n-\n", carol, pwOf("carol"), newPW))
		expect(t, r, 0)
		expect(t, d.whoami(t, carol, newPW), 0, "dn:"+carol)
		expect(t, d.whoami(t, carol, pwOf("carol")), 49, "Invalid credentials (49)")
	})
	t.Run("administrator locks an account with pwdAccountLockedTime", func(t *testing.T) {
		dave := userDN("dave")
		setAttr(t, d, dave, "pwdAccountLockedTime", "000001010000Z")
		expect(t, d.whoami(t, dave, pwOf("dave")), 49, "Invalid credentials (49)")
		r := d.whoami(t, dave, pwOf("dave"), "-e", "ppolicy")
		expect(t, r, 49, "Invalid credentials (49)", "Account locked")
		r = d.whoami(t, dave, "Wrong-Guess-Pass-12", "-e", "ppolicy")
		expect(t, r, 49, "Invalid credentials (49)")
		refute(t, r, "Account locked")

		adminModify(t, d, fmt.Sprintf("dn: %s\nchangetype: modify\ndelete: pwdAccountLockedTime\n-\n", dave))
		expect(t, d.whoami(t, dave, pwOf("dave"), "-e", "ppolicy"), 0, "dn:"+dave)
	})
	t.Run("administrator reads ppolicy state; users do not", func(t *testing.T) {
		erin := userDN("erin")
		expect(t, d.whoami(t, erin, "Bad-Guess-Pass-34"), 49)
		r := search(t, adminDN, adminPW, "-b", erin, "-s", "base", "+")
		expect(t, r, 0, "pwdChangedTime: ", "pwdFailureTime: ", "entryUUID: ", "createTimestamp: ")
		refute(t, r, "userPassword")
		r = search(t, adminDN, adminPW, "-b", erin, "-s", "base", "pwdChangedTime", "pwdFailureTime")
		expect(t, r, 0, "pwdChangedTime: ", "pwdFailureTime: ")
		if v := attrValues(r.stdout, "pwdChangedTime"); len(v) == 1 {
			if ts, err := time.Parse("20060102150405Z", v[0]); err != nil || time.Since(ts) > time.Hour || time.Since(ts) < -time.Minute {
				t.Errorf("pwdChangedTime %q is not about now (%v)", v[0], err)
			}
		}
		r = search(t, bob, pwOf("bob"), "-b", erin, "-s", "base", "+", "pwdFailureTime", "pwdHistory")
		expect(t, r, 0)
		refute(t, r, "pwdFailureTime", "pwdHistory", "userPassword")
	})

	// Delete, rename, compare.
	t.Run("ldapdelete removes a leaf", func(t *testing.T) {
		erin := userDN("erin")
		expect(t, d.as(t, adminDN, adminPW, "ldapdelete", erin), 0)
		r := search(t, adminDN, adminPW, "-b", erin, "-s", "base", "1.1")
		expect(t, r, 32, "No such object (32)")
	})
	t.Run("deleting a group drops it from memberOf", func(t *testing.T) {
		expect(t, d.as(t, adminDN, adminPW, "ldapdelete", "cn=ops,"+groupsDN), 0)
		r := search(t, adminDN, adminPW, "-b", carol, "-s", "base", "memberOf")
		expect(t, r, 0, "dn: "+carol)
		refute(t, r, "memberOf")
	})
	t.Run("ldapdelete of a non-leaf is refused", func(t *testing.T) {
		r := d.as(t, adminDN, adminPW, "ldapdelete", peopleDN)
		expect(t, r, 66, "Operation not allowed on non-leaf (66)")
	})
	t.Run("a user cannot delete", func(t *testing.T) {
		expect(t, d.as(t, bob, pwOf("bob"), "ldapdelete", userDN("frank")), 50, "Insufficient access (50)")
	})
	t.Run("ldapmodrdn renames an entry", func(t *testing.T) {
		r := d.as(t, adminDN, adminPW, "ldapmodrdn", "-r", userDN("frank"), "uid=franklin")
		expect(t, r, 0)
		r = search(t, adminDN, adminPW, "-b", peopleDN, "(uid=franklin)", "uid")
		if got := dns(r.stdout); !slices.Equal(got, []string{userDN("franklin")}) {
			t.Errorf("after rename: entries %q\n%s", got, r)
		}
		if got := attrValues(r.stdout, "uid"); !slices.Equal(got, []string{"franklin"}) {
			t.Errorf("after rename with -r: uid %q, want [franklin]", got)
		}
		expect(t, search(t, adminDN, adminPW, "-b", userDN("frank"), "-s", "base", "1.1"), 32)
		// The password moved with the entry.
		expect(t, d.whoami(t, userDN("franklin"), pwOf("frank")), 0, "dn:"+userDN("franklin"))
	})
	t.Run("ldapmodrdn moves an entry under a new superior", func(t *testing.T) {
		expect(t, d.ldif(t, adminDN, adminPW, "ldapadd", "dn: ou=alumni,dc=example,dc=com\nobjectClass: organizationalUnit\nou: alumni\n"), 0)
		moved := "uid=dave,ou=alumni,dc=example,dc=com"
		expect(t, d.as(t, adminDN, adminPW, "ldapmodrdn", "-s", "ou=alumni,"+baseDN, userDN("dave"), "uid=dave"), 0)
		r := search(t, adminDN, adminPW, "-b", baseDN, "(uid=dave)", "1.1")
		if got := dns(r.stdout); !slices.Equal(got, []string{moved}) {
			t.Errorf("after the move: entries %q, want [%s]", got, moved)
		}
		expect(t, d.whoami(t, moved, pwOf("dave")), 0, "dn:"+moved)
		r = d.as(t, adminDN, adminPW, "ldapmodrdn", "-s", "ou=nowhere,"+baseDN, moved, "uid=dave")
		expect(t, r, 32, "No such object (32)")
		r = d.as(t, adminDN, adminPW, "ldapmodrdn", "-s", baseDN, moved, "ou=people")
		expect(t, r, 68, "Already exists (68)")
		expect(t, d.as(t, bob, pwOf("bob"), "ldapmodrdn", moved, "uid=dave2"), 50, "Insufficient access (50)")
	})
	t.Run("ldapcompare answers TRUE and FALSE", func(t *testing.T) {
		r := d.as(t, adminDN, adminPW, "ldapcompare", alice, "cn:Alice Liddell")
		expect(t, r, 6, "TRUE")
		r = d.as(t, bob, pwOf("bob"), "ldapcompare", alice, "cn:alice liddell")
		expect(t, r, 6, "TRUE")
		r = d.as(t, adminDN, adminPW, "ldapcompare", alice, "cn:Alice Cooper")
		expect(t, r, 5, "FALSE")
	})
	t.Run("ldapcompare on userPassword is refused", func(t *testing.T) {
		for _, who := range [][2]string{{adminDN, adminPW}, {bob, pwOf("bob")}} {
			for _, guess := range []string{pwOf("alice"), "Not-Her-Password-1"} {
				r := d.as(t, who[0], who[1], "ldapcompare", alice, "userPassword:"+guess)
				if r.exit == 5 || r.exit == 6 || r.exit == 0 {
					t.Errorf("compare of userPassword answered exit %d, want a refusal\n%s", r.exit, r)
				}
				refute(t, r, "TRUE", "FALSE")
			}
		}
	})
}

// TestAnonymousRead covers ldap.anonymous_read: true.
func TestAnonymousRead(t *testing.T) {
	t.Parallel()
	d := startDird(t, opts{"ldap.anonymous_read": true})
	loadDirectory(t, d)
	t.Run("anonymous search returns entries without secrets", func(t *testing.T) {
		r := d.tool(t, runOpts{}, "ldapsearch", "-LLL", "-b", baseDN, "(uid=alice)", "*", "+", "userPassword")
		expect(t, r, 0, "dn: "+userDN("alice"), "cn: Alice Liddell")
		refute(t, r, "userPassword", "pwdChangedTime")
	})
	t.Run("anonymous users still cannot write", func(t *testing.T) {
		r := d.tool(t, runOpts{stdin: fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: mail\nmail: x@example.com\n-\n", userDN("alice"))}, "ldapmodify")
		if r.exit == 0 {
			t.Errorf("anonymous modify succeeded\n%s", r)
		}
	})
}
