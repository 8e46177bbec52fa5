package e2e

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestCrashDuringPasswordChanges kills dird with SIGKILL in the middle of
// a stream of concurrent password changes and checks, after a restart on
// the same Badger store, that every acknowledged change survived (issue 2,
// "Bad input and faults"; SECURITY.md §6.1).
func TestCrashDuringPasswordChanges(t *testing.T) {
	t.Parallel()
	const (
		nUsers   = 20
		nWorkers = 4
		wantAcks = 150
		maxTime  = 60 * time.Second
	)
	d := startDird(t, nil)

	// Passwords avoid every word of the users' names (policy
	// personal_info).
	uid := func(i int) string { return fmt.Sprintf("cu%02d", i) }
	var b strings.Builder
	b.WriteString("dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n")
	type user struct {
		dn                 string
		acked, inflight    string // the last acknowledged password; the one being set
		changes, attempted int
	}
	users := make([]*user, nUsers)
	for i := range users {
		users[i] = &user{dn: userDN(uid(i)), acked: fmt.Sprintf("Initial-%02d-Qz-pw", i)}
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: Durable Tester %02d\nsn: Tester\nuserPassword: %s\n\n",
			users[i].dn, uid(i), i, users[i].acked)
	}
	if r := d.ldif(t, adminDN, adminPW, "ldapadd", b.String()); r.exit != 0 {
		t.Fatalf("adding users:\n%s", r)
	}

	var (
		mu       sync.Mutex // guards users' fields and errs
		errs     []string
		acks     atomic.Int64
		killed   atomic.Bool
		enough   = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
		deadline = time.Now().Add(maxTime)
	)
	for w := range nWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(format string, args ...any) {
				if killed.Load() {
					return // the kill ends every worker with an error
				}
				mu.Lock()
				errs = append(errs, fmt.Sprintf("worker %d: ", w)+fmt.Sprintf(format, args...))
				mu.Unlock()
				once.Do(func() { close(enough) })
			}
			conn, err := ldap.DialURL(d.url)
			if err != nil {
				fail("dial: %v", err)
				return
			}
			defer conn.Close()
			if err := conn.Bind(adminDN, adminPW); err != nil {
				fail("admin bind: %v", err)
				return
			}
			// Each worker owns users w, w+4, w+8, ...: one change per user
			// in flight at a time, so "last acknowledged" is well defined.
			for i := 0; ; i++ {
				u := users[w+nWorkers*(i%(nUsers/nWorkers))]
				pw := fmt.Sprintf("Kilo-%d-%05d-Zed", w, i)
				mu.Lock()
				u.inflight = pw
				u.attempted++
				mu.Unlock()
				d.secret(pw)
				_, err := conn.PasswordModify(ldap.NewPasswordModifyRequest(u.dn, "", pw))
				if err != nil {
					fail("changing %s: %v", u.dn, err)
					return
				}
				mu.Lock()
				u.acked, u.inflight = pw, ""
				u.changes++
				mu.Unlock()
				if acks.Add(1) >= wantAcks || time.Now().After(deadline) {
					once.Do(func() { close(enough) })
				}
			}
		}()
	}
	select {
	case <-enough:
	case <-time.After(maxTime + 5*time.Second):
	}
	killed.Store(true)
	d.kill(t)
	wg.Wait()
	n := acks.Load()
	t.Logf("killed dird with SIGKILL after %d acknowledged changes", n)
	for _, e := range errs {
		t.Error(e)
	}
	if n < 20 {
		t.Fatalf("only %d password changes were acknowledged before the kill", n)
	}

	d2 := launch(t, d.cfgPath, d.dir)
	d2.inheritSecrets(d)
	conn, err := ldap.DialURL(d2.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	landed := 0
	for i, u := range users {
		if err := conn.Bind(u.dn, u.acked); err == nil {
			continue
		}
		if u.inflight != "" {
			if err := conn.Bind(u.dn, u.inflight); err == nil {
				landed++
				continue
			}
		}
		t.Errorf("%s: neither the last acknowledged password (change %d of %d attempted) nor the one in flight (%q) binds after the crash",
			uid(i), u.changes, u.attempted, u.inflight)
	}
	t.Logf("%d changes in flight at the kill had landed", landed)
}
