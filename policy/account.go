package policy

import (
	"context"
	"time"

	"github.com/dird/dird/store"
)

// AccountStatus is what a person's own home page shows.
type AccountStatus struct {
	Account
	// ChangedAt is when the password was last set (zero: unknown).
	ChangedAt time.Time
	// ExpiresAt is when it expires (zero: never).
	ExpiresAt time.Time
	// Warn: ExpiresAt is within policy.expire_warning.
	Warn bool
	// MustChange: an administrator set the password (pwdReset).
	MustChange   bool
	HasTOTP      bool
	RecoveryLeft int
}

// Status reads dn's password state for display.
func (d *Door) Status(ctx context.Context, dn store.DN) (*AccountStatus, error) {
	e, err := d.dir.Get(ctx, dn)
	if err != nil {
		return nil, err
	}
	s := readState(e)
	rec, err := d.readTOTP(ctx, dn)
	if err != nil {
		return nil, err
	}
	st := &AccountStatus{
		Account:      *accountOf(e),
		ChangedAt:    s.changed,
		ExpiresAt:    d.expiresAt(s),
		MustChange:   s.mustChange,
		HasTOTP:      rec.Secret != "",
		RecoveryLeft: len(rec.Recovery),
	}
	st.Warn = !st.ExpiresAt.IsZero() && d.cfg.ExpireWarning > 0 && st.ExpiresAt.Sub(d.now()) <= d.cfg.ExpireWarning
	return st, nil
}

// PasswordProblems names every quality rule a candidate password breaks
// for dn (not only the first, which is what a change reports), for pages
// that show the list. It does not check history.
func (d *Door) PasswordProblems(ctx context.Context, dn store.DN, pw string) []*QualityError {
	var context []string
	if e, err := d.dir.Get(ctx, dn); err == nil {
		context = contextWords(e)
	}
	return QualityProblems(d.rules, pw, context...)
}

// QualityProblems returns every rule pw breaks: the length and content
// rules CheckQuality checks in order, then each composition rule on its
// own, so a page can mark all of them at once.
func QualityProblems(r Rules, pw string, context ...string) []*QualityError {
	var out []*QualityError
	add := func(err error) {
		if q, ok := ErrIsQuality(err); ok {
			for _, have := range out {
				if have.Rule == q.Rule {
					return
				}
			}
			out = append(out, q)
		}
	}
	add(CheckQuality(Rules{MinLength: r.MinLength, MaxLength: r.MaxLength}, pw))
	rest := r
	rest.MinLength = 0
	rest.RequireUpper, rest.RequireLower, rest.RequireDigit, rest.RequireSymbol = false, false, false, false
	add(CheckQuality(rest, pw, context...))
	for _, only := range []Rules{
		{RequireUpper: r.RequireUpper}, {RequireLower: r.RequireLower},
		{RequireDigit: r.RequireDigit}, {RequireSymbol: r.RequireSymbol},
	} {
		add(checkComposition(only, pw))
	}
	return out
}

// PolicySummary is what a password form tells people about the rules.
type PolicySummary struct {
	Rules         Rules
	History       int
	MaxAge        time.Duration
	ExpireWarning time.Duration
}

// Summary returns the rules in force for display.
func (d *Door) Summary() PolicySummary {
	return PolicySummary{Rules: d.rules, History: d.cfg.History, MaxAge: d.cfg.MaxAge, ExpireWarning: d.cfg.ExpireWarning}
}

// Healthy reports whether the store answers (the portal's /healthz).
func (d *Door) Healthy(ctx context.Context) error {
	_, err := d.dir.Get(ctx, d.dir.Base())
	return err
}
