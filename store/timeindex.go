package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The password change index orders entries by pwdChangedTime, so that the
// expiry notifier finds the passwords that expire soon with one range
// scan instead of reading every entry:
//
//	t<8-byte big-endian Unix seconds><tree key> -> DN string
//
// reindex keeps it whenever an entry is added, modified, renamed or
// deleted; EnsurePwdChangedIndex builds it for a store written before it
// existed (a restored old backup, or an older dird's store).
const prefixTime = 't'

// timeIndexBuilt marks a store whose password change index is complete:
// written with the base entry (an empty store's index is complete) and
// after EnsurePwdChangedIndex has built it.
var timeIndexBuilt = []byte{prefixMeta, 't', 'i', 'm', 'e', 'i', 'n', 'd', 'e', 'x', '/', '1'}

// timeKeySeconds clamps a time to the index's range: seconds since 1970,
// so that big-endian bytes sort as the times do.
func timeKeySeconds(t time.Time) uint64 {
	if s := t.Unix(); s > 0 {
		return uint64(s)
	}
	return 0
}

func timeKey(changed time.Time, treeKey string) []byte {
	k := make([]byte, 0, 9+len(treeKey))
	k = append(k, prefixTime)
	k = binary.BigEndian.AppendUint64(k, timeKeySeconds(changed))
	return append(k, treeKey...)
}

// pwdChanged reads an entry's pwdChangedTime; ok is false when it has
// none (or none that parses: such an entry never expires for policy
// either).
func pwdChanged(e *Entry) (time.Time, bool) {
	if e == nil {
		return time.Time{}, false
	}
	v := e.First("pwdChangedTime")
	if v == "" {
		return time.Time{}, false
	}
	t, err := ParseGeneralizedTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// reindexPwdChanged moves the entry's password change index key from old
// to new (either may be nil, for an add or a delete). It only writes and
// deletes, never reads an index key, so IndexKey covers it too.
func (t *Txn) reindexPwdChanged(old, new *Entry) error {
	var oldKey, newKey []byte
	if at, ok := pwdChanged(old); ok {
		oldKey = timeKey(at, old.key)
	}
	if at, ok := pwdChanged(new); ok {
		newKey = timeKey(at, new.key)
	}
	if bytes.Equal(oldKey, newKey) {
		return nil
	}
	if oldKey != nil {
		if err := t.tx.Delete(oldKey); err != nil {
			return err
		}
	}
	if newKey != nil {
		return t.tx.Put(newKey, []byte(new.DN.String()))
	}
	return nil
}

// ScanPwdChanged calls fn, oldest first, for every entry whose
// pwdChangedTime lies in [from, until] to the second (from's second
// included, until's second included). It reads the index only, no entry,
// and on a backend that is a Seeker (badgerkv, memkv) only the index keys
// in the range and the one after it; on another, the keys before from are
// read too, but not handed to fn. fn may return ErrStopScan.
func (d *Directory) ScanPwdChanged(ctx context.Context, from, until time.Time, fn func(dn DN, changed time.Time) error) error {
	lo, hi := timeKeySeconds(from), timeKeySeconds(until)
	errPast := errors.New("past the range")
	prefix := []byte{prefixTime}
	scan := d.kv.Scan
	if sk, ok := d.kv.(Seeker); ok {
		start := binary.BigEndian.AppendUint64([]byte{prefixTime}, lo)
		scan = func(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
			return sk.ScanFrom(ctx, prefix, start, fn)
		}
	}
	err := scan(ctx, prefix, func(key, value []byte) error {
		if len(key) < 9 {
			return fmt.Errorf("store: malformed password change index key %q", key)
		}
		sec := binary.BigEndian.Uint64(key[1:9])
		if sec > hi {
			return errPast
		}
		if sec < lo {
			return nil
		}
		dn, err := ParseDN(string(value))
		if err != nil {
			return fmt.Errorf("store: password change index: %w", err)
		}
		return fn(dn, time.Unix(int64(sec), 0).UTC())
	})
	if errors.Is(err, errPast) {
		return nil
	}
	return err
}

// indexBuildBatch bounds one transaction of EnsurePwdChangedIndex, far
// under Badger's per-transaction limit.
const indexBuildBatch = 1000

// EnsurePwdChangedIndex builds the password change index when the store
// does not say it is complete, and returns how many entries it indexed
// (0 when it was complete). Run it before serving: it scans every entry
// once, and writes made beside it while it runs could be missed. The keys
// are the ones reindex writes, so entries indexed already are only
// written again.
func (d *Directory) EnsurePwdChangedIndex(ctx context.Context) (int, error) {
	if _, err := d.kv.Get(ctx, timeIndexBuilt); err == nil {
		return 0, nil
	} else if !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("reading the password change index marker: %w", err)
	}
	type item struct{ key, dn []byte }
	var batch []item
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := d.kv.Update(ctx, func(tx Tx) error {
			for _, it := range batch {
				if err := tx.Put(it.key, it.dn); err != nil {
					return err
				}
			}
			return nil
		})
		n += len(batch)
		batch = batch[:0]
		return err
	}
	err := d.kv.Scan(ctx, []byte{prefixEntry}, func(key, value []byte) error {
		e, err := decodeEntry(string(key[1:]), value)
		if err != nil {
			return err
		}
		at, ok := pwdChanged(e)
		if !ok {
			return nil
		}
		batch = append(batch, item{timeKey(at, e.key), []byte(e.DN.String())})
		if len(batch) >= indexBuildBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = d.kv.Update(ctx, func(tx Tx) error { return tx.Put(timeIndexBuilt, nil) })
	}
	if err != nil {
		return n, fmt.Errorf("building the password change index: %w", err)
	}
	return n, nil
}
