package ldapd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"github.com/dird/dird/store"
)

// conn is one client connection. The read loop decodes requests in order;
// Bind, StartTLS and Unbind run on the loop after in-flight operations
// finish (RFC 4511 §4.2.1, §4.14.1); other operations run concurrently,
// at most maxPendingPerConn at a time.
type conn struct {
	s     *Server
	id    uint64
	nc    net.Conn
	br    *bufio.Reader
	isTLS bool

	wmu sync.Mutex // guards bw and writes to nc
	bw  *bufio.Writer

	mu         sync.Mutex // guards the fields below
	bound      store.DN   // nil: anonymous
	admin      bool
	mustChange bool
	// expired is the DN whose right password the last bind proved on
	// this connection while the password had expired (the bind itself
	// failed, so the connection is anonymous). It allows exactly one
	// thing: that user's Password Modify with the old password, which
	// is how SSSD changes an expired password at the login prompt (it
	// sends the exop on the connection of the failed bind). The policy
	// still refuses when lock_on_expiry holds.
	expired store.DN
	pending map[int64]context.CancelFunc

	ops  sync.WaitGroup
	slot chan struct{}
}

func newConn(s *Server, nc net.Conn, isTLS bool) *conn {
	return &conn{
		s:       s,
		id:      s.nextID.Add(1),
		nc:      nc,
		br:      bufio.NewReaderSize(nc, 4096),
		bw:      bufio.NewWriterSize(nc, 4096),
		isTLS:   isTLS,
		pending: map[int64]context.CancelFunc{},
		slot:    make(chan struct{}, maxPendingPerConn),
	}
}

// closeRead stops the read loop (Shutdown): in-flight operations finish
// and their answers are still written.
func (c *conn) closeRead() {
	c.nc.SetReadDeadline(time.Now())
}

// identity returns the bound DN and whether it is the administrator.
func (c *conn) identity() (store.DN, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bound, c.admin, c.mustChange
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer c.ops.Wait()
	defer c.cancelAll()
	for {
		// Under the server lock, so Shutdown's closeRead cannot be undone
		// by a deadline set just after it.
		c.s.mu.Lock()
		closed := c.s.closed
		if !closed && c.s.cfg.IdleTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
		}
		c.s.mu.Unlock()
		if closed {
			return
		}
		c.mu.Lock()
		limit := maxMessageAnonymous
		if c.bound != nil {
			limit = maxMessageBound
		}
		c.mu.Unlock()
		req, err := readRequest(c.br, limit)
		var de *decodeError
		switch {
		case err == nil:
		case errors.As(err, &de):
			if r := de.reply(); r != nil {
				c.write(r)
			}
			continue
		case errors.Is(err, io.EOF):
			return
		default:
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.s.log.Debug("ldap connection idle, closed", "conn", c.id)
				return
			}
			if errors.Is(err, errProtocol) {
				c.s.log.Info("ldap connection closed: protocol error", "conn", c.id, "remote", c.nc.RemoteAddr().String(), "err", err)
				c.writeRaw(encodeNoticeOfDisconnection(resultProtocolError, err.Error()))
			}
			return
		}
		if !c.dispatch(req) {
			return
		}
	}
}

// dispatch runs one request; false ends the connection.
func (c *conn) dispatch(req *Request) bool {
	switch op := req.Op.(type) {
	case *UnbindRequest:
		return false
	case *AbandonRequest:
		c.mu.Lock()
		if cancel, ok := c.pending[op.MessageID]; ok {
			cancel()
		}
		c.mu.Unlock()
		return true
	case *UnknownRequest:
		// RFC 4511 §4.1.1: an unrecognisable PDU ends the session.
		c.writeRaw(encodeNoticeOfDisconnection(resultProtocolError, fmt.Sprintf("unknown operation (application tag %d)", op.Tag)))
		return false
	case *BindRequest:
		c.ops.Wait()
		c.safely(c.s.ctx, req, func(ctx context.Context) { c.handleBind(ctx, req, op) })
		return true
	case *ExtendedRequest:
		if op.Name == oidStartTLS {
			c.ops.Wait()
			return c.startTLS(req)
		}
	}
	c.slot <- struct{}{}
	ctx, cancel := context.WithCancel(c.s.ctx)
	c.mu.Lock()
	c.pending[req.MessageID] = cancel
	c.mu.Unlock()
	c.ops.Add(1)
	c.s.pool.Run(func() {
		defer func() {
			cancel()
			c.mu.Lock()
			delete(c.pending, req.MessageID)
			c.mu.Unlock()
			<-c.slot
			c.ops.Done()
		}()
		c.safely(ctx, req, func(ctx context.Context) { c.handle(ctx, req) })
	})
	return true
}

func (c *conn) cancelAll() {
	c.mu.Lock()
	for _, cancel := range c.pending {
		cancel()
	}
	c.mu.Unlock()
}

// safely runs one operation with a per-request context and recovers a
// panic into an "other" result, so one bad request harms nobody else.
func (c *conn) safely(ctx context.Context, req *Request, fn func(ctx context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("ldap request panicked", "conn", c.id, "msgid", req.MessageID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			if tag := responseTagOf(req.Op); tag != 0 {
				c.write(&Response{MessageID: req.MessageID, AppTag: tag, Result: Result{Code: resultOther,
					Diagnostic: fmt.Sprintf("internal error (conn %d op %d)", c.id, req.MessageID)}})
			}
		}
	}()
	fn(ctx)
}

func responseTagOf(op any) int {
	switch op.(type) {
	case *BindRequest:
		return AppBindResponse
	case *SearchRequest:
		return AppSearchDone
	case *ModifyRequest:
		return AppModifyResponse
	case *AddRequest:
		return AppAddResponse
	case *DelRequest:
		return AppDelResponse
	case *ModifyDNRequest:
		return AppModifyDNResponse
	case *CompareRequest:
		return AppCompareResponse
	case *ExtendedRequest:
		return AppExtendedResponse
	}
	return 0
}

// write sends one response and flushes it.
func (c *conn) write(r *Response) {
	buf := encodeResponse(nil, r)
	c.writeRaw(buf)
}

func (c *conn) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.bw.Write(b); err == nil {
		c.bw.Flush()
	}
}

// writeBuffered queues a response without flushing (search entries).
func (c *conn) writeBuffered(buf []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.bw.Write(buf)
	return err
}

// startTLS answers the StartTLS request and upgrades the connection
// (RFC 4511 §4.14, RFC 4513 §3).
func (c *conn) startTLS(req *Request) bool {
	fail := func(code int, msg string) bool {
		c.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse,
			Result: Result{Code: code, Diagnostic: msg}, ResponseName: oidStartTLS})
		return true
	}
	switch {
	case c.s.tls == nil:
		return fail(resultProtocolError, "StartTLS not configured (ldap.tls_cert, ldap.tls_key)")
	case c.isTLS:
		return fail(resultOperationsError, "TLS already started")
	case c.br.Buffered() > 0:
		// The client sent more before our answer: that plaintext must
		// not be run inside TLS (RFC 4513 §3.1.1).
		c.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse,
			Result: Result{Code: resultOperationsError, Diagnostic: "requests pipelined after StartTLS"}, ResponseName: oidStartTLS})
		return false
	}
	c.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse, ResponseName: oidStartTLS})
	tc := tls.Server(c.nc, c.s.tls)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.s.log.Info("ldap StartTLS handshake failed", "conn", c.id, "err", err)
		return false
	}
	tc.SetDeadline(time.Time{})
	c.wmu.Lock()
	c.nc = tc
	c.br = bufio.NewReaderSize(tc, 4096)
	c.bw = bufio.NewWriterSize(tc, 4096)
	c.isTLS = true
	c.wmu.Unlock()
	return true
}

// requestControl returns the request's control with oid, if any.
func requestControl(req *Request, oid string) (Control, bool) {
	for _, ctl := range req.Controls {
		if ctl.OID == oid {
			return ctl, true
		}
	}
	return Control{}, false
}

// supportedControls are the controls an operation may mark critical.
var supportedControls = map[string]bool{
	oidPagedResults:   true,
	oidPasswordPolicy: true,
	oidManageDsaIT:    true,
}

// unsupportedCritical answers unavailableCriticalExtension when the
// request carries a critical control we do not implement.
func (c *conn) unsupportedCritical(req *Request) bool {
	for _, ctl := range req.Controls {
		if ctl.Critical && !supportedControls[ctl.OID] {
			c.write(&Response{MessageID: req.MessageID, AppTag: responseTagOf(req.Op),
				Result: Result{Code: resultUnavailableCritical, Diagnostic: "critical control " + ctl.OID + " is not supported"}})
			return true
		}
	}
	return false
}
