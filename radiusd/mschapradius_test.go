package radiusd_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2868"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/microsoft"

	"github.com/dird/dird/internal/dirdtest"
	"github.com/dird/dird/radiusd"
	"github.com/dird/dird/store"
)

// expectMSCHAPReject checks an MS-CHAPv2 Access-Reject: MS-CHAP-Error
// "E=code R=0 C=<32 hex> V=3 M=message" after the response's Ident
// (RFC 2759 §6), the same words in a Reply-Message, and nothing else
// that a reject must not carry.
func expectMSCHAPReject(t *testing.T, p *radius.Packet, ident byte, code int, message string) {
	t.Helper()
	if p.Code != radius.CodeAccessReject {
		t.Fatalf("reply %s, want Access-Reject (Reply-Message %q)", p.Code, rfc2865.ReplyMessage_GetString(p))
	}
	if got := rfc2865.ReplyMessage_GetString(p); got != message {
		t.Errorf("Reply-Message %q, want %q", got, message)
	}
	e, err := microsoft.MSCHAPError_Lookup(p)
	if err != nil || len(e) < 2 {
		t.Fatalf("no MS-CHAP-Error: %v", err)
	}
	if e[0] != ident {
		t.Errorf("MS-CHAP-Error ident %#x, want %#x", e[0], ident)
	}
	want := regexp.MustCompile(fmt.Sprintf(`^E=%d R=0 C=[0-9A-F]{32} V=3 M=%s$`, code, regexp.QuoteMeta(message)))
	if !want.Match(e[1:]) {
		t.Errorf("MS-CHAP-Error %q, want %s", e[1:], want)
	}
	for _, a := range p.Attributes {
		switch a.Type {
		case rfc2869.MessageAuthenticator_Type, rfc2865.ReplyMessage_Type, rfc2865.ProxyState_Type, rfc2865.VendorSpecific_Type:
		default:
			t.Errorf("Access-Reject carries attribute %d", a.Type)
		}
	}
	if n := len(microsoftAttrs(p)); n != 1 {
		t.Errorf("Access-Reject carries %d Microsoft attributes, want only MS-CHAP-Error", n)
	}
}

// microsoftAttrs lists the vendor types of p's Microsoft attributes.
func microsoftAttrs(p *radius.Packet) []byte {
	var types []byte
	for _, a := range p.Attributes {
		if a.Type == rfc2865.VendorSpecific_Type {
			if id, v, err := radius.VendorSpecific(a.Attribute); err == nil && id == 311 && len(v) > 0 {
				types = append(types, v[0])
			}
		}
	}
	return types
}

// expectMSCHAPAccept checks an MS-CHAPv2 Access-Accept against what the
// RFCs say a for a: MS-CHAP2-Success with the authenticator response
// the peer checks, and MPPE keys that decrypt to RFC 3079's keys.
func expectMSCHAPAccept(t *testing.T, p *radius.Packet, req *radius.Packet, a *mschapAttempt, message string) {
	t.Helper()
	if p.Code != radius.CodeAccessAccept {
		t.Fatalf("reply %s, want Access-Accept (Reply-Message %q, MS-CHAP-Error %q)", p.Code,
			rfc2865.ReplyMessage_GetString(p), microsoft.MSCHAPError_Get(p))
	}
	if got := rfc2865.ReplyMessage_GetString(p); got != message {
		t.Errorf("Reply-Message %q, want %q", got, message)
	}
	success := microsoft.MSCHAP2Success_Get(p)
	if want := append([]byte{a.ident}, a.authenticatorResponse()...); !bytes.Equal(success, want) {
		t.Errorf("MS-CHAP2-Success %q, want %q", success, want)
	}
	wantSend, wantRecv := a.serverKeys()
	var gotSend, gotRecv []byte
	for _, attr := range p.Attributes {
		if attr.Type != rfc2865.VendorSpecific_Type {
			continue
		}
		id, v, err := radius.VendorSpecific(attr.Attribute)
		if err != nil || id != 311 || len(v) < 2 {
			continue
		}
		switch v[0] {
		case 16: // MS-MPPE-Send-Key
			gotSend = decryptMPPEKey(t, v[2:], req.Authenticator[:])
		case 17: // MS-MPPE-Recv-Key
			gotRecv = decryptMPPEKey(t, v[2:], req.Authenticator[:])
		}
	}
	if !bytes.Equal(gotSend, wantSend) {
		t.Errorf("MS-MPPE-Send-Key decrypts to %x, want RFC 3079's server send key %x", gotSend, wantSend)
	}
	if !bytes.Equal(gotRecv, wantRecv) {
		t.Errorf("MS-MPPE-Recv-Key decrypts to %x, want RFC 3079's server receive key %x", gotRecv, wantRecv)
	}
	if pol, err := microsoft.MSMPPEEncryptionPolicy_Lookup(p); err != nil || pol != 1 {
		t.Errorf("MS-MPPE-Encryption-Policy %d (%v), want 1 (allowed)", pol, err)
	}
	if typ, err := microsoft.MSMPPEEncryptionTypes_Lookup(p); err != nil || typ != 4 {
		t.Errorf("MS-MPPE-Encryption-Types %d (%v), want 4 (128-bit)", typ, err)
	}
}

// mschapExchange sends a's request from n and returns request and reply.
func mschapExchange(t *testing.T, n *nas, a *mschapAttempt) (req, reply *radius.Packet) {
	t.Helper()
	req = a.request(t)
	return req, n.exchange(sign(t, req, secret))
}

// sshaOf is an OpenLDAP {SSHA} value of pw, as a migration brings it.
func sshaOf(pw string) string {
	salt := []byte("NaCl-salt")
	sum := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

func TestMSCHAPv2(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := dirdtest.Config(t)
	cfg.Policy.NTHash = true
	cfg.Policy.MaxAge = 90 * 24 * time.Hour
	cfg.Policy.ExpireWarning = 14 * 24 * time.Hour
	cfg.Policy.LockoutThreshold = 3
	clock := dirdtest.NewClock(now)
	d := dirdtest.Start(t, cfg, dirdtest.Options{Now: clock.Now})
	pw := map[string]string{
		"alice": alicePW, "bob": "Builder-Bob-99", "locked": "Behind-Bars-101", "expired": "Old-As-The-Hills-2",
		"soon": "Nearly-Due-33", "victim": "Right-Password-6", "migrated": "Came-From-Ldap-7", "renamed": "New-Name-Same-8",
	}
	seed(t, d, pw)
	// migrated's password arrived as a hash: no NT hash can be computed.
	modify(t, d, "migrated", "userPassword", sshaOf(pw["migrated"]))

	t.Run("right password is accepted with the authenticator response and MPPE keys", func(t *testing.T) {
		t.Parallel()
		a := newAttempt(t, "alice", alicePW)
		req, rep := mschapExchange(t, newNAS(t, d), a)
		expectMSCHAPAccept(t, rep, req, a, "")
	})
	t.Run("a Windows domain before the name is ignored", func(t *testing.T) {
		t.Parallel()
		a := newAttempt(t, `EXAMPLE\bob`, pw["bob"])
		req, rep := mschapExchange(t, newNAS(t, d), a)
		expectMSCHAPAccept(t, rep, req, a, "")
	})
	t.Run("wrong password is 691 and counts toward the lockout LDAP sees", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		for i := range 3 {
			a := newAttempt(t, "victim", fmt.Sprintf("wrong-password-%d", i))
			_, rep := mschapExchange(t, n, a)
			expectMSCHAPReject(t, rep, a.ident, 691, "Wrong user name or password")
		}
		if got := failures(t, d, "victim"); got != 3 {
			t.Errorf("pwdFailureTime has %d values, want 3", got)
		}
		if err := ldapBind(t, d, "victim", pw["victim"]); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Errorf("LDAP bind with the right password after 3 MS-CHAPv2 failures: %v, want invalidCredentials (locked)", err)
		}
		a := newAttempt(t, "victim", pw["victim"])
		_, rep := mschapExchange(t, n, a)
		expectMSCHAPReject(t, rep, a.ident, 647, "Your account is locked; contact your administrator")
	})
	t.Run("unknown user is 691 like a wrong password", func(t *testing.T) {
		t.Parallel()
		a := newAttempt(t, "mallory", "whatever-123")
		_, rep := mschapExchange(t, newNAS(t, d), a)
		expectMSCHAPReject(t, rep, a.ident, 691, "Wrong user name or password")
	})
	t.Run("locked account is 647, said only with the right password", func(t *testing.T) {
		t.Parallel()
		modify(t, d, "locked", "pwdAccountLockedTime", "000001010000Z")
		n := newNAS(t, d)
		a := newAttempt(t, "locked", pw["locked"])
		_, rep := mschapExchange(t, n, a)
		expectMSCHAPReject(t, rep, a.ident, 647, "Your account is locked; contact your administrator")
		a = newAttempt(t, "locked", "wrong-password-9")
		_, rep = mschapExchange(t, n, a)
		expectMSCHAPReject(t, rep, a.ident, 691, "Wrong user name or password")
	})
	t.Run("expired password is 648, said only with the right password", func(t *testing.T) {
		t.Parallel()
		modify(t, d, "expired", "pwdChangedTime", store.FormatTime(now.Add(-100*24*time.Hour)))
		a := newAttempt(t, "expired", pw["expired"])
		_, rep := mschapExchange(t, newNAS(t, d), a)
		expectMSCHAPReject(t, rep, a.ident, 648, "Your password has expired; change it in the portal or contact your administrator")
	})
	t.Run("expiring soon is accepted with a warning", func(t *testing.T) {
		t.Parallel()
		modify(t, d, "soon", "pwdChangedTime", store.FormatTime(now.Add(-85*24*time.Hour)))
		a := newAttempt(t, "soon", pw["soon"])
		req, rep := mschapExchange(t, newNAS(t, d), a)
		expectMSCHAPAccept(t, rep, req, a, "Your password expires in 5 days")
	})
	t.Run("a password kept only as a hash is refused until a cleartext login", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		a := newAttempt(t, "migrated", pw["migrated"])
		_, rep := mschapExchange(t, n, a)
		expectMSCHAPReject(t, rep, a.ident, 691, "Wrong user name or password")
		waitLog(t, d, "no NT hash is kept for this user")
		if got := failures(t, d, "migrated"); got != 0 {
			t.Errorf("a refusal for want of an NT hash recorded %d failures, want 0", got)
		}
		// One PAP login fills in the NT hash.
		expect(t, n.exchange(sign(t, accessRequest(t, "migrated", pw["migrated"]), secret)), radius.CodeAccessAccept, "")
		a = newAttempt(t, "migrated", pw["migrated"])
		req, rep := mschapExchange(t, n, a)
		expectMSCHAPAccept(t, rep, req, a, "")
	})
	t.Run("a renamed entry needs one cleartext login before MS-CHAPv2 again", func(t *testing.T) {
		t.Parallel()
		// The sealed NT hash is bound to the DN it was sealed for.
		if err := ldapAdmin(t, d).ModifyDN(ldap.NewModifyDNRequest(userDN("renamed"), "uid=renamed2", true, "")); err != nil {
			t.Fatalf("modrdn: %v", err)
		}
		n := newNAS(t, d)
		a := newAttempt(t, "renamed2", pw["renamed"])
		_, rep := mschapExchange(t, n, a)
		expectMSCHAPReject(t, rep, a.ident, 691, "Wrong user name or password")
		expect(t, n.exchange(sign(t, accessRequest(t, "renamed2", pw["renamed"]), secret)), radius.CodeAccessAccept, "")
		a = newAttempt(t, "renamed2", pw["renamed"])
		req, rep := mschapExchange(t, n, a)
		expectMSCHAPAccept(t, rep, req, a, "")
	})
	t.Run("MS-CHAPv1 is refused with a log line", func(t *testing.T) {
		t.Parallel()
		p := radius.New(radius.CodeAccessRequest, []byte(secret))
		rfc2865.UserName_SetString(p, "alice")
		microsoft.MSCHAPChallenge_Add(p, make([]byte, 8))
		microsoft.MSCHAPResponse_Add(p, make([]byte, 50))
		expect(t, newNAS(t, d).exchange(sign(t, p, secret)), radius.CodeAccessReject, "MS-CHAP version 1 is not accepted; use MS-CHAPv2 or PAP")
		waitLog(t, d, "MS-CHAP version 1 (MS-CHAP-Response) is refused")
	})
	t.Run("malformed MS-CHAPv2 requests are rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		a := newAttempt(t, "alice", alicePW)
		short := radius.New(radius.CodeAccessRequest, []byte(secret))
		rfc2865.UserName_SetString(short, "alice")
		microsoft.MSCHAPChallenge_Add(short, a.authChallenge[:])
		short.Add(rfc2865.VendorSpecific_Type, msVSA(t, 25, a.response()[:49])) // layeh's Add refuses the length
		expectMSCHAPReject(t, n.exchange(sign(t, short, secret)), a.ident, 691, "The MS-CHAPv2 request was malformed; check the access point or VPN configuration")
		noChallenge := radius.New(radius.CodeAccessRequest, []byte(secret))
		rfc2865.UserName_SetString(noChallenge, "alice")
		microsoft.MSCHAP2Response_Add(noChallenge, a.response())
		expectMSCHAPReject(t, n.exchange(sign(t, noChallenge, secret)), a.ident, 691, "The MS-CHAPv2 request was malformed; check the access point or VPN configuration")
		if got := failures(t, d, "alice"); got != 0 {
			t.Errorf("malformed requests recorded %d failures, want 0", got)
		}
	})
	t.Run("the NT hash is never returned by a search", func(t *testing.T) {
		t.Parallel()
		for _, who := range []struct{ dn, pw string }{{dirdtest.AdminDN, dirdtest.AdminPassword}, {userDN("bob"), pw["bob"]}} {
			c, err := ldap.DialURL(d.LDAPURL)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Bind(who.dn, who.pw); err != nil {
				t.Fatalf("bind %s: %v", who.dn, err)
			}
			for _, filter := range []string{"(uid=alice)", "(dirdNTHash=*)"} {
				res, err := c.Search(ldap.NewSearchRequest(dirdtest.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
					filter, []string{"*", "+", "dirdNTHash"}, nil))
				if err != nil {
					t.Fatalf("search %s as %s: %v", filter, who.dn, err)
				}
				if filter == "(uid=alice)" && len(res.Entries) != 1 {
					t.Fatalf("search %s as %s found %d entries", filter, who.dn, len(res.Entries))
				}
				if filter == "(dirdNTHash=*)" && len(res.Entries) != 0 {
					t.Errorf("filter (dirdNTHash=*) matched %d entries as %s; it must match none", len(res.Entries), who.dn)
				}
				for _, e := range res.Entries {
					for _, a := range e.Attributes {
						if strings.EqualFold(a.Name, "dirdNTHash") || strings.Contains(strings.Join(a.Values, ""), "{SEALED}") {
							t.Errorf("search as %s returned %s of %s", who.dn, a.Name, e.DN)
						}
					}
				}
			}
		}
	})
}

func TestMSCHAPv2WithoutNTHash(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d, map[string]string{"alice": alicePW})
	a := newAttempt(t, "alice", alicePW)
	_, rep := mschapExchange(t, newNAS(t, d), a)
	expectMSCHAPReject(t, rep, a.ident, 691, "MS-CHAPv2 is not available on this server; use PAP")
	waitLog(t, d, "MSCHAPv2 needs policy.nt_hash: true")
	if got := failures(t, d, "alice"); got != 0 {
		t.Errorf("an MS-CHAPv2 request with nt_hash off recorded %d failures, want 0", got)
	}
}

// addGroup adds a groupOfNames under ou=people with the given members.
func addGroup(t *testing.T, d *dirdtest.Dird, cn string, uids ...string) {
	t.Helper()
	r := ldap.NewAddRequest("cn="+cn+","+peopleDN, nil)
	r.Attribute("objectClass", []string{"groupOfNames"})
	r.Attribute("cn", []string{cn})
	var members []string
	for _, u := range uids {
		members = append(members, userDN(u))
	}
	r.Attribute("member", members)
	if err := ldapAdmin(t, d).Add(r); err != nil {
		t.Fatalf("add group %s: %v", cn, err)
	}
}

// addPosixGroup adds a posixGroup with memberUid values.
func addPosixGroup(t *testing.T, d *dirdtest.Dird, cn string, uids ...string) {
	t.Helper()
	r := ldap.NewAddRequest("cn="+cn+","+peopleDN, nil)
	r.Attribute("objectClass", []string{"posixGroup"})
	r.Attribute("cn", []string{cn})
	r.Attribute("gidNumber", []string{"5000"})
	r.Attribute("memberUid", uids)
	if err := ldapAdmin(t, d).Add(r); err != nil {
		t.Fatalf("add group %s: %v", cn, err)
	}
}

// vlanOf returns the VLAN of an Access-Accept's RFC 3580 attributes, ""
// when it has none, failing on a half set.
func vlanOf(t *testing.T, p *radius.Packet) string {
	t.Helper()
	_, tt, errT := rfc2868.TunnelType_Lookup(p)
	_, mt, errM := rfc2868.TunnelMediumType_Lookup(p)
	raw, okID := p.Lookup(rfc2868.TunnelPrivateGroupID_Type)
	if errT != nil && errM != nil && !okID {
		return ""
	}
	if errT != nil || errM != nil || !okID || tt != 13 || mt != 6 {
		t.Fatalf("VLAN attributes: Tunnel-Type %d (%v), Tunnel-Medium-Type %d (%v), Tunnel-Private-Group-ID %q", tt, errT, mt, errM, raw)
	}
	return string(raw)
}

func TestAuthorization(t *testing.T) {
	users := map[string]string{
		"alice": alicePW, "carol": "Sings-Loudly-42", "erin": "Brock-Hollow-77", "dave": "Space-Odyssey-2001", "pat": "Posix-Only-55",
	}
	replies := map[string]radiusd.GroupReply{
		"staff":                              {VLAN: 10, FilterID: "staff-acl"},
		"cn=ops,ou=people,dc=example,dc=com": {VLAN: 20, Class: "ops"},
		"unix":                               {VLAN: 30},
	}
	setup := func(t *testing.T, groups ...string) *dirdtest.Dird {
		cfg := dirdtest.Config(t)
		cfg.Policy.NTHash = true
		cfg.Radius.Clients[0].Groups = groups
		cfg.Radius.GroupReplies = replies
		d := dirdtest.Start(t, cfg, dirdtest.Options{})
		seed(t, d, users)
		addGroup(t, d, "staff", "alice", "erin")
		addGroup(t, d, "ops", "carol", "erin")
		addPosixGroup(t, d, "unix", "pat")
		return d
	}

	t.Run("group replies", func(t *testing.T) {
		d := setup(t)
		tests := []struct {
			uid, vlan string
			filterID  []string
			class     []string
		}{
			{"alice", "10", []string{"staff-acl"}, nil},
			{"carol", "20", nil, []string{"ops"}},
			// In both: the VLAN of the key that sorts first (the DN),
			// Filter-Id and Class from both.
			{"erin", "20", []string{"staff-acl"}, []string{"ops"}},
			{"pat", "30", nil, nil},
			{"dave", "", nil, nil},
		}
		// A group of parallel subtests, so that the log is read after all.
		t.Run("each user", func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.uid+" over PAP and MS-CHAPv2", func(t *testing.T) {
					t.Parallel()
					n := newNAS(t, d)
					pap := n.exchange(sign(t, accessRequest(t, tt.uid, users[tt.uid]), secret))
					a := newAttempt(t, tt.uid, users[tt.uid])
					req, ms := mschapExchange(t, n, a)
					expectMSCHAPAccept(t, ms, req, a, "")
					for _, p := range []*radius.Packet{pap, ms} {
						if p.Code != radius.CodeAccessAccept {
							t.Fatalf("reply %s, want Access-Accept", p.Code)
						}
						if got := vlanOf(t, p); got != tt.vlan {
							t.Errorf("VLAN %q, want %q", got, tt.vlan)
						}
						if got, _ := rfc2865.FilterID_GetStrings(p); !equalStrings(got, tt.filterID) {
							t.Errorf("Filter-Id %q, want %q", got, tt.filterID)
						}
						if got, _ := rfc2865.Class_Gets(p); !equalStrings(bytesToStrings(got), tt.class) {
							t.Errorf("Class %q, want %q", got, tt.class)
						}
					}
				})
			}
		})
		if strings.Count(d.Log.String(), "several groups with a VLAN") == 0 {
			t.Error("a member of two groups with a VLAN was not logged")
		}
	})

	t.Run("a client restricted to groups", func(t *testing.T) {
		d := setup(t, "staff", "cn=unix,ou=people,dc=example,dc=com")
		tests := []struct {
			uid string
			in  bool
		}{
			{"alice", true}, {"erin", true}, {"pat", true}, {"carol", false}, {"dave", false},
		}
		t.Run("each user", func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.uid, func(t *testing.T) {
					t.Parallel()
					n := newNAS(t, d)
					pap := n.exchange(sign(t, accessRequest(t, tt.uid, users[tt.uid]), secret))
					a := newAttempt(t, tt.uid, users[tt.uid])
					req, ms := mschapExchange(t, n, a)
					if tt.in {
						expect(t, pap, radius.CodeAccessAccept, "")
						expectMSCHAPAccept(t, ms, req, a, "")
						return
					}
					const msg = "You are not allowed to connect through this access point or VPN; contact your administrator"
					expect(t, pap, radius.CodeAccessReject, msg)
					expectMSCHAPReject(t, ms, a.ident, 649, msg)
					if got := failures(t, d, tt.uid); got != 0 {
						t.Errorf("a refusal for want of a group recorded %d failures, want 0", got)
					}
				})
			}
		})
		waitLog(t, d, "not a member of any of the client's groups")
		// Wrong password before group membership: still 691.
		a := newAttempt(t, "carol", "wrong-password-1")
		_, rep := mschapExchange(t, newNAS(t, d), a)
		expectMSCHAPReject(t, rep, a.ident, 691, "Wrong user name or password")
	})
}

// msVSA is a Microsoft Vendor-Specific attribute of any length.
func msVSA(t *testing.T, typ byte, v []byte) radius.Attribute {
	t.Helper()
	a, err := radius.NewVendorSpecific(311, append([]byte{typ, byte(2 + len(v))}, v...))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func equalStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

func bytesToStrings(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}
