// Package notify is the password expiry notifier that runs inside dird
// serve: at each notify.expiry_notice offset before a user's password
// expires it emails the user once, with a link to the portal's Security
// page. What was sent is recorded in the store, so a restart neither
// loses nor repeats a notice; due users are found through the store's
// pwdChangedTime index, not by reading every entry.
//
// It imports store and mail; the expiry rule itself stays in policy and
// reaches the notifier through the Expiry interface, which *policy.Door
// implements. Package server wires it.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/dird/dird/mail"
	"github.com/dird/dird/store"
)

// Expiry is the policy's expiry rule, as *policy.Door exposes it.
type Expiry interface {
	// MaxAge is the password lifetime; 0: passwords never expire.
	MaxAge() time.Duration
	// ExpiresAt returns when the password of e expires; ok is false when
	// it never does.
	ExpiresAt(e *store.Entry) (at time.Time, ok bool)
}

// Options are the notifier's wiring, apart from its configuration.
type Options struct {
	// PublicURL is portal.public_url, the base of the link in a notice.
	PublicURL string
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	// Log receives a line per pass that did something, and failed sends.
	Log *slog.Logger
}

// Notifier sends expiry notices. Run it once; Tick is one pass.
type Notifier struct {
	cfg         Config
	offsets     []time.Duration // ascending
	dir         *store.Directory
	expiry      Expiry
	mail        mail.Sender
	now         func() time.Time
	log         *slog.Logger
	securityURL string
}

// New returns a notifier over dir that sends through sender.
func New(cfg Config, dir *store.Directory, expiry Expiry, sender mail.Sender, o Options) *Notifier {
	n := &Notifier{
		cfg:         cfg,
		offsets:     slices.Sorted(slices.Values(cfg.ExpiryNotice)),
		dir:         dir,
		expiry:      expiry,
		mail:        sender,
		now:         o.Now,
		log:         o.Log,
		securityURL: strings.TrimRight(o.PublicURL, "/") + "/security",
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	return n
}

// Run calls Tick at once and then every notify.interval until ctx is
// done. With an interval of 0 it returns at once: the notifier is off.
func (n *Notifier) Run(ctx context.Context) {
	if n.cfg.Interval <= 0 {
		return
	}
	t := time.NewTicker(n.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := n.Tick(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("expiry notices: pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tally counts what one pass did.
type Tally struct {
	// Candidates are the entries the index offered (passwords that
	// expire within the largest offset and have not expired).
	Candidates int
	// Sent counts notices delivered and recorded.
	Sent int
	// Failed counts notices whose sending failed; the next pass tries
	// them again.
	Failed int
	// NoMail counts users with a notice due but no mail attribute.
	NoMail int
	// Pruned counts records of expired or replaced passwords deleted.
	Pruned int
}

// Tick looks once for due notices and sends them. A user gets, per
// password, at most one notice per offset, and only the nearest due one:
// a user whose 7d and 3d offsets both passed while dird was down gets the
// 3d notice only. A failed send is logged and left unrecorded, so the
// next pass tries again.
func (n *Notifier) Tick(ctx context.Context) (Tally, error) {
	var tally Tally
	maxAge := n.expiry.MaxAge()
	if maxAge <= 0 || len(n.offsets) == 0 {
		return tally, nil
	}
	now := n.now()
	// Not expired: changed after now-maxAge. Due at the largest offset:
	// changed at or before now-maxAge+largest.
	from, until := now.Add(-maxAge), now.Add(-maxAge+n.offsets[len(n.offsets)-1])
	var candidates []store.DN
	err := n.dir.ScanPwdChanged(ctx, from, until, func(dn store.DN, _ time.Time) error {
		candidates = append(candidates, dn)
		return nil
	})
	if err != nil {
		return tally, fmt.Errorf("finding passwords that expire soon: %w", err)
	}
	tally.Candidates = len(candidates)
	for _, dn := range candidates {
		if err := n.consider(ctx, dn, now, &tally); err != nil {
			return tally, err
		}
	}
	tally.Pruned, err = n.dir.PruneNotices(ctx, from)
	if err != nil {
		return tally, err
	}
	level := slog.LevelDebug
	if tally.Sent+tally.Failed+tally.NoMail > 0 {
		level = slog.LevelInfo
	}
	n.log.Log(ctx, level, "expiry notices", "candidates", tally.Candidates, "sent", tally.Sent,
		"failed", tally.Failed, "skipped_no_mail", tally.NoMail, "pruned", tally.Pruned)
	return tally, nil
}

// consider sends dn its due notice, if it has one not sent yet.
func (n *Notifier) consider(ctx context.Context, dn store.DN, now time.Time, tally *Tally) error {
	e, err := n.dir.Get(ctx, dn)
	if errors.Is(err, store.ErrNoSuchObject) {
		return nil // deleted since the scan
	} else if err != nil {
		return fmt.Errorf("reading %s: %w", dn, err)
	}
	exp, ok := n.expiry.ExpiresAt(e)
	if !ok {
		return nil
	}
	left := exp.Sub(now)
	offset, due := n.dueOffset(left)
	if !due {
		return nil
	}
	changed, err := store.ParseGeneralizedTime(e.First("pwdChangedTime"))
	if err != nil {
		return nil // ExpiresAt found none either; nothing to key a notice by
	}
	id := e.First("entryUUID")
	if id == "" {
		id = e.Key()
	}
	notice := store.Notice{EntryID: id, Changed: changed, Offset: offset}
	sent, err := n.dir.NoticeSent(ctx, notice)
	if err != nil || sent {
		return err
	}
	to := e.First("mail")
	if to == "" {
		tally.NoMail++
		return nil
	}
	if err := n.mail.Send(ctx, n.message(e, to, exp, left)); err != nil {
		// The message itself is not logged: the log driver is the one
		// place a body belongs in the log.
		n.log.Warn("expiry notice not sent; retrying at the next pass", "dn", dn.String(), "offset", offset.String(), "err", err)
		tally.Failed++
		return nil
	}
	if err := n.dir.RecordNotice(ctx, notice, now); err != nil {
		return err
	}
	tally.Sent++
	return nil
}

// dueOffset returns the nearest offset that has been reached with left
// remaining: the smallest one at or above left. None is due once the
// password has expired or while it is further away than every offset.
func (n *Notifier) dueOffset(left time.Duration) (time.Duration, bool) {
	if left <= 0 {
		return 0, false
	}
	for _, o := range n.offsets {
		if left <= o {
			return o, true
		}
	}
	return 0, false
}

// message writes the notice: how long is left, when, and where to change
// the password. It holds no secret and no link that grants anything.
func (n *Notifier) message(e *store.Entry, to string, exp time.Time, left time.Duration) mail.Message {
	name := e.First("cn")
	if name == "" {
		name = e.First("uid")
	}
	greeting := "Hello,"
	if name != "" {
		greeting = "Hello " + name + ","
	}
	account := ""
	if uid := e.First("uid"); uid != "" {
		account = " for " + uid
	}
	in := Remaining(left)
	body := greeting + "\n\n" +
		"Your password" + account + " expires in " + in + ", on " + exp.UTC().Format("Monday 2 January 2006 at 15:04 MST") + ".\n" +
		"Change it before then on the Security page of the portal:\n\n" +
		n.securityURL + "\n\n" +
		"Once it has expired you will not be able to log in with it.\n"
	return mail.Message{To: to, Subject: "Your password expires in " + in, Body: body}
}

// Remaining words a time left as the logins' warnings do: days, rounded
// to the nearest (2 days 23 hours reads "3 days"), and hours, rounded up,
// on the last day.
func Remaining(d time.Duration) string {
	if d < 24*time.Hour {
		return plural(int(math.Ceil(d.Hours())), "hour")
	}
	return plural(int(math.Round(d.Hours()/24)), "day")
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
