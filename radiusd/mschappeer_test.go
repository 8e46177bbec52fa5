package radiusd_test

import (
	"crypto/des"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/md4" //nolint:staticcheck // MS-CHAPv2 is built on MD4

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/microsoft"

	"github.com/dird/dird/policy"
)

// The peer's and the access point's side of MS-CHAPv2 over RADIUS,
// written from RFC 2759 §8, RFC 3079 §3 and RFC 2548 for these tests
// only, independently of radiusd's code, so that the tests check the
// server against the RFCs rather than against itself.

// mschapAttempt is one MS-CHAPv2 exchange as an access point relays it.
type mschapAttempt struct {
	user, password               string
	authChallenge, peerChallenge [16]byte
	ident                        byte
}

func newAttempt(t testing.TB, user, password string) *mschapAttempt {
	t.Helper()
	a := &mschapAttempt{user: user, password: password, ident: 0x2a}
	rand.Read(a.authChallenge[:])
	rand.Read(a.peerChallenge[:])
	return a
}

// hashedName is the name the peer hashes: without a Windows domain.
func (a *mschapAttempt) hashedName() string {
	if i := strings.LastIndexByte(a.user, '\\'); i >= 0 {
		return a.user[i+1:]
	}
	return a.user
}

func (a *mschapAttempt) ntHash() []byte { return policy.NTHash([]byte(a.password)) }

func (a *mschapAttempt) challenge() []byte {
	h := sha1.New()
	h.Write(a.peerChallenge[:])
	h.Write(a.authChallenge[:])
	h.Write([]byte(a.hashedName()))
	return h.Sum(nil)[:8]
}

// ntResponse is RFC 2759 §8.1 GenerateNTResponse.
func (a *mschapAttempt) ntResponse() []byte {
	z := make([]byte, 21)
	copy(z, a.ntHash())
	out := make([]byte, 0, 24)
	for i := range 3 {
		k7 := z[7*i : 7*i+7]
		// Spread 56 key bits over 8 bytes, 7 to a byte (RFC 2759 §8.6).
		var bits uint64
		for _, b := range k7 {
			bits = bits<<8 | uint64(b)
		}
		key := make([]byte, 8)
		for j := range 8 {
			key[j] = byte(bits>>(56-7*(j+1))) << 1
		}
		c, err := des.NewCipher(key)
		if err != nil {
			panic(err)
		}
		block := make([]byte, 8)
		c.Encrypt(block, a.challenge())
		out = append(out, block...)
	}
	return out
}

func md4sum(b []byte) []byte {
	h := md4.New()
	h.Write(b)
	return h.Sum(nil)
}

// authenticatorResponse is RFC 2759 §8.7: what the server must prove.
func (a *mschapAttempt) authenticatorResponse() string {
	h := sha1.New()
	h.Write(md4sum(a.ntHash()))
	h.Write(a.ntResponse())
	h.Write([]byte("Magic server to client signing constant"))
	d := h.Sum(nil)
	h = sha1.New()
	h.Write(d)
	h.Write(a.challenge())
	h.Write([]byte("Pad to make it do more than one iteration"))
	return "S=" + strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// serverKeys are RFC 3079 §3.4's 128-bit start keys on the server side:
// the one it (and the access point) sends with and the one it receives
// with.
func (a *mschapAttempt) serverKeys() (send, recv []byte) {
	h := sha1.New()
	h.Write(md4sum(a.ntHash()))
	h.Write(a.ntResponse())
	h.Write([]byte("This is the MPPE Master Key"))
	master := h.Sum(nil)[:16]
	key := func(magic string) []byte {
		h := sha1.New()
		h.Write(master)
		h.Write(make([]byte, 40))
		h.Write([]byte(magic))
		h.Write([]byte(strings.Repeat("\xf2", 40)))
		return h.Sum(nil)[:16]
	}
	return key("On the client side, this is the receive key; on the server side, it is the send key."),
		key("On the client side, this is the send key; on the server side, it is the receive key.")
}

// response is MS-CHAP2-Response (RFC 2548 §2.3.2).
func (a *mschapAttempt) response() []byte {
	b := []byte{a.ident, 0}
	b = append(b, a.peerChallenge[:]...)
	b = append(b, make([]byte, 8)...)
	return append(b, a.ntResponse()...)
}

// request is the Access-Request an access point sends for a.
func (a *mschapAttempt) request(t testing.TB) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	rfc2865.UserName_SetString(p, a.user)
	rfc2865.NASIdentifier_SetString(p, "test-vpn")
	if err := microsoft.MSCHAPChallenge_Add(p, a.authChallenge[:]); err != nil {
		t.Fatal(err)
	}
	if err := microsoft.MSCHAP2Response_Add(p, a.response()); err != nil {
		t.Fatal(err)
	}
	return p
}

// decryptMPPEKey undoes RFC 2548 §2.4.2: Salt (2 bytes, high bit set),
// then the key's length, the key and padding, XORed 16 bytes at a time
// with MD5(secret | request authenticator | salt), then MD5(secret |
// previous ciphertext block).
func decryptMPPEKey(t *testing.T, v, reqAuth []byte) []byte {
	t.Helper()
	if len(v) < 2+16 || (len(v)-2)%16 != 0 || v[0]&0x80 == 0 {
		t.Fatalf("MPPE key attribute of %d bytes (salt %x) is not salt + 16n bytes", len(v), v[:min(2, len(v))])
	}
	salt, c := v[:2], v[2:]
	var plain []byte
	prev := append(append([]byte(nil), reqAuth...), salt...)
	for i := 0; i < len(c); i += 16 {
		b := md5.Sum(append([]byte(secret), prev...))
		for j := range 16 {
			plain = append(plain, c[i+j]^b[j])
		}
		prev = c[i : i+16]
	}
	n := int(plain[0])
	if n+1 > len(plain) {
		t.Fatalf("MPPE key length %d beyond its %d bytes", n, len(plain)-1)
	}
	return plain[1 : 1+n]
}
