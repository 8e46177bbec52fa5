package ldapd_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dird/dird/internal/dirdtest"
)

const (
	peopleDN = "ou=people,dc=example,dc=com"
	aliceDN  = "uid=alice,ou=people,dc=example,dc=com"
	alicePW  = "Wonderland-2026"
)

func dial(t *testing.T, d *dirdtest.Dird) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(d.LDAPURL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func admin(t *testing.T, d *dirdtest.Dird) *ldap.Conn {
	t.Helper()
	c := dial(t, d)
	if err := c.Bind(dirdtest.AdminDN, dirdtest.AdminPassword); err != nil {
		t.Fatalf("admin bind: %v", err)
	}
	return c
}

func add(t *testing.T, c *ldap.Conn, dn string, attrs map[string][]string) {
	t.Helper()
	r := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		r.Attribute(k, v)
	}
	if err := c.Add(r); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
}

// seed adds ou=people, ou=groups, alice, bob and a group with both.
func seed(t *testing.T, d *dirdtest.Dird) {
	t.Helper()
	c := admin(t, d)
	add(t, c, peopleDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	add(t, c, "ou=groups,dc=example,dc=com", map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	for i, u := range []string{"alice", "bob"} {
		add(t, c, "uid="+u+","+peopleDN, map[string][]string{
			"objectClass":   {"inetOrgPerson", "posixAccount"},
			"cn":            {strings.ToUpper(u[:1]) + u[1:] + " Example"},
			"sn":            {"Example"},
			"mail":          {u + "@example.com"},
			"uidNumber":     {fmt.Sprint(10001 + i)},
			"gidNumber":     {"10000"},
			"homeDirectory": {"/home/" + u},
			"userPassword":  {map[string]string{"alice": alicePW, "bob": "Builder-Bob-99"}[u]},
		})
	}
	add(t, c, "cn=staff,ou=groups,dc=example,dc=com", map[string][]string{
		"objectClass": {"groupOfNames", "posixGroup"}, "cn": {"staff"}, "gidNumber": {"10000"},
		"member": {aliceDN, "uid=bob," + peopleDN},
	})
}

func code(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0
}

func TestBind(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d)
	tests := []struct {
		name     string
		dn, pw   string
		wantCode uint16
	}{
		{"admin with the right password", dirdtest.AdminDN, dirdtest.AdminPassword, 0},
		{"user with the right password", aliceDN, alicePW, 0},
		{"user DN in other case and spacing", "UID=Alice, OU=People,DC=example,DC=com", alicePW, 0},
		{"wrong password", aliceDN, "nope-nope-nope", ldap.LDAPResultInvalidCredentials},
		{"unknown DN answers like a wrong password", "uid=mallory," + peopleDN, "whatever-1", ldap.LDAPResultInvalidCredentials},
		{"DN outside the tree", "cn=x,dc=other", "whatever-1", ldap.LDAPResultInvalidCredentials},
		{"invalid DN syntax", "not a dn", "whatever-1", ldap.LDAPResultInvalidDNSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, d)
			err := c.Bind(tt.dn, tt.pw)
			if code(err) != tt.wantCode {
				t.Fatalf("bind: got %v, want code %d", err, tt.wantCode)
			}
		})
	}
	t.Run("DN with empty password is unwilling, never anonymous success", func(t *testing.T) {
		c := dial(t, d)
		_, err := c.SimpleBind(&ldap.SimpleBindRequest{Username: aliceDN, Password: "", AllowEmptyPassword: true})
		if code(err) != ldap.LDAPResultUnwillingToPerform {
			t.Fatalf("got %v, want 53", err)
		}
	})
	t.Run("SASL bind is authMethodNotSupported", func(t *testing.T) {
		c := dial(t, d)
		err := c.ExternalBind()
		if code(err) != ldap.LDAPResultAuthMethodNotSupported {
			t.Fatalf("got %v, want 7", err)
		}
	})
	t.Run("a failed bind leaves the connection anonymous", func(t *testing.T) {
		c := admin(t, d)
		c.Bind(aliceDN, "wrong-wrong-wrong")
		res, err := c.WhoAmI(nil)
		if err != nil || res.AuthzID != "" {
			t.Fatalf("whoami after failed bind: %+v %v", res, err)
		}
	})
}

func TestPasswordPolicyControlOnBind(t *testing.T) {
	clock := dirdtest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	cfg := dirdtest.Config(t)
	cfg.Policy.MaxAge = 10 * 24 * time.Hour
	cfg.Policy.LockoutThreshold = 3
	d := dirdtest.Start(t, cfg, dirdtest.Options{Now: clock.Now})
	seed(t, d)
	bindPP := func(dn, pw string) (*ldap.ControlBeheraPasswordPolicy, error) {
		c := dial(t, d)
		ctl := ldap.NewControlBeheraPasswordPolicy()
		res, err := c.SimpleBind(&ldap.SimpleBindRequest{Username: dn, Password: pw, Controls: []ldap.Control{ctl}})
		var ctls []ldap.Control
		if res != nil {
			ctls = res.Controls
		}
		var le *ldap.Error
		if errors.As(err, &le) && le.Packet != nil && len(le.Packet.Children) > 2 {
			for _, child := range le.Packet.Children[2].Children {
				if c, err := ldap.DecodeControl(child); err == nil {
					ctls = append(ctls, c)
				}
			}
		}
		if c := ldap.FindControl(ctls, ldap.ControlTypeBeheraPasswordPolicy); c != nil {
			return c.(*ldap.ControlBeheraPasswordPolicy), err
		}
		return nil, err
	}
	t.Run("no warning while far from expiry", func(t *testing.T) {
		pp, err := bindPP(aliceDN, alicePW)
		if err != nil || pp == nil || pp.Expire > 0 || pp.Grace > 0 {
			t.Fatalf("pp=%+v err=%v", pp, err)
		}
	})
	clock.Advance(5 * 24 * time.Hour)
	t.Run("warning inside expire_warning gives seconds left", func(t *testing.T) {
		pp, err := bindPP(aliceDN, alicePW)
		if err != nil || pp == nil {
			t.Fatalf("pp=%+v err=%v", pp, err)
		}
		if want := int64(5 * 24 * 3600); pp.Expire != want {
			t.Fatalf("timeBeforeExpiration = %d, want %d", pp.Expire, want)
		}
	})
	t.Run("locked account is disclosed only with the right password", func(t *testing.T) {
		for range 3 {
			if _, err := bindPP("uid=bob,"+peopleDN, "wrong-password-x"); code(err) != 49 {
				t.Fatalf("wrong bind: %v", err)
			}
		}
		pp, err := bindPP("uid=bob,"+peopleDN, "wrong-password-x")
		if code(err) != 49 || (pp != nil && pp.Error >= 0) {
			t.Fatalf("wrong password on locked account: pp=%+v err=%v", pp, err)
		}
		pp, err = bindPP("uid=bob,"+peopleDN, "Builder-Bob-99")
		if code(err) != 49 || pp == nil || pp.Error != 1 {
			t.Fatalf("right password on locked account: pp=%+v err=%v, want accountLocked", pp, err)
		}
	})
	clock.Advance(6 * 24 * time.Hour)
	t.Run("expired password is disclosed only with the right password", func(t *testing.T) {
		pp, err := bindPP(aliceDN, "wrong-password-y")
		if code(err) != 49 || (pp != nil && pp.Error >= 0) {
			t.Fatalf("wrong password: pp=%+v err=%v", pp, err)
		}
		pp, err = bindPP(aliceDN, alicePW)
		if code(err) != 49 || pp == nil || pp.Error != 0 {
			t.Fatalf("right password: pp=%+v err=%v, want passwordExpired", pp, err)
		}
	})
}

func TestMustChangeRestrictsTheConnection(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d)
	a := admin(t, d)
	if _, err := a.PasswordModify(ldap.NewPasswordModifyRequest(aliceDN, "", "Reset-By-Admin-42")); err != nil {
		t.Fatalf("admin set: %v", err)
	}
	c := dial(t, d)
	if err := c.Bind(aliceDN, "Reset-By-Admin-42"); err != nil {
		t.Fatalf("bind with admin-set password: %v", err)
	}
	_, err := c.Search(ldap.NewSearchRequest(peopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil, nil))
	if code(err) != ldap.LDAPResultInsufficientAccessRights || !strings.Contains(err.Error(), "Operations are restricted") {
		t.Fatalf("search before change: %v, want 50 restricted", err)
	}
	if _, err := c.Search(ldap.NewSearchRequest(aliceDN, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, nil)); err != nil {
		t.Fatalf("base search of own entry must stay allowed (nslcd): %v", err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", "Reset-By-Admin-42", "My-Own-Choice-77")); err != nil {
		t.Fatalf("self change: %v", err)
	}
	if _, err := c.Search(ldap.NewSearchRequest(peopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil, nil)); err != nil {
		t.Fatalf("search after change: %v", err)
	}
}

func TestSearch(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d)
	c := dial(t, d)
	if err := c.Bind(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		base   string
		scope  int
		filter string
		attrs  []string
		want   []string // DNs
	}{
		{"equality on uid", peopleDN, ldap.ScopeWholeSubtree, "(uid=alice)", nil, []string{aliceDN}},
		{"mail case-insensitive", "dc=example,dc=com", ldap.ScopeWholeSubtree, "(mail=ALICE@example.COM)", nil, []string{aliceDN}},
		{"memberOf computed", "dc=example,dc=com", ldap.ScopeWholeSubtree, "(memberOf=cn=staff,ou=groups,dc=example,dc=com)", nil, []string{aliceDN, "uid=bob," + peopleDN}},
		{"SSSD user lookup", "dc=example,dc=com", ldap.ScopeWholeSubtree, "(&(uid=bob)(objectclass=posixAccount)(uid=*)(&(uidNumber=*)(!(uidNumber=0))))", nil, []string{"uid=bob," + peopleDN}},
		{"integer ordering", peopleDN, ldap.ScopeSingleLevel, "(uidNumber>=10002)", nil, []string{"uid=bob," + peopleDN}},
		{"substrings", peopleDN, ldap.ScopeSingleLevel, "(cn=al*ex*ple)", nil, []string{aliceDN}},
		{"base scope", aliceDN, ldap.ScopeBaseObject, "(objectClass=*)", nil, []string{aliceDN}},
		{"userPassword never matches", "dc=example,dc=com", ldap.ScopeWholeSubtree, "(userPassword=*)", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Search(ldap.NewSearchRequest(tt.base, tt.scope, 0, 0, 0, false, tt.filter, tt.attrs, nil))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range res.Entries {
				got = append(got, e.DN)
				if e.GetAttributeValue("userPassword") != "" {
					t.Errorf("%s: userPassword returned", e.DN)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("userPassword is not returned when asked for", func(t *testing.T) {
		res, err := c.Search(ldap.NewSearchRequest(aliceDN, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"userPassword", "*", "+"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatal(res, err)
		}
		for _, a := range res.Entries[0].Attributes {
			if strings.EqualFold(a.Name, "userPassword") || strings.HasPrefix(strings.ToLower(a.Name), "pwd") {
				t.Fatalf("user sees %s", a.Name)
			}
		}
	})
	t.Run("size limit", func(t *testing.T) {
		res, err := c.Search(ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 2, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		if code(err) != ldap.LDAPResultSizeLimitExceeded || res == nil || len(res.Entries) != 2 {
			t.Fatalf("got %v entries, err %v", res, err)
		}
	})
	t.Run("paged results return every entry once", func(t *testing.T) {
		res, err := c.SearchWithPaging(ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil), 2)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range res.Entries {
			if seen[e.DN] {
				t.Fatalf("%s twice", e.DN)
			}
			seen[e.DN] = true
		}
		// base, admin, two ous, two users, one group
		if len(seen) != 7 || !seen[dirdtest.AdminDN] {
			t.Fatalf("got %d entries, want 7 with the administrator's: %v", len(seen), seen)
		}
	})
	t.Run("missing base is noSuchObject with matchedDN", func(t *testing.T) {
		_, err := c.Search(ldap.NewSearchRequest("uid=x,ou=nowhere,dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		var le *ldap.Error
		if !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultNoSuchObject || le.MatchedDN != "dc=example,dc=com" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("anonymous search is refused by default", func(t *testing.T) {
		anon := dial(t, d)
		_, err := anon.Search(ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		if code(err) != ldap.LDAPResultInsufficientAccessRights {
			t.Fatalf("got %v", err)
		}
		res, err := anon.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"+"}, nil))
		if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("namingContexts") != "dc=example,dc=com" {
			t.Fatalf("RootDSE: %v %v", res, err)
		}
	})
}

func TestWritesAndAccess(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d)
	a := admin(t, d)
	user := dial(t, d)
	if err := user.Bind(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	t.Run("user cannot modify another entry", func(t *testing.T) {
		m := ldap.NewModifyRequest("uid=bob,"+peopleDN, nil)
		m.Replace("mail", []string{"x@example.com"})
		if err := user.Modify(m); code(err) != ldap.LDAPResultInsufficientAccessRights {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("user cannot delete", func(t *testing.T) {
		if err := user.Del(ldap.NewDelRequest("uid=bob,"+peopleDN, nil)); code(err) != ldap.LDAPResultInsufficientAccessRights {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("admin modifies every value of a multi-valued change", func(t *testing.T) {
		m := ldap.NewModifyRequest("cn=staff,ou=groups,dc=example,dc=com", nil)
		m.Add("memberUid", []string{"alice", "bob"})
		m.Delete("member", []string{"uid=bob," + peopleDN})
		if err := a.Modify(m); err != nil {
			t.Fatal(err)
		}
		res, err := a.Search(ldap.NewSearchRequest("cn=staff,ou=groups,dc=example,dc=com", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"memberUid", "member"}, nil))
		if err != nil || len(res.Entries[0].GetAttributeValues("memberUid")) != 2 || len(res.Entries[0].GetAttributeValues("member")) != 1 {
			t.Fatalf("%v %v", res, err)
		}
	})
	t.Run("compare and modrdn by the admin", func(t *testing.T) {
		ok, err := a.Compare(aliceDN, "cn", "alice example")
		if err != nil || !ok {
			t.Fatalf("compare: %v %v", ok, err)
		}
		if _, err := a.Compare(aliceDN, "userPassword", alicePW); code(err) != ldap.LDAPResultInsufficientAccessRights {
			t.Fatalf("compare userPassword: %v", err)
		}
		if err := a.ModifyDN(ldap.NewModifyDNRequest("uid=bob,"+peopleDN, "uid=robert", true, "")); err != nil {
			t.Fatalf("modrdn: %v", err)
		}
		if err := dial(t, d).Bind("uid=robert,"+peopleDN, "Builder-Bob-99"); err != nil {
			t.Fatalf("bind after rename: %v", err)
		}
	})
	t.Run("whoami", func(t *testing.T) {
		res, err := user.WhoAmI(nil)
		if err != nil || res.AuthzID != "dn:"+aliceDN {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("unknown extended operation is protocolError", func(t *testing.T) {
		_, err := user.Extended(ldap.NewExtendedRequest("1.2.3.4.5", nil))
		if code(err) != ldap.LDAPResultProtocolError {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPasswordModifyFailureCountsOnceForNslcdRetry(t *testing.T) {
	cfg := dirdtest.Config(t)
	cfg.Policy.LockoutThreshold = 2
	d := dirdtest.Start(t, cfg, dirdtest.Options{})
	seed(t, d)
	c := dial(t, d)
	if err := c.Bind(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	// nslcd first tries without the old password, then with it.
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", "", "Brand-New-Pass-1")); code(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("without old: %v", err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", "wrong-old-password", "Brand-New-Pass-1")); code(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("wrong old: %v", err)
	}
	// One failure so far: with threshold 2 the account is not locked.
	if err := dial(t, d).Bind(aliceDN, alicePW); err != nil {
		t.Fatalf("account locked after one counted failure: %v", err)
	}
}

func TestConcurrentBindsAndSearches(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ldap.DialURL(d.LDAPURL)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := range 5 {
				if err := c.Bind(aliceDN, alicePW); err != nil {
					errs <- fmt.Errorf("worker %d bind %d: %w", i, j, err)
					return
				}
				res, err := c.Search(ldap.NewSearchRequest(peopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", []string{"cn"}, nil))
				if err != nil || len(res.Entries) != 1 {
					errs <- fmt.Errorf("worker %d search %d: %v", i, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMalformedInputClosesOnlyThatConnection(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d)
	good := dial(t, d)
	if err := good.Bind(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"garbage":          []byte("GET / HTTP/1.1\r\n\r\n"),
		"huge length":      {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01},
		"indefinite":       {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		"deep nesting":     append([]byte{0x30, 0x82, 0x0f, 0xa0}, []byte(strings.Repeat("\x30\x80", 2000))...),
		"unknown op":       {0x30, 0x05, 0x02, 0x01, 0x01, 0x7f, 0x00},
		"truncated header": {0x30},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", strings.TrimPrefix(d.LDAPURL, "ldap://"))
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(in)
			if name == "truncated header" {
				nc.(*net.TCPConn).CloseWrite()
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			for {
				if _, err := nc.Read(buf); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						t.Fatal("server kept the broken connection open")
					}
					break
				}
			}
			if _, err := good.Search(ldap.NewSearchRequest(peopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=bob)", nil, nil)); err != nil {
				t.Fatalf("other connection harmed: %v", err)
			}
		})
	}
}

func TestMaxConnections(t *testing.T) {
	cfg := dirdtest.Config(t)
	cfg.LDAP.MaxConnections = 2
	d := dirdtest.Start(t, cfg, dirdtest.Options{})
	c1, c2 := admin(t, d), admin(t, d)
	_, _ = c1, c2
	c3, err := ldap.DialURL(d.LDAPURL)
	if err == nil {
		defer c3.Close()
		err = c3.Bind(dirdtest.AdminDN, dirdtest.AdminPassword)
	}
	if err == nil {
		t.Fatal("third connection was served past max_connections 2")
	}
}

func TestAdministratorExistsFromFirstStart(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	a := admin(t, d)
	res, err := a.Search(ldap.NewSearchRequest(dirdtest.AdminDN, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=organizationalRole)", nil, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("administrator's entry: %v %v", res, err)
	}
	err = a.Add(&ldap.AddRequest{DN: dirdtest.AdminDN, Attributes: []ldap.Attribute{
		{Type: "objectClass", Vals: []string{"inetOrgPerson"}}, {Type: "sn", Vals: []string{"x"}}, {Type: "userPassword", Vals: []string{"Impostor-Pass-1"}}}})
	if code(err) != ldap.LDAPResultEntryAlreadyExists {
		t.Fatalf("adding an entry at the administrator's DN: %v, want 68", err)
	}
}
