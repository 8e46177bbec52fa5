package main

// A minimal RADIUS (RFC 2865) Access-Request codec for PAP, hand-rolled
// for the same reason as ldapwire.go: layeh.com/radius builds attribute
// maps and slices per packet, and every cycle the generator spends is
// one the server under test does not get. Packets are built in and
// parsed from reused buffers with reused MD5 and HMAC states.

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

const (
	codeAccessRequest   = 1
	codeAccessAccept    = 2
	codeAccessReject    = 3
	codeAccessChallenge = 11

	attrUserName             = 1
	attrUserPassword         = 2
	attrNASIPAddress         = 4
	attrNASPort              = 5
	attrReplyMessage         = 18
	attrMessageAuthenticator = 80

	radiusHeader = 20
	maxPassword  = 128 // RFC 2865 5.2
)

// papCodec builds Access-Requests and checks their responses for one
// socket; it is not safe for concurrent use.
type papCodec struct {
	secret  []byte
	md5     hash.Hash
	mac     hash.Hash // HMAC-MD5 keyed with the secret
	sum     []byte    // digest scratch
	scratch []byte    // response copy for the Message-Authenticator check
}

func newPAPCodec(secret string) *papCodec {
	return &papCodec{
		secret: []byte(secret),
		md5:    md5.New(),
		mac:    hmac.New(md5.New, []byte(secret)),
		sum:    make([]byte, 0, md5.Size),
	}
}

// appendRequest appends an Access-Request: Message-Authenticator first
// (RFC 3579 3.2; servers that require it may look for it there), then
// User-Name, the hidden User-Password, NAS-IP-Address 127.0.0.1 and
// NAS-Port 0.
func (p *papCodec) appendRequest(b []byte, id byte, auth *[16]byte, user, password string) ([]byte, error) {
	if len(password) > maxPassword {
		return b, fmt.Errorf("a RADIUS password is at most %d bytes", maxPassword)
	}
	if len(user) == 0 || len(user) > 253 {
		return b, fmt.Errorf("User-Name of %d bytes", len(user))
	}
	start := len(b)
	b = append(b, codeAccessRequest, id, 0, 0)
	b = append(b, auth[:]...)
	ma := len(b) + 2
	b = append(b, attrMessageAuthenticator, 18)
	b = append(b, make([]byte, 16)...)
	b = append(b, attrUserName, byte(2+len(user)))
	b = append(b, user...)
	padded := max(16, (len(password)+15)&^15)
	b = append(b, attrUserPassword, byte(2+padded))
	pw := len(b)
	b = append(b, password...)
	for range padded - len(password) {
		b = append(b, 0)
	}
	// c(1) = p(1) xor MD5(S + RA), c(i) = p(i) xor MD5(S + c(i-1)).
	prev := auth[:]
	for i := pw; i < pw+padded; i += 16 {
		p.md5.Reset()
		p.md5.Write(p.secret)
		p.md5.Write(prev)
		p.sum = p.md5.Sum(p.sum[:0])
		for j := range 16 {
			b[i+j] ^= p.sum[j]
		}
		prev = b[i : i+16]
	}
	b = append(b, attrNASIPAddress, 6, 127, 0, 0, 1)
	b = append(b, attrNASPort, 6, 0, 0, 0, 0)
	pkt := b[start:]
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	p.mac.Reset()
	p.mac.Write(pkt)
	p.sum = p.mac.Sum(p.sum[:0])
	copy(b[ma:ma+16], p.sum)
	return b, nil
}

var (
	errShortResponse = errors.New("radius: response shorter than its header or length")
	errBadAuth       = errors.New("radius: wrong Response Authenticator (shared secret?)")
	errBadMA         = errors.New("radius: wrong Message-Authenticator in the response")
)

// checkResponse verifies resp as the answer to a request with identifier
// id and Request Authenticator auth. It returns the response's code; err
// is set when the packet is not authentic. A Message-Authenticator in
// the response is checked too.
func (p *papCodec) checkResponse(resp []byte, id byte, auth *[16]byte) (code byte, err error) {
	if len(resp) < radiusHeader {
		return 0, errShortResponse
	}
	n := int(binary.BigEndian.Uint16(resp[2:]))
	if n < radiusHeader || n > len(resp) {
		return 0, errShortResponse
	}
	resp = resp[:n]
	if resp[1] != id {
		return 0, fmt.Errorf("radius: response identifier %d, want %d", resp[1], id)
	}
	// MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
	p.md5.Reset()
	p.md5.Write(resp[:4])
	p.md5.Write(auth[:])
	p.md5.Write(resp[radiusHeader:])
	p.md5.Write(p.secret)
	p.sum = p.md5.Sum(p.sum[:0])
	if !bytes.Equal(p.sum, resp[4:radiusHeader]) {
		return 0, errBadAuth
	}
	ma, err := findAttr(resp[radiusHeader:], attrMessageAuthenticator)
	if err != nil {
		return 0, err
	}
	if ma >= 0 {
		ma += radiusHeader
		if resp[ma+1] != 18 {
			return 0, errBadMA
		}
		// HMAC-MD5 over the response with the Request Authenticator in
		// place of the Response one and the attribute's value zeroed.
		p.scratch = append(p.scratch[:0], resp...)
		copy(p.scratch[4:radiusHeader], auth[:])
		clear(p.scratch[ma+2 : ma+18])
		p.mac.Reset()
		p.mac.Write(p.scratch)
		p.sum = p.mac.Sum(p.sum[:0])
		if !hmac.Equal(p.sum, resp[ma+2:ma+18]) {
			return 0, errBadMA
		}
	}
	return resp[0], nil
}

// findAttr is the offset in attrs of the first attribute of type t, or
// -1; malformed attributes are an error.
func findAttr(attrs []byte, t byte) (int, error) {
	for i := 0; i < len(attrs); {
		if len(attrs)-i < 2 || attrs[i+1] < 2 || int(attrs[i+1]) > len(attrs)-i {
			return 0, errors.New("radius: malformed attribute in the response")
		}
		if attrs[i] == t {
			return i, nil
		}
		i += int(attrs[i+1])
	}
	return -1, nil
}

// replyMessage is the response's Reply-Message, for error texts.
func replyMessage(resp []byte) string {
	if len(resp) < radiusHeader {
		return ""
	}
	n := min(int(binary.BigEndian.Uint16(resp[2:])), len(resp))
	if n < radiusHeader {
		return ""
	}
	attrs := resp[radiusHeader:n]
	i, err := findAttr(attrs, attrReplyMessage)
	if err != nil || i < 0 {
		return ""
	}
	return string(attrs[i+2 : i+int(attrs[i+1])])
}
