package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// ldapConn is one synchronous LDAP connection: one request on the wire
// at a time, its buffers reused for every operation.
type ldapConn struct {
	c    net.Conn
	r    *bufio.Reader
	wbuf []byte
	rbuf []byte
	id   int32
}

// ldapAddr turns ldap://host:port into host:port.
func ldapAddr(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing -url: %w", err)
	}
	if u.Scheme != "ldap" || u.Host == "" {
		return "", fmt.Errorf("-url %q: want ldap://host:port", raw)
	}
	if u.Port() == "" {
		return u.Host + ":389", nil
	}
	return u.Host, nil
}

func dialLDAP(addr string) (*ldapConn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return &ldapConn{c: c, r: bufio.NewReaderSize(c, 16<<10), wbuf: make([]byte, 0, 512), rbuf: make([]byte, 4096)}, nil
}

func (l *ldapConn) Close() error { return l.c.Close() }

func (l *ldapConn) nextID() int32 {
	l.id++
	if l.id <= 0 {
		l.id = 1
	}
	return l.id
}

// send writes the request in wbuf with one write.
func (l *ldapConn) send() error {
	if _, err := l.c.Write(l.wbuf); err != nil {
		return fmt.Errorf("writing a request: %w", err)
	}
	return nil
}

// next reads the next message for id. A notice of disconnection (message
// ID 0) or a message for another ID is an error: requests are never
// pipelined, so nothing else may arrive.
func (l *ldapConn) next(id int32) (op byte, body []byte, err error) {
	msg, err := readMessage(l.r, &l.rbuf)
	if err != nil {
		return 0, nil, fmt.Errorf("reading a response: %w", err)
	}
	got, op, body, err := parseMessage(msg)
	if err != nil {
		return 0, nil, err
	}
	if got != id {
		if got == 0 && op == opExtendedResponse {
			code, diag, _ := parseResult(body)
			return 0, nil, fmt.Errorf("notice of disconnection: result %d: %s", code, diag)
		}
		return 0, nil, fmt.Errorf("response for message %d, want %d", got, id)
	}
	return op, body, nil
}

// bind does a simple bind as uid=<uid>,<suffix> (or suffix alone when
// uid is empty).
func (l *ldapConn) bind(uid, suffix, password string) error {
	id := l.nextID()
	l.wbuf = appendBindRequest(l.wbuf[:0], id, uid, suffix, password)
	if err := l.send(); err != nil {
		return err
	}
	op, body, err := l.next(id)
	if err != nil {
		return err
	}
	if op != opBindResponse {
		return fmt.Errorf("bind: protocolOp %#x, want BindResponse", op)
	}
	code, diag, err := parseResult(body)
	if err != nil {
		return err
	}
	if code != 0 {
		return l.bindError(uid, suffix, code, diag)
	}
	return nil
}

func (l *ldapConn) bindError(uid, suffix string, code int32, diag []byte) error {
	dn := suffix
	if uid != "" {
		dn = "uid=" + uid + "," + suffix
	}
	return &resultError{"bind as " + dn, code, string(diag)}
}

// search sends one search and returns the number of entries it returned;
// a non-zero resultCode is an error.
func (l *ldapConn) search(s *searchRequest, value string, present bool) (int, error) {
	id := l.nextID()
	l.wbuf = s.appendSearch(l.wbuf[:0], id, value, present)
	if err := l.send(); err != nil {
		return 0, err
	}
	entries := 0
	for {
		op, body, err := l.next(id)
		if err != nil {
			return entries, err
		}
		switch op {
		case opSearchEntry:
			entries++
		case opSearchReference:
		case opSearchDone:
			code, diag, err := parseResult(body)
			if err != nil {
				return entries, err
			}
			if code != 0 {
				return entries, &resultError{"search (" + s.attr + "=" + value + ")", code, string(diag)}
			}
			return entries, nil
		default:
			return entries, fmt.Errorf("search: protocolOp %#x in a search response", op)
		}
	}
}

// ldapWorker is one connection of the search or bind scenario.
type ldapWorker struct {
	o      *options
	addr   string
	search bool
	people string // ou=people,<base>
	req    searchRequest
	uids   []string
	rng    *rand.Rand
	conn   *ldapConn
}

// connect opens the connection and, for searches, binds with -bind-dn.
func (w *ldapWorker) connect() error {
	c, err := dialLDAP(w.addr)
	if err != nil {
		return err
	}
	if w.search && w.o.bindDN != "" {
		if err := c.bind("", w.o.bindDN, w.o.bindPW); err != nil {
			c.Close()
			return err
		}
	}
	w.conn = c
	return nil
}

func (w *ldapWorker) op(context.Context) error {
	if w.conn == nil {
		// The last operation broke the connection: open a new one,
		// slowly, so a dead server is not hammered in a loop.
		if err := w.connect(); err != nil {
			time.Sleep(100 * time.Millisecond)
			return err
		}
	}
	uid := w.uids[w.rng.IntN(len(w.uids))]
	var err error
	if w.search {
		var n int
		n, err = w.conn.search(&w.req, uid, false)
		if err == nil && n != 1 {
			return fmt.Errorf("search (uid=%s) under %q returned %d entries, want exactly 1", uid, w.req.base, n)
		}
	} else {
		err = w.conn.bind(uid, w.people, w.o.password)
	}
	if err != nil {
		if _, ok := err.(*resultError); !ok {
			w.conn.Close()
			w.conn = nil
		}
	}
	return err
}

func (w *ldapWorker) close() {
	if w.conn != nil {
		w.conn.Close()
	}
}

// runLDAP is the search and bind scenarios.
func runLDAP(o *options) (result, error) {
	addr, err := ldapAddr(o.url)
	if err != nil {
		return result{}, err
	}
	uids, err := uidList(o)
	if err != nil {
		return result{}, err
	}
	return runLoad(o, false, func(i int) (worker, error) {
		w := &ldapWorker{
			o: o, addr: addr, search: o.scenario == "search",
			people: "ou=people," + o.base,
			req: searchRequest{base: o.base, scope: scopeSubtree, attr: "uid",
				attrs: []string{"cn", "mail", "uidNumber"}},
			uids: uids,
			rng:  rand.New(rand.NewPCG(rand.Uint64(), uint64(i))),
		}
		if err := w.connect(); err != nil {
			return nil, err
		}
		return w, nil
	})
}

// runIdle opens -c connections, each proven accepted by one anonymous
// RootDSE search, holds them for -d and reports the server's RSS.
func runIdle(o *options) (result, error) {
	addr, err := ldapAddr(o.url)
	if err != nil {
		return result{}, err
	}
	var (
		res   result
		first firstError
		mu    sync.Mutex
		conns = make([]*ldapConn, 0, o.conc)
		next  atomic.Int64
		fails atomic.Int64
		wg    sync.WaitGroup
	)
	rootDSE := searchRequest{base: "", scope: scopeBase, attr: "objectClass"}
	// A few dialers, not one goroutine per connection: thousands of
	// simultaneous connects only measure the listen backlog.
	for range min(o.conc, 32) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(o.conc) {
				c, err := dialLDAP(addr)
				if err == nil {
					var n int
					if n, err = c.search(&rootDSE, "", true); err == nil && n != 1 {
						err = fmt.Errorf("RootDSE search returned %d entries, want 1", n)
					}
					if err != nil {
						c.Close()
					}
				}
				if err != nil {
					fails.Add(1)
					first.set(err)
					continue
				}
				// Nothing more is read: the buffers go, the socket stays.
				c.r, c.rbuf, c.wbuf = nil, nil, nil
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	m := measure{pid: o.pid}
	m.begin()
	time.Sleep(o.duration)
	m.end(&res)
	for _, c := range conns {
		c.Close()
	}
	res.Ops = int64(len(conns))
	res.Fails = fails.Load()
	res.FirstError = first.get()
	return res, nil
}
