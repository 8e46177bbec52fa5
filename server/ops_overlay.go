package server

import (
	"context"
	"errors"
	"sync"

	"github.com/dird/dird/store"
)

// overlay is the KV an import's check runs on: it reads through to the
// real store and keeps its own writes in memory (but for index keys, see
// Put), so that every record is
// checked by the very code that will write it (schema, syntax, parents,
// uniqueness against the store and the rest of the file) without
// writing anything. It also measures each transaction, which the write
// phase uses to keep its batches under the backend's transaction limit.
type overlay struct {
	base store.KV

	mu sync.Mutex // guards vals, lastBytes, lastWrites
	// vals holds the overlay's writes; a deleted key has del set.
	vals       map[string]ovValue
	lastBytes  int // size of the last committed transaction's writes
	lastWrites int // number of writes in it
}

type ovValue struct {
	v   []byte
	del bool
}

var _ store.KV = (*overlay)(nil)

func newOverlay(base store.KV) *overlay {
	return &overlay{base: base, vals: map[string]ovValue{}}
}

// writeOverhead approximates what a backend adds to each write when it
// counts a transaction's size (Badger: meta, version, value pointer).
const writeOverhead = 24

func (o *overlay) Get(ctx context.Context, key []byte) ([]byte, error) {
	o.mu.Lock()
	v, ok := o.vals[string(key)]
	o.mu.Unlock()
	if ok {
		if v.del {
			return nil, store.ErrNotFound
		}
		return append([]byte{}, v.v...), nil
	}
	return o.base.Get(ctx, key)
}

// errOverlayScan: nothing an import's check calls scans, and an overlay
// scan would have to merge two orders; refusing keeps that honest.
var errOverlayScan = errors.New("server: the import check cannot scan")

func (o *overlay) Scan(context.Context, []byte, func(key, value []byte) error) error {
	return errOverlayScan
}

func (o *overlay) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx := &overlayTx{o: o, w: map[string]ovValue{}}
	if err := fn(tx); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, v := range tx.w {
		o.vals[k] = v
	}
	o.lastBytes, o.lastWrites = tx.bytes, tx.writes
	return nil
}

// last returns the size and count of the writes of the last committed
// transaction.
func (o *overlay) last() (bytes, writes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastBytes, o.lastWrites
}

func (o *overlay) Close() error { return nil }

// overlayTx buffers one transaction's writes over the overlay.
type overlayTx struct {
	o      *overlay
	w      map[string]ovValue
	bytes  int
	writes int
}

func (t *overlayTx) Get(key []byte) ([]byte, error) {
	if v, ok := t.w[string(key)]; ok {
		if v.del {
			return nil, store.ErrNotFound
		}
		return append([]byte{}, v.v...), nil
	}
	return t.o.Get(context.Background(), key)
}

// Put and Delete count every write but keep no index key: nothing reads
// those back by key, and they are most of an import's writes (a person
// has a dozen), so keeping them would multiply the check's memory.
func (t *overlayTx) Put(key, value []byte) error {
	t.bytes += len(key) + len(value) + writeOverhead
	t.writes++
	if !store.IndexKey(key) {
		t.w[string(key)] = ovValue{v: append([]byte{}, value...)}
	}
	return nil
}

func (t *overlayTx) Delete(key []byte) error {
	t.bytes += len(key) + writeOverhead
	t.writes++
	if !store.IndexKey(key) {
		t.w[string(key)] = ovValue{del: true}
	}
	return nil
}
