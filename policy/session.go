package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/dird/dird/store"
)

// ErrNoSession: the session id is unknown, timed out, logged out, or was
// ended by a password change or a lock.
var ErrNoSession = errors.New("policy: no such session")

// SessionLimits are a front's session timeouts.
type SessionLimits struct {
	// Idle ends a session not used for this long.
	Idle time.Duration
	// Max ends a session this long after login, used or not.
	Max time.Duration
}

// Session is a valid session as CheckSession found it.
type Session struct {
	DN store.DN
	// MFAPending: the password was right but the second factor is still
	// to be given; the session allows nothing else.
	MFAPending bool
	Created    time.Time
}

type sessionRecord struct {
	DN         string    `json:"dn"`
	Stamp      string    `json:"stamp"`
	Created    time.Time `json:"created"`
	Seen       time.Time `json:"seen"`
	MFAPending bool      `json:"mfa_pending,omitempty"`
	Client     string    `json:"client,omitempty"`
	Agent      string    `json:"agent,omitempty"`
}

// SessionStart describes a new session.
type SessionStart struct {
	// MFAPending: the password was right, the second factor is to come.
	MFAPending bool
	// Client and Agent (the browser's User-Agent, cut short) are shown
	// to the person in the list of their sessions.
	Client, Agent string
}

// sessionIndexID is the recSessionDN id of a session: the owner's
// normalised DN, NUL, the session's record id.
func sessionIndexID(dn store.DN, key string) string { return dn.Norm() + "\x00" + key }

// maxAgentLen bounds the User-Agent kept with a session.
const maxAgentLen = 200

// seenGranularity bounds the writes a busy session causes: its last-use
// time is written at most once a minute, so idle timeouts are exact to a
// minute.
const seenGranularity = time.Minute

// StartSession records a new session for dn, bound to the password the
// account has now, and returns its id (256 random bits; only its hash is
// stored). Call it only after Authenticate returned OK for dn.
func (d *Door) StartSession(ctx context.Context, dn store.DN, st SessionStart) (string, error) {
	id, key, err := newSecret()
	if err != nil {
		return "", err
	}
	if len(st.Agent) > maxAgentLen {
		st.Agent = st.Agent[:maxAgentLen]
	}
	now := d.now().UTC()
	err = d.creds.Update(ctx, func(tx *store.Txn) error {
		e, err := tx.Get(dn)
		if err != nil {
			return err
		}
		if err := tx.PutRecord(recSessionDN, sessionIndexID(dn, key), nil); err != nil {
			return err
		}
		return txPutRecord(tx, recSession, key, sessionRecord{
			DN: dn.String(), Stamp: credentialStamp(e), Created: now, Seen: now,
			MFAPending: st.MFAPending, Client: st.Client, Agent: st.Agent,
		})
	})
	if err != nil {
		return "", fmt.Errorf("starting a session for %s: %w", dn, err)
	}
	return id, nil
}

// CheckSession returns the session id stands for, or ErrNoSession when
// it is unknown, idle or older than the limits, when the account's
// password changed since it began (on any front), or when the account is
// now locked or expired. A session found dead is deleted.
func (d *Door) CheckSession(ctx context.Context, id string, lim SessionLimits) (*Session, error) {
	if id == "" {
		return nil, ErrNoSession
	}
	key := secretID(id)
	var rec sessionRecord
	found, err := d.getRecord(ctx, recSession, key, &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNoSession
	}
	now := d.now().UTC()
	dn, err := store.ParseDN(rec.DN)
	alive := err == nil &&
		(lim.Idle <= 0 || now.Sub(rec.Seen) < lim.Idle) &&
		(lim.Max <= 0 || now.Sub(rec.Created) < lim.Max)
	if alive {
		e, err := d.dir.Get(ctx, dn)
		switch {
		case errors.Is(err, store.ErrNoSuchObject):
			alive = false
		case err != nil:
			return nil, err
		default:
			s := readState(e)
			exp := d.expiresAt(s)
			alive = credentialStamp(e) == rec.Stamp &&
				!d.lockActive(s, now) &&
				(exp.IsZero() || now.Before(exp) || !d.cfg.LockOnExpiry)
		}
	}
	if !alive {
		if err := d.EndSession(ctx, id); err != nil {
			return nil, err
		}
		return nil, ErrNoSession
	}
	if now.Sub(rec.Seen) >= seenGranularity {
		rec.Seen = now
		err := d.creds.Update(ctx, func(tx *store.Txn) error {
			var cur sessionRecord
			if ok, err := txGetRecord(tx, recSession, key, &cur); err != nil || !ok {
				return err // ended meanwhile: leave it ended
			}
			return txPutRecord(tx, recSession, key, rec)
		})
		if err != nil {
			return nil, fmt.Errorf("recording session use: %w", err)
		}
	}
	return &Session{DN: dn, MFAPending: rec.MFAPending, Created: rec.Created}, nil
}

// EndSession deletes a session (logout, or a re-issue after login steps).
func (d *Door) EndSession(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := d.endSessionKey(ctx, secretID(id)); err != nil {
		return fmt.Errorf("ending a session: %w", err)
	}
	return nil
}

func (d *Door) endSessionKey(ctx context.Context, key string) error {
	return d.creds.Update(ctx, func(tx *store.Txn) error {
		var rec sessionRecord
		if ok, err := txGetRecord(tx, recSession, key, &rec); err != nil || !ok {
			return err
		}
		if dn, err := store.ParseDN(rec.DN); err == nil {
			if err := tx.DeleteRecord(recSessionDN, sessionIndexID(dn, key)); err != nil {
				return err
			}
		}
		return tx.DeleteRecord(recSession, key)
	})
}

// SessionInfo is one of a person's live sessions, for their own list.
type SessionInfo struct {
	Created, Seen time.Time
	Client, Agent string
	// Current: the session the list was asked from.
	Current bool
}

// Sessions lists dn's live sessions (full ones, within the limits and
// bound to the current password), oldest first; current is the id of the
// asking session.
func (d *Door) Sessions(ctx context.Context, dn store.DN, current string, lim SessionLimits) ([]SessionInfo, error) {
	e, err := d.dir.Get(ctx, dn)
	if err != nil {
		return nil, err
	}
	stamp, now, cur := credentialStamp(e), d.now().UTC(), secretID(current)
	var out []SessionInfo
	err = d.creds.ScanRecords(ctx, recSessionDN, dn.Norm()+"\x00", func(id string, _ []byte) error {
		key := id[len(dn.Norm())+1:]
		var rec sessionRecord
		found, err := d.getRecord(ctx, recSession, key, &rec)
		if err != nil || !found {
			return err
		}
		if rec.MFAPending || rec.Stamp != stamp || (lim.Idle > 0 && now.Sub(rec.Seen) >= lim.Idle) || (lim.Max > 0 && now.Sub(rec.Created) >= lim.Max) {
			return nil
		}
		out = append(out, SessionInfo{Created: rec.Created, Seen: rec.Seen, Client: rec.Client, Agent: rec.Agent, Current: key == cur})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the sessions of %s: %w", dn, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// EndOtherSessions ends every session of dn but the one with id current
// ("log out everywhere else"), and returns how many it ended.
func (d *Door) EndOtherSessions(ctx context.Context, dn store.DN, current string) (int, error) {
	cur := secretID(current)
	var keys []string
	err := d.creds.ScanRecords(ctx, recSessionDN, dn.Norm()+"\x00", func(id string, _ []byte) error {
		if key := id[len(dn.Norm())+1:]; key != cur {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("listing the sessions of %s: %w", dn, err)
	}
	for _, k := range keys {
		if err := d.endSessionKey(ctx, k); err != nil {
			return 0, fmt.Errorf("ending a session of %s: %w", dn, err)
		}
	}
	return len(keys), nil
}

// PruneRecords deletes sessions past their limits and reset tokens past
// their expiry (and the index of each account's latest token), so that
// records of people who never come back do not pile up.
// It returns how many it deleted.
func (d *Door) PruneRecords(ctx context.Context, lim SessionLimits) (int, error) {
	now := d.now().UTC()
	var dead [][2]string
	err := d.creds.ScanRecords(ctx, recSession, "", func(id string, v []byte) error {
		var rec sessionRecord
		if json.Unmarshal(v, &rec) != nil || (lim.Max > 0 && now.Sub(rec.Created) >= lim.Max) ||
			(lim.Idle > 0 && now.Sub(rec.Seen) >= lim.Idle) {
			dead = append(dead, [2]string{recSession, id})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("scanning sessions: %w", err)
	}
	live := map[string]bool{}
	err = d.creds.ScanRecords(ctx, recReset, "", func(id string, v []byte) error {
		var rec resetRecord
		if json.Unmarshal(v, &rec) != nil || !now.Before(rec.Expires) {
			dead = append(dead, [2]string{recReset, id})
		} else {
			live[id] = true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("scanning reset tokens: %w", err)
	}
	err = d.creds.ScanRecords(ctx, recResetUser, "", func(dn string, v []byte) error {
		if !live[string(v)] {
			dead = append(dead, [2]string{recResetUser, dn})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("scanning reset tokens: %w", err)
	}
	for _, k := range dead {
		kind, id := k[0], k[1]
		var err error
		if kind == recSession {
			err = d.endSessionKey(ctx, id)
		} else {
			err = d.creds.Update(ctx, func(tx *store.Txn) error { return tx.DeleteRecord(kind, id) })
		}
		if err != nil {
			return 0, fmt.Errorf("pruning a %s record: %w", kind, err)
		}
	}
	return len(dead), nil
}
