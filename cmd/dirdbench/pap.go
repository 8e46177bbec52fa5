package main

import (
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"
)

// papTimeout is how long a request waits for its response before it
// counts as failed.
const papTimeout = 2 * time.Second

// papWorker is one connected UDP socket sending one Access-Request at a
// time.
type papWorker struct {
	o     *options
	conn  *net.UDPConn
	codec *papCodec
	uids  []string
	rng   *rand.Rand
	auth  *rand.ChaCha8 // Request Authenticators
	id    byte
	req   []byte
	resp  []byte
	ra    [16]byte
}

func (w *papWorker) op(context.Context) error {
	uid := w.uids[w.rng.IntN(len(w.uids))]
	w.id++
	w.auth.Read(w.ra[:])
	var err error
	w.req, err = w.codec.appendRequest(w.req[:0], w.id, &w.ra, uid, w.o.password)
	if err != nil {
		return err
	}
	if _, err := w.conn.Write(w.req); err != nil {
		return fmt.Errorf("sending an Access-Request: %w", err)
	}
	if err := w.conn.SetReadDeadline(time.Now().Add(papTimeout)); err != nil {
		return err
	}
	for {
		n, err := w.conn.Read(w.resp)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("no RADIUS response for %s within %s", uid, papTimeout)
			}
			return fmt.Errorf("reading a RADIUS response: %w", err)
		}
		// A late answer to an earlier (timed-out) request is not this
		// one's: skip it and keep waiting.
		if n >= 2 && w.resp[1] != w.id {
			continue
		}
		code, err := w.codec.checkResponse(w.resp[:n], w.id, &w.ra)
		if err != nil {
			return err
		}
		switch code {
		case codeAccessAccept:
			return nil
		case codeAccessReject:
			return fmt.Errorf("Access-Reject for %s (Reply-Message %q)", uid, replyMessage(w.resp[:n]))
		case codeAccessChallenge:
			return fmt.Errorf("Access-Challenge for %s: PAP expects an accept (is MFA on?)", uid)
		}
		return fmt.Errorf("RADIUS code %d for %s", code, uid)
	}
}

func (w *papWorker) close() { w.conn.Close() }

// runPAP is the pap scenario.
func runPAP(o *options) (result, error) {
	if o.secret == "" {
		return result{}, errors.New("pap needs -secret")
	}
	raddr, err := net.ResolveUDPAddr("udp", o.radius)
	if err != nil {
		return result{}, fmt.Errorf("-radius %q: %w", o.radius, err)
	}
	uids, err := uidList(o)
	if err != nil {
		return result{}, err
	}
	return runLoad(o, false, func(i int) (worker, error) {
		conn, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			return nil, fmt.Errorf("opening a UDP socket to %s: %w", o.radius, err)
		}
		var seed [32]byte
		cryptorand.Read(seed[:])
		return &papWorker{
			o: o, conn: conn, codec: newPAPCodec(o.secret), uids: uids,
			rng:  rand.New(rand.NewPCG(rand.Uint64(), uint64(i))),
			auth: rand.NewChaCha8(seed),
			id:   byte(rand.Uint32()),
			req:  make([]byte, 0, 512),
			resp: make([]byte, 4096),
		}, nil
	})
}
