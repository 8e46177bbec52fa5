package sssdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const sssdService = "dird-sssd-test"

// sssdConf is the domain block README's "Connect a Linux host" shows,
// with the test's address and CA file.
func sssdConf(d *dird, schema, groupBase, accessFilter string) string {
	access := "access_provider = permit\n"
	if accessFilter != "" {
		access = "access_provider = ldap\nldap_access_filter = " + accessFilter + "\n"
	}
	return fmt.Sprintf(`[sssd]
services = nss, pam
domains = dird

[nss]

[pam]

[domain/dird]
id_provider = ldap
auth_provider = ldap
chpass_provider = ldap
%sldap_uri = %s
ldap_search_base = %s
ldap_group_search_base = %s
ldap_schema = %s
ldap_id_use_start_tls = true
ldap_tls_reqcert = demand
ldap_tls_cacert = %s
ldap_default_bind_dn = %s
ldap_default_authtok = %s
ldap_pwmodify_mode = exop
cache_credentials = false
`, access, d.url, baseDN, groupBase, schema, d.caFile, sssdBindDN, sssdBindPW)
}

// startSSSD runs `sssd -i -c <conf>` in a private mount namespace: its
// cache, pipes, logs, pid file and /etc/sssd are the test's directories,
// and /etc/pam.d is a copy with the test's service added.
func startSSSD(t *testing.T, conf string) *host {
	t.Helper()
	for _, p := range []string{"/var/lib/sss", "/var/log/sssd", "/etc/sssd"} {
		if !exists(p) {
			t.Fatalf("%s does not exist: is sssd installed? run make test-deps", p)
		}
	}
	dir := t.TempDir()
	mkdirs(t, dir, "lib/db", "lib/pipes/private", "lib/mc", "lib/pubconf", "lib/gpo_cache", "lib/secrets",
		"lib/deskprofile", "log", "run", "etc/conf.d", "pam.d")
	confPath := filepath.Join(dir, "sssd.conf")
	// sssd refuses a configuration file others can read.
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	privatePAM(t, filepath.Join(dir, "pam.d"), sssdService, pamService("pam_sss.so"))
	binds := [][2]string{
		{filepath.Join(dir, "lib"), "/var/lib/sss"},
		{filepath.Join(dir, "log"), "/var/log/sssd"},
		{filepath.Join(dir, "run"), "/run"},
		{filepath.Join(dir, "etc"), "/etc/sssd"},
		{filepath.Join(dir, "pam.d"), "/etc/pam.d"},
	}
	argv := []string{"sssd", "-i", "-c", confPath, "--logger=stderr", "-d", "0x02f0"}
	return startHost(t, "sssd", binds, argv, func(h *host) bool {
		return exists(filepath.Join(dir, "lib/pipes/nss")) && exists(filepath.Join(dir, "lib/pipes/pam"))
	})
}

// TestSSSD logs in through SSSD with each schema: accounts and groups
// from getent, then the password at the PAM prompt in every state the
// policy knows.
func TestSSSD(t *testing.T) {
	schemas := []struct {
		schema, groupBase, accessFilter string
	}{
		{"rfc2307", posixGroups, ""},
		// rfc2307bis also checks memberOf: only staff may log in.
		{"rfc2307bis", bisGroups, "memberOf=cn=staff," + bisGroups},
	}
	for _, sc := range schemas {
		t.Run(sc.schema, func(t *testing.T) {
			d := startDird(t, "max_age: 10d", "expire_warning: 7d", "lock_on_expiry: false", "min_length: 8")
			seed(t, d)
			before := len(d.searches())
			h := startSSSD(t, sssdConf(d, sc.schema, sc.groupBase, sc.accessFilter))
			t.Run("accounts", func(t *testing.T) { testAccounts(t, h) })
			t.Run("groups", func(t *testing.T) { testGroups(t, h) })
			t.Run("authenticate", func(t *testing.T) { testAuthenticate(t, h, d, sc.accessFilter != "") })
			t.Run("expiry warning", func(t *testing.T) { testExpiryWarning(t, h, d) })
			t.Run("expired, lock_on_expiry false", func(t *testing.T) { testExpiredChange(t, h, d) })
			t.Run("administrator reset", func(t *testing.T) { testAdminReset(t, h, d) })
			t.Run("passwd at the prompt", func(t *testing.T) { testChauthtok(t, h, d) })
			checkSearches(t, "SSSD ("+sc.schema+")", d, before)
		})
	}
}

func testAccounts(t *testing.T, h *host) {
	// By number first, before a lookup by name has cached the user, so
	// that SSSD asks dird (uidNumber=...).
	if r := h.exec(t, "", false, "getent", "-s", "sss", "passwd", "20002"); r.exit != 0 || !strings.HasPrefix(r.out, "bob:") {
		t.Errorf("getent -s sss passwd 20002: %s", r)
	}
	for _, u := range users {
		r := h.exec(t, "", false, "getent", "-s", "sss", "passwd", u.uid)
		want := fmt.Sprintf("%s:*:%d:%d:%s:/home/%s:%s", u.uid, u.uidNumber, u.gidNumber, u.cn, u.uid, u.shell)
		if r.exit != 0 || strings.TrimSpace(r.out) != want {
			t.Errorf("getent -s sss passwd %s: %s\nwant %s", u.uid, r, want)
		}
	}
	if r := h.exec(t, "", false, "getent", "-s", "sss", "passwd", "mallory"); r.exit != 2 {
		t.Errorf("getent passwd of an unknown user: %s, want exit 2", r)
	}
}

func testGroups(t *testing.T, h *host) {
	for _, g := range groups {
		var want []string
		for _, u := range users {
			if slices.Contains(u.rfc2307Group, g.name) {
				want = append(want, u.uid)
			}
		}
		// By number first (gidNumber=...), then by name.
		for _, key := range []string{fmt.Sprint(g.gid), g.name} {
			r := h.exec(t, "", false, "getent", "-s", "sss", "group", key)
			f := strings.Split(strings.TrimSpace(r.out), ":")
			if r.exit != 0 || len(f) != 4 || f[0] != g.name || f[2] != fmt.Sprint(g.gid) {
				t.Errorf("getent -s sss group %s: %s", key, r)
				continue
			}
			got := strings.Split(f[3], ",")
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("group %s members %v, want %v", g.name, got, want)
			}
		}
	}
	// Each user's groups, primary included (initgroups is what login
	// uses to set the supplementary groups).
	for _, u := range users {
		r := h.exec(t, "", false, "getent", "-s", "sss", "initgroups", u.uid)
		f := strings.Fields(r.out)
		if r.exit != 0 || len(f) < 1 || f[0] != u.uid {
			t.Errorf("getent -s sss initgroups %s: %s", u.uid, r)
			continue
		}
		got := slices.Clone(f[1:])
		slices.Sort(got)
		var want []string
		for _, g := range groups {
			if slices.Contains(u.rfc2307Group, g.name) {
				want = append(want, fmt.Sprint(g.gid))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("initgroups %s = %v, want %v", u.uid, got, want)
		}
	}
}

const (
	pamAuthOK     = "pamtester: successfully authenticated"
	pamAcctOK     = "pamtester: account management done."
	pamChangedOK  = "pamtester: authentication token altered successfully."
	pamNewAuthtok = "Authentication token is no longer valid; new one required"
)

// expectPAM asserts pamtester's exit status and that the output holds
// each string.
func expectPAM(t *testing.T, what string, r result, exit int, want ...string) {
	t.Helper()
	if (exit == 0) != (r.exit == 0) {
		t.Errorf("%s: exit %d, want %s\n%s", what, r.exit, map[bool]string{true: "0", false: "non-zero"}[exit == 0], r)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.out, w) {
			t.Errorf("%s: output lacks %q\n%s", what, w, r)
		}
	}
}

func testAuthenticate(t *testing.T, h *host, d *dird, staffOnly bool) {
	alice := userOf(t, "alice")
	r := h.pam(t, sssdService, "alice", false, []string{alice.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "right password", r, 0, pamAuthOK, pamAcctOK)
	r = h.pam(t, sssdService, "alice", false, []string{"Not-Her-Password-1"}, "authenticate")
	expectPAM(t, "wrong password", r, 1, "Authentication failure")
	r = h.pam(t, sssdService, "mallory", false, []string{"Whatever-Password-1"}, "authenticate")
	expectPAM(t, "unknown user", r, 1)
	bob := userOf(t, "bob")
	r = h.pam(t, sssdService, "bob", false, []string{bob.password}, "authenticate", "acct_mgmt")
	if staffOnly {
		// ldap_access_filter memberOf=cn=staff: bob's password is right,
		// but he is not in staff.
		expectPAM(t, "bob outside the memberOf access filter", r, 1, pamAuthOK, "Permission denied")
	} else {
		expectPAM(t, "bob", r, 0, pamAuthOK, pamAcctOK)
	}
}

func testExpiryWarning(t *testing.T, h *host, d *dird) {
	carol := userOf(t, "carol")
	// max_age 10d: changed 5 days and 1 hour before it expires.
	d.setChanged(t, userDN("carol"), time.Now().Add(-10*24*time.Hour+5*24*time.Hour+time.Hour))
	r := h.pam(t, sssdService, "carol", false, []string{carol.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "inside the warning window", r, 0, "Your password will expire in 5 day(s).", pamAuthOK, pamAcctOK)
	// Outside the window: no warning.
	d.setChanged(t, userDN("carol"), time.Now().Add(-24*time.Hour))
	r = h.pam(t, sssdService, "carol", false, []string{carol.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "outside the warning window", r, 0, pamAuthOK, pamAcctOK)
	if strings.Contains(r.out, "will expire") {
		t.Errorf("warning outside the window:\n%s", r)
	}
}

// testExpiredChange: after expiry with lock_on_expiry false, the password
// is still right, so authenticate passes, but acct_mgmt demands a change,
// which the user makes at the prompt (as login(1) would: authenticate,
// then chauthtok with PAM_CHANGE_EXPIRED_AUTHTOK in one PAM session).
func testExpiredChange(t *testing.T, h *host, d *dird) {
	dave := userOf(t, "dave")
	d.setChanged(t, userDN("dave"), time.Now().Add(-11*24*time.Hour))
	r := h.pam(t, sssdService, "dave", false, []string{dave.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "expired password", r, 1, pamAuthOK, "Password expired. Change your password now.", pamNewAuthtok)
	newPW := "Daisy-Daisy-Give-Me-8"
	d.secret(newPW)
	r = h.pam(t, sssdService, "dave", false, []string{dave.password, dave.password, newPW, newPW}, "authenticate", "chauthtok")
	expectPAM(t, "change of the expired password", r, 0, pamAuthOK, pamChangedOK)
	if !d.whoami(t, userDN("dave"), newPW) {
		t.Errorf("ldapwhoami with dave's new password fails")
	}
	if d.whoami(t, userDN("dave"), dave.password) {
		t.Errorf("ldapwhoami with dave's old password works")
	}
	r = h.pam(t, sssdService, "dave", false, []string{newPW}, "authenticate", "acct_mgmt")
	expectPAM(t, "login with the new password", r, 0, pamAuthOK, pamAcctOK)
}

// testAdminReset: a password the administrator set must be changed at
// the next login.
func testAdminReset(t *testing.T, h *host, d *dird) {
	temp := "Temporary-Reset-Pass-5"
	if r := d.ldap(t, "", "ldappasswd", "-D", adminDN, "-w", adminPW, "-s", temp, userDN("erin")); r.exit != 0 {
		t.Fatalf("ldappasswd as admin: %s", r)
	}
	r := h.pam(t, sssdService, "erin", false, []string{temp}, "authenticate", "acct_mgmt")
	expectPAM(t, "after a reset", r, 1, pamAuthOK, "Password expired. Change your password now.", pamNewAuthtok)
	newPW := "Toxic-Chromium-Case-7"
	d.secret(newPW)
	r = h.pam(t, sssdService, "erin", false, []string{temp, temp, newPW, newPW}, "authenticate", "chauthtok")
	expectPAM(t, "forced change", r, 0, pamAuthOK, pamChangedOK)
	if !d.whoami(t, userDN("erin"), newPW) || d.whoami(t, userDN("erin"), temp) {
		t.Errorf("after the change the new password must bind and the temporary one must not")
	}
	r = h.pam(t, sssdService, "erin", false, []string{newPW}, "authenticate", "acct_mgmt")
	expectPAM(t, "login after the change", r, 0, pamAuthOK, pamAcctOK)
	if strings.Contains(r.out, "expired") {
		t.Errorf("still asked to change:\n%s", r)
	}
}

// testChauthtok is `passwd` typed by the user (not root: pam_sss asks root
// for no old password and refuses a root reset).
func testChauthtok(t *testing.T, h *host, d *dird) {
	alice := userOf(t, "alice")
	for _, bad := range []struct{ pw, rule string }{
		{"Xq9-Kw", "Password is too short for policy"},
		{"Password1", "Password fails quality checks"},
		{"Liddell-Rules-2026", "Password fails quality checks"},
	} {
		d.secret(bad.pw)
		r := h.pam(t, sssdService, "alice", true, []string{alice.password, bad.pw, bad.pw}, "chauthtok")
		expectPAM(t, "a password the policy refuses ("+bad.pw+")", r, 1, "Password change failed. Server message: ")
		if !regexp.MustCompile(`Server message: \S`).MatchString(r.out) {
			t.Errorf("the prompt does not show the rule:\n%s", r)
		}
		if !strings.Contains(r.out, bad.rule) {
			t.Errorf("the prompt does not show %q:\n%s", bad.rule, r)
		}
	}
	newPW := "Looking-Glass-House-61"
	d.secret(newPW)
	r := h.pam(t, sssdService, "alice", true, []string{alice.password, newPW, newPW}, "chauthtok")
	expectPAM(t, "passwd", r, 0, pamChangedOK)
	if !d.whoami(t, userDN("alice"), newPW) {
		t.Errorf("ldapwhoami with the new password fails")
	}
	if d.whoami(t, userDN("alice"), alice.password) {
		t.Errorf("ldapwhoami with the old password still works")
	}
	r = h.pam(t, sssdService, "alice", false, []string{newPW}, "authenticate")
	expectPAM(t, "login with the new password", r, 0, pamAuthOK)
	r = h.pam(t, sssdService, "alice", true, []string{"Not-Her-Password-1", "Another-New-One-77", "Another-New-One-77"}, "chauthtok")
	expectPAM(t, "passwd with a wrong current password", r, 1)
}

// TestSSSDLockOnExpiry: with lock_on_expiry true an expired password
// locks the account: the login is refused, and so is the password change
// SSSD tries on the same connection.
func TestSSSDLockOnExpiry(t *testing.T) {
	d := startDird(t, "max_age: 10d", "expire_warning: 7d", "lock_on_expiry: true")
	seed(t, d)
	before := len(d.searches())
	h := startSSSD(t, sssdConf(d, "rfc2307", posixGroups, ""))
	dave := userOf(t, "dave")
	d.setChanged(t, userDN("dave"), time.Now().Add(-11*24*time.Hour))
	r := h.pam(t, sssdService, "dave", false, []string{dave.password}, "authenticate", "acct_mgmt")
	// SSSD cannot tell a locked expired password from an expired one at
	// authenticate (both are invalidCredentials with passwordExpired, as
	// CONTRACT.md has it), so the refusal comes at acct_mgmt and at the
	// change.
	expectPAM(t, "login with an expired, locked password", r, 1, pamNewAuthtok)
	t.Logf("login with the expired password:\n%s", r.out)
	newPW := "Daisy-Daisy-Give-Me-8"
	d.secret(newPW)
	r = h.pam(t, sssdService, "dave", false, []string{dave.password, dave.password, newPW, newPW}, "authenticate", "chauthtok")
	expectPAM(t, "change of the locked password", r, 1, "Password change failed. Server message: password expired, contact your administrator")
	t.Logf("change at the prompt:\n%s", r.out)
	if strings.Contains(r.out, pamChangedOK) {
		t.Errorf("the change went through:\n%s", r)
	}
	if d.whoami(t, userDN("dave"), newPW) || d.whoami(t, userDN("dave"), dave.password) {
		t.Errorf("a locked account must bind with neither password")
	}
	// The refusal must not look like a server fault to SSSD (which would
	// mark the domain offline): the next user logs in at once.
	alice := userOf(t, "alice")
	r = h.pam(t, sssdService, "alice", false, []string{alice.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "another user after the refused change", r, 0, pamAuthOK, pamAcctOK)
	checkSearches(t, "SSSD (lock_on_expiry)", d, before)
}

// TestSSSDGraceLogins: with grace_logins after expiry SSSD lets the user
// in with a count of what is left, and passwd works on the grace bind's
// restricted connection.
func TestSSSDGraceLogins(t *testing.T) {
	d := startDird(t, "max_age: 10d", "expire_warning: 7d", "lock_on_expiry: false", "grace_logins: 3")
	seed(t, d)
	before := len(d.searches())
	h := startSSSD(t, sssdConf(d, "rfc2307", posixGroups, ""))
	dave := userOf(t, "dave")
	d.setChanged(t, userDN("dave"), time.Now().Add(-11*24*time.Hour))
	r := h.pam(t, sssdService, "dave", false, []string{dave.password}, "authenticate", "acct_mgmt")
	expectPAM(t, "first grace login", r, 0, pamAuthOK, pamAcctOK, "Your password has expired. You have 2 grace login(s) remaining.")
	// passwd costs one grace bind (SSSD binds with the old password, then
	// changes it on that connection).
	newPW := "Daisy-Daisy-Give-Me-8"
	d.secret(newPW)
	r = h.pam(t, sssdService, "dave", true, []string{dave.password, newPW, newPW}, "chauthtok")
	expectPAM(t, "passwd during the grace logins", r, 0, pamChangedOK)
	if !d.whoami(t, userDN("dave"), newPW) || d.whoami(t, userDN("dave"), dave.password) {
		t.Errorf("after the change the new password must bind and the old one must not")
	}
	r = h.pam(t, sssdService, "dave", false, []string{newPW}, "authenticate", "acct_mgmt")
	expectPAM(t, "login after the change", r, 0, pamAuthOK, pamAcctOK)
	if strings.Contains(r.out, "grace") {
		t.Errorf("still in grace after the change:\n%s", r)
	}
	checkSearches(t, "SSSD (grace logins)", d, before)
}

// TestSSSDChecksTheCertificate: with a CA that did not sign dird's
// certificate SSSD finds nobody and sends no password, so the tests
// above really ran over verified StartTLS.
func TestSSSDChecksTheCertificate(t *testing.T) {
	d := startDird(t)
	seed(t, d)
	otherCA, _, _ := writeCerts(t, t.TempDir())
	conf := strings.Replace(sssdConf(d, "rfc2307", posixGroups, ""), "ldap_tls_cacert = "+d.caFile, "ldap_tls_cacert = "+otherCA, 1)
	h := startSSSD(t, conf)
	if r := h.exec(t, "", false, "getent", "-s", "sss", "passwd", "alice"); r.exit == 0 {
		t.Errorf("getent found alice over a certificate SSSD cannot verify: %s", r)
	}
	alice := userOf(t, "alice")
	r := h.pam(t, sssdService, "alice", false, []string{alice.password}, "authenticate")
	expectPAM(t, "login over an unverified certificate", r, 1)
	// SSSD did reach dird and refused the certificate (a minor failure
	// in its debug output), rather than failing for another reason.
	if !strings.Contains(h.output(), "ldap_install_tls failed") {
		t.Errorf("SSSD did not report the failed TLS handshake")
	}
	for _, s := range d.searches() {
		if s.Plan != "rootDSE" {
			t.Errorf("dird answered a search although the TLS handshake should have failed: %+v", s)
		}
	}
	for _, line := range strings.Split(d.logText(), "\n") {
		if strings.Contains(line, `"msg":"ldap bind"`) && !strings.Contains(line, `"dn":"`+adminDN+`"`) {
			t.Errorf("a bind reached dird over a certificate SSSD cannot verify: %s", line)
		}
	}
}
