package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"strings"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

const radiusTestSecret = "s3cret-of-the-test"

// messageAuthenticator computes RFC 3579 3.2's HMAC-MD5 for pkt (with
// auth in the authenticator field), independently of papCodec.
func messageAuthenticator(pkt []byte, auth []byte, secret string) []byte {
	c := append([]byte(nil), pkt...)
	copy(c[4:20], auth)
	for i := 20; i+2 <= len(c); i += int(c[i+1]) {
		if c[i] == attrMessageAuthenticator {
			clear(c[i+2 : i+18])
		}
		if c[i+1] < 2 {
			break
		}
	}
	m := hmac.New(md5.New, []byte(secret))
	m.Write(c)
	return m.Sum(nil)
}

func TestAccessRequestAgainstLayeh(t *testing.T) {
	codec := newPAPCodec(radiusTestSecret)
	for _, tc := range []struct{ name, user, pw string }{
		{"the bench password", "user00042", "Bench-Password-2026"},
		{"empty password", "u", ""},
		{"16 bytes", "u", strings.Repeat("p", 16)},
		{"17 bytes: two blocks", "u", strings.Repeat("q", 17)},
		{"128 bytes", "a-rather-long-user-name@example.com", strings.Repeat("r", 128)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
			b, err := codec.appendRequest(make([]byte, 0, 8), 77, &auth, tc.user, tc.pw)
			if err != nil {
				t.Fatal(err)
			}
			p, err := radius.Parse(b, []byte(radiusTestSecret))
			if err != nil {
				t.Fatalf("layeh cannot parse the request: %v", err)
			}
			if p.Code != radius.CodeAccessRequest || p.Identifier != 77 || !bytes.Equal(p.Authenticator[:], auth[:]) {
				t.Errorf("header: code %v id %d authenticator %x", p.Code, p.Identifier, p.Authenticator)
			}
			if got := rfc2865.UserName_GetString(p); got != tc.user {
				t.Errorf("User-Name %q", got)
			}
			if got, err := rfc2865.UserPassword_LookupString(p); err != nil || got != tc.pw {
				t.Errorf("User-Password %q (%v), want %q", got, err, tc.pw)
			}
			if ip := rfc2865.NASIPAddress_Get(p); ip.String() != "127.0.0.1" {
				t.Errorf("NAS-IP-Address %v", ip)
			}
			if _, err := rfc2865.NASPort_Lookup(p); err != nil || rfc2865.NASPort_Get(p) != 0 {
				t.Errorf("NAS-Port %v (%v)", rfc2865.NASPort_Get(p), err)
			}
			if len(p.Attributes) == 0 || p.Attributes[0].Type != attrMessageAuthenticator {
				t.Fatal("Message-Authenticator is not the first attribute")
			}
			if want := messageAuthenticator(b, auth[:], radiusTestSecret); !bytes.Equal(p.Attributes[0].Attribute, want) {
				t.Errorf("Message-Authenticator %x, want %x", p.Attributes[0].Attribute, want)
			}
		})
	}
	auth := [16]byte{}
	if _, err := codec.appendRequest(nil, 1, &auth, "u", strings.Repeat("x", 129)); err == nil {
		t.Error("a 129-byte password was encoded")
	}
}

// response builds an answer to req with layeh (the Response
// Authenticator is layeh's), optionally with a Message-Authenticator
// computed per RFC 3579 and then the authenticator recomputed.
func response(t *testing.T, req []byte, code radius.Code, withMA bool, reply string) []byte {
	t.Helper()
	p, err := radius.Parse(req, []byte(radiusTestSecret))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Response(code)
	if reply != "" {
		rfc2865.ReplyMessage_SetString(r, reply)
	}
	if withMA {
		r.Add(attrMessageAuthenticator, make([]byte, 16))
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if withMA {
		ma := messageAuthenticator(b, req[4:20], radiusTestSecret)
		copy(b[len(b)-16:], ma)
		h := md5.New()
		h.Write(b[:4])
		h.Write(req[4:20])
		h.Write(b[20:])
		h.Write([]byte(radiusTestSecret))
		copy(b[4:20], h.Sum(nil))
	}
	if !radius.IsAuthenticResponse(b, req, []byte(radiusTestSecret)) {
		t.Fatal("layeh does not find its own response authentic")
	}
	return b
}

func TestCheckResponse(t *testing.T) {
	codec := newPAPCodec(radiusTestSecret)
	auth := [16]byte{9, 8, 7, 6, 5, 4, 3, 2, 1}
	req, err := codec.appendRequest(nil, 200, &auth, "user00001", "Bench-Password-2026")
	if err != nil {
		t.Fatal(err)
	}
	accept := response(t, req, radius.CodeAccessAccept, false, "")
	acceptMA := response(t, req, radius.CodeAccessAccept, true, "")
	reject := response(t, req, radius.CodeAccessReject, true, "Bad password")
	badMA := bytes.Clone(acceptMA)
	badMA[len(badMA)-1] ^= 1 // then fix the Response Authenticator, so only the MA is wrong
	h := md5.New()
	h.Write(badMA[:4])
	h.Write(auth[:])
	h.Write(badMA[20:])
	h.Write([]byte(radiusTestSecret))
	copy(badMA[4:20], h.Sum(nil))
	wrongSecret := bytes.Clone(accept)
	wrongSecret[5] ^= 0xff
	longer := bytes.Clone(accept)
	binary.BigEndian.PutUint16(longer[2:], uint16(len(accept)+1))
	brokenAttr := append(bytes.Clone(accept[:20]), 18, 1)
	binary.BigEndian.PutUint16(brokenAttr[2:], uint16(len(brokenAttr)))
	h.Reset()
	h.Write(brokenAttr[:4])
	h.Write(auth[:])
	h.Write(brokenAttr[20:])
	h.Write([]byte(radiusTestSecret))
	copy(brokenAttr[4:20], h.Sum(nil))

	for _, tc := range []struct {
		name     string
		resp     []byte
		id       byte
		wantCode byte
		wantErr  string
	}{
		{"accept", accept, 200, codeAccessAccept, ""},
		{"accept with Message-Authenticator", acceptMA, 200, codeAccessAccept, ""},
		{"reject", reject, 200, codeAccessReject, ""},
		{"wrong Message-Authenticator", badMA, 200, 0, "Message-Authenticator"},
		{"wrong Response Authenticator", wrongSecret, 200, 0, "Response Authenticator"},
		{"another identifier", accept, 201, 0, "identifier"},
		{"length past the datagram", longer, 200, 0, "shorter"},
		{"short", accept[:19], 200, 0, "shorter"},
		{"empty", nil, 200, 0, "shorter"},
		{"malformed attribute", brokenAttr, 200, 0, "malformed attribute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := codec.checkResponse(tc.resp, tc.id, &auth)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one about %q", err, tc.wantErr)
			}
			if code != tc.wantCode {
				t.Errorf("code %d, want %d", code, tc.wantCode)
			}
		})
	}
	if got := replyMessage(reject); got != "Bad password" {
		t.Errorf("Reply-Message %q", got)
	}
}

func TestRADIUSNoAllocations(t *testing.T) {
	codec := newPAPCodec(radiusTestSecret)
	auth := [16]byte{1}
	req, _ := codec.appendRequest(nil, 5, &auth, "user00001", "Bench-Password-2026")
	resp := response(t, req, radius.CodeAccessAccept, true, "")
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = codec.appendRequest(buf[:0], 5, &auth, "user00001", "Bench-Password-2026")
		if _, err := codec.checkResponse(resp, 5, &auth); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per request and response, want 0", allocs)
	}
}
