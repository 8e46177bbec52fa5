// Package badgerkv is the embedded Badger v4 store.KV, dird's default
// backend: one directory on local disk, locked to one process, every
// acknowledged Update synced to disk.
//
// It imports only package store of dird's own (and Badger); package server
// opens it and hands the rest of dird a store.KV, so nothing above this
// package names Badger.
//
// Memory: with Badger's defaults an idle DB holds about 86 MiB of Go heap.
// With the small-service defaults of Options (two 8 MiB memtables, 16 MiB
// block cache, 8 MiB index cache, 64 MiB value-log files), measured on
// linux/amd64 with Go 1.26 for a DB just opened on an empty directory and
// left idle: +11.4 MiB of heap in use (mostly the memtable arena,
// allocated up front) and +2 MiB of RSS, since the arena's pages are only
// touched as writes fill it. A busy store grows towards the sum of its
// memtables and caches, about 40 MiB.
package badgerkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"

	"github.com/dird/dird/store"
)

// ErrClosed is returned by every method of a DB after Close.
var ErrClosed = errors.New("badgerkv: closed")

// ErrInUse is returned by Open when another process (or another DB in this
// one) holds the directory.
var ErrInUse = errors.New("badgerkv: store in use by another process")

// Options tunes a DB. The zero value is the small-service tuning that dird
// uses by default.
type Options struct {
	// MemTableSize is the size of each memtable; 0 means 8 MiB. One
	// transaction may write at most about 15% of it (Badger's batch
	// limit, 1.2 MiB by default). Values of a tenth of it or more (at
	// most 1 MiB) go to the value log and count only by their key.
	MemTableSize int64
	// BlockCacheSize is the cache of decompressed table blocks; 0 means
	// 16 MiB.
	BlockCacheSize int64
	// IndexCacheSize bounds the memory used by table indexes and bloom
	// filters; 0 means 8 MiB.
	IndexCacheSize int64
	// ValueLogFileSize is the size at which a value-log file is rotated;
	// 0 means 64 MiB.
	ValueLogFileSize int64

	// ReadCacheSize bounds the memory of the cache of recently read
	// values and small scans (see readCache); 0 means 32 MiB, a negative
	// value turns the cache off.
	ReadCacheSize int64

	// GCInterval is how often value-log garbage collection runs; 0 means
	// every 10 minutes, a negative value disables it.
	GCInterval time.Duration

	// Logger receives Badger's own log lines. nil discards them.
	Logger *slog.Logger
}

const (
	defaultMemTableSize     = 8 << 20
	defaultBlockCacheSize   = 16 << 20
	defaultIndexCacheSize   = 8 << 20
	defaultValueLogFileSize = 64 << 20
	defaultReadCacheSize    = 32 << 20
	defaultGCInterval       = 10 * time.Minute

	// gcDiscardRatio rewrites a value-log file when half of it is garbage,
	// Badger's recommended setting (lifetime write amplification of 2).
	gcDiscardRatio = 0.5

	// maxAttempts bounds how often Update runs fn when it keeps losing
	// write conflicts; the pauses between attempts total at most
	// maxAttempts*maxPause (half a second).
	maxAttempts = 50
	// fastAttempts is how many optimistic attempts a transaction makes
	// before it queues behind the other losers (see DB.contended).
	fastAttempts = 3
	minPause     = 50 * time.Microsecond
	maxPause     = 10 * time.Millisecond
)

// BadgerOptions returns the exact Badger options Open uses for dir and o.
func BadgerOptions(dir string, o Options) badger.Options {
	memTable := orDefault(o.MemTableSize, defaultMemTableSize)
	return badger.DefaultOptions(dir).
		// Badger defaults to SyncWrites=false, which can lose acknowledged
		// writes on power loss; dird promises that an acknowledged write
		// is durable.
		WithSyncWrites(true).
		WithMemTableSize(memTable).
		// Values of this size or more go to the value log. Badger wants
		// it below its batch limit (15% of a memtable), so small
		// memtables lower it from Badger's 1 MiB.
		WithValueThreshold(min(1<<20, memTable/10)).
		WithNumMemtables(2).
		WithBlockCacheSize(orDefault(o.BlockCacheSize, defaultBlockCacheSize)).
		WithIndexCacheSize(orDefault(o.IndexCacheSize, defaultIndexCacheSize)).
		WithValueLogFileSize(orDefault(o.ValueLogFileSize, defaultValueLogFileSize)).
		WithNumCompactors(2).
		// Badger's Stream (which Backup no longer uses) reads the key
		// space with this many goroutines; a small server gains nothing
		// from Badger's 8.
		WithNumGoroutines(2).
		WithLogger(logger{orDiscard(o.Logger)})
}

func orDefault(v, def int64) int64 {
	if v <= 0 {
		return def
	}
	return v
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// DB is a store.KV on a Badger database.
type DB struct {
	db    *badger.DB
	cache *readCache // nil when turned off

	// mu guards closed and active. Every method counts itself in active
	// while it uses db, and Close waits for active to reach zero, because
	// Badger may crash on reads of a closed DB. A counter rather than a
	// RWMutex: a Scan callback may call Update, and a nested RLock would
	// deadlock behind a waiting Close.
	mu     sync.Mutex
	idle   *sync.Cond // signalled when active drops to zero
	closed bool
	active int

	stopGC chan struct{}  // closed by Close to stop the GC goroutine
	gcDone sync.WaitGroup // the GC goroutine

	// contended serialises the transactions that have already lost
	// fastAttempts conflicts. Optimistic retries alone can starve a writer
	// on a hot key (one user's failure counter under a password-spraying
	// burst, with every commit waiting for fsync); once the losers queue
	// here they only race the newcomers' first attempts, so each makes
	// progress instead of failing after maxAttempts.
	contended sync.Mutex
}

var (
	_ store.KV       = (*DB)(nil)
	_ store.Backuper = (*DB)(nil)
	_ store.Restorer = (*DB)(nil)
	_ store.Seeker   = (*DB)(nil)
	_ store.Sizer    = (*DB)(nil)
)

// Size is the LSM tree and value log's size on disk, as Badger last
// measured it (it refreshes the figure every minute); 0 once closed.
func (d *DB) Size() int64 {
	if err := d.enter(); err != nil {
		return 0
	}
	defer d.leave()
	lsm, vlog := d.db.Size()
	return lsm + vlog
}

// Open opens (creating if needed) the Badger store in dir. It fails with
// an error wrapping ErrInUse if another process holds dir.
func Open(dir string, o Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating store directory: %w", err)
	}
	bdb, err := badger.Open(BadgerOptions(dir, o))
	if err != nil {
		// Badger flattens the flock error to text (y.Wrapf uses %+v), so
		// only its message tells us the directory is locked.
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("opening store %q: %w: %w", dir, ErrInUse, err)
		}
		return nil, fmt.Errorf("opening store %q: %w", dir, err)
	}
	d := &DB{db: bdb, cache: newReadCache(int(orDefault(o.ReadCacheSize, defaultReadCacheSize))), stopGC: make(chan struct{})}
	d.idle = sync.NewCond(&d.mu)
	interval := o.GCInterval
	if interval == 0 {
		interval = defaultGCInterval
	}
	if interval > 0 {
		d.gcDone.Add(1)
		go d.gcLoop(interval)
	}
	return d, nil
}

// gcLoop runs value-log GC every interval until Close. Without it the
// value log of a long-running server would only ever grow.
func (d *DB) gcLoop(interval time.Duration) {
	defer d.gcDone.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-d.stopGC:
			return
		case <-t.C:
		}
		// Each successful call rewrites one file; repeat until Badger
		// finds nothing more worth rewriting (ErrNoRewrite) or refuses.
		for {
			select {
			case <-d.stopGC:
				return
			default:
			}
			if d.db.RunValueLogGC(gcDiscardRatio) != nil {
				break
			}
		}
	}
}

// enter counts a method in d.active, or fails if d is closed.
func (d *DB) enter() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.active++
	return nil
}

func (d *DB) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active--
	if d.active == 0 {
		d.idle.Broadcast()
	}
}

// Close stops GC, waits for running calls to return and closes the
// database. Later calls to any method but Close return ErrClosed; Close
// itself may be called again and returns nil.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	for d.active > 0 {
		d.idle.Wait()
	}
	d.mu.Unlock()

	close(d.stopGC)
	d.gcDone.Wait()
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("closing badger store: %w", err)
	}
	return nil
}

// Get returns a copy of the value stored under key, or store.ErrNotFound.
func (d *DB) Get(ctx context.Context, key []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	if v, found, ok := d.cache.get(key); ok {
		if !found {
			return nil, store.ErrNotFound
		}
		return v, nil
	}
	gen := d.cache.generation()
	txn := d.db.NewTransaction(false)
	defer txn.Discard()
	v, err := get(txn, key)
	switch {
	case err == nil:
		d.cache.put(gen, key, v)
	case errors.Is(err, store.ErrNotFound):
		d.cache.putAbsent(gen, key)
	}
	return v, err
}

// get reads key in txn and returns a copy of its value.
func get(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading key %q: %w", key, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("reading value of %q: %w", key, err)
	}
	if v == nil {
		// Badger returns nil for an empty value; the contract is that a
		// present key never reads back as nil.
		v = []byte{}
	}
	return v, nil
}

// Scan calls fn for every key with the given prefix in ascending order,
// reading from one snapshot taken when it starts.
func (d *DB) Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
	return d.ScanFrom(ctx, prefix, prefix, fn)
}

// ScanFrom is Scan from the first key at or after start (store.Seeker).
func (d *DB) ScanFrom(ctx context.Context, prefix, start []byte, fn func(key, value []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if bytes.Compare(start, prefix) < 0 {
		start = prefix
	}
	// Only whole-prefix scans are cached; collect tells whether this one
	// is still small enough to be.
	whole := bytes.Equal(start, prefix)
	if whole {
		if kvs, ok := d.cache.scan(prefix); ok {
			return replay(kvs, fn)
		}
	}
	gen := d.cache.generation()
	collect := whole && d.cache != nil
	var seen []cachedKV
	txn := d.db.NewTransaction(false)
	defer txn.Discard()
	// Values under ValueThreshold (1 MiB) live in the LSM tree next to
	// their keys, so prefetching them would only add goroutines and a
	// copy per item.
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var buf []byte
	for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		// ValueCopy into a reused buffer rather than item.Value: Value
		// holds a read lock on the value-log file during its callback,
		// and an Update from fn that rotates that file would wait for it
		// forever.
		v, err := item.ValueCopy(buf[:0])
		if err != nil {
			return fmt.Errorf("reading value of %q: %w", item.Key(), err)
		}
		buf = v
		if collect {
			if len(seen) < maxCachedScan {
				seen = append(seen, cachedKV{item.KeyCopy(nil), append([]byte(nil), v...)})
			} else {
				collect, seen = false, nil
			}
		}
		if err := fn(item.Key(), v); err != nil {
			if errors.Is(err, store.ErrStopScan) {
				return nil
			}
			return err
		}
	}
	if collect {
		d.cache.putScan(gen, prefix, seen)
	}
	return nil
}

// replay hands a cached scan result to fn, in copies: fn may keep or
// change what it gets only until it returns, and the cache's own copy
// must outlive it.
func replay(kvs []cachedKV, fn func(key, value []byte) error) error {
	var kbuf, vbuf []byte
	for _, kv := range kvs {
		kbuf = append(kbuf[:0], kv.k...)
		vbuf = append(vbuf[:0], kv.v...)
		if err := fn(kbuf, vbuf); err != nil {
			if errors.Is(err, store.ErrStopScan) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Update runs fn in a Badger transaction and commits it, running fn again
// when the commit loses a conflict, up to maxAttempts times.
func (d *DB) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if attempt > fastAttempts {
			d.contended.Lock()
			err = d.update(fn)
			d.contended.Unlock()
		} else {
			err = d.update(fn)
		}
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("committing transaction after %d attempts: %w", attempt, store.ErrConflict)
		}
		// A random pause, doubling with each loss up to maxPause, breaks
		// up the herd of transactions that just conflicted on a hot key.
		limit := min(minPause<<min(attempt, 16), maxPause)
		t := time.NewTimer(time.Duration(rand.Int64N(int64(limit))))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// update makes one attempt: fn's error unchanged, badger.ErrConflict
// unwrapped (so Update can retry), other commit errors wrapped.
func (d *DB) update(fn func(tx store.Tx) error) error {
	txn := d.db.NewTransaction(true)
	defer txn.Discard()
	t := &tx{txn: txn}
	err := fn(t)
	t.done = true
	if err != nil {
		return err
	}
	err = txn.Commit()
	if err == nil {
		d.cache.committed(t.written)
		return nil
	}
	if errors.Is(err, badger.ErrConflict) {
		return err
	}
	return fmt.Errorf("committing transaction: %w", err)
}

// Compact merges the store's tables into one level. A bulk load (dird
// import) leaves many small tables behind, and Badger compacts them at
// the next open: a server started right after importing 100,000 users
// spent its first seconds compacting, with 240 MiB of RSS and searches
// slower than at rest. Compacting here moves that work to the import.
func (d *DB) Compact() error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if err := d.db.Flatten(2); err != nil {
		return fmt.Errorf("compacting store: %w", err)
	}
	return nil
}

// Backup writes a consistent snapshot of the store in Badger's backup
// format (what DB.Load reads: length-prefixed protobuf KVLists) while the
// store keeps serving: one read transaction is the snapshot, and writes go
// on beside it. It walks the snapshot itself rather than calling Badger's
// DB.Backup, whose stream keeps up to 32 batches of 16 MiB in flight (a
// live server grew by half a gigabyte backing up 100,000 users); here one
// batch of about backupBatch bytes is held at a time. Cancelling ctx stops
// it.
func (d *DB) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	txn := d.db.NewTransaction(false)
	defer txn.Discard()
	// The latest version of every live key: deleted and expired ones are
	// skipped by the iterator.
	it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	cw := ctxWriter{ctx, w}
	list := &pb.KVList{}
	size := 0
	flush := func() error {
		if len(list.Kv) == 0 {
			return nil
		}
		if err := writeKVList(cw, list); err != nil {
			return fmt.Errorf("writing backup: %w", err)
		}
		list.Kv, size = list.Kv[:0], 0
		return nil
	}
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("writing backup: reading value of %q: %w", item.Key(), err)
		}
		list.Kv = append(list.Kv, &pb.KV{
			Key:       item.KeyCopy(nil),
			Value:     v,
			UserMeta:  []byte{item.UserMeta()},
			Version:   item.Version(),
			ExpiresAt: item.ExpiresAt(),
		})
		if size += len(item.Key()) + len(v); size >= backupBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// backupBatch is the size of the KVLists Backup writes.
const backupBatch = 1 << 20

// writeKVList writes one length-prefixed KVList, as Badger's own backup
// does.
func writeKVList(w io.Writer, list *pb.KVList) error {
	buf, err := proto.Marshal(list)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(buf)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}

// ctxWriter fails writes once its context is done, the only way to stop
// Badger's Backup midway.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (cw ctxWriter) Write(p []byte) (int, error) {
	if err := cw.ctx.Err(); err != nil {
		return 0, err
	}
	return cw.w.Write(p)
}

// Restore loads a backup written by Backup. It refuses a store that holds
// any key, and must not run concurrently with other writes (Badger's Load
// requires it); in dird it runs from `dird restore` on a fresh directory.
func (d *DB) Restore(ctx context.Context, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	if !d.empty() {
		return errors.New("restoring backup: badger store is not empty")
	}
	// Badger's Load has no context; checking it between reads is the
	// closest we can get to honouring it.
	// Load keeps up to maxPendingWrites batches (each up to Badger's
	// 1.2 MiB transaction limit) in flight: 256 took a gigabyte of memory
	// to restore 100,000 users; 16 restores them as fast.
	err := d.db.Load(ctxReader{ctx, r}, 16)
	// Load writes around Update, so nothing cached may be trusted after
	// it, whole or failed.
	d.cache.reset()
	if err != nil {
		return fmt.Errorf("loading backup: %w", err)
	}
	return nil
}

// empty reports whether the store has no user keys.
func (d *DB) empty() bool {
	txn := d.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{})
	defer it.Close()
	it.Rewind()
	return !it.Valid()
}

// ctxReader fails reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (cr ctxReader) Read(p []byte) (int, error) {
	if err := cr.ctx.Err(); err != nil {
		return 0, err
	}
	return cr.r.Read(p)
}

// tx adapts a Badger transaction to store.Tx.
type tx struct {
	txn     *badger.Txn
	done    bool     // set once fn returns; a retained tx fails
	written [][]byte // keys put or deleted, for the read cache
}

var errTxDone = errors.New("badgerkv: transaction used after its Update returned")

func (t *tx) Get(key []byte) ([]byte, error) {
	if t.done {
		return nil, errTxDone
	}
	return get(t.txn, key)
}

// Put copies key and value: Badger keeps references to both until commit,
// and callers may reuse their buffers once Put returns.
func (t *tx) Put(key, value []byte) error {
	if t.done {
		return errTxDone
	}
	k := append([]byte(nil), key...)
	v := append(make([]byte, 0, len(value)), value...)
	if err := t.txn.Set(k, v); err != nil {
		return fmt.Errorf("writing key %q: %w", key, err)
	}
	t.written = append(t.written, k)
	return nil
}

func (t *tx) Delete(key []byte) error {
	if t.done {
		return errTxDone
	}
	k := append([]byte(nil), key...)
	if err := t.txn.Delete(k); err != nil {
		return fmt.Errorf("deleting key %q: %w", key, err)
	}
	t.written = append(t.written, k)
	return nil
}

// logger sends Badger's printf-style log lines to a slog.Logger.
type logger struct{ l *slog.Logger }

func (l logger) Errorf(f string, a ...any)   { l.l.Error(msg(f, a)) }
func (l logger) Warningf(f string, a ...any) { l.l.Warn(msg(f, a)) }
func (l logger) Infof(f string, a ...any)    { l.l.Debug(msg(f, a)) }
func (l logger) Debugf(f string, a ...any)   { l.l.Debug(msg(f, a), "component", "badger") }

// msg formats a Badger log line, whose formats often end in a newline.
func msg(f string, a []any) string {
	return strings.TrimSpace(fmt.Sprintf(f, a...))
}
