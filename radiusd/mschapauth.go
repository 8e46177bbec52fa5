package radiusd

import (
	"crypto/subtle"
	"strings"
)

// mschapv2Proof is what a verified MS-CHAPv2 response yields for the
// reply: the authenticator response the peer checks ("S=" and 40
// upper-case hex digits, RFC 2759 §8.7), and the server's 128-bit MPPE
// keys (RFC 3079 §3.4), which RADIUS MS-CHAPv2 sends in
// MS-MPPE-Send-Key/Recv-Key. Inside PEAP and EAP-TTLS the MPPE keys come
// from the TLS tunnel instead and these are not used.
type mschapv2Proof struct {
	AuthenticatorResponse string
	SendKey, RecvKey      [16]byte
}

// verifyMSCHAPv2 checks an MS-CHAPv2 NT-Response (RFC 2759 §8.1) against
// ntHash. It is the one check every MS-CHAPv2 path uses: RADIUS
// MS-CHAPv2 (mschapradius.go), EAP-MSCHAPv2 inside PEAP and EAP-TTLS.
//
//   - ntHash: the user's NT hash (16 bytes), as policy.NTLogin.Check
//     receives it; it is not kept.
//   - authChallenge: the server's 16-byte challenge (RADIUS:
//     MS-CHAP-Challenge; EAP-MSCHAPv2: the Challenge packet's).
//   - peerChallenge, ntResponse: the 16-byte Peer-Challenge and 24-byte
//     NT-Response of the peer's response (RADIUS: MS-CHAP2-Response bytes
//     2-17 and 26-49; EAP-MSCHAPv2: the Response packet's value).
//   - user: the user name the peer hashed into its challenge, without a
//     Windows domain prefix (see ntUserName).
//
// Wrong lengths make it false. The comparison takes constant time. On
// success proof holds the authenticator response and the MPPE keys.
func verifyMSCHAPv2(ntHash, authChallenge, peerChallenge []byte, user string, ntResponse []byte) (ok bool, proof mschapv2Proof) {
	if len(ntHash) != 16 || len(authChallenge) != 16 || len(peerChallenge) != 16 || len(ntResponse) != 24 {
		return false, mschapv2Proof{}
	}
	var h, ac, pc [16]byte
	var resp [24]byte
	copy(h[:], ntHash)
	copy(ac[:], authChallenge)
	copy(pc[:], peerChallenge)
	copy(resp[:], ntResponse)
	defer clear(h[:])
	want := generateNTResponse(ac, pc, user, h)
	if subtle.ConstantTimeCompare(want[:], resp[:]) != 1 {
		return false, mschapv2Proof{}
	}
	proof.AuthenticatorResponse = generateAuthenticatorResponse(h, resp, pc, ac, user)
	proof.SendKey, proof.RecvKey = mppeKeys(h, resp)
	return true, proof
}

// ntUserName splits a User-Name as Windows sends it ("EXAMPLE\alice")
// into the uid dird looks up and the name MS-CHAPv2 hashes: RFC 2759 §8.2
// (ChallengeHash) has the peer hash its user name without the domain, and FreeRADIUS's
// with_ntdomain_hack strips it the same way.
func ntUserName(name string) string {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[i+1:]
	}
	return name
}
