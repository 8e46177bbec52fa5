package policy

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder collects the door's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) observe(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Kind != EventHashWait {
		r.events = append(r.events, e)
	}
}

func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// TestObserverSeesEachDecision: every authentication is one EventAuth
// with its front, client and user; the failure that locks an account is
// an EventLockout; a user's own change and an administrator's reset are
// told apart; no event carries the secret.
func TestObserverSeesEachDecision(t *testing.T) {
	cfg := testConfig()
	cfg.LockoutThreshold = 2
	h := newHarness(t, cfg)
	rec := &recorder{}
	h.door.observe = rec.observe
	alice := h.addUser("alice", alicePW)
	bob := h.addUser("bob", alicePW)
	rec.take()

	steps := []struct {
		name string
		do   func() error
		want []Event
	}{
		{"a right password by name", func() error {
			_, err := h.door.Authenticate(h.ctx, Login{Front: FrontRADIUS, Name: "alice", Secret: []byte(alicePW), Client: "ap1 10.0.0.1:4000"})
			return err
		}, []Event{{Kind: EventAuth, Front: FrontRADIUS, Client: "ap1 10.0.0.1:4000", User: alice.String(), Result: OK}}},
		{"an unknown user is told by the name given", func() error {
			_, err := h.door.Authenticate(h.ctx, Login{Front: FrontRADIUS, Name: "mallory", Secret: []byte(wrongPW)})
			return err
		}, []Event{{Kind: EventAuth, Front: FrontRADIUS, User: "mallory", Result: InvalidCredentials}}},
		{"a first failure is not a lockout", func() error {
			_, err := h.door.Authenticate(h.ctx, Login{Front: FrontLDAP, DN: bob, Secret: []byte(wrongPW), Client: "127.0.0.1:5000"})
			return err
		}, []Event{{Kind: EventAuth, Front: FrontLDAP, Client: "127.0.0.1:5000", User: bob.String(), Result: InvalidCredentials}}},
		{"the failure at the threshold locks", func() error {
			_, err := h.door.Authenticate(h.ctx, Login{Front: FrontLDAP, DN: bob, Secret: []byte(wrongPW)})
			return err
		}, []Event{{Kind: EventLockout, User: bob.String()}, {Kind: EventAuth, Front: FrontLDAP, User: bob.String(), Result: InvalidCredentials}}},
		{"a user's own change", func() error {
			_, err := h.door.ChangePassword(h.ctx, Change{Actor: alice, Old: []byte(alicePW), HasOld: true, New: []byte(secondPW), HasNew: true, Front: FrontLDAP, Client: "c"})
			return err
		}, []Event{{Kind: EventPasswordChange, Front: FrontLDAP, Client: "c", User: alice.String()}}},
		{"an administrator's reset", func() error {
			_, err := h.door.ChangePassword(h.ctx, Change{Actor: h.admin, Target: alice, New: []byte(thirdPW), HasNew: true, Front: FrontLDAP})
			return err
		}, []Event{{Kind: EventPasswordReset, Front: FrontLDAP, User: alice.String()}}},
		{"a refused change is not reported", func() error {
			_, err := h.door.ChangePassword(h.ctx, Change{Actor: alice, Old: []byte(wrongPW), HasOld: true, New: []byte(fourthPW), HasNew: true, Front: FrontLDAP})
			if err == nil {
				t.Error("a change with a wrong old password succeeded")
			}
			return nil
		}, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			got := rec.take()
			if len(got) != len(st.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(st.want))
			}
			for i, w := range st.want {
				g := got[i]
				if g.Kind != w.Kind || g.Front != w.Front || g.Client != w.Client || g.User != w.User || g.Result != w.Result || g.Err != nil {
					t.Errorf("event %d = %+v, want %+v", i, g, w)
				}
				for _, secret := range []string{alicePW, wrongPW, secondPW, thirdPW} {
					if strings.Contains(g.User+g.Client+g.Front, secret) {
						t.Errorf("event %d carries a secret", i)
					}
				}
			}
		})
	}
}

// TestObserverSeesHashQueueWait: a verification that had to queue
// reports how long it waited.
func TestObserverSeesHashQueueWait(t *testing.T) {
	h := newHarness(t, testConfig())
	var mu sync.Mutex
	var waits []time.Duration
	h.door.observe = func(e Event) {
		if e.Kind == EventHashWait {
			mu.Lock()
			waits = append(waits, e.Wait)
			mu.Unlock()
		}
	}
	// Fill every slot, then free them after a pause so that one acquire
	// has to wait.
	for i := 0; i < cap(h.door.sem); i++ {
		h.door.sem <- struct{}{}
	}
	const hold = 50 * time.Millisecond
	go func() {
		time.Sleep(hold)
		for i := 0; i < cap(h.door.sem); i++ {
			<-h.door.sem
		}
	}()
	if _, err := h.door.verify(h.ctx, DummyHash(h.door.params), []byte("x")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 1 || waits[0] < hold/2 {
		t.Errorf("waits = %v, want one of about %v", waits, hold)
	}
}
