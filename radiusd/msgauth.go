package radiusd

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
)

// Message-Authenticator (RFC 3579 §3.2) is an HMAC-MD5, keyed with the
// shared secret, over the whole packet with the attribute's own 16 bytes
// zeroed. Requiring it on every request and sending it first in every
// reply is the BlastRADIUS (CVE-2024-3596) mitigation FreeRADIUS ships
// (require_message_authenticator = yes): the MD5 Response Authenticator
// alone can be forged with a chosen-prefix collision hidden in an echoed
// attribute such as Proxy-State.

const authenticatorLen = 16

// Reasons a request's Message-Authenticator is refused. They are log
// texts; every one means the packet is dropped without a reply.
var (
	errNoMessageAuthenticator   = errors.New("no Message-Authenticator (required on every request)")
	errBadMessageAuthenticator  = errors.New("wrong Message-Authenticator (wrong shared secret?)")
	errManyMessageAuthenticator = errors.New("more than one Message-Authenticator")
	errMessageAuthenticatorLen  = errors.New("wrong Message-Authenticator length (not 16 bytes)")
)

// messageAuthenticatorOffset returns where the value of the packet's one
// Message-Authenticator starts, or -1 when it has none. pkt is a whole
// packet whose attributes have been checked to be well-formed (Parse).
func messageAuthenticatorOffset(pkt []byte) (int, error) {
	at := -1
	for off := 20; off+2 <= len(pkt); {
		typ, l := pkt[off], int(pkt[off+1])
		if l < 2 || off+l > len(pkt) {
			return -1, errors.New("malformed attribute")
		}
		if radius.Type(typ) == rfc2869.MessageAuthenticator_Type {
			if at >= 0 {
				return -1, errManyMessageAuthenticator
			}
			if l != 2+authenticatorLen {
				return -1, errMessageAuthenticatorLen
			}
			at = off + 2
		}
		off += l
	}
	return at, nil
}

// messageAuthenticator computes the HMAC-MD5 of pkt with the 16 bytes at
// off taken as zero, without modifying pkt.
func messageAuthenticator(pkt []byte, off int, secret []byte) []byte {
	var zero [authenticatorLen]byte
	m := hmac.New(md5.New, secret)
	m.Write(pkt[:off])
	m.Write(zero[:])
	m.Write(pkt[off+authenticatorLen:])
	return m.Sum(nil)
}

// verifyMessageAuthenticator checks a request's Message-Authenticator. The
// request's own Request Authenticator is in the packet, as RFC 3579 §3.2
// says for Access-Request and Status-Server. The comparison takes constant
// time.
func verifyMessageAuthenticator(pkt, secret []byte) error {
	off, err := messageAuthenticatorOffset(pkt)
	if err != nil {
		return err
	}
	if off < 0 {
		return errNoMessageAuthenticator
	}
	if !hmac.Equal(messageAuthenticator(pkt, off, secret), pkt[off:off+authenticatorLen]) {
		return errBadMessageAuthenticator
	}
	return nil
}

// rejectAttributes are the only attributes an Access-Reject may carry
// besides Message-Authenticator and Proxy-State (RFC 5080 §2.6.1):
// nothing that grants a service. Vendor-Specific is let through only as
// MS-CHAP-Error (RFC 2548 §2.1.5), see allowedInReject.
var rejectAttributes = map[radius.Type]bool{
	rfc2865.ReplyMessage_Type: true,
	rfc2869.EAPMessage_Type:   true,
	101:                       true, // Error-Cause (RFC 5176)
}

// microsoftVendorID is Microsoft's SMI enterprise number (RFC 2548 §2).
const microsoftVendorID = 311

// allowedInReject reports whether an Access-Reject may carry a.
func allowedInReject(a *radius.AVP) bool {
	if rejectAttributes[a.Type] {
		return true
	}
	// Vendor-Specific: Vendor-Id 311 (Microsoft), vendor type 2
	// (MS-CHAP-Error), one sub-attribute filling the value.
	v := a.Attribute
	return a.Type == rfc2865.VendorSpecific_Type && len(v) >= 6 &&
		binary.BigEndian.Uint32(v) == microsoftVendorID && v[4] == 2 && int(v[5]) == len(v)-4
}

// encodeReply builds the wire form of a reply to req: Message-Authenticator
// first, then attrs, then req's Proxy-State attributes in their order
// (RFC 2865 §5.33). Message-Authenticator is computed with req's Request
// Authenticator in the authenticator field, then the Response
// Authenticator over the packet that already holds it (RFC 3579 §3.2).
func encodeReply(code radius.Code, req *radius.Packet, attrs radius.Attributes, secret []byte) ([]byte, error) {
	p := &radius.Packet{Code: code, Identifier: req.Identifier, Authenticator: req.Authenticator}
	p.Attributes = append(p.Attributes, &radius.AVP{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, authenticatorLen)})
	for _, a := range attrs {
		if code == radius.CodeAccessReject && !allowedInReject(a) {
			continue
		}
		p.Attributes = append(p.Attributes, a)
	}
	for _, a := range req.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			p.Attributes = append(p.Attributes, a)
		}
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	const maOff = 20 + 2 // the first attribute's value
	copy(b[maOff:], messageAuthenticator(b, maOff, secret))
	h := md5.New()
	h.Write(b[:4])
	h.Write(req.Authenticator[:])
	h.Write(b[20:])
	h.Write(secret)
	h.Sum(b[4:4:20])
	return b, nil
}

// packetLength is the Length field of a packet of at least 4 bytes.
func packetLength(b []byte) int { return int(binary.BigEndian.Uint16(b[2:4])) }
