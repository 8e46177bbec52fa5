package store

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned by KV.Get and Tx.Get when a key is absent.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned by a backend when a transaction lost a race with
// another one. Backends retry Update internally on ErrConflict a bounded
// number of times; callers see it only when every retry lost.
var ErrConflict = errors.New("store: transaction conflict")

// KV is the small ordered key-value interface every backend implements.
//
// Contract:
//   - All methods are safe for concurrent use.
//   - Keys are compared as raw bytes; Scan visits keys in ascending byte order.
//   - A nil or empty value is a valid value, distinct from an absent key.
//   - Byte slices passed to callbacks are valid only during the call; copy
//     them to keep them. Slices returned by Get are owned by the caller.
//   - Update runs fn inside one serializable transaction: either every Put
//     and Delete of fn is applied or none is. If fn returns an error, nothing
//     is applied and Update returns that error unchanged (errors.Is works).
//     On a write conflict the backend runs fn again from the start, so fn
//     must have no side effects outside the Tx. Once Update returns nil the
//     write is durable (synced to stable storage for persistent backends).
//   - Scan is not transactional: it reads a consistent snapshot taken when
//     it starts. Returning a non-nil error from fn stops the scan and Scan
//     returns that error. ErrStopScan stops it quietly.
//   - The owner of a KV closes it; after Close every method returns an error.
type KV interface {
	Get(ctx context.Context, key []byte) ([]byte, error)
	Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error
	Update(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Tx is one serializable read-write transaction. It is only valid inside
// the Update callback that received it and must not be retained.
type Tx interface {
	// Get returns the value of key as seen by this transaction (including
	// its own earlier Puts and Deletes), or ErrNotFound.
	Get(key []byte) ([]byte, error)
	Put(key, value []byte) error
	Delete(key []byte) error
}

// ErrStopScan may be returned by a Scan callback to end the scan early
// without an error.
var ErrStopScan = errors.New("store: stop scan")

// Backuper is implemented by backends that can write a consistent online
// backup of themselves while serving.
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) error
}

// Restorer is implemented by backends that can load a backup written by
// Backuper into an empty store.
type Restorer interface {
	Restore(ctx context.Context, r io.Reader) error
}

// Seeker is implemented by backends that can begin a prefix scan at a
// key, so a range in the middle of a prefix (the password change index)
// is read without the keys before it. ScanFrom is Scan over the keys
// with prefix that sort at or after start, under Scan's contract.
type Seeker interface {
	ScanFrom(ctx context.Context, prefix, start []byte, fn func(key, value []byte) error) error
}

// Sizer is implemented by backends that know their on-disk size, in
// bytes, as last measured (for the store size metric).
type Sizer interface {
	Size() int64
}
