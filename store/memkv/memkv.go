// Package memkv is an in-memory store.KV for tests: ordered, safe for
// concurrent use, serializable, and gone when the process exits.
//
// It imports only package store of dird's own. Tests of store, policy and
// the fronts import it, as does internal/dirdtest; production code opens
// store/badgerkv instead.
package memkv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/dird/dird/store"
)

// ErrClosed is returned by every method of a DB after Close.
var ErrClosed = errors.New("memkv: closed")

// backupMagic starts every backup, so Restore refuses a file that is not one.
const backupMagic = "dird-memkv-backup-1\n"

// DB is an in-memory ordered key-value store. The zero value is not usable;
// call New.
type DB struct {
	// mu guards pairs and closed. Update holds it for writing during the
	// whole transaction, which is what makes transactions serializable.
	mu     sync.RWMutex
	pairs  []pair // sorted by key, keys unique
	closed bool
}

// pair is one stored key and value. Stored slices are never modified in
// place: Put replaces them, so a snapshot may share them safely.
type pair struct {
	key, value []byte
}

var (
	_ store.KV       = (*DB)(nil)
	_ store.Backuper = (*DB)(nil)
	_ store.Restorer = (*DB)(nil)
	_ store.Seeker   = (*DB)(nil)
)

// New returns an empty store.
func New() *DB {
	return &DB{}
}

// findLocked returns the index of key in d.pairs, or where it would be
// inserted, and whether it is present. d.mu must be held.
func (d *DB) findLocked(key []byte) (int, bool) {
	return slices.BinarySearchFunc(d.pairs, key, func(p pair, k []byte) int {
		return bytes.Compare(p.key, k)
	})
}

// Get returns a copy of the value stored under key, or store.ErrNotFound.
func (d *DB) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	i, ok := d.findLocked(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(d.pairs[i].value), nil
}

// Scan calls fn for every key with the given prefix in ascending order. It
// copies the matching pairs under the read lock and calls fn without it,
// so fn sees a snapshot and may itself call Get or Update.
func (d *DB) Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
	return d.ScanFrom(ctx, prefix, prefix, fn)
}

// ScanFrom is Scan from the first key at or after start (store.Seeker).
func (d *DB) ScanFrom(ctx context.Context, prefix, start []byte, fn func(key, value []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	snap, err := d.snapshot(prefix, start)
	if err != nil {
		return err
	}
	for _, p := range snap {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(p.key, p.value); err != nil {
			if errors.Is(err, store.ErrStopScan) {
				return nil
			}
			return err
		}
	}
	return nil
}

// snapshot returns copies of the pairs whose key starts with prefix, from
// start on. They are copies, not shared slices, so a callback that
// scribbles on them cannot change the store.
func (d *DB) snapshot(prefix, start []byte) ([]pair, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	i, _ := d.findLocked([]byte(max(string(prefix), string(start))))
	var snap []pair
	for ; i < len(d.pairs) && bytes.HasPrefix(d.pairs[i].key, prefix); i++ {
		snap = append(snap, pair{clone(d.pairs[i].key), clone(d.pairs[i].value)})
	}
	return snap, nil
}

// Update runs fn in a transaction while holding the write lock, so
// transactions never conflict. Writes are buffered in the Tx and applied
// only if fn returns nil. fn must not call methods of d itself (only of
// the Tx): it would deadlock.
func (d *DB) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	t := &tx{db: d, writes: make(map[string]write)}
	defer func() { t.done = true }()
	if err := fn(t); err != nil {
		return err
	}
	for k, w := range t.writes {
		d.applyLocked([]byte(k), w)
	}
	return nil
}

// applyLocked applies one buffered write. d.mu must be held for writing.
func (d *DB) applyLocked(key []byte, w write) {
	i, ok := d.findLocked(key)
	switch {
	case w.deleted && ok:
		d.pairs = slices.Delete(d.pairs, i, i+1)
	case w.deleted:
	case ok:
		d.pairs[i].value = w.value
	default:
		d.pairs = slices.Insert(d.pairs, i, pair{key, w.value})
	}
}

// Close discards the contents. Later calls to any method but Close return
// ErrClosed; Close itself may be called again and returns nil.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.pairs = nil
	return nil
}

// Backup writes every pair as a magic header followed by uvarint-length
// prefixed keys and values. It copies the store under the read lock and
// writes without it, so a slow writer does not block the store.
func (d *DB) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	snap, err := d.snapshot(nil, nil)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(backupMagic); err != nil {
		return fmt.Errorf("writing backup header: %w", err)
	}
	// bufio.Writer keeps its first error and Flush returns it, so the
	// writes in the loop need no checks of their own.
	var n [binary.MaxVarintLen64]byte
	for _, p := range snap {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, b := range [][]byte{p.key, p.value} {
			bw.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
			bw.Write(b)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing backup: %w", err)
	}
	return nil
}

// maxRestoreLen bounds one key or value read by Restore, so a corrupt
// length cannot make it allocate without limit.
const maxRestoreLen = 1 << 30

// Restore loads a backup written by Backup into the store, which must be
// empty. The whole backup is read before anything is applied, so a
// truncated or corrupt backup leaves the store empty.
func (d *DB) Restore(ctx context.Context, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br := bufio.NewReader(r)
	magic := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(br, magic); err != nil {
		return fmt.Errorf("reading backup header: %w", noEOF(err))
	}
	if string(magic) != backupMagic {
		return errors.New("reading backup header: not a memkv backup")
	}
	var pairs []pair
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		key, err := readChunk(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading backup key %d: %w", len(pairs), err)
		}
		value, err := readChunk(br)
		if err != nil {
			return fmt.Errorf("reading backup value %d: %w", len(pairs), noEOF(err))
		}
		pairs = append(pairs, pair{key, value})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return bytes.Compare(a.key, b.key) })
	pairs = slices.CompactFunc(pairs, func(a, b pair) bool { return bytes.Equal(a.key, b.key) })

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if len(d.pairs) != 0 {
		return errors.New("restoring backup: memkv store is not empty")
	}
	d.pairs = pairs
	return nil
}

// readChunk reads one uvarint-length-prefixed byte string. It returns
// io.EOF only if r is at its end before the length.
func readChunk(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxRestoreLen {
		return nil, fmt.Errorf("length %d too large", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

// noEOF turns an EOF in the middle of a record into ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// write is one buffered Put or Delete.
type write struct {
	value   []byte
	deleted bool
}

// tx buffers writes until its Update's fn returns nil.
type tx struct {
	db     *DB
	writes map[string]write // by key; the last write to a key wins
	done   bool             // set when Update returns; a retained tx fails
}

var (
	errTxDone   = errors.New("memkv: transaction used after its Update returned")
	errEmptyKey = errors.New("memkv: empty key")
)

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.done {
		return nil, errTxDone
	}
	if w, ok := t.writes[string(key)]; ok {
		if w.deleted {
			return nil, store.ErrNotFound
		}
		return clone(w.value), nil
	}
	i, ok := t.db.findLocked(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	return clone(t.db.pairs[i].value), nil
}

// Put refuses the empty key, as Badger does, so that code tested on memkv
// does not fail on the real backend.
func (t *tx) Put(key, value []byte) error {
	if t.done {
		return errTxDone
	}
	if len(key) == 0 {
		return errEmptyKey
	}
	t.writes[string(key)] = write{value: clone(value)}
	return nil
}

func (t *tx) Delete(key []byte) error {
	if t.done {
		return errTxDone
	}
	t.writes[string(key)] = write{deleted: true}
	return nil
}

// clone copies b. It returns an empty, non-nil slice for a nil or empty b,
// so a stored empty value never reads back as nil.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}
