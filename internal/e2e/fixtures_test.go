package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// person is one test user.
type person struct {
	uid, cn, sn, pw string
	uidNumber       int
}

// people are the users most tests load. Their passwords pass the default
// policy: 8+ characters, not common, no part of the name.
var people = []person{
	{"alice", "Alice Liddell", "Liddell", "Tulip-Orbit-481", 10001},
	{"bob", "Bob Builder", "Builder", "Granite-Swan-632", 10002},
	{"carol", "Carol Danvers", "Danvers", "Velvet-Comet-159", 10003},
	{"dave", "Dave Bowman", "Bowman", "Harbor-Lynx-774", 10004},
	{"erin", "Erin Brockovich", "Brockovich", "Maple-Quartz-205", 10005},
	{"frank", "Frank Drebin", "Drebin", "Copper-Fjord-368", 10006},
}

func pwOf(uid string) string {
	for _, p := range people {
		if p.uid == uid {
			return p.pw
		}
	}
	panic("no person " + uid)
}

// personLDIF is an inetOrgPerson + posixAccount + shadowAccount entry with
// a cleartext userPassword, as an administrator writes it.
func personLDIF(p person) string {
	return fmt.Sprintf(`dn: %s
objectClass: inetOrgPerson
objectClass: posixAccount
objectClass: shadowAccount
uid: %s
cn: %s
sn: %s
mail: %s@example.com
uidNumber: %d
gidNumber: 10000
homeDirectory: /home/%s
loginShell: /bin/bash
userPassword: %s

`, userDN(p.uid), p.uid, p.cn, p.sn, p.uid, p.uidNumber, p.uid, p.pw)
}

// directoryLDIF is ou=people, ou=groups, the people, and two groups:
// staff (groupOfNames + posixGroup: alice, bob) and ops (carol).
func directoryLDIF() string {
	var b strings.Builder
	b.WriteString(`dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

`)
	for _, p := range people {
		b.WriteString(personLDIF(p))
	}
	b.WriteString(`dn: cn=staff,ou=groups,dc=example,dc=com
objectClass: groupOfNames
objectClass: posixGroup
cn: staff
gidNumber: 10000
member: uid=alice,ou=people,dc=example,dc=com
member: uid=bob,ou=people,dc=example,dc=com
memberUid: alice
memberUid: bob

dn: cn=ops,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: ops
member: uid=carol,ou=people,dc=example,dc=com

`)
	return b.String()
}

// loadDirectory adds directoryLDIF as the administrator.
func loadDirectory(t *testing.T, d *dird) {
	t.Helper()
	r := d.ldif(t, adminDN, adminPW, "ldapadd", directoryLDIF())
	if r.exit != 0 {
		t.Fatalf("loading the directory:\n%s", r)
	}
}

// adminModify applies one ldapmodify LDIF as the administrator and fails
// the test unless it succeeds.
func adminModify(t *testing.T, d *dird, text string) {
	t.Helper()
	r := d.ldif(t, adminDN, adminPW, "ldapmodify", text)
	if r.exit != 0 {
		t.Fatalf("ldapmodify as admin:\n%s\n%s", text, r)
	}
}

// setAttr replaces one attribute of dn as the administrator.
func setAttr(t *testing.T, d *dird, dn, attr, value string) {
	t.Helper()
	adminModify(t, d, fmt.Sprintf("dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n-\n", dn, attr, attr, value))
}
