package notify_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dird/dird/mail"
	"github.com/dird/dird/notify"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/badgerkv"
	"github.com/dird/dird/store/memkv"
)

// The notifier runs over a real directory and a real policy door; only
// the clock and mail delivery are fakes (STYLE.md §6).

const (
	base      = "dc=example,dc=com"
	adminDN   = "cn=admin,dc=example,dc=com"
	publicURL = "https://id.example.com/"
	day       = 24 * time.Hour
)

// t0 is when each test starts; users' passwords are aged from it.
var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// fakeMail records what it delivers; while failing is set it refuses.
type fakeMail struct {
	mu      sync.Mutex
	failing bool
	sent    []mail.Message
}

func (m *fakeMail) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failing {
		return errors.New("relay says 451 try again later")
	}
	m.sent = append(m.sent, msg)
	return nil
}

// take returns and forgets what was delivered.
func (m *fakeMail) take() []mail.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.sent
	m.sent = nil
	return out
}

func ssha(pw string) string {
	salt := []byte("pepper!!")
	sum := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}

// site is a directory, its door and a notifier over one KV.
type site struct {
	t      *testing.T
	ctx    context.Context
	clock  *fakeClock
	mail   *fakeMail
	kv     store.KV
	dir    *store.Directory
	door   *policy.Door
	n      *notify.Notifier
	maxAge time.Duration
}

func newSite(t *testing.T, kv store.KV, clock *fakeClock, maxAge time.Duration) *site {
	t.Helper()
	s := &site{t: t, ctx: context.Background(), clock: clock, mail: &fakeMail{}, kv: kv, maxAge: maxAge}
	var err error
	s.dir, err = store.Open(s.ctx, kv, store.Options{BaseDN: base, AdminDN: adminDN, Now: clock.Now})
	if err != nil {
		t.Fatalf("opening directory: %v", err)
	}
	cfg := policy.Config{MinLength: 8, MaxLength: 128, MaxAge: maxAge, LockOnExpiry: true, Hash: policy.SchemeArgon2id, Argon2Memory: 7168, Argon2Time: 1, Argon2Threads: 1}
	s.door, err = policy.New(s.dir, cfg, policy.Admin{DN: adminDN, Password: "admin-secret-1"}, policy.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("policy.New: %v", err)
	}
	ncfg := notify.Config{ExpiryNotice: []time.Duration{7 * day, 3 * day, 1 * day}, Interval: time.Hour}
	s.n = notify.New(ncfg, s.dir, s.door, s.mail, notify.Options{PublicURL: publicURL, Now: clock.Now})
	return s
}

// addUser adds uid (under the base) whose password was changed at
// changed; without mail when noMail.
func (s *site) addUser(uid string, changed time.Time, noMail bool) store.DN {
	s.t.Helper()
	dn, _ := store.ParseDN("uid=" + uid + "," + base)
	e := &store.Entry{DN: dn}
	e.Set("objectClass", "top", "person", "organizationalPerson", "inetOrgPerson")
	e.Set("uid", uid)
	e.Set("cn", strings.ToUpper(uid[:1])+uid[1:]+" Example")
	e.Set("sn", "Example")
	if !noMail {
		e.Set("mail", uid+"@example.com")
	}
	e.Set("userPassword", ssha("Tulip-Orbit-93-"+uid))
	e.Set("pwdChangedTime", store.FormatTime(changed))
	if err := s.door.Add(s.ctx, s.door.AdminDN(), e); err != nil {
		s.t.Fatalf("adding %s: %v", uid, err)
	}
	return dn
}

// tick runs one pass at t0+at and returns "uid:subject" for each notice
// delivered.
func (s *site) tick(at time.Duration) ([]string, notify.Tally) {
	s.t.Helper()
	s.clock.Set(t0.Add(at))
	tally, err := s.n.Tick(s.ctx)
	if err != nil {
		s.t.Fatalf("Tick at t0+%s: %v", at, err)
	}
	var got []string
	for _, m := range s.mail.take() {
		got = append(got, strings.TrimSuffix(m.To, "@example.com")+":"+m.Subject)
	}
	return got, tally
}

// step is one pass of the notifier at t0+at, after do (when set), and
// the notices it must deliver.
type step struct {
	at      time.Duration
	do      func(s *site)
	failing bool
	want    []string
}

func TestTick(t *testing.T) {
	tests := []struct {
		name   string
		maxAge time.Duration
		users  func(s *site)
		steps  []step
	}{
		{
			name:   "each offset once, none after expiry",
			maxAge: 10 * day,
			users:  func(s *site) { s.addUser("alice", t0, false) },
			steps: []step{
				{at: 0},
				{at: 3*day - time.Minute},
				{at: 3 * day, want: []string{"alice:Your password expires in 7 days"}},
				{at: 3*day + time.Hour},
				{at: 5 * day},
				{at: 7 * day, want: []string{"alice:Your password expires in 3 days"}},
				{at: 8 * day},
				{at: 9*day + 2*time.Hour, want: []string{"alice:Your password expires in 22 hours"}},
				{at: 9*day + 20*time.Hour},
				{at: 10 * day},
				{at: 12 * day},
			},
		},
		{
			name:   "offsets missed while down: only the nearest is sent",
			maxAge: 10 * day,
			users:  func(s *site) { s.addUser("alice", t0, false) },
			steps: []step{
				{at: 8 * day, want: []string{"alice:Your password expires in 2 days"}},
				{at: 8*day + time.Hour},
				{at: 9*day + 12*time.Hour, want: []string{"alice:Your password expires in 12 hours"}},
			},
		},
		{
			name:   "expired passwords get none",
			maxAge: 10 * day,
			users: func(s *site) {
				s.addUser("old", t0.Add(-10*day), false)
				s.addUser("older", t0.Add(-300*day), false)
			},
			steps: []step{{at: 0}, {at: time.Hour}, {at: 5 * day}},
		},
		{
			name:   "a user without mail is skipped",
			maxAge: 10 * day,
			users: func(s *site) {
				s.addUser("nomail", t0, true)
				s.addUser("bob", t0, false)
			},
			steps: []step{{at: 3 * day, want: []string{"bob:Your password expires in 7 days"}}},
		},
		{
			name:   "a failed send is retried at the next pass",
			maxAge: 10 * day,
			users:  func(s *site) { s.addUser("alice", t0, false) },
			steps: []step{
				{at: 3 * day, failing: true},
				{at: 3*day + time.Hour, failing: true},
				{at: 3*day + 2*time.Hour, want: []string{"alice:Your password expires in 7 days"}},
				{at: 3*day + 3*time.Hour},
			},
		},
		{
			name:   "a password change starts afresh",
			maxAge: 10 * day,
			users:  func(s *site) { s.addUser("alice", t0, false) },
			steps: []step{
				{at: 3 * day, want: []string{"alice:Your password expires in 7 days"}},
				{at: 3*day + time.Hour, do: func(s *site) {
					s.clock.Set(t0.Add(3*day + time.Hour))
					dn, _ := store.ParseDN("uid=alice," + base)
					_, err := s.door.ChangePassword(s.ctx, policy.Change{Actor: dn, Old: []byte("Tulip-Orbit-93-alice"), HasOld: true,
						New: []byte("Maple-Vortex-58"), HasNew: true, Front: policy.FrontLDAP})
					if err != nil {
						s.t.Fatalf("changing the password: %v", err)
					}
				}},
				{at: 6 * day},
				{at: 6*day + time.Hour, want: []string{"alice:Your password expires in 7 days"}},
				{at: 10*day + time.Hour, want: []string{"alice:Your password expires in 3 days"}},
			},
		},
		{
			name:   "max_age 0: nothing",
			maxAge: 0,
			users:  func(s *site) { s.addUser("alice", t0.Add(-300*day), false) },
			steps:  []step{{at: 0}, {at: 3 * day}, {at: 400 * day}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, memkv.New(), &fakeClock{t: t0}, tt.maxAge)
			tt.users(s)
			for _, st := range tt.steps {
				if st.do != nil {
					st.do(s)
				}
				s.mail.failing = st.failing
				got, tally := s.tick(st.at)
				if !slices.Equal(got, st.want) {
					t.Fatalf("at t0+%s: delivered %q, want %q", st.at, got, st.want)
				}
				if st.failing && tally.Failed == 0 && len(st.want) == 0 && tally.Candidates > 0 {
					t.Fatalf("at t0+%s: a failing relay counted no failure: %+v", st.at, tally)
				}
			}
		})
	}
}

// TestTickCounts checks the tally: users without mail and failed sends
// are counted, not recorded.
func TestTickCounts(t *testing.T) {
	s := newSite(t, memkv.New(), &fakeClock{t: t0}, 10*day)
	s.addUser("nomail", t0, true)
	s.addUser("alice", t0, false)
	s.mail.failing = true
	_, tally := s.tick(3 * day)
	if want := (notify.Tally{Candidates: 2, Failed: 1, NoMail: 1}); tally != want {
		t.Errorf("tally with a failing relay = %+v, want %+v", tally, want)
	}
	s.mail.failing = false
	_, tally = s.tick(3*day + time.Hour)
	if want := (notify.Tally{Candidates: 2, Sent: 1, NoMail: 1}); tally != want {
		t.Errorf("tally after = %+v, want %+v", tally, want)
	}
}

// TestMessage checks one notice's content: to the mail attribute, how
// long is left, the portal's Security page, and no secret.
func TestMessage(t *testing.T) {
	s := newSite(t, memkv.New(), &fakeClock{t: t0}, 10*day)
	s.addUser("alice", t0, false)
	s.clock.Set(t0.Add(7 * day))
	if _, err := s.n.Tick(s.ctx); err != nil {
		t.Fatal(err)
	}
	msgs := s.mail.take()
	if len(msgs) != 1 {
		t.Fatalf("delivered %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.To != "alice@example.com" {
		t.Errorf("To = %q", m.To)
	}
	if m.Subject != "Your password expires in 3 days" {
		t.Errorf("Subject = %q", m.Subject)
	}
	for _, want := range []string{"Hello Alice Example,", "Your password for alice expires in 3 days", "Tuesday 11 March 2025 at 10:00 UTC", "https://id.example.com/security\n"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
	for _, secret := range []string{"{SSHA}", "Tulip-Orbit", "admin-secret"} {
		if strings.Contains(m.Body+m.Subject, secret) {
			t.Errorf("message holds %q:\n%s", secret, m.Body)
		}
	}
}

// TestRestartDoesNotRepeat reopens a Badger store between passes, as a
// restart of dird serve does: a notice sent before is not sent again, and
// the next offset still comes.
func TestRestartDoesNotRepeat(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{t: t0}
	open := func() *site {
		db, err := badgerkv.Open(dir, badgerkv.Options{})
		if err != nil {
			t.Fatalf("opening badger: %v", err)
		}
		return newSite(t, db, clock, 10*day)
	}
	s := open()
	s.addUser("alice", t0, false)
	if got, _ := s.tick(3 * day); !slices.Equal(got, []string{"alice:Your password expires in 7 days"}) {
		t.Fatalf("first run delivered %q", got)
	}
	s.kv.Close()

	s = open()
	defer s.kv.Close()
	if got, _ := s.tick(3*day + time.Hour); len(got) != 0 {
		t.Fatalf("after a restart: delivered %q again", got)
	}
	if got, _ := s.tick(7 * day); !slices.Equal(got, []string{"alice:Your password expires in 3 days"}) {
		t.Fatalf("after a restart: delivered %q at the 3d offset", got)
	}
}

func TestRemaining(t *testing.T) {
	tests := []struct {
		left time.Duration
		want string
	}{
		{7 * day, "7 days"},
		{2*day + 23*time.Hour, "3 days"},
		{day + 11*time.Hour, "1 day"},
		{day, "1 day"},
		{23*time.Hour + time.Minute, "24 hours"},
		{90 * time.Minute, "2 hours"},
		{time.Minute, "1 hour"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.left), func(t *testing.T) {
			if got := notify.Remaining(tt.left); got != tt.want {
				t.Errorf("Remaining(%s) = %q, want %q", tt.left, got, tt.want)
			}
		})
	}
}
