package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Expiry notices already sent, so that each goes out once across
// restarts:
//
//	n<8-byte big-endian Unix microseconds of pwdChangedTime><entry id>\x00<offset in seconds> -> time sent
//
// The key names the password (entry and pwdChangedTime), not only the
// entry, so a new password starts with no notices sent. Keys sort by
// pwdChangedTime, so the records of passwords that have expired (or been
// replaced long ago) are pruned with a scan that stops at the first
// password still running.
const prefixNotice = 'n'

// Notice names one expiry notice: the entry (its entryUUID, which a
// rename keeps), the password (its pwdChangedTime) and the offset before
// expiry it was sent at.
type Notice struct {
	EntryID string
	Changed time.Time
	Offset  time.Duration
}

func noticeKey(n Notice) []byte {
	micros := n.Changed.UnixMicro()
	if micros < 0 {
		micros = 0
	}
	k := make([]byte, 0, 9+len(n.EntryID)+12)
	k = append(k, prefixNotice)
	k = binary.BigEndian.AppendUint64(k, uint64(micros))
	k = append(k, n.EntryID...)
	k = append(k, 0)
	return strconv.AppendInt(k, int64(n.Offset/time.Second), 10)
}

// NoticeSent reports whether the notice has been recorded.
func (d *Directory) NoticeSent(ctx context.Context, n Notice) (bool, error) {
	_, err := d.kv.Get(ctx, noticeKey(n))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("reading notice record of %s: %w", n.EntryID, err)
	}
}

// RecordNotice records the notice as sent at sent. The write is durable
// once it returns.
func (d *Directory) RecordNotice(ctx context.Context, n Notice, sent time.Time) error {
	err := d.kv.Update(ctx, func(tx Tx) error {
		return tx.Put(noticeKey(n), []byte(FormatTime(sent)))
	})
	if err != nil {
		return fmt.Errorf("recording notice to %s: %w", n.EntryID, err)
	}
	return nil
}

// pruneBatch bounds the deletes of one PruneNotices transaction.
const pruneBatch = 1000

// PruneNotices deletes the records of passwords changed before cutoff
// (the caller passes now - max_age: those passwords have expired or were
// replaced, and get no more notices) and returns how many it deleted.
func (d *Directory) PruneNotices(ctx context.Context, cutoff time.Time) (int, error) {
	limit := cutoff.UnixMicro()
	var dead [][]byte
	errPast := errors.New("past the cutoff")
	err := d.kv.Scan(ctx, []byte{prefixNotice}, func(key, _ []byte) error {
		if len(key) < 9 || int64(binary.BigEndian.Uint64(key[1:9])) >= limit {
			return errPast
		}
		dead = append(dead, append([]byte(nil), key...))
		return nil
	})
	if err != nil && !errors.Is(err, errPast) {
		return 0, fmt.Errorf("pruning notice records: %w", err)
	}
	for i := 0; i < len(dead); i += pruneBatch {
		chunk := dead[i:min(i+pruneBatch, len(dead))]
		err := d.kv.Update(ctx, func(tx Tx) error {
			for _, k := range chunk {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return i, fmt.Errorf("pruning notice records: %w", err)
		}
	}
	return len(dead), nil
}
