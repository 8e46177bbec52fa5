package radiusd

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"layeh.com/radius"

	"github.com/dird/dird/policy"
)

// PEAPv0 (draft-kamath-pppext-peapv0, Microsoft's [MS-PEAP]) with
// EAP-MSCHAPv2 inside (draft-kamath-pppext-eap-mschapv2), what Windows,
// macOS, iOS and Android offer for WPA2/WPA3-Enterprise. Inside the
// tunnel PEAPv0 sends EAP packets without their 4-byte header (the peer
// rebuilds it from the outer one), except the Extensions packets (type
// 33) that carry the Result TLV, which go whole. The conversation:
//
//	server                               peer
//	Identity request           ->
//	                           <-        Identity response (the inner identity)
//	MSCHAPv2 Challenge         ->
//	                           <-        MSCHAPv2 Response
//	MSCHAPv2 Success (S=...)   ->        or Failure (E=691/647/648/649)
//	                           <-        Success / Failure acknowledgement
//	Result TLV success/failure ->
//	                           <-        Result TLV
//	EAP-Success + MPPE keys (outside the tunnel), or EAP-Failure
//
// PEAP's cryptobinding TLV (binding the inner method's keys to the
// tunnel) is not sent: wpa_supplicant, Windows and Apple treat it as
// optional, and the inner MSCHAPv2 yields no key material worth binding
// beyond what the tunnel already protects.

// EAP-MSCHAPv2 OpCodes.
const (
	mschapOpChallenge = 1
	mschapOpResponse  = 2
	mschapOpSuccess   = 3
	mschapOpFailure   = 4
)

// Result TLV (type 3) statuses.
const (
	tlvResult        = 3
	tlvResultSuccess = 1
	tlvResultFailure = 2
)

// mschapServerName is the Name of our MSCHAPv2 Challenge (informational).
const mschapServerName = "dird"

// peapInner runs PEAPv0's inner conversation.
func (s *Server) peapInner(ctx context.Context, t *tunnel) eapStep {
	// TLS 1.2: the server's Finished is still to be sent. As FreeRADIUS
	// does, send it alone and start the inner conversation once the
	// peer has acknowledged it (some peers want no data beside it).
	if t.conn.pending() {
		if err := t.awaitPeer(); err != nil {
			return eapStep{}
		}
	}
	if err := t.writeApp([]byte{eapTypeIdentity}); err != nil {
		return eapStep{}
	}
	b, err := t.readInner()
	if err != nil {
		t.logReadError("the inner identity", err)
		return eapStep{}
	}
	if len(b) < 2 || b[0] != eapTypeIdentity {
		t.log.Warn("radius EAP rejected: PEAP peer did not answer the inner Identity request")
		return eapStep{}
	}
	identity := string(b[1:])
	log := t.log.With("user", printable(identity), "inner_method", "eap-mschapv2")
	var authChallenge [16]byte
	rand.Read(authChallenge[:])
	msid := authChallenge[0]
	ch := []byte{eapTypeMSCHAPv2, mschapOpChallenge, msid, 0, 0, 16}
	ch = append(append(ch, authChallenge[:]...), mschapServerName...)
	binary.BigEndian.PutUint16(ch[3:], uint16(len(ch)-1))
	if err := t.writeApp(ch); err != nil {
		return eapStep{}
	}
	b, err = t.readInner()
	if err != nil {
		t.logReadError("the MSCHAPv2 response", err)
		return eapStep{}
	}
	// Type, OpCode, MS-CHAPv2-ID, MS-Length (2), Value-Size (49), then
	// Peer-Challenge (16), Reserved (8), NT-Response (24), Flags, Name.
	if len(b) >= 1 && b[0] == eapTypeNak {
		log.Warn("radius EAP rejected: the PEAP peer refused EAP-MSCHAPv2, the only inner method served")
		return eapStep{}
	}
	if len(b) < 54 || b[0] != eapTypeMSCHAPv2 || b[1] != mschapOpResponse || b[2] != msid || b[5] != 49 {
		log.Warn("radius EAP rejected: malformed or out-of-order EAP-MSCHAPv2 response", "len", len(b))
		return eapStep{}
	}
	peerChallenge, ntResponse, name := b[6:22], b[30:54], string(b[55:])
	res := s.tunnelMSCHAPv2(ctx, t, log, identity, name, authChallenge[:], peerChallenge, ntResponse)
	var msg []byte
	if res.ok {
		msg = []byte{eapTypeMSCHAPv2, mschapOpSuccess, msid, 0, 0}
		msg = append(msg, res.proof.AuthenticatorResponse+" M=Welcome"...)
	} else {
		msg = []byte{eapTypeMSCHAPv2, mschapOpFailure, msid, 0, 0}
		msg = append(msg, mschapFailureText(res.code)...)
	}
	binary.BigEndian.PutUint16(msg[3:], uint16(len(msg)-1))
	if err := t.writeApp(msg); err != nil {
		return eapStep{}
	}
	b, err = t.readInner()
	if err != nil {
		t.logReadError("the MSCHAPv2 acknowledgement", err)
		return eapStep{}
	}
	want := byte(mschapOpFailure)
	if res.ok {
		want = mschapOpSuccess
	}
	if len(b) < 2 || b[0] != eapTypeMSCHAPv2 || b[1] != want {
		log.Warn("radius EAP rejected: the peer did not acknowledge the MSCHAPv2 result", "ok", res.ok)
		return eapStep{}
	}
	status := uint16(tlvResultFailure)
	if res.ok {
		status = tlvResultSuccess
	}
	if err := t.writeApp(resultTLV(eapCodeRequest, msid+1, status)); err != nil {
		return eapStep{}
	}
	b, err = t.readApp()
	if err != nil {
		t.logReadError("the Result TLV", err)
		return eapStep{}
	}
	if !res.ok {
		return eapStep{}
	}
	if got, ok := parseResultTLV(b); !ok || got != tlvResultSuccess {
		log.Warn("radius EAP rejected: the peer did not confirm success in its Result TLV")
		return eapStep{}
	}
	return eapStep{ok: true, user: res.user, attrs: res.attrs}
}

// readInner reads one PEAPv0 inner EAP Response and returns it from its
// Type on: PEAPv0 leaves the header out, but some peers send it (whole
// EAP Response: code 2, which is no inner type a peer answers with).
func (t *tunnel) readInner() ([]byte, error) {
	b, err := t.readApp()
	if err != nil {
		return nil, err
	}
	if len(b) >= 5 && b[0] == eapCodeResponse && int(binary.BigEndian.Uint16(b[2:4])) == len(b) {
		return b[4:], nil
	}
	return b, nil
}

func (t *tunnel) logReadError(what string, err error) {
	if errors.Is(err, errTunnelClosed) {
		return
	}
	t.log.Warn("radius EAP rejected: reading "+what+" from the tunnel", "err", err.Error())
}

// resultTLV is a whole EAP packet of type 33 with one mandatory Result
// TLV.
func resultTLV(code, id byte, status uint16) []byte {
	b := eapPacket{code: code, id: id, typ: eapTypeTLV, data: []byte{0x80, tlvResult, 0, 2, byte(status >> 8), byte(status)}}
	return b.encode()
}

// parseResultTLV finds the Result TLV's status in a whole EAP packet of
// type 33.
func parseResultTLV(b []byte) (uint16, bool) {
	p, err := parseEAP(b)
	if err != nil || p.typ != eapTypeTLV {
		return 0, false
	}
	for d := p.data; len(d) >= 4; {
		typ := binary.BigEndian.Uint16(d) & 0x3fff
		n := int(binary.BigEndian.Uint16(d[2:]))
		if 4+n > len(d) {
			return 0, false
		}
		if typ == tlvResult && n == 2 {
			return binary.BigEndian.Uint16(d[4:]), true
		}
		d = d[4+n:]
	}
	return 0, false
}

// innerResult is the outcome of an MS-CHAPv2 check inside a tunnel.
type innerResult struct {
	ok    bool
	code  int // MS-CHAPv2 error code when not ok
	user  string
	proof mschapv2Proof
	attrs radius.Attributes
}

// tunnelMSCHAPv2 checks an MS-CHAPv2 response inside PEAP or EAP-TTLS
// through the policy door (so failures count toward the same lockout as
// LDAP) and authorises the inner identity. identity is the account
// (without a Windows domain), name the user name the peer hashed.
func (s *Server) tunnelMSCHAPv2(ctx context.Context, t *tunnel, log *slog.Logger, identity, name string, authChallenge, peerChallenge, ntResponse []byte) innerResult {
	uid := ntUserName(identity)
	hashed := ntUserName(name)
	if uid == "" {
		log.Warn("radius EAP rejected: empty inner identity")
		return innerResult{code: mschapErrAuthFailure}
	}
	if !s.door.KeepsNTHash() {
		log.Warn("radius EAP rejected: MSCHAPv2 needs policy.nt_hash: true (dird keeps no NT hashes); use EAP-TTLS with PAP, or turn it on")
		return innerResult{code: mschapErrAuthFailure}
	}
	var proof mschapv2Proof
	out, err := s.door.AuthenticateNT(ctx, policy.NTLogin{Front: policy.FrontRADIUS, Name: uid,
		Check: func(ntHash []byte) bool {
			ok, pr := verifyMSCHAPv2(ntHash, authChallenge, peerChallenge, hashed, ntResponse)
			if ok {
				proof = pr
			}
			return ok
		}})
	if err != nil {
		log.Error("radius access failed", "err", err.Error())
		return innerResult{code: mschapErrAuthFailure}
	}
	if out.NoNTHash {
		log.Warn("radius EAP rejected: no NT hash is kept for this user (its password was set before policy.nt_hash was on, " +
			"or imported as a hash); it works after the user logs in once with PAP, EAP-TTLS/PAP or LDAP, or gets a new password")
	}
	log.Info("radius access", "result", out.Result.String())
	switch out.Result {
	case policy.OK:
	case policy.Locked:
		return innerResult{code: mschapErrAccountDisabled}
	case policy.Expired:
		return innerResult{code: mschapErrPasswdExpired}
	default:
		return innerResult{code: mschapErrAuthFailure}
	}
	attrs, ok := s.authorize(ctx, t.client, out, "user", uid, "outer_identity", t.outer)
	if !ok {
		return innerResult{code: mschapErrNoDialinPerm}
	}
	return innerResult{ok: true, user: uid, proof: proof, attrs: attrs}
}

// mschapFailureText is the message of an MS-CHAPv2 Failure (RFC 2759
// §6): R=0, the peer is not invited to retry within this conversation.
func mschapFailureText(code int) string {
	var c [16]byte
	rand.Read(c[:])
	var m string
	switch code {
	case mschapErrAccountDisabled:
		m = msgLocked
	case mschapErrPasswdExpired:
		m = msgExpired
	case mschapErrNoDialinPerm:
		m = msgNoDialIn
	default:
		m = msgWrong
	}
	return fmt.Sprintf("E=%d R=0 C=%s V=3 M=%s", code, strings.ToUpper(hex.EncodeToString(c[:])), m)
}
