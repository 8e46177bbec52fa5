package opstest

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The round trip through Debian's OpenLDAP (package slapd, which make
// test-deps installs without starting its service): slapcat of a seeded
// OpenLDAP into dird import, binds on dird with the migrated {SSHA}
// passwords (LDAP and RADIUS PAP), then dird export into slapadd and binds
// on a real slapd with
// the hashes dird kept ({SSHA}) and wrote ({ARGON2}, with OpenLDAP's
// argon2 module).

// openldap is one private OpenLDAP database: a slapd.conf (no cn=config)
// with back-mdb in a temporary directory.
type openldap struct {
	t    *testing.T
	dir  string
	conf string
}

// slapTool finds an OpenLDAP server tool (they live in /usr/sbin, which a
// user's PATH may lack).
func slapTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed (Debian package slapd): run make test-deps", name)
	}
	return p
}

func newOpenLDAP(t *testing.T) *openldap {
	t.Helper()
	dir := t.TempDir()
	o := &openldap{t: t, dir: dir, conf: filepath.Join(dir, "slapd.conf")}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	modules := "moduleload back_mdb\n" +
		// The ppolicy module brings the pwd* attribute types that dird's
		// export carries.
		"moduleload ppolicy\n"
	if _, err := os.Stat("/usr/lib/ldap/argon2.la"); err == nil {
		modules += "moduleload argon2\n"
	}
	conf := `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
` + modules + `pidfile ` + filepath.Join(dir, "slapd.pid") + `
database mdb
suffix "` + baseDN + `"
rootdn "cn=Manager,` + baseDN + `"
directory ` + filepath.Join(dir, "db") + `
`
	if err := os.WriteFile(o.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return o
}

// slapadd loads ldif into the database.
func (o *openldap) slapadd(ldif string) {
	o.t.Helper()
	r := run(o.t, []byte(ldif), slapTool(o.t, "slapadd"), "-f", o.conf)
	if r.exit != 0 {
		o.t.Fatalf("slapadd: %v\ninput:\n%s", r, ldif)
	}
}

// slapcat dumps the database.
func (o *openldap) slapcat() string {
	o.t.Helper()
	r := run(o.t, nil, slapTool(o.t, "slapcat"), "-f", o.conf)
	if r.exit != 0 {
		o.t.Fatalf("slapcat: %v", r)
	}
	return r.stdout
}

// serve runs slapd in the foreground on a unix socket (no port to pick)
// until the test ends, and returns its ldapi:// URL.
func (o *openldap) serve() string {
	t := o.t
	t.Helper()
	sock := filepath.Join(o.dir, "ldapi")
	u := "ldapi://" + url.PathEscape(sock)
	// -d keeps slapd in the foreground ("none": no debug output, but the
	// lines that always print); "slapd starting" on stderr means it
	// accepts connections.
	cmd := exec.Command(slapTool(t, "slapd"), "-f", o.conf, "-h", u, "-d", "none")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var (
		mu  sync.Mutex // guards log
		log strings.Builder
	)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "slapd starting") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("slapd did not start within 30s:\n%s", log.String())
	}
	// slapd prints "slapd starting" before its listener thread calls
	// listen(2): until then a connection is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := ldap.DialURL(u)
		if err == nil {
			c.Close()
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd does not accept connections on %s: %v", u, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOpenLDAPRoundTrip(t *testing.T) {
	users := []string{"ann", "ben", "cat", "dan"}
	var seed strings.Builder
	seed.WriteString("dn: " + baseDN + "\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example Corp\n\n" +
		"dn: ou=people," + baseDN + "\nobjectClass: organizationalUnit\nou: people\n\n" +
		"dn: ou=groups," + baseDN + "\nobjectClass: organizationalUnit\nou: groups\n\n")
	for i, u := range users {
		fmt.Fprintf(&seed, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: %s\ncn: %s Example\nsn: Example\n"+
			"mail: %s@example.com\nuidNumber: %d\ngidNumber: 5000\nhomeDirectory: /home/%s\nuserPassword: %s\npwdChangedTime: 20240601120000Z\n\n",
			u, baseDN, u, u, u, 5001+i, u, ssha(userPassword(u)))
	}
	seed.WriteString("dn: cn=staff,ou=groups," + baseDN + "\nobjectClass: groupOfNames\ncn: staff\nmember: uid=ann,ou=people," + baseDN + "\n\n")

	// OpenLDAP -> dird.
	src := newOpenLDAP(t)
	src.slapadd(seed.String())
	slapcat := src.slapcat()
	if !strings.Contains(slapcat, "entryCSN: ") || !strings.Contains(slapcat, "structuralObjectClass: ") {
		t.Fatalf("slapcat output without OpenLDAP's operational attributes:\n%s", slapcat)
	}
	s := newSiteWith(t, true)
	r := run(t, []byte(slapcat), dirdBin, "import", "--config", s.cfg, "-")
	if r.exit != 0 || !strings.Contains(r.stdout, "imported 8 entries") || !strings.Contains(r.stdout, "  entryCSN                 8 entries\n") {
		t.Fatalf("dird import of slapcat output: %v", r)
	}
	d := s.serve()
	people := func(u string) string { return "uid=" + u + ",ou=people," + baseDN }
	for _, u := range users[:2] { // ann and ben: their hashes become argon2id
		if err := d.bind(people(u), userPassword(u)); err != nil {
			t.Errorf("bind as %s on dird with the migrated {SSHA} password: %v", u, err)
		}
		if err := d.bind(people(u), "Wrong-Password-1"); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Errorf("a wrong password for %s: %v", u, err)
		}
	}
	// cat over RADIUS PAP (by uid), as a VPN would ask; dan not at all,
	// so his hash stays {SSHA} for the way back.
	if !d.pap("cat", userPassword("cat")) {
		t.Error("RADIUS PAP as cat with the migrated {SSHA} password was rejected")
	}
	if d.pap("cat", "Wrong-Password-1") {
		t.Error("RADIUS PAP as cat with a wrong password was accepted")
	}
	if got := d.entry(people("ann"), "memberOf").GetAttributeValues("memberOf"); len(got) != 1 {
		t.Errorf("ann's memberOf = %q", got)
	}
	d.stop()

	// dird -> OpenLDAP.
	export := s.dird("export")
	if export.exit != 0 {
		t.Fatalf("dird export: %v", export)
	}
	if !strings.Contains(export.stdout, "userPassword: {ARGON2}$argon2id$") || !strings.Contains(export.stdout, "userPassword: {SSHA}") {
		t.Fatalf("the export should hold both upgraded and migrated hashes:\n%s", export.stdout)
	}
	dst := newOpenLDAP(t)
	dst.slapadd(export.stdout)
	back := dst.slapcat()
	for _, dn := range []string{baseDN, adminDN, people("ann"), people("dan"), "cn=staff,ou=groups," + baseDN} {
		if !strings.Contains(back, "dn: "+dn+"\n") {
			t.Errorf("slapcat after slapadd of dird's export lacks %s", dn)
		}
	}
	if !strings.Contains(back, "pwdChangedTime: 20240601120000Z\n") {
		t.Errorf("the ppolicy state did not reach OpenLDAP:\n%s", back)
	}
	ldapi := dst.serve()
	argon2 := strings.Contains(readFile(t, dst.conf), "moduleload argon2")
	for _, u := range users {
		if !argon2 && u != "dan" {
			continue
		}
		c, err := ldap.DialURL(ldapi)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Bind(people(u), userPassword(u)); err != nil {
			t.Errorf("bind as %s on slapd after the round trip: %v", u, err)
		}
		c.Close()
	}
	if !argon2 {
		t.Log("OpenLDAP's argon2 module is missing: binds with dird's argon2id hashes were not tried on slapd")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
