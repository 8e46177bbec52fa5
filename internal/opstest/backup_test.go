package opstest

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ssha is OpenLDAP's {SSHA} of pw, with a fixed salt (tests need speed,
// not secrecy).
func ssha(pw string) string {
	salt := []byte("opstest!")
	sum := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

func userPassword(uid string) string { return "Pw-" + uid + "-Zebra-9" }

// ack is one add the server acknowledged.
type ack struct {
	uid string
	at  time.Time
}

// TestBackupDuringWriteLoad takes dird backup while clients keep adding
// users, restores it into an empty store, and checks that every add
// acknowledged before the backup started is there and authenticates.
func TestBackupDuringWriteLoad(t *testing.T) {
	s := newSite(t)
	d := s.serve()
	c := d.admin()
	if err := c.Add(&ldap.AddRequest{DN: "ou=people," + baseDN, Attributes: []ldap.Attribute{
		{Type: "objectClass", Vals: []string{"organizationalUnit"}}, {Type: "ou", Vals: []string{"people"}}}}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	var (
		mu      sync.Mutex // guards acks, failure
		acks    []ack
		failure error
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const writers = 4
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ldap.DialURL("ldap://" + d.addr)
			if err == nil {
				err = c.Bind(adminDN, adminPW)
			}
			if err != nil {
				mu.Lock()
				failure = err
				mu.Unlock()
				return
			}
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				uid := fmt.Sprintf("w%d-%05d", w, i)
				err := c.Add(&ldap.AddRequest{DN: "uid=" + uid + ",ou=people," + baseDN, Attributes: []ldap.Attribute{
					{Type: "objectClass", Vals: []string{"inetOrgPerson"}},
					{Type: "uid", Vals: []string{uid}}, {Type: "cn", Vals: []string{"User " + uid}}, {Type: "sn", Vals: []string{"Load"}},
					{Type: "mail", Vals: []string{uid + "@example.com"}},
					{Type: "userPassword", Vals: []string{ssha(userPassword(uid))}},
				}})
				at := time.Now()
				mu.Lock()
				if err != nil {
					failure = fmt.Errorf("adding %s: %w", uid, err)
					mu.Unlock()
					return
				}
				acks = append(acks, ack{uid, at})
				mu.Unlock()
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		if failure != nil {
			t.Fatalf("writer: %v", failure)
		}
		return len(acks)
	}
	waitFor := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("only %d adds acknowledged in 60s", count())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(300)

	out := filepath.Join(t.TempDir(), "dird.backup")
	started := time.Now()
	r := s.dird("backup", out)
	finished := time.Now()
	before := count()
	waitFor(before + 100) // the load goes on after the backup
	close(stop)
	wg.Wait()
	count()
	if r.exit != 0 || !strings.Contains(r.stdout, "written to "+out) {
		t.Fatalf("dird backup while serving: %v", r)
	}
	d.stop()

	mu.Lock()
	var want []string
	during := 0
	for _, a := range acks {
		switch {
		case a.at.Before(started):
			want = append(want, a.uid)
		case a.at.Before(finished):
			during++
		}
	}
	mu.Unlock()
	t.Logf("%d adds acknowledged before the backup, %d while it ran (%v), %d in all", len(want), during, finished.Sub(started).Round(time.Millisecond), len(acks))
	// A short backup may fall between two adds; a long one may not.
	if during == 0 && finished.Sub(started) > 500*time.Millisecond {
		t.Errorf("no add was acknowledged while the backup ran (%v): was the service paused?", finished.Sub(started))
	}

	s2 := newSite(t)
	r = s2.dird("restore", out)
	if r.exit != 0 || !strings.HasPrefix(r.stdout, "restored ") {
		t.Fatalf("dird restore: %v", r)
	}
	d2 := s2.serve()
	c = d2.admin()
	res, err := c.SearchWithPaging(ldap.NewSearchRequest("ou=people,"+baseDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil), 1000)
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	restored := map[string]bool{}
	for _, e := range res.Entries {
		restored[e.GetAttributeValue("uid")] = true
	}
	missing := 0
	for _, uid := range want {
		if !restored[uid] {
			missing++
			if missing <= 10 {
				t.Errorf("%s, acknowledged before the backup, is not in the restored directory", uid)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged adds missing", missing, len(want))
	}
	// The restored directory authenticates users as before (a sample).
	for i := 0; i < len(want); i += max(1, len(want)/20) {
		if err := d2.bind("uid="+want[i]+",ou=people,"+baseDN, userPassword(want[i])); err != nil {
			t.Errorf("bind as %s after the restore: %v", want[i], err)
		}
	}
	if err := d2.bind(adminDN, adminPW); err != nil {
		t.Errorf("admin bind after the restore: %v", err)
	}
}
