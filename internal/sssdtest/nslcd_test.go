package sssdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const nslcdService = "dird-nslcd-test"

// nslcdConf is the nslcd.conf README's "Connect a Linux host" shows, with
// the test's address and CA file. nslcd runs as root here: the test's
// directories are root's.
func nslcdConf(d *dird) string {
	return fmt.Sprintf(`uri %s
base %s
base group %s
binddn %s
bindpw %s
ssl start_tls
tls_reqcert demand
tls_cacertfile %s
`, d.url, baseDN, posixGroups, nslcdBindDN, nslcdBindPW, d.caFile)
}

// startNslcd runs `nslcd -d` in a private mount namespace with its
// configuration bound over /etc/nslcd.conf and a private /run (its socket
// and pid file) and /etc/pam.d.
func startNslcd(t *testing.T, conf string) *host {
	t.Helper()
	if !exists("/etc/nslcd.conf") {
		t.Fatalf("/etc/nslcd.conf does not exist: is nslcd installed? run make test-deps")
	}
	dir := t.TempDir()
	mkdirs(t, dir, "run/nslcd", "pam.d")
	confPath := filepath.Join(dir, "nslcd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	privatePAM(t, filepath.Join(dir, "pam.d"), nslcdService, pamService("pam_ldap.so"))
	binds := [][2]string{
		{confPath, "/etc/nslcd.conf"},
		{filepath.Join(dir, "run"), "/run"},
		{filepath.Join(dir, "pam.d"), "/etc/pam.d"},
	}
	return startHost(t, "nslcd", binds, []string{"nslcd", "-d"}, func(h *host) bool {
		return exists(filepath.Join(dir, "run/nslcd/socket"))
	})
}

// TestNslcd: nss-pam-ldapd against dird, rfc2307 groups: accounts and
// groups through getent, and the password at the PAM prompt.
func TestNslcd(t *testing.T) {
	d := startDird(t, "max_age: 10d", "expire_warning: 7d", "lock_on_expiry: false")
	seed(t, d)
	before := len(d.searches())
	h := startNslcd(t, nslcdConf(d))
	for _, u := range users {
		r := h.exec(t, "", false, "getent", "-s", "ldap", "passwd", u.uid)
		want := fmt.Sprintf("%s:*:%d:%d:%s:/home/%s:%s", u.uid, u.uidNumber, u.gidNumber, u.cn, u.uid, u.shell)
		if r.exit != 0 || strings.TrimSpace(r.out) != want {
			t.Errorf("getent -s ldap passwd %s: %s\nwant %s", u.uid, r, want)
		}
	}
	for _, g := range groups {
		r := h.exec(t, "", false, "getent", "-s", "ldap", "group", g.name)
		f := strings.Split(strings.TrimSpace(r.out), ":")
		if r.exit != 0 || len(f) != 4 || f[2] != fmt.Sprint(g.gid) {
			t.Errorf("getent -s ldap group %s: %s", g.name, r)
			continue
		}
		var want []string
		for _, u := range users {
			if slices.Contains(u.rfc2307Group, g.name) {
				want = append(want, u.uid)
			}
		}
		got := strings.Split(f[3], ",")
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("group %s members %v, want %v", g.name, got, want)
		}
	}
	r := h.exec(t, "", false, "getent", "-s", "ldap", "initgroups", "alice")
	if f := strings.Fields(r.out); r.exit != 0 || !slices.Contains(f, "30001") || !slices.Contains(f, "30002") {
		t.Errorf("getent -s ldap initgroups alice: %s, want 30001 and 30002", r)
	}

	alice := userOf(t, "alice")
	r = h.pam(t, nslcdService, "alice", false, []string{alice.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "right password", r, 0, pamAuthOK, pamAcctOK)
	r = h.pam(t, nslcdService, "alice", false, []string{"Not-Her-Password-1"}, "authenticate")
	expectPAM(t, "wrong password", r, 1, "Authentication failure")

	// The expiry warning, as nslcd words it.
	carol := userOf(t, "carol")
	d.setChanged(t, userDN("carol"), timeAgo(5*24+23))
	r = h.pam(t, nslcdService, "carol", false, []string{carol.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "inside the warning window", r, 0, pamAuthOK, "Password will expire in 4 days")

	// passwd as the user: nslcd binds as alice, tries Password Modify
	// without the old password, then with it.
	newPW := "Looking-Glass-House-61"
	d.secret(newPW)
	r = h.pam(t, nslcdService, "alice", true, []string{alice.password, newPW, newPW}, "chauthtok")
	expectPAM(t, "passwd", r, 0, pamChangedOK)
	// nslcd's first try without the old password is refused cleanly and
	// is not a failed login.
	if r := d.ldap(t, "", "ldapsearch", "-D", adminDN, "-w", adminPW, "-LLL", "-s", "base", "-b", userDN("alice"), "pwdFailureTime"); r.exit != 0 || strings.Contains(r.out, "pwdFailureTime:") {
		t.Errorf("after passwd through nslcd, alice's pwdFailureTime: %s", r)
	}
	if !d.whoami(t, userDN("alice"), newPW) || d.whoami(t, userDN("alice"), alice.password) {
		t.Errorf("after passwd the new password must bind and the old one must not")
	}

	// After an administrator reset pam_ldap demands a change at acct_mgmt
	// (nslcd's own-entry read after the bind stays allowed on the
	// restricted connection).
	temp := "Temporary-Reset-Pass-5"
	if r := d.ldap(t, "", "ldappasswd", "-D", adminDN, "-w", adminPW, "-s", temp, userDN("erin")); r.exit != 0 {
		t.Fatalf("ldappasswd as admin: %s", r)
	}
	r = h.pam(t, nslcdService, "erin", false, []string{temp}, "authenticate", "acct_mgmt")
	expectPAM(t, "after a reset", r, 1, pamAuthOK, pamNewAuthtok)
	checkSearches(t, "nslcd", d, before)
}
