package radiusd

import (
	"net/netip"
	"sync"
	"time"
)

// RFC 5080 §2.2.2: a request with the same source address and port,
// Identifier and Request Authenticator as one seen a short while ago is a
// retransmission. It gets the reply already sent, byte for byte, and is
// not processed again (so a wrong password retransmitted by the access
// point counts once toward lockout); one whose request is still being
// processed is dropped, as the reply is on its way. The same source, port
// and Identifier with another Request Authenticator is a new request.
// Packets are looked up only once their Message-Authenticator has
// verified, so forged packets cannot touch the cache.
//
// The cache keeps two generations of entries and starts a new one every
// dedupRotate, so an entry is kept at least dedupRotate and answers
// retransmissions for at most twice that (RFC 5080 suggests 5 to 30
// seconds). It also starts a new generation
// early when the current one holds dedupMaxEntries or dedupMaxBytes of
// replies: a flood shortens how long entries live, never grows memory
// past about twice those bounds.
const (
	dedupRotate     = 15 * time.Second
	dedupMaxEntries = 8192
	dedupMaxBytes   = 4 << 20
)

type dedupKey struct {
	src netip.AddrPort
	id  byte
}

type dedupEntry struct {
	auth  [16]byte
	at    time.Time // when the request arrived
	done  bool      // the reply was sent
	reply []byte    // the reply sent; nil while in progress
}

// replyCache is the duplicate cache of one socket.
type replyCache struct {
	mu       sync.Mutex // guards cur, prev, curBytes, started
	cur      map[dedupKey]*dedupEntry
	prev     map[dedupKey]*dedupEntry
	curBytes int
	started  time.Time // when cur began
}

func newReplyCache() *replyCache {
	return &replyCache{cur: map[dedupKey]*dedupEntry{}, prev: map[dedupKey]*dedupEntry{}}
}

// begin looks a verified request up. For a new request it records it as
// in progress and returns its entry (to pass to finish or forget). For a
// retransmission it returns nil and the cached reply, which is nil when
// the first copy is still in progress.
func (c *replyCache) begin(k dedupKey, auth [16]byte, now time.Time) (e *dedupEntry, cached []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rotateLocked(now)
	old, ok := c.cur[k]
	if !ok {
		old, ok = c.prev[k]
	}
	if ok && old.auth == auth && now.Sub(old.at) < 2*dedupRotate {
		return nil, old.reply
	}
	delete(c.prev, k)
	e = &dedupEntry{auth: auth, at: now}
	c.cur[k] = e
	return e, nil
}

// finish records the reply sent for e, for its retransmissions.
func (c *replyCache) finish(k dedupKey, e *dedupEntry, reply []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.done, e.reply = true, reply
	c.curBytes += len(reply)
}

// forget removes e, when no reply was sent and a retransmission must be
// processed afresh (the server was busy, or the request failed inside).
func (c *replyCache) forget(k dedupKey, e *dedupEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur[k] == e {
		delete(c.cur, k)
	}
	if c.prev[k] == e {
		delete(c.prev, k)
	}
}

func (c *replyCache) rotateLocked(now time.Time) {
	if c.started.IsZero() {
		c.started = now
	}
	if now.Sub(c.started) < dedupRotate && len(c.cur) < dedupMaxEntries && c.curBytes < dedupMaxBytes {
		return
	}
	c.prev, c.cur = c.cur, c.prev
	clear(c.cur)
	c.curBytes = 0
	c.started = now
}

// len is the number of entries kept (for tests).
func (c *replyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}
