package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dird/dird/store"
)

// Admin is the configured administrator: a DN that is not an entry, with a
// password from configuration (cleartext or an already hashed value).
type Admin struct {
	DN       string
	Password string
}

// Options are the door's wiring, apart from the policy configuration.
type Options struct {
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	// HashConcurrency bounds how many hashes run at once (a bind flood
	// queues instead of exhausting memory); 0 means the number of CPUs.
	HashConcurrency int
	// HashWait is the longest an attempt waits for a hashing slot when
	// its context has no earlier deadline; 0 means 10s.
	HashWait time.Duration
	// Observe, when set, is told of every decision (observe.go): the
	// audit trail and the metrics hang off it. It must be quick.
	Observe func(Event)
}

// Door is the one place that decides about credentials. Every front calls
// it; it reads and writes the credential attributes through the store's
// Credentials handle, which nobody else holds.
type Door struct {
	cfg      Config
	dir      *store.Directory
	creds    *store.Credentials
	admin    store.DN
	adminPW  string
	params   HashParams
	rules    Rules
	now      func() time.Time
	sem      chan struct{}
	hashWait time.Duration
	// verifyHook, when set, is called once per hash verification (tests
	// count the work a login costs with it).
	verifyHook func()
	observe    func(Event) // Options.Observe; nil: nobody listens
}

// maxRecordedFailures caps pwdFailureTime values: it is also the hourly
// throttle (NIST 800-63B §5.2.2: at most 100 failures), and it bounds the
// writes a wrong-password flood causes.
const maxRecordedFailures = 100

// previousPasswordsExempt is how many previous passwords do not count as
// failures (a phone still trying the old Wi-Fi password), as AD does.
const previousPasswordsExempt = 2

// New builds the door, claiming the directory's credential writer.
func New(dir *store.Directory, cfg Config, admin Admin, o Options) (*Door, error) {
	adminDN, err := store.ParseDN(admin.DN)
	if err != nil || len(adminDN) == 0 {
		return nil, fmt.Errorf("policy: admin DN %q: %w", admin.DN, store.ErrInvalidDN)
	}
	creds, err := dir.ClaimCredentials()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	d := &Door{
		cfg:      cfg,
		dir:      dir,
		creds:    creds,
		admin:    adminDN,
		now:      o.Now,
		hashWait: o.HashWait,
		observe:  o.Observe,
		params: HashParams{
			Scheme:        cfg.Hash,
			Argon2Memory:  cfg.Argon2Memory,
			Argon2Time:    cfg.Argon2Time,
			Argon2Threads: cfg.Argon2Threads,
		},
		rules: Rules{
			MinLength:     cfg.MinLength,
			MaxLength:     cfg.MaxLength,
			RequireUpper:  cfg.RequireUpper,
			RequireLower:  cfg.RequireLower,
			RequireDigit:  cfg.RequireDigit,
			RequireSymbol: cfg.RequireSymbol,
			RejectCommon:  cfg.RejectCommon,
		},
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.hashWait == 0 {
		d.hashWait = 10 * time.Second
	}
	n := o.HashConcurrency
	if n <= 0 {
		n = runtime.NumCPU()
	}
	d.sem = make(chan struct{}, n)
	if cfg.BlocklistFile != "" {
		f, err := os.Open(cfg.BlocklistFile)
		if err != nil {
			return nil, fmt.Errorf("policy.blocklist_file: %w", err)
		}
		d.rules.Blocklist, err = LoadBlocklist(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("policy.blocklist_file: reading %s: %w", cfg.BlocklistFile, err)
		}
	}
	// The admin password is hashed once at start so that checking it costs
	// what a user's bind costs and the cleartext is not compared directly.
	d.adminPW = admin.Password
	if !IsHashed(admin.Password) {
		d.adminPW, err = HashPassword([]byte(admin.Password), d.params)
		if err != nil {
			return nil, fmt.Errorf("policy: hashing the admin password: %w", err)
		}
	}
	return d, nil
}

// IsAdmin reports whether dn is the configured administrator.
func (d *Door) IsAdmin(dn store.DN) bool { return dn.Equal(d.admin) }

// AdminDN returns the administrator's DN.
func (d *Door) AdminDN() store.DN { return d.admin }

// Rules returns the password quality rules in force (for pages that list
// them).
func (d *Door) Rules() Rules { return d.rules }

// verify checks secret against stored inside the bounded hashing queue.
func (d *Door) verify(ctx context.Context, stored string, secret []byte) (bool, error) {
	if err := d.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-d.sem }()
	if d.verifyHook != nil {
		d.verifyHook()
	}
	ok, err := VerifyPassword(stored, secret)
	if err != nil {
		return false, fmt.Errorf("verifying password: %w", err)
	}
	return ok, nil
}

func (d *Door) hash(ctx context.Context, secret []byte) (string, error) {
	if err := d.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-d.sem }()
	return HashPassword(secret, d.params)
}

func (d *Door) acquire(ctx context.Context) error {
	select {
	case d.sem <- struct{}{}:
		d.emit(Event{Kind: EventHashWait})
		return nil
	default:
	}
	start := time.Now() // the queue's wait is real time, not the policy clock
	t := time.NewTimer(d.hashWait)
	defer t.Stop()
	select {
	case d.sem <- struct{}{}:
		d.emit(Event{Kind: EventHashWait, Wait: time.Since(start)})
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	case <-t.C:
		return ErrBusy
	}
}

// state is the ppolicy state read off an entry.
type state struct {
	changed    time.Time // zero: never expires
	lockedAt   time.Time
	locked     bool
	permanent  bool // 000001010000Z: until an administrator unlocks
	failures   []time.Time
	graceUsed  int
	mustChange bool
	history    []historyItem // newest first
}

type historyItem struct {
	at   time.Time
	hash string
}

// permanentLock is ppolicy's value for "locked until an administrator
// unlocks" (draft-behera §5.3.3).
const permanentLock = "000001010000Z"

func readState(e *store.Entry) state {
	var s state
	if v := e.First("pwdChangedTime"); v != "" {
		s.changed, _ = store.ParseGeneralizedTime(v)
	}
	if v := e.First("pwdAccountLockedTime"); v != "" {
		s.locked = true
		s.permanent = v == permanentLock
		s.lockedAt, _ = store.ParseGeneralizedTime(v)
	}
	for _, v := range e.Get("pwdFailureTime") {
		if t, err := store.ParseGeneralizedTime(v); err == nil {
			s.failures = append(s.failures, t)
		}
	}
	sort.Slice(s.failures, func(i, j int) bool { return s.failures[i].Before(s.failures[j]) })
	s.graceUsed = len(e.Get("pwdGraceUseTime"))
	s.mustChange = strings.EqualFold(e.First("pwdReset"), "TRUE")
	for _, v := range e.Get("pwdHistory") {
		if h, ok := parseHistory(v); ok {
			s.history = append(s.history, h)
		}
	}
	sort.SliceStable(s.history, func(i, j int) bool { return s.history[i].at.After(s.history[j].at) })
	return s
}

// parseHistory reads "time#syntaxOID#length#data" (draft-behera §5.3.5).
func parseHistory(v string) (historyItem, bool) {
	parts := strings.SplitN(v, "#", 4)
	if len(parts) != 4 {
		return historyItem{}, false
	}
	t, err := store.ParseGeneralizedTime(parts[0])
	if err != nil {
		return historyItem{}, false
	}
	return historyItem{at: t, hash: parts[3]}, true
}

func formatHistory(at time.Time, hash string) string {
	return store.FormatTime(at) + "#1.3.6.1.4.1.1466.115.121.1.40#" + strconv.Itoa(len(hash)) + "#" + hash
}

// expiresAt returns when the password expires, or zero when it does not.
func (d *Door) expiresAt(s state) time.Time {
	if d.cfg.MaxAge <= 0 || s.changed.IsZero() {
		return time.Time{}
	}
	return s.changed.Add(d.cfg.MaxAge)
}

// lockActive reports whether a lock is in force at now.
func (d *Door) lockActive(s state, now time.Time) bool {
	if !s.locked {
		return false
	}
	if s.permanent || d.cfg.LockoutDuration <= 0 {
		return true
	}
	return now.Before(s.lockedAt.Add(d.cfg.LockoutDuration))
}

// recentFailures counts failures that still matter: after an expired
// lock, and (for the throttle) within the last hour. pwdAccountLockedTime
// is written to the second while failures carry microseconds, so a failure
// in the lock's own second (the one that locked) is from before the lock.
func (d *Door) recentFailures(s state, now time.Time) (consecutive, lastHour int) {
	for _, f := range s.failures {
		if s.locked && !d.lockActive(s, now) && !f.Truncate(time.Second).After(s.lockedAt) {
			continue
		}
		consecutive++
		if now.Sub(f) < time.Hour {
			lastHour++
		}
	}
	return consecutive, lastHour
}

// authenticate checks one login attempt and applies every rule: lockout,
// the hourly throttle, expiry, grace logins, must-change, hash upgrades.
// An unknown user costs the same work as a known one, and a locked or
// expired account answers a wrong password like any wrong password.
func (d *Door) authenticate(ctx context.Context, l Login) (Outcome, error) {
	out := Outcome{GraceRemaining: -1, Result: InvalidCredentials}
	if len(l.Secret) == 0 {
		return out, nil
	}
	if l.DN != nil && d.IsAdmin(l.DN) {
		ok, err := d.verify(ctx, d.adminPW, l.Secret)
		if err != nil || !ok {
			return out, err
		}
		return Outcome{Result: OK, Admin: true, DN: d.admin, GraceRemaining: -1}, nil
	}
	e, err := d.lookup(ctx, l)
	if err != nil && !errors.Is(err, store.ErrNoSuchObject) {
		return out, err
	}
	stored := ""
	if e != nil {
		stored = e.First("userPassword")
	}
	if stored == "" {
		// Unknown user or no password: spend the work of a known user's
		// wrong password, then fail.
		return out, d.equalWork(ctx, l.Secret)
	}
	now := d.now()
	s := readState(e)
	_, lastHour := d.recentFailures(s, now)
	if lastHour >= maxRecordedFailures {
		// Past the hourly bound the secret is not even checked, so the
		// answer cannot tell a right guess from a wrong one and guessing
		// stays at 100 an hour whatever the lock state (NIST 800-63B
		// §5.2.2). The right password gets no "locked" reason here.
		return out, d.equalWork(ctx, l.Secret)
	}
	ok, err := d.verify(ctx, stored, l.Secret)
	if err != nil {
		return out, err
	}
	if !ok {
		// The previous passwords are checked whatever the state, so that
		// a wrong password costs the same on a locked account as on any.
		if d.isPreviousPassword(ctx, s, l.Secret) {
			return out, nil
		}
		// Counted even while locked: guesses during a lock are what the
		// hourly throttle bounds.
		return out, d.recordFailure(ctx, e.DN)
	}
	out.DN = e.DN
	if exp := d.expiresAt(s); !exp.IsZero() && !now.Before(exp) {
		if d.cfg.LockOnExpiry {
			if !s.permanent {
				if err := d.writeState(ctx, e.DN, func(x *store.Entry) { x.Set("pwdAccountLockedTime", permanentLock) }); err != nil {
					return out, err
				}
			}
			out.Result = Expired
			return out, nil
		}
		if d.lockActive(s, now) {
			out.Result = Locked
			return out, nil
		}
		if s.graceUsed >= d.cfg.GraceLogins {
			out.Result = Expired
			return out, nil
		}
		err := d.writeState(ctx, e.DN, func(x *store.Entry) {
			x.Set("pwdGraceUseTime", append(append([]string(nil), x.Get("pwdGraceUseTime")...), store.FormatTime(now))...)
			x.Set("pwdFailureTime") // a grace login is a successful one
		})
		if err != nil {
			return out, err
		}
		out.Result = OK
		out.GraceRemaining = d.cfg.GraceLogins - s.graceUsed - 1
		out.Entry = e
		return out, nil
	} else if !exp.IsZero() && d.cfg.ExpireWarning > 0 && exp.Sub(now) <= d.cfg.ExpireWarning {
		out.ExpiresIn = exp.Sub(now)
	}
	if d.lockActive(s, now) {
		out.Result = Locked
		return out, nil
	}
	out.Result = OK
	out.MustChange = s.mustChange
	out.Entry = e
	// Bookkeeping on success: clear failures, drop an expired lock,
	// upgrade an imported hash. Only written when something changed, so
	// an ordinary bind writes nothing.
	upgrade := ""
	if d.cfg.UpgradeHashes && NeedsUpgrade(stored, d.params) {
		if h, err := d.hash(ctx, l.Secret); err == nil {
			upgrade = h
		}
	}
	if len(s.failures) > 0 || s.locked || upgrade != "" {
		err := d.writeState(ctx, e.DN, func(x *store.Entry) {
			x.Set("pwdFailureTime")
			if s.locked && !d.lockActive(s, now) {
				x.Set("pwdAccountLockedTime")
			}
			if upgrade != "" && x.First("userPassword") == stored {
				x.Set("userPassword", upgrade)
			}
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (d *Door) lookup(ctx context.Context, l Login) (*store.Entry, error) {
	if l.DN != nil {
		return d.dir.Get(ctx, l.DN)
	}
	if l.Name == "" {
		return nil, store.ErrNoSuchObject
	}
	return d.dir.FindUnique(ctx, "uid", l.Name)
}

// equalWork spends what a known user's wrong password costs (its
// verification and the two previous passwords'), for answers that must
// not be told apart by their time.
func (d *Door) equalWork(ctx context.Context, secret []byte) error {
	_, err := d.verify(ctx, DummyHash(d.params), secret)
	if err != nil && !errors.Is(err, ErrBusy) {
		err = nil
	}
	if err == nil {
		d.isPreviousPassword(ctx, state{}, secret)
	}
	return err
}

// isPreviousPassword reports whether secret is one of the user's last two
// passwords. It always spends the work of two verifications, so that the
// time of a failure does not tell whether the user exists.
func (d *Door) isPreviousPassword(ctx context.Context, s state, secret []byte) bool {
	found := false
	for i := 0; i < previousPasswordsExempt; i++ {
		h := DummyHash(d.params)
		if i < len(s.history) {
			h = s.history[i].hash
		}
		if ok, err := d.verify(ctx, h, secret); err == nil && ok && i < len(s.history) {
			found = true
		}
	}
	return found
}

// recordFailure adds a pwdFailureTime (unique: microseconds, and never
// equal to an earlier value) and locks the account at the threshold.
func (d *Door) recordFailure(ctx context.Context, dn store.DN) (err error) {
	locked := false
	defer func() {
		if err == nil && locked {
			d.emit(Event{Kind: EventLockout, User: dn.String()})
		}
	}()
	return d.writeState(ctx, dn, func(x *store.Entry) {
		locked = false // the transaction may be retried
		// Truncate before comparing: two failures in one microsecond
		// would otherwise both be written as that microsecond.
		now := d.now().UTC().Truncate(time.Microsecond)
		s := readState(x)
		if n := len(s.failures); n > 0 && !now.After(s.failures[n-1]) {
			now = s.failures[n-1].Add(time.Microsecond)
		}
		s.failures = append(s.failures, now) // still sorted
		keep := max(maxRecordedFailures, d.cfg.LockoutThreshold)
		if len(s.failures) > keep {
			// Drop the oldest by time: FormatTime values do not sort as
			// strings ("...00.5Z" < "...00Z").
			s.failures = s.failures[len(s.failures)-keep:]
		}
		vals := make([]string, len(s.failures))
		for i, f := range s.failures {
			vals[i] = store.FormatTime(f)
		}
		x.Set("pwdFailureTime", vals...)
		consecutive, _ := d.recentFailures(s, now)
		if d.cfg.LockoutThreshold > 0 && consecutive >= d.cfg.LockoutThreshold && !d.lockActive(s, now) {
			x.Set("pwdAccountLockedTime", store.FormatTime(now.Truncate(time.Second)))
			locked = true
			// Failures before the new lock no longer count once it ends.
		}
	})
}

// writeState applies fn to the entry at dn inside a credential
// transaction, without touching modifyTimestamp (bind-state bookkeeping is
// not a client's modification).
func (d *Door) writeState(ctx context.Context, dn store.DN, fn func(*store.Entry)) error {
	err := d.creds.Update(ctx, func(tx *store.Txn) error {
		old, err := tx.Get(dn)
		if err != nil {
			return err
		}
		e := old.Clone()
		fn(e)
		return tx.Replace(old, e, store.Quiet)
	})
	if err != nil {
		return fmt.Errorf("recording password state of %s: %w", dn, err)
	}
	return nil
}
