package radiusd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"layeh.com/radius"
	"layeh.com/radius/vendors/microsoft"

	"github.com/dird/dird/policy"
)

// MS-CHAPv2 carried in RADIUS attributes (RFC 2548 §2.3): the access
// point or VPN ran the MS-CHAPv2 exchange with the peer and sends the
// server MS-CHAP-Challenge (its 16-byte authenticator challenge) and
// MS-CHAP2-Response. An Access-Accept carries MS-CHAP2-Success (the
// authenticator response the peer checks) and the MPPE keys (RFC 2548
// §2.4, RFC 3079); an Access-Reject carries MS-CHAP-Error (RFC 2759 §6)
// and a Reply-Message a person understands.

// MS-CHAPv2 failure codes (RFC 2759 §6).
const (
	mschapErrAccountDisabled = 647
	mschapErrPasswdExpired   = 648
	mschapErrNoDialinPerm    = 649
	mschapErrAuthFailure     = 691
)

// MS-MPPE-Encryption-Policy and -Types as FreeRADIUS's rlm_mschap sends
// them by default: encryption allowed (1); types 4, 128-bit RC4 only
// (RFC 2548 §2.4.5: 2 is 40-bit, 4 is 128-bit). The keys sent are the
// 128-bit ones. layeh's dictionary names these values wrongly, so the
// numbers are written here.
const (
	mppeEncryptionAllowed = microsoft.MSMPPEEncryptionPolicy(1)
	mppeTypes128bit       = microsoft.MSMPPEEncryptionTypes(4)
)

// Sizes of RFC 2548 §2.3.2 MS-CHAP2-Response: Ident, Flags, Peer-Challenge
// (16), Reserved (8), NT-Response (24).
const (
	mschap2ResponseLen = 50
	mschapChallengeLen = 16
)

const msgMSCHAPMalformed = "The MS-CHAPv2 request was malformed; check the access point or VPN configuration"

// mschapv2 answers an Access-Request with MS-CHAP2-Response.
func (s *Server) mschapv2(ctx context.Context, r *request, user string, logArgs []any) reply {
	logArgs = append(logArgs, "method", "mschapv2")
	p := r.pkt
	challenge, cerr := microsoft.MSCHAPChallenge_Lookup(p)
	resp, rerr := microsoft.MSCHAP2Response_Lookup(p)
	if len(resp) == 0 {
		s.log.Warn("radius access rejected: MS-CHAP2-Response is empty", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgMSCHAPMalformed}
	}
	ident := resp[0]
	switch {
	case cerr != nil || len(challenge) != mschapChallengeLen:
		s.log.Warn("radius access rejected: MS-CHAP2-Response without a 16-byte MS-CHAP-Challenge", logArgs...)
		return mschapReject(ident, mschapErrAuthFailure, msgMSCHAPMalformed)
	case rerr != nil || len(resp) != mschap2ResponseLen:
		s.log.Warn("radius access rejected: MS-CHAP2-Response is not 50 bytes", append(logArgs, "len", len(resp))...)
		return mschapReject(ident, mschapErrAuthFailure, msgMSCHAPMalformed)
	case user == "":
		s.log.Warn("radius access rejected: no User-Name", logArgs...)
		return mschapReject(ident, mschapErrAuthFailure, msgWrong)
	case !s.door.KeepsNTHash():
		// RFC 2759 needs the NT hash, which is kept only with
		// policy.nt_hash. The peer hears "authentication failure": the
		// administrator reads why here.
		s.log.Warn("radius access rejected: MSCHAPv2 needs policy.nt_hash: true (dird keeps no NT hashes); use PAP or turn it on", logArgs...)
		return mschapReject(ident, mschapErrAuthFailure, msgNoMSCHAPv2)
	}
	peerChallenge, ntResponse := resp[2:18], resp[26:50]
	name := ntUserName(user)
	var proof mschapv2Proof
	out, err := s.door.AuthenticateNT(ctx, policy.NTLogin{Front: policy.FrontRADIUS, Name: name, Client: r.client.name + " " + r.src.String(),
		Check: func(ntHash []byte) bool {
			ok, pr := verifyMSCHAPv2(ntHash, challenge, peerChallenge, name, ntResponse)
			if ok {
				proof = pr
			}
			return ok
		}})
	if err != nil {
		return s.failure(r, err, logArgs)
	}
	if out.NoNTHash {
		s.log.Warn("radius access rejected: no NT hash is kept for this user (its password was set before policy.nt_hash was on, "+
			"or imported as a hash); it works after the user logs in once with PAP or LDAP, or gets a new password", logArgs...)
		return mschapReject(ident, mschapErrAuthFailure, msgWrong)
	}
	s.log.Info("radius access", append(logArgs, "result", out.Result.String())...)
	switch out.Result {
	case policy.OK:
	case policy.Locked:
		return mschapReject(ident, mschapErrAccountDisabled, msgLocked)
	case policy.Expired:
		return mschapReject(ident, mschapErrPasswdExpired, msgExpired)
	default:
		return mschapReject(ident, mschapErrAuthFailure, msgWrong)
	}
	if s.needsSecondFactor(ctx, out, logArgs) {
		// MS-CHAPv2 has no round to ask for a code (papcode.go).
		return mschapReject(ident, mschapErrNoDialinPerm, msgNeedsPAP)
	}
	authz, ok := s.authorizeGroups(ctx, r.client, out, logArgs...)
	if !ok {
		return mschapReject(ident, mschapErrNoDialinPerm, msgNoDialIn)
	}
	rep := outcomeReply(out) // Access-Accept with any warning
	rep.attrs, err = mschapAcceptAttrs(ident, proof, r.client.secret, p.Authenticator)
	if err != nil {
		return s.failure(r, fmt.Errorf("encoding MPPE keys: %w", err), logArgs)
	}
	rep.attrs = append(rep.attrs, authz...)
	return rep
}

// mschapAcceptAttrs are MS-CHAP2-Success (Ident, then "S=" and the
// authenticator response: RFC 2548 §2.3.3) and the MPPE attributes: the
// 16-byte send and receive keys (RFC 3079 §3.4), each encrypted with the
// shared secret, the request authenticator and a fresh salt (RFC 2548
// §2.4.2, §2.4.3), and the encryption policy and types.
func mschapAcceptAttrs(ident byte, proof mschapv2Proof, secret []byte, reqAuth [16]byte) (radius.Attributes, error) {
	p := &radius.Packet{Secret: secret, Authenticator: reqAuth}
	err := microsoft.MSCHAP2Success_Add(p, append([]byte{ident}, proof.AuthenticatorResponse...))
	if err == nil {
		err = microsoft.MSMPPERecvKey_Add(p, proof.RecvKey[:])
	}
	if err == nil {
		err = microsoft.MSMPPESendKey_Add(p, proof.SendKey[:])
	}
	if err == nil {
		err = microsoft.MSMPPEEncryptionPolicy_Add(p, mppeEncryptionAllowed)
	}
	if err == nil {
		err = microsoft.MSMPPEEncryptionTypes_Add(p, mppeTypes128bit)
	}
	return p.Attributes, err
}

// mschapReject is an Access-Reject with MS-CHAP-Error (RFC 2759 §6:
// "E=code R=0 C=<new challenge> V=3 M=<message>"; R=0: the peer is not
// invited to retry in this exchange) and the same words in a
// Reply-Message.
func mschapReject(ident byte, code int, message string) reply {
	var c [16]byte
	rand.Read(c[:])
	text := fmt.Sprintf("E=%d R=0 C=%s V=3 M=%s", code, strings.ToUpper(hex.EncodeToString(c[:])), message)
	p := &radius.Packet{}
	microsoft.MSCHAPError_Add(p, append([]byte{ident}, text...))
	return reply{code: radius.CodeAccessReject, message: message, attrs: p.Attributes}
}
