package radiusd

import (
	"bytes"
	"strings"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/microsoft"
)

// TestVerifyMSCHAPv2 runs the one MS-CHAPv2 check on RFC 2759 §9.2's
// worked example (user "User", password "clientPass"), whose
// authenticator response and RFC 3079 §3.5.3 send key are known.
func TestVerifyMSCHAPv2(t *testing.T) {
	authChallenge := unhex(t, "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28")
	peerChallenge := unhex(t, "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E")
	ntResponse := unhex(t, "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF")
	h := ntPasswordHash("clientPass")
	ntHash := h[:]
	const wantAuth = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
	wantSend := unhex(t, "8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")
	flipped := bytes.Clone(ntResponse)
	flipped[23] ^= 1
	other := ntPasswordHash("clientPasS")

	ok, proof := verifyMSCHAPv2(ntHash, authChallenge, peerChallenge, "User", ntResponse)
	if !ok {
		t.Fatal("RFC 2759's example response does not verify")
	}
	if proof.AuthenticatorResponse != wantAuth {
		t.Errorf("authenticator response %s, want %s", proof.AuthenticatorResponse, wantAuth)
	}
	if !bytes.Equal(proof.SendKey[:], wantSend) {
		t.Errorf("send key %X, want RFC 3079's %X", proof.SendKey, wantSend)
	}
	if proof.RecvKey == proof.SendKey || proof.RecvKey == [16]byte{} {
		t.Errorf("receive key %X", proof.RecvKey)
	}
	refused := []struct {
		name                     string
		ntHash, auth, peer, resp []byte
		user                     string
	}{
		{"another password", other[:], authChallenge, peerChallenge, ntResponse, "User"},
		{"another user name", ntHash, authChallenge, peerChallenge, ntResponse, "user"},
		{"a changed response", ntHash, authChallenge, peerChallenge, flipped, "User"},
		{"another challenge", ntHash, peerChallenge, authChallenge, ntResponse, "User"},
		{"a short NT hash", ntHash[:15], authChallenge, peerChallenge, ntResponse, "User"},
		{"a short challenge", ntHash, authChallenge[:8], peerChallenge, ntResponse, "User"},
		{"a short peer challenge", ntHash, authChallenge, peerChallenge[:15], ntResponse, "User"},
		{"a short response", ntHash, authChallenge, peerChallenge, ntResponse[:23], "User"},
		{"no NT hash", nil, authChallenge, peerChallenge, ntResponse, "User"},
	}
	for _, tc := range refused {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			ok, proof := verifyMSCHAPv2(tc.ntHash, tc.auth, tc.peer, tc.user, tc.resp)
			if ok || proof != (mschapv2Proof{}) {
				t.Errorf("verifyMSCHAPv2 = %v, %+v; want false and no proof", ok, proof)
			}
		})
	}
}

func TestNTUserName(t *testing.T) {
	for in, want := range map[string]string{
		"alice":             "alice",
		`EXAMPLE\alice`:     "alice",
		`a\b\alice`:         "alice",
		"alice@example.com": "alice@example.com",
		`EXAMPLE\`:          "",
	} {
		if got := ntUserName(in); got != want {
			t.Errorf("ntUserName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMSCHAPRejectAttributes(t *testing.T) {
	r := mschapReject(7, mschapErrPasswdExpired, "Your password has expired")
	p := &radius.Packet{Attributes: r.attrs}
	e, err := microsoft.MSCHAPError_Lookup(p)
	if err != nil || e[0] != 7 || !strings.HasPrefix(string(e[1:]), "E=648 R=0 C=") || !strings.HasSuffix(string(e), " V=3 M=Your password has expired") {
		t.Fatalf("MS-CHAP-Error %q (%v)", e, err)
	}
	if r.code != radius.CodeAccessReject || r.message != "Your password has expired" {
		t.Errorf("reply %v %q", r.code, r.message)
	}
	// encodeReply keeps MS-CHAP-Error in an Access-Reject and drops any
	// other vendor attribute (RFC 5080 §2.6.1: nothing that grants).
	req := &radius.Packet{Code: radius.CodeAccessRequest, Identifier: 3}
	keys, err := mschapAcceptAttrs(7, mschapv2Proof{AuthenticatorResponse: "S=00"}, []byte(testSecret), req.Authenticator)
	if err != nil {
		t.Fatal(err)
	}
	attrs := append(append(radius.Attributes{}, r.attrs...), keys...)
	attrs = append(attrs, &radius.AVP{Type: rfc2865.FilterID_Type, Attribute: radius.Attribute("x")})
	b, err := encodeReply(radius.CodeAccessReject, req, attrs, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	got, err := radius.Parse(b, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Attributes); n != 2 { // Message-Authenticator, MS-CHAP-Error
		t.Errorf("Access-Reject has %d attributes, want 2", n)
	}
	if _, err := microsoft.MSCHAPError_Lookup(got); err != nil {
		t.Errorf("MS-CHAP-Error dropped from the Access-Reject: %v", err)
	}
}

func TestAuthzConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{Listen: "127.0.0.1:1812", Clients: []Client{{Name: "ap", Address: "10.0.0.0/24", Secret: "s"}}}
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // "" : valid
	}{
		{"groups by name and DN", func(c *Config) { c.Clients[0].Groups = []string{"staff", "cn=vpn,ou=groups,dc=example,dc=com"} }, ""},
		{"an empty group name", func(c *Config) { c.Clients[0].Groups = []string{" "} }, "radius.clients[0].groups[0]: empty group name"},
		{"a bad DN", func(c *Config) { c.Clients[0].Groups = []string{"cn=vpn,,dc=x"} }, "radius.clients[0].groups[0]:"},
		{"a VLAN reply", func(c *Config) { c.GroupReplies = map[string]GroupReply{"staff": {VLAN: 10}} }, ""},
		{"filter and class only", func(c *Config) { c.GroupReplies = map[string]GroupReply{"staff": {FilterID: "f", Class: "c"}} }, ""},
		{"VLAN 4095", func(c *Config) { c.GroupReplies = map[string]GroupReply{"staff": {VLAN: 4095}} }, `radius.group_replies["staff"].vlan:`},
		{"a negative VLAN", func(c *Config) { c.GroupReplies = map[string]GroupReply{"staff": {VLAN: -1}} }, `radius.group_replies["staff"].vlan:`},
		{"a reply that sets nothing", func(c *Config) { c.GroupReplies = map[string]GroupReply{"staff": {}} }, `radius.group_replies["staff"]: sets nothing`},
		{"a Filter-Id too long", func(c *Config) {
			c.GroupReplies = map[string]GroupReply{"staff": {FilterID: strings.Repeat("f", 254)}}
		}, `radius.group_replies["staff"].filter_id:`},
		{"a Class too long", func(c *Config) {
			c.GroupReplies = map[string]GroupReply{"staff": {Class: strings.Repeat("c", 254)}}
		}, `radius.group_replies["staff"].class:`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestVLANAttributes(t *testing.T) {
	attrs := vlanAttrs(42)
	var b []byte
	for _, a := range attrs {
		b = append(b, byte(a.Type), byte(2+len(a.Attribute)))
		b = append(b, a.Attribute...)
	}
	// Tunnel-Type (64) tag 0 VLAN (13), Tunnel-Medium-Type (65) tag 0
	// IEEE-802 (6), Tunnel-Private-Group-ID (81) "42" untagged: as
	// FreeRADIUS encodes them (RFC 3580 §3.31).
	want := []byte{64, 6, 0, 0, 0, 13, 65, 6, 0, 0, 0, 6, 81, 4, '4', '2'}
	if !bytes.Equal(b, want) {
		t.Errorf("VLAN attributes % x, want % x", b, want)
	}
}
