package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// TestRecords: records (reset tokens, sessions, TOTP state) are written
// and read only through the Credentials handle, kept per kind, and never
// appear in a search.
func TestRecords(t *testing.T) {
	ctx := context.Background()
	d, err := store.Open(ctx, memkv.New(), store.Options{BaseDN: testBase})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := d.ClaimCredentials()
	if err != nil {
		t.Fatal(err)
	}
	err = d.Update(ctx, func(tx *store.Txn) error { return tx.PutRecord("session", "x", []byte("v")) })
	if !errors.Is(err, store.ErrCredentialAttribute) {
		t.Fatalf("PutRecord outside Credentials: err = %v, want ErrCredentialAttribute", err)
	}
	err = d.Update(ctx, func(tx *store.Txn) error { _, err := tx.GetRecord("session", "x"); return err })
	if !errors.Is(err, store.ErrCredentialAttribute) {
		t.Fatalf("GetRecord outside Credentials: err = %v", err)
	}
	err = creds.Update(ctx, func(tx *store.Txn) error {
		for _, r := range [][3]string{{"session", "a", "1"}, {"session", "b", "2"}, {"sessionx", "a", "3"}, {"reset", "a", "4"}} {
			if err := tx.PutRecord(r[0], r[1], []byte(r[2])); err != nil {
				return err
			}
		}
		return tx.DeleteRecord("reset", "absent")
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := creds.ScanRecords(ctx, "session", "", func(id string, v []byte) error {
		got = append(got, id+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "a=1" || got[1] != "b=2" {
		t.Fatalf("ScanRecords(session) = %q, want [a=1 b=2]", got)
	}
	got = nil
	if err := creds.ScanRecords(ctx, "session", "b", func(id string, v []byte) error {
		got = append(got, id)
		return nil
	}); err != nil || len(got) != 1 || got[0] != "b" {
		t.Fatalf("ScanRecords(session, b) = %q, %v", got, err)
	}
	if v, err := creds.GetRecord(ctx, "reset", "a"); err != nil || string(v) != "4" {
		t.Fatalf("GetRecord = %q, %v", v, err)
	}
	if _, err := creds.GetRecord(ctx, "reset", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent record: err = %v", err)
	}
	if err := creds.Update(ctx, func(tx *store.Txn) error { return tx.PutRecord("bad\x00kind", "a", nil) }); err == nil {
		t.Fatal("a kind with NUL was accepted")
	}
	n := 0
	err = d.Search(ctx, store.SearchRequest{Base: d.Base(), Scope: store.ScopeSubtree}, func(*store.Entry) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("search sees %d entries, want only the base", n)
	}
}
