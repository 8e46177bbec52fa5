package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Records are small values kept beside the directory, outside any entry:
// reset tokens, TOTP state, portal sessions. They are never returned by a
// search and never exported as LDIF (a backup keeps them). Each record has
// a kind (a short name without \x00) and an id; callers store only hashes
// of secrets in ids.
//
// Key layout: r<kind>\x00<id> -> value. Only the Credentials handle reads
// and writes them, because every kind in use holds credential state.
const prefixRecord = 'r'

func recordKey(kind, id string) ([]byte, error) {
	if kind == "" || strings.IndexByte(kind, 0) >= 0 {
		return nil, fmt.Errorf("store: record kind %q is empty or holds NUL", kind)
	}
	k := make([]byte, 0, 2+len(kind)+len(id))
	k = append(k, prefixRecord)
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, id...), nil
}

// GetRecord returns the record's value, or ErrNotFound.
func (c *Credentials) GetRecord(ctx context.Context, kind, id string) ([]byte, error) {
	k, err := recordKey(kind, id)
	if err != nil {
		return nil, err
	}
	v, err := c.d.kv.Get(ctx, k)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("reading %s record: %w", kind, err)
	}
	return v, err
}

// ScanRecords visits every record of kind whose id begins with idPrefix
// ("" for all), in id order. fn may return ErrStopScan.
func (c *Credentials) ScanRecords(ctx context.Context, kind, idPrefix string, fn func(id string, value []byte) error) error {
	base, err := recordKey(kind, "")
	if err != nil {
		return err
	}
	k := append(base[:len(base):len(base)], idPrefix...)
	err = c.d.kv.Scan(ctx, k, func(key, v []byte) error {
		return fn(string(key[len(base):]), v)
	})
	if errors.Is(err, ErrStopScan) {
		return nil
	}
	return err
}

// GetRecord reads a record inside the transaction, or ErrNotFound. Only a
// transaction from Credentials.Update may touch records.
func (t *Txn) GetRecord(kind, id string) ([]byte, error) {
	if !t.creds {
		return nil, ErrCredentialAttribute
	}
	k, err := recordKey(kind, id)
	if err != nil {
		return nil, err
	}
	return t.tx.Get(k)
}

// PutRecord writes a record inside the transaction.
func (t *Txn) PutRecord(kind, id string, value []byte) error {
	if !t.creds {
		return ErrCredentialAttribute
	}
	k, err := recordKey(kind, id)
	if err != nil {
		return err
	}
	return t.tx.Put(k, value)
}

// DeleteRecord removes a record inside the transaction; an absent one is
// not an error.
func (t *Txn) DeleteRecord(kind, id string) error {
	if !t.creds {
		return ErrCredentialAttribute
	}
	k, err := recordKey(kind, id)
	if err != nil {
		return err
	}
	err = t.tx.Delete(k)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
