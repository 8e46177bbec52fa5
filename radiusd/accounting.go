package radiusd

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"strconv"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
)

// Accounting (RFC 2866) on its own port (radius.accounting_listen): the
// access point or VPN reports sessions starting and stopping. dird keeps
// no accounting records; it verifies each Accounting-Request, logs it
// (who, what, which session) and answers with Accounting-Response, so
// that access points do not retry, fill their logs, or fail over. The
// duplicate cache answers retransmissions as for Access-Requests.

// errBadRequestAuthenticator: an Accounting-Request whose Request
// Authenticator does not verify (wrong shared secret, or forged).
var errBadRequestAuthenticator = errors.New("wrong Request Authenticator on Accounting-Request (wrong shared secret?)")

// verifyAccountingRequest checks an Accounting-Request's Request
// Authenticator (RFC 2866 §3): the MD5 of the packet with 16 zero bytes
// in its place, followed by the shared secret. The comparison takes
// constant time.
func verifyAccountingRequest(pkt, secret []byte) error {
	h := md5.New()
	h.Write(pkt[:4])
	var zero [authenticatorLen]byte
	h.Write(zero[:])
	h.Write(pkt[20:])
	h.Write(secret)
	if !hmac.Equal(h.Sum(nil), pkt[4:20]) {
		return errBadRequestAuthenticator
	}
	return nil
}

// accounting answers an Accounting-Request: logged, then acknowledged.
func (s *Server) accounting(r *request) reply {
	p := r.pkt
	args := []any{"req", r.id, "client", r.client.name, "src", r.src.String(),
		"user", printable(rfc2865.UserName_GetString(p)),
		"status", rfc2866.AcctStatusType_Get(p).String(),
		"session_id", printable(rfc2866.AcctSessionID_GetString(p))}
	if nas := rfc2865.NASIdentifier_GetString(p); nas != "" {
		args = append(args, "nas", printable(nas))
	}
	if ip := rfc2865.FramedIPAddress_Get(p); ip != nil {
		args = append(args, "framed_ip", ip.String())
	}
	if st := rfc2865.CallingStationID_GetString(p); st != "" {
		args = append(args, "calling_station", printable(st))
	}
	if t, err := rfc2866.AcctSessionTime_Lookup(p); err == nil {
		args = append(args, "session_time", uint32(t))
	}
	s.log.Info("radius accounting", args...)
	return reply{code: radius.CodeAccountingResponse}
}

// AccountingAddr is the accounting address radius.accounting_listen
// names: "auto" is the host of radius.listen with the next port (1813
// beside 1812; port 0, any free port, stays 0); "" is none, and so is
// "auto" when radius.listen is empty.
func (c Config) AccountingAddr() string {
	if c.AccountingListen != "auto" {
		return c.AccountingListen
	}
	if c.Listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return ""
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return ""
	}
	if n != 0 {
		n++
	}
	return net.JoinHostPort(host, strconv.Itoa(n))
}

// validateAccounting checks radius.accounting_listen.
func (c Config) validateAccounting() error {
	switch c.AccountingListen {
	case "", "auto":
		return nil
	}
	_, port, err := net.SplitHostPort(c.AccountingListen)
	if err != nil {
		return fmt.Errorf("radius.accounting_listen: %q is not host:port (e.g. 127.0.0.1:1813), auto or empty", c.AccountingListen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("radius.accounting_listen: %q has no port number from 0 to 65535", c.AccountingListen)
	}
	if c.Listen == "" {
		return errors.New("radius.accounting_listen: set, but radius.listen is empty (RADIUS is off)")
	}
	if c.AccountingListen == c.Listen && port != "0" {
		return errors.New("radius.accounting_listen: the same address as radius.listen; use the next port (e.g. 1813) or auto")
	}
	return nil
}
