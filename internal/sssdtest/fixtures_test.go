package sssdtest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// user is one person of the seeded directory.
type user struct {
	uid, cn      string
	uidNumber    int
	gidNumber    int
	shell        string
	password     string
	rfc2307Group []string // posixGroup names listing the user in memberUid
}

var users = []user{
	{"alice", "Alice Liddell", 20001, 30001, "/bin/bash", "Wonderland-Tea-2024", []string{"staff", "ops"}},
	{"bob", "Bob Builder", 20002, 30002, "/bin/sh", "Can-We-Fix-It-77", []string{"ops"}},
	{"carol", "Carol Danvers", 20003, 30001, "/bin/bash", "Higher-Further-Faster-9", []string{"staff"}},
	{"dave", "Dave Bowman", 20004, 30001, "/bin/bash", "Open-The-Pod-Bay-42", []string{"staff"}},
	{"erin", "Erin Brockovich", 20005, 30001, "/bin/bash", "Hinkley-Water-Case-93", []string{"staff"}},
}

// groups: name, gidNumber.
var groups = []struct {
	name string
	gid  int
}{{"staff", 30001}, {"ops", 30002}}

const (
	servicesDN  = "ou=services," + baseDN
	posixGroups = "ou=posixgroups," + baseDN // rfc2307: posixGroup + memberUid
	bisGroups   = "ou=groups," + baseDN      // rfc2307bis: groupOfNames + posixGroup, member
	sssdBindDN  = "cn=sssd," + servicesDN
	sssdBindPW  = "Service-Account-Lookups-4417"
	nslcdBindDN = "cn=nslcd," + servicesDN
	nslcdBindPW = "Daemon-Account-Lookups-8812"
)

func userDN(uid string) string { return "uid=" + uid + "," + peopleDN }

func userOf(t *testing.T, uid string) user {
	t.Helper()
	for _, u := range users {
		if u.uid == uid {
			return u
		}
	}
	t.Fatalf("no fixture user %q", uid)
	return user{}
}

// seed adds the people, the service accounts SSSD and nslcd bind as, and
// each group twice: as an RFC 2307 posixGroup with memberUid under
// ou=posixgroups, and as an RFC 2307bis groupOfNames (with posixGroup
// beside it) with member DNs under ou=groups.
func seed(t *testing.T, d *dird) {
	t.Helper()
	var b strings.Builder
	for _, ou := range []string{"people", "services", "posixgroups", "groups"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", ou, baseDN, ou)
	}
	for _, sa := range [][2]string{{sssdBindDN, sssdBindPW}, {nslcdBindDN, nslcdBindPW}} {
		cn := strings.TrimPrefix(strings.Split(sa[0], ",")[0], "cn=")
		// A service account: no posixAccount, so it is no login.
		fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: %s\nuserPassword: %s\n\n", sa[0], cn, sa[1])
	}
	for _, u := range users {
		sn := u.cn[strings.LastIndex(u.cn, " ")+1:]
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nobjectClass: shadowAccount\n"+
			"uid: %s\ncn: %s\nsn: %s\nuidNumber: %d\ngidNumber: %d\nhomeDirectory: /home/%s\nloginShell: %s\nuserPassword: %s\n\n",
			userDN(u.uid), u.uid, u.cn, sn, u.uidNumber, u.gidNumber, u.uid, u.shell, u.password)
	}
	for _, g := range groups {
		var memberUids, members []string
		for _, u := range users {
			for _, name := range u.rfc2307Group {
				if name == g.name {
					memberUids = append(memberUids, "memberUid: "+u.uid)
					members = append(members, "member: "+userDN(u.uid))
				}
			}
		}
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: posixGroup\ncn: %s\ngidNumber: %d\n%s\n\n",
			g.name, posixGroups, g.name, g.gid, strings.Join(memberUids, "\n"))
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: groupOfNames\nobjectClass: posixGroup\ncn: %s\ngidNumber: %d\n%s\n\n",
			g.name, bisGroups, g.name, g.gid, strings.Join(members, "\n"))
	}
	d.admin(t, "ldapadd", b.String())
}

// timeAgo is the time that many hours ago.
func timeAgo(hours int) time.Time { return time.Now().Add(-time.Duration(hours) * time.Hour) }
