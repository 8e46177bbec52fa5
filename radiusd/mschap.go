package radiusd

import (
	"crypto/des"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"unicode/utf16"

	"golang.org/x/crypto/md4" //nolint:staticcheck // MD4 is what MS-CHAPv2 is built on (RFC 2759 §8.3)
)

// The MS-CHAPv2 cryptography of RFC 2759 §8 and the MPPE key derivation of
// RFC 3079 §3.4, as pure functions. The server never sees a cleartext
// password in MS-CHAPv2: it holds the NT hash (MD4 of the UTF-16LE
// password, kept sealed by policy when policy.nt_hash is on) and every
// function below after ntPasswordHash starts from it. Function names
// follow the RFC's pseudo-code.
//
// verifyMSCHAPv2 (mschapauth.go) puts them together for MS-CHAPv2 over
// RADIUS (RFC 2548, mschapradius.go) and inside PEAP/EAP-TTLS.

// ntPasswordHash is RFC 2759 §8.3 NtPasswordHash: MD4 of the password in
// UTF-16 little-endian. It is the value policy stores as the NT hash.
func ntPasswordHash(password string) [16]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return md4Sum(b)
}

// hashNtPasswordHash is RFC 2759 §8.4 HashNtPasswordHash: MD4 of the NT
// hash.
func hashNtPasswordHash(ntHash [16]byte) [16]byte {
	return md4Sum(ntHash[:])
}

func md4Sum(b []byte) [16]byte {
	h := md4.New()
	h.Write(b)
	var out [16]byte
	h.Sum(out[:0])
	return out
}

// challengeHash is RFC 2759 §8.2 ChallengeHash: the first 8 bytes of
// SHA-1(PeerChallenge | AuthenticatorChallenge | UserName). userName is
// the name the peer sent, without any Windows domain prefix.
func challengeHash(peerChallenge, authChallenge [16]byte, userName string) [8]byte {
	h := sha1.New()
	h.Write(peerChallenge[:])
	h.Write(authChallenge[:])
	h.Write([]byte(userName))
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var out [8]byte
	copy(out[:], sum[:8])
	return out
}

// challengeResponse is RFC 2759 §8.5 ChallengeResponse: the challenge
// DES-encrypted three times with keys cut from the zero-padded NT hash.
func challengeResponse(challenge [8]byte, ntHash [16]byte) [24]byte {
	var z [21]byte
	copy(z[:], ntHash[:])
	var out [24]byte
	for i := range 3 {
		desEncrypt(challenge, z[7*i:7*i+7], out[8*i:8*i+8])
	}
	return out
}

// desEncrypt is RFC 2759 §8.6 DesEncrypt: a 7-byte key spread over the
// 8 bytes DES takes (the low bit of each, the parity bit, is ignored by
// crypto/des).
func desEncrypt(clear [8]byte, key7 []byte, out []byte) {
	var key [8]byte
	key[0] = key7[0]
	for i := 1; i < 7; i++ {
		key[i] = key7[i-1]<<(8-i) | key7[i]>>i
	}
	key[7] = key7[6] << 1
	c, err := des.NewCipher(key[:])
	if err != nil {
		panic("radiusd: DES key of 8 bytes refused: " + err.Error()) // cannot happen: the length is fixed
	}
	c.Encrypt(out, clear[:])
}

// generateNTResponse is RFC 2759 §8.1 GenerateNTResponse, computed from
// the NT hash. The server computes it to compare with the NT-Response the
// peer sent (in constant time).
func generateNTResponse(authChallenge, peerChallenge [16]byte, userName string, ntHash [16]byte) [24]byte {
	return challengeResponse(challengeHash(peerChallenge, authChallenge, userName), ntHash)
}

// Magic constants of RFC 2759 §8.7.
var (
	authMagic1 = []byte("Magic server to client signing constant")
	authMagic2 = []byte("Pad to make it do more than one iteration")
)

// generateAuthenticatorResponse is RFC 2759 §8.7
// GenerateAuthenticatorResponse: the "S=" followed by 40 upper-case hex
// digits that proves to the peer that the server knows its NT hash too
// (sent in MS-CHAP2-Success).
func generateAuthenticatorResponse(ntHash [16]byte, ntResponse [24]byte, peerChallenge, authChallenge [16]byte, userName string) string {
	hh := hashNtPasswordHash(ntHash)
	h := sha1.New()
	h.Write(hh[:])
	h.Write(ntResponse[:])
	h.Write(authMagic1)
	digest := h.Sum(nil)
	ch := challengeHash(peerChallenge, authChallenge, userName)
	h.Reset()
	h.Write(digest)
	h.Write(ch[:])
	h.Write(authMagic2)
	digest = h.Sum(digest[:0])
	return "S=" + strings.ToUpper(hex.EncodeToString(digest))
}

// Magic constants and pads of RFC 3079 §3.4.
var (
	mppeMagic1 = []byte("This is the MPPE Master Key")
	// mppeMagic2 names the server's receive key, mppeMagic3 its send key.
	mppeMagic2 = []byte("On the client side, this is the send key; on the server side, it is the receive key.")
	mppeMagic3 = []byte("On the client side, this is the receive key; on the server side, it is the send key.")
	shsPad1    = make([]byte, 40)
	shsPad2    = []byte(strings.Repeat("\xf2", 40))
)

// mppeMasterKey is RFC 3079 §3.4 GetMasterKey.
func mppeMasterKey(passwordHashHash [16]byte, ntResponse [24]byte) [16]byte {
	h := sha1.New()
	h.Write(passwordHashHash[:])
	h.Write(ntResponse[:])
	h.Write(mppeMagic1)
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var out [16]byte
	copy(out[:], sum[:16])
	return out
}

// asymmetricStartKey is RFC 3079 §3.4 GetAsymetricStartKey for a 128-bit
// key on the server side: send is the key the server (and the access
// point it hands it to) sends with, the other the one it receives with.
func asymmetricStartKey(masterKey [16]byte, send bool) [16]byte {
	magic := mppeMagic2
	if send {
		magic = mppeMagic3
	}
	h := sha1.New()
	h.Write(masterKey[:])
	h.Write(shsPad1)
	h.Write(magic)
	h.Write(shsPad2)
	var sum [sha1.Size]byte
	h.Sum(sum[:0])
	var out [16]byte
	copy(out[:], sum[:16])
	return out
}

// mppeKeys returns the server's 128-bit MPPE send and receive keys for an
// MS-CHAPv2 authentication (RFC 3079 §3.4 with RFC 2548 §2.4): they go in
// MS-MPPE-Send-Key and MS-MPPE-Recv-Key of the Access-Accept.
func mppeKeys(ntHash [16]byte, ntResponse [24]byte) (send, recv [16]byte) {
	master := mppeMasterKey(hashNtPasswordHash(ntHash), ntResponse)
	return asymmetricStartKey(master, true), asymmetricStartKey(master, false)
}
