package opstest

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// TestMigrateFromSlapcat follows README's "Migrating from OpenLDAP": a
// slapcat file into a store never served, then dird serve, and the users
// bind with the passwords they had.
func TestMigrateFromSlapcat(t *testing.T) {
	s := newSite(t)
	r := s.dird("import", "testdata/slapcat.ldif")
	if r.exit != 0 || r.stderr != "" {
		t.Fatalf("dird import: %v", r)
	}
	for _, want := range []string{
		"imported 9 entries from testdata/slapcat.ldif in ",
		"hashed 1 cleartext password (each checked against the password policy first)\n",
		"dropped attributes (OpenLDAP internals, and what dird computes itself):\n" +
			"  contextCSN               1 entry\n" +
			"  entryCSN                 9 entries\n" +
			"  memberOf                 2 entries\n" +
			"  pwdPolicySubentry        1 entry\n" +
			"  structuralObjectClass    9 entries\n",
		"records left out:\n" +
			"  line 23: cn=admin,dc=example,dc=com: the administrator's entry carries a password here; dird keeps that entry itself and checks admin.password from its configuration\n" +
			"  line 83: cn=default,ou=policies,dc=example,dc=com: a password policy entry (objectClass pwdPolicy): dird has one policy, set in the policy section of its configuration\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the summary lacks\n%s\n%v", want, r)
		}
	}

	d := s.serve()
	people := func(uid string) string { return "uid=" + uid + ",ou=people," + baseDN }
	// {SSHA} and {CRYPT}$6$ hashes kept; the cleartext one hashed.
	if err := d.bind(people("alice"), "Alice-New-2025"); err != nil {
		t.Errorf("alice ({SSHA}): %v", err)
	}
	if err := d.bind(people("dave"), "Quiet-Harbor-58"); err != nil {
		t.Errorf("dave (cleartext in the file): %v", err)
	}
	// ppolicy state kept: carol is locked (the right password is refused),
	// bob must change his at once.
	if err := d.bind(people("carol"), "Carol-Pass-2024"); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
		t.Errorf("carol, locked in OpenLDAP: %v, want invalidCredentials", err)
	}
	c := d.dial()
	ctrl := ldap.NewControlBeheraPasswordPolicy()
	res, err := c.SimpleBind(&ldap.SimpleBindRequest{Username: people("bob"), Password: "Bob-Reset-2025", Controls: []ldap.Control{ctrl}})
	if err != nil {
		t.Errorf("bob ({SSHA}, pwdReset): %v", err)
	} else if pp, ok := ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy); !ok || pp.Error != 2 {
		t.Errorf("bob's bind did not say changeAfterReset: %v", res.Controls)
	}
	c.Close()

	alice := d.entry(people("alice"), "*", "+")
	for attr, want := range map[string][]string{
		"entryUUID":       {"5f3e8e9c-7f30-1041-85a5-878e8915a138"},
		"createTimestamp": {"20240315093149Z"},
		"modifiersName":   {people("alice")},
		"pwdHistory":      {"20241128043202Z#1.3.6.1.4.1.1466.115.121.1.40#38#{SSHA}bqsKJH27OwrdDp1MtkgjDb93LixuLDLE"},
		"memberOf":        {"cn=staff,ou=groups," + baseDN}, // recomputed from the group
	} {
		if got := alice.GetAttributeValues(attr); !slices.Equal(got, want) {
			t.Errorf("alice's %s = %q, want %q", attr, got, want)
		}
	}
	if v := alice.GetAttributeValues("entryCSN"); len(v) > 0 {
		t.Errorf("entryCSN was kept: %q", v)
	}
	if d.entry("cn=default,ou=policies,"+baseDN) != nil {
		t.Error("the pwdPolicy entry was imported")
	}
	admin := d.entry(adminDN, "objectClass")
	if admin == nil || slices.Contains(admin.GetAttributeValues("objectClass"), "simpleSecurityObject") {
		t.Errorf("the administrator's entry is not dird's own: %v", admin)
	}

	// Import needs the server stopped, and says so.
	r = s.dird("import", "testdata/slapcat.ldif")
	if r.exit != 1 || r.stderr != "dird import: the store at "+s.store+" is in use by a running dird serve; stop it first\n" || r.stdout != "" {
		t.Errorf("import while serving: %v", r)
	}
	// Export works while serving (through the control socket) and after.
	live := s.dird("export")
	if live.exit != 0 || !strings.Contains(live.stdout, "dn: uid=carol,ou=people,dc=example,dc=com\n") ||
		!strings.Contains(live.stdout, "pwdAccountLockedTime: 000001010000Z\n") {
		t.Errorf("export while serving: %v", live)
	}
	d.stop()
	stopped := s.dird("export")
	if stopped.exit != 0 || stopped.stdout != live.stdout {
		t.Errorf("export of the stopped server differs from the live one:\n%s\nwant\n%s", stopped.stdout, live.stdout)
	}
}

// TestImportFromStdinWithErrors checks the command line: standard input,
// a bad record reported with its line, exit status 1, and
// --continue-on-error.
func TestImportFromStdinWithErrors(t *testing.T) {
	src, err := os.ReadFile("testdata/slapcat.ldif")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "dn: uid=dave,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n",
		"dn: uid=dave,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n", 1)
	s := newSite(t)
	r := run(t, []byte(bad), dirdBin, "import", "--config", s.cfg, "-")
	want := "dird import: line 170: uid=dave,ou=people,dc=example,dc=com: store: object class violation: object class 'posixAccount' requires attribute 'uidNumber'\n" +
		"dird import: 1 of 11 records cannot be imported; nothing was written\n"
	if r.exit != 1 || r.stderr != want {
		t.Errorf("import of a bad file: %v\nwant stderr\n%s", r, want)
	}
	r = run(t, []byte(bad), dirdBin, "import", "--continue-on-error", "--config", s.cfg, "-")
	if r.exit != 1 || !strings.HasSuffix(r.stderr, "dird import: 1 of 11 records were not imported\n") ||
		!strings.Contains(r.stdout, "imported 8 entries from standard input") {
		t.Errorf("import --continue-on-error: %v", r)
	}
	d := s.serve()
	if err := d.bind("uid=alice,ou=people,"+baseDN, "Alice-New-2025"); err != nil {
		t.Errorf("alice after a partial import: %v", err)
	}
}
