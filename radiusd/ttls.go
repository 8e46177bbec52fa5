package radiusd

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dird/dird/policy"
)

// EAP-TTLS version 0 (RFC 5281): inside the tunnel the peer sends its
// credentials as Diameter AVPs (RFC 5281 §10), RADIUS attributes with a
// Diameter header. dird serves PAP (User-Name and User-Password) and
// MS-CHAP-V2 (User-Name, MS-CHAP-Challenge, MS-CHAP2-Response, §11.2.4),
// the two methods supplicants offer for TTLS. Failures end with an
// EAP-Failure; the reason is in the log.

// AVP codes: RADIUS attribute numbers, and Microsoft's vendor attributes
// (vendor 311, RFC 2548).
const (
	avpUserName        = 1
	avpUserPassword    = 2
	avpEAPMessage      = 79
	avpMSCHAPChallenge = 11 // vendor 311
	avpMSCHAP2Response = 25 // vendor 311
	avpMSCHAP2Success  = 26 // vendor 311

	avpFlagVendor    = 0x80
	avpFlagMandatory = 0x40
)

// avp is one Diameter AVP.
type avp struct {
	code   uint32
	vendor uint32
	flags  byte
	data   []byte
}

// parseAVPs parses the AVPs of one tunnelled message. Each is padded to
// a multiple of four bytes, except perhaps the last.
func parseAVPs(b []byte) ([]avp, error) {
	var out []avp
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("truncated AVP header (%d bytes)", len(b))
		}
		a := avp{code: binary.BigEndian.Uint32(b), flags: b[4]}
		n := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		hdr := 8
		if a.flags&avpFlagVendor != 0 {
			if len(b) < 12 {
				return nil, errors.New("truncated AVP Vendor-ID")
			}
			a.vendor = binary.BigEndian.Uint32(b[8:])
			hdr = 12
		}
		if n < hdr || n > len(b) {
			return nil, fmt.Errorf("AVP %d length %d out of bounds (%d bytes left)", a.code, n, len(b))
		}
		a.data = b[hdr:n]
		out = append(out, a)
		if len(out) > maxAttributes {
			return nil, errors.New("too many AVPs")
		}
		next := (n + 3) &^ 3
		if next > len(b) {
			next = len(b)
		}
		b = b[next:]
	}
	return out, nil
}

// appendAVP appends an AVP with the mandatory flag (and the vendor flag
// when vendor is not 0), padded to four bytes.
func appendAVP(b []byte, code, vendor uint32, data []byte) []byte {
	flags := byte(avpFlagMandatory)
	hdr := 8
	if vendor != 0 {
		flags |= avpFlagVendor
		hdr = 12
	}
	n := hdr + len(data)
	b = binary.BigEndian.AppendUint32(b, code)
	b = append(b, flags, byte(n>>16), byte(n>>8), byte(n))
	if vendor != 0 {
		b = binary.BigEndian.AppendUint32(b, vendor)
	}
	b = append(b, data...)
	for n%4 != 0 {
		b = append(b, 0)
		n++
	}
	return b
}

// findAVP returns the first AVP with code and vendor.
func findAVP(avps []avp, code, vendor uint32) (avp, bool) {
	for _, a := range avps {
		if a.code == code && a.vendor == vendor {
			return a, true
		}
	}
	return avp{}, false
}

// ttlsInner reads the peer's AVPs and authenticates them.
func (s *Server) ttlsInner(ctx context.Context, t *tunnel) eapStep {
	b, err := t.readApp()
	if err != nil {
		if !errors.Is(err, errTunnelClosed) {
			t.log.Warn("radius EAP rejected: reading the tunnelled AVPs", "err", err.Error())
		}
		return eapStep{}
	}
	avps, err := parseAVPs(b)
	if err != nil {
		t.log.Warn("radius EAP rejected: malformed tunnelled AVPs", "err", err.Error())
		return eapStep{}
	}
	name, ok := findAVP(avps, avpUserName, 0)
	if !ok || len(name.data) == 0 {
		t.log.Warn("radius EAP rejected: no User-Name inside the EAP-TTLS tunnel")
		return eapStep{}
	}
	user := string(name.data)
	log := t.log.With("user", printable(user))
	if pw, ok := findAVP(avps, avpUserPassword, 0); ok {
		return s.ttlsPAP(ctx, t, log, user, pw.data)
	}
	if resp, ok := findAVP(avps, avpMSCHAP2Response, microsoftVendorID); ok {
		ch, _ := findAVP(avps, avpMSCHAPChallenge, microsoftVendorID)
		return s.ttlsMSCHAPv2(ctx, t, log, user, ch.data, resp.data)
	}
	if _, ok := findAVP(avps, avpEAPMessage, 0); ok {
		log.Warn("radius EAP rejected: EAP-TTLS with an inner EAP method is not served; use PAP or MSCHAPv2 inside")
		return eapStep{}
	}
	log.Warn("radius EAP rejected: EAP-TTLS inner method not served (CHAP or MS-CHAPv1?); use PAP or MSCHAPv2 inside")
	return eapStep{}
}

// ttlsPAP checks a tunnelled User-Password through the policy door. The
// supplicant pads it with NULs to a multiple of 16 bytes (RFC 5281
// §11.2.5).
func (s *Server) ttlsPAP(ctx context.Context, t *tunnel, log *slog.Logger, user string, pw []byte) eapStep {
	pw = bytes.TrimRight(pw, "\x00")
	defer clear(pw)
	out, err := s.door.Authenticate(ctx, policy.Login{Front: policy.FrontRADIUS, Name: user, Secret: pw})
	if err != nil {
		log.Error("radius access failed", "inner_method", "pap", "err", err.Error())
		return eapStep{}
	}
	log.Info("radius access", "inner_method", "pap", "result", out.Result.String())
	if out.Result != policy.OK {
		return eapStep{}
	}
	attrs, ok := s.authorize(ctx, t.client, out, "user", user, "outer_identity", t.outer)
	if !ok {
		return eapStep{}
	}
	return eapStep{ok: true, user: user, attrs: attrs}
}

// ttlsMSCHAPv2 checks tunnelled MS-CHAP-Challenge and MS-CHAP2-Response
// AVPs (RFC 5281 §11.2.4). The challenge is not chosen by the server:
// both ends derive it from the tunnel ("ttls challenge", 17 bytes: the
// challenge and the Ident), so a peer cannot replay a response captured
// elsewhere. Success sends MS-CHAP2-Success and waits for the peer's
// empty acknowledgement before the EAP-Success.
func (s *Server) ttlsMSCHAPv2(ctx context.Context, t *tunnel, log *slog.Logger, user string, challenge, response []byte) eapStep {
	log = log.With("inner_method", "mschapv2")
	cs := t.tls.ConnectionState()
	want, err := cs.ExportKeyingMaterial("ttls challenge", nil, mschapChallengeLen+1)
	if err != nil {
		log.Error("radius EAP rejected: deriving the EAP-TTLS MS-CHAP challenge", "err", err.Error())
		return eapStep{}
	}
	if len(challenge) != mschapChallengeLen || subtle.ConstantTimeCompare(challenge, want[:mschapChallengeLen]) != 1 {
		log.Warn("radius EAP rejected: MS-CHAP-Challenge is not the one derived from the tunnel (RFC 5281 §11.2.4)")
		return eapStep{}
	}
	if len(response) != mschap2ResponseLen || response[0] != want[mschapChallengeLen] {
		log.Warn("radius EAP rejected: malformed MS-CHAP2-Response or wrong Ident", "len", len(response))
		return eapStep{}
	}
	res := s.tunnelMSCHAPv2(ctx, t, log, user, user, challenge, response[2:18], response[26:50])
	if !res.ok {
		return eapStep{}
	}
	avp := appendAVP(nil, avpMSCHAP2Success, microsoftVendorID, append([]byte{response[0]}, res.proof.AuthenticatorResponse...))
	if err := t.writeApp(avp); err != nil {
		return eapStep{}
	}
	if err := t.awaitPeer(); err != nil {
		return eapStep{}
	}
	return eapStep{ok: true, user: res.user, attrs: res.attrs}
}
