package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dird/dird/config"
	"github.com/dird/dird/mail"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/portal"
	"github.com/dird/dird/store"
)

// dird mfa-reset: the administrator removes a user's second factor (TOTP
// app, pending enrolment, recovery codes), for a person who lost the phone
// and the codes, or whose sealed secret no longer opens after a modrdn or
// a restore without seal.key. Like export and backup it works whether or
// not dird serve runs: through the control socket (POST /mfa-reset) or on
// the store itself. The change goes through policy.RemoveTOTP, which
// writes the audit line, and the person is emailed.

// Errors of MFAReset, matched with errors.Is.
var (
	// ErrNoSuchUser: no entry has that uid or DN.
	ErrNoSuchUser = errors.New("server: no such user")
	// ErrBadUser: the argument has an = but is not a DN.
	ErrBadUser = errors.New("server: not a uid or a DN")
)

// mfaResetFront names the way in, in the audit line.
const mfaResetFront = "dird mfa-reset"

// MFAResetResult says what MFAReset removed.
type MFAResetResult struct {
	// DN is the user's entry.
	DN string `json:"dn"`
	// App: a confirmed authenticator app was removed.
	App bool `json:"app"`
	// Pending: an enrolment not yet confirmed was removed.
	Pending bool `json:"pending"`
	// RecoveryCodes is how many unused recovery codes were removed.
	RecoveryCodes int `json:"recovery_codes"`
	// Sessions is how many portal sessions of the person were ended
	// (all of them, whatever was removed).
	Sessions int `json:"sessions"`
	// Mailed is the address told of the removal ("" when nothing was
	// removed or the entry has no mail).
	Mailed string `json:"mailed,omitempty"`
	// MailError says why telling them failed; the removal stands.
	MailError string `json:"mail_error,omitempty"`
}

// Removed reports whether there was anything to remove.
func (r MFAResetResult) Removed() bool { return r.App || r.Pending || r.RecoveryCodes > 0 }

// MFAReset removes the second factor of user (a uid, or a full DN). It
// asks a running dird serve over its control socket, or opens the store
// when none runs; then the audit line goes to log.
func MFAReset(ctx context.Context, cfg config.Config, user string, log *slog.Logger) (MFAResetResult, error) {
	if c, ok := dialControl(cfg); ok {
		return c.mfaReset(ctx, user)
	}
	kv, err := openStore(cfg, true, noSocket(cfg))
	if err != nil {
		return MFAResetResult{}, err
	}
	defer kv.Close()
	dir, err := store.Open(ctx, kv, store.Options{BaseDN: cfg.BaseDN, AdminDN: cfg.Admin.DN, NoBaseEntry: true})
	if err != nil {
		return MFAResetResult{}, err
	}
	obs := &observer{audit: slog.New(alwaysEnabled{log.Handler()}).With("audit", true)}
	pw, err := cfg.Admin.ReadPassword()
	if err != nil {
		return MFAResetResult{}, err
	}
	key, err := loadSealKey(cfg.Store.Path)
	if err != nil {
		return MFAResetResult{}, err
	}
	door, err := policy.New(dir, cfg.Policy, policy.Admin{DN: cfg.Admin.DN, Password: pw}, policy.Options{SealKey: key, Observe: obs.credential})
	if err != nil {
		return MFAResetResult{}, err
	}
	sender, err := mail.New(cfg.Mail, log.With("component", "mail"))
	if err != nil {
		return MFAResetResult{}, err
	}
	return removeTOTP(ctx, dir, door, sender, log, user)
}

// mfaReset is the control socket's side of MFAReset, with the running
// server's door (its audit trail) and a mail sender like the portal's.
func (s *Server) mfaReset(ctx context.Context, user string) (MFAResetResult, error) {
	sender, err := mail.New(s.cfg.Mail, s.log.With("component", "mail"))
	if err != nil {
		return MFAResetResult{}, err
	}
	return removeTOTP(ctx, s.dir, s.door, s.observeMail(sender), s.log, user)
}

// removeTOTP finds the user, removes the factor as the administrator,
// and emails the person when something was removed. A failed mail is
// logged and reported; the removal stands.
func removeTOTP(ctx context.Context, dir *store.Directory, door *policy.Door, sender mail.Sender, log *slog.Logger, user string) (MFAResetResult, error) {
	dn, err := findUser(ctx, dir, user)
	if err != nil {
		return MFAResetResult{}, err
	}
	r, err := door.RemoveTOTP(ctx, door.AdminDN(), dn, mfaResetFront)
	if errors.Is(err, store.ErrNoSuchObject) { // deleted meanwhile
		return MFAResetResult{}, &opsError{msg: fmt.Sprintf("there is no user %s", dn), sentinel: ErrNoSuchUser, cause: err}
	}
	if err != nil {
		return MFAResetResult{}, err
	}
	res := MFAResetResult{DN: r.Account.DN.String(), App: r.App, Pending: r.Pending, RecoveryCodes: r.RecoveryCodes, Sessions: r.Sessions}
	if !r.Removed() || r.Account.Mail == "" {
		return res, nil
	}
	if err := sender.Send(ctx, portal.MFARemovedLetter(r.Account, time.Now())); err != nil {
		log.Error("telling the user of the authenticator removal failed", "user", res.DN, "to", r.Account.Mail, "err", err)
		res.MailError = err.Error()
		return res, nil
	}
	res.Mailed = r.Account.Mail
	return res, nil
}

// findUser reads who as a DN when it has an =, else as a uid.
func findUser(ctx context.Context, dir *store.Directory, who string) (store.DN, error) {
	who = strings.TrimSpace(who)
	if strings.Contains(who, "=") {
		dn, err := store.ParseDN(who)
		if err != nil {
			return nil, &opsError{msg: fmt.Sprintf("%q is not a DN: %v", who, err), sentinel: ErrBadUser, cause: err}
		}
		e, err := dir.Get(ctx, dn)
		if errors.Is(err, store.ErrNoSuchObject) {
			return nil, &opsError{msg: fmt.Sprintf("there is no entry %s", dn), sentinel: ErrNoSuchUser, cause: err}
		}
		if err != nil {
			return nil, err
		}
		return e.DN, nil
	}
	if who == "" {
		return nil, &opsError{msg: "no user given", sentinel: ErrBadUser}
	}
	e, err := dir.FindUnique(ctx, "uid", who)
	if errors.Is(err, store.ErrNoSuchObject) {
		return nil, &opsError{msg: fmt.Sprintf("there is no user with uid %s", who), sentinel: ErrNoSuchUser, cause: err}
	}
	if err != nil {
		return nil, err
	}
	return e.DN, nil
}

// handleMFAReset serves POST /mfa-reset (form field user) on the
// control socket: the result as JSON, or 404 (no such user), 400 (not a
// uid or DN) or 500 with the message as text.
func handleMFAReset(reset func(context.Context, string) (MFAResetResult, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := reset(r.Context(), r.PostFormValue("user"))
		switch {
		case errors.Is(err, ErrNoSuchUser):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, ErrBadUser):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(res)
		}
	}
}

// mfaReset asks the running server to remove user's second factor.
func (c *controlClient) mfaReset(ctx context.Context, user string) (MFAResetResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://dird/mfa-reset", strings.NewReader(url.Values{"user": {user}}.Encode()))
	if err != nil {
		return MFAResetResult{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		return MFAResetResult{}, fmt.Errorf("asking the running dird serve (%s): %w", c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return MFAResetResult{}, fmt.Errorf("receiving from the running dird serve (%s): %w", c.path, err)
	}
	msg := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case http.StatusOK:
		var res MFAResetResult
		if err := json.Unmarshal(body, &res); err != nil {
			return MFAResetResult{}, fmt.Errorf("the running dird serve (%s) answered something unreadable: %w", c.path, err)
		}
		return res, nil
	case http.StatusNotFound:
		return MFAResetResult{}, &opsError{msg: msg, sentinel: ErrNoSuchUser}
	case http.StatusBadRequest:
		return MFAResetResult{}, &opsError{msg: msg, sentinel: ErrBadUser}
	case http.StatusMethodNotAllowed:
		return MFAResetResult{}, fmt.Errorf("the running dird serve (%s) does not know mfa-reset (is it older?); restart it, or stop it and run this command again", c.path)
	}
	return MFAResetResult{}, fmt.Errorf("the running dird serve (%s) answered %s: %s", c.path, resp.Status, msg)
}
