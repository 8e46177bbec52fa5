package ldapd

import (
	"bytes"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// decodeWithGoLDAP wraps value in a Control and parses it as go-ldap, our
// test client, does.
func decodeWithGoLDAP(t *testing.T, oid string, value []byte) ldap.Control {
	t.Helper()
	p := ber.NewSequence("Control")
	p.AppendChild(octets(oid))
	p.AppendChild(octets(string(value)))
	c, err := ldap.DecodeControl(ber.DecodePacket(p.Bytes()))
	if err != nil {
		t.Fatalf("ldap.DecodeControl(% x): %v", value, err)
	}
	return c
}

func TestControlPPolicyResponse(t *testing.T) {
	// Bytes from SECURITY.md §3.1 (libldap ppolicy.c tags).
	tests := []struct {
		name    string
		warning ppWarning
		errCode int
		want    string
		// what go-ldap reads back; it uses -1 for absent
		expire, grace int64
		goErr         int8
	}{
		{"expires in a day", ppWarning{ppWarnExpire, 86400}, ppNoError, "30 07 a0 05 80 03 01 51 80", 86400, -1, -1},
		{"two grace logins", ppWarning{ppWarnGrace, 2}, ppNoError, "30 05 a0 03 81 01 02", -1, 2, -1},
		{"no grace logins left", ppWarning{ppWarnGrace, 0}, ppNoError, "30 05 a0 03 81 01 00", -1, 0, -1},
		{"password expired", ppWarning{}, ppPasswordExpired, "30 03 81 01 00", -1, -1, 0},
		{"account locked", ppWarning{}, ppAccountLocked, "30 03 81 01 01", -1, -1, 1},
		{"change after reset", ppWarning{}, ppChangeAfterReset, "30 03 81 01 02", -1, -1, 2},
		{"in history", ppWarning{}, ppPasswordInHistory, "30 03 81 01 08", -1, -1, 8},
		{"expiring and must change", ppWarning{ppWarnExpire, 300}, ppChangeAfterReset, "30 09 a0 04 80 02 01 2c 81 01 02", 300, -1, 2},
		{"nothing to say", ppWarning{}, ppNoError, "30 00", -1, -1, -1},
		{"large expiry", ppWarning{ppWarnExpire, 1 << 31}, ppNoError, "30 09 a0 07 80 05 00 80 00 00 00", 1 << 31, -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodePPolicyResponse(tt.warning, tt.errCode)
			if want := hx(tt.want); !bytes.Equal(got, want) {
				t.Fatalf("got % x, want % x", got, want)
			}
			c, ok := decodeWithGoLDAP(t, oidPasswordPolicy, got).(*ldap.ControlBeheraPasswordPolicy)
			if !ok || c.Expire != tt.expire || c.Grace != tt.grace || c.Error != tt.goErr {
				t.Errorf("go-ldap reads %+v", c)
			}
		})
	}
	// passwordTooLong (9) is in later drafts and OpenLDAP; go-ldap v3.4.15
	// stops at 8, so check only the bytes.
	if got := encodePPolicyResponse(ppWarning{}, ppPasswordTooLong); !bytes.Equal(got, hx("30 03 81 01 09")) {
		t.Errorf("passwordTooLong = % x", got)
	}
}

func TestControlPagedResults(t *testing.T) {
	t.Run("round trip and go-ldap", func(t *testing.T) {
		for _, tc := range []struct {
			size   int
			cookie []byte
			want   string
		}{
			{0, nil, "30 05 02 01 00 04 00"},
			{500, []byte{1, 2, 3}, "30 09 02 02 01 f4 04 03 01 02 03"},
			{2147483647, bytes.Repeat([]byte{7}, 200), ""},
		} {
			b := encodePagedResults(tc.size, tc.cookie)
			if tc.want != "" && !bytes.Equal(b, hx(tc.want)) {
				t.Errorf("encodePagedResults(%d, %x) = % x, want %s", tc.size, tc.cookie, b, tc.want)
			}
			size, cookie, err := decodePagedResults(b)
			if err != nil || size != tc.size || !bytes.Equal(cookie, tc.cookie) {
				t.Errorf("decodePagedResults = %d, %x, %v", size, cookie, err)
			}
			c, ok := decodeWithGoLDAP(t, oidPagedResults, b).(*ldap.ControlPaging)
			if !ok || int(c.PagingSize) != tc.size || !bytes.Equal(c.Cookie, tc.cookie) {
				t.Errorf("go-ldap reads %+v", c)
			}
		}
	})
	t.Run("what go-ldap sends", func(t *testing.T) {
		c := ldap.NewControlPaging(25)
		c.SetCookie([]byte("next"))
		p := c.Encode()
		size, cookie, err := decodePagedResults(p.Children[1].Data.Bytes())
		if err != nil || size != 25 || string(cookie) != "next" {
			t.Errorf("decodePagedResults = %d, %q, %v", size, cookie, err)
		}
	})
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"not a SEQUENCE", "31 05 02 01 00 04 00"},
		{"negative size", "30 05 02 01 ff 04 00"},
		{"size over maxInt", "30 09 02 05 00 80 00 00 00 04 00"},
		{"no cookie", "30 03 02 01 05"},
		{"cookie not an OCTET STRING", "30 05 02 01 05 02 00"},
		{"data after the cookie", "30 07 02 01 05 04 00 04 00"},
		{"data after the value", "30 05 02 01 05 04 00 00"},
		{"truncated", "30 05 02 01 05 04"},
		{"indefinite", "30 80 02 01 05 04 00 00 00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if size, cookie, err := decodePagedResults(hx(tc.in)); err == nil {
				t.Errorf("decodePagedResults = %d, %x, want an error", size, cookie)
			}
		})
	}
}

func TestControlPasswdModify(t *testing.T) {
	type fields struct {
		id, old, new          string
		hasID, hasOld, hasNew bool
	}
	tests := []struct {
		name string
		in   string
		want fields
	}{
		{"all three (admin sets with old)", "30 0b 80 01 61 81 01 62 82 03 6e 65 77", fields{"a", "b", "new", true, true, true}},
		{"self change", "30 08 81 01 62 82 03 6e 65 77", fields{"", "b", "new", false, true, true}},
		{"admin generates", "30 03 80 01 61", fields{"a", "", "", true, false, false}},
		{"empty SEQUENCE", "30 00", fields{}},
		{"empty old password is present", "30 02 81 00", fields{"", "", "", false, true, false}},
		{"four-octet lengths", "30 84 00 00 00 03 82 01 61", fields{"", "", "a", false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, oldPW, newPW, hasID, hasOld, hasNew, err := decodePasswdModify(hx(tt.in))
			if err != nil {
				t.Fatalf("decodePasswdModify: %v", err)
			}
			got := fields{string(id), string(oldPW), string(newPW), hasID, hasOld, hasNew}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, tc := range []struct{ name, in string }{
		{"empty value", ""},
		{"not a SEQUENCE", "31 03 80 01 61"},
		{"trailing garbage", "30 03 82 01 61 00"},
		{"trailing element", "30 03 82 01 61 04 00"},
		{"out of order", "30 06 82 01 61 80 01 62"},
		{"duplicate", "30 06 81 01 61 81 01 62"},
		{"unknown field", "30 03 83 01 61"},
		{"universal OCTET STRING", "30 03 04 01 61"},
		{"constructed field", "30 05 a0 03 04 01 61"},
		{"truncated field", "30 03 80 05 61"},
		{"indefinite", "30 80 80 01 61 00 00"},
		{"five-octet length", "30 85 00 00 00 00 03 80 01 61"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, _, _, _, err := decodePasswdModify(hx(tc.in)); err == nil {
				t.Error("decodePasswdModify succeeded, want an error")
			}
		})
	}
	t.Run("generated password response", func(t *testing.T) {
		if got := encodePasswdModifyResponse([]byte("gen")); !bytes.Equal(got, hx("30 05 80 03 67 65 6e")) {
			t.Errorf("got % x", got)
		}
	})
}

// encodePasswdModifyRequest is the client side, for the round trip.
func encodePasswdModifyRequest(id, oldPW, newPW []byte, hasID, hasOld, hasNew bool) []byte {
	b, s := openTLV(nil, tagSequence)
	if hasID {
		b = appendTLV(b, classContext|0, id)
	}
	if hasOld {
		b = appendTLV(b, classContext|1, oldPW)
	}
	if hasNew {
		b = appendTLV(b, classContext|2, newPW)
	}
	return closeTLV(b, s)
}

func FuzzDecodePasswdModify(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		id, oldPW, newPW, hasID, hasOld, hasNew, err := decodePasswdModify(data)
		if err != nil {
			return
		}
		re := encodePasswdModifyRequest(id, oldPW, newPW, hasID, hasOld, hasNew)
		id2, old2, new2, hasID2, hasOld2, hasNew2, err := decodePasswdModify(re)
		if err != nil || !bytes.Equal(id, id2) || !bytes.Equal(oldPW, old2) || !bytes.Equal(newPW, new2) ||
			hasID != hasID2 || hasOld != hasOld2 || hasNew != hasNew2 {
			t.Fatalf("round trip of % x through % x changed it (%v)", data, re, err)
		}
		if len(re) > len(data) {
			t.Fatalf("minimal re-encoding % x is longer than the input % x", re, data)
		}
	})
}

func FuzzDecodePagedResults(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		size, cookie, err := decodePagedResults(data)
		if err != nil {
			return
		}
		re := encodePagedResults(size, cookie)
		size2, cookie2, err := decodePagedResults(re)
		if err != nil || size != size2 || !bytes.Equal(cookie, cookie2) {
			t.Fatalf("round trip of % x through % x changed it (%v)", data, re, err)
		}
		if len(re) > len(data) {
			t.Fatalf("minimal re-encoding % x is longer than the input % x", re, data)
		}
	})
}
