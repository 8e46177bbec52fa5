// Package storetest is the conformance suite every store.KV backend runs:
// Run checks the contract written on store.KV, RunPersistent adds
// reopen-and-read for backends that keep data on disk.
//
// It imports only package store of dird's own. Only the tests of backends
// (store/memkv, store/badgerkv, later store/etcdkv) import it.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/dird/dird/store"
)

// Run runs the conformance suite. newKV returns a new, empty store for
// one subtest and arranges for it to be closed (t.Cleanup); Run may close
// it earlier itself.
func Run(t *testing.T, newKV func(t *testing.T) store.KV) {
	tests := []struct {
		name string
		run  func(t *testing.T, kv store.KV)
	}{
		{"get of an absent key is ErrNotFound", testGetAbsent},
		{"put then get returns the value", testRoundTrip},
		{"empty value is present and distinct from absent", testEmptyValue},
		{"delete makes a key absent", testDelete},
		{"deleting an absent key succeeds", testDeleteAbsent},
		{"fn error applies nothing and is returned", testUpdateAtomic},
		{"tx reads its own writes", testReadYourWrites},
		{"last write to a key in a tx wins", testLastWriteWins},
		{"tx is unusable after update returns", testTxNotRetained},
		{"scan visits keys in byte order", testScanOrder},
		{"scan stays within the prefix", testScanPrefixBounds},
		{"scan from a start key stays within the prefix", testScanFrom},
		{"scan stops quietly on ErrStopScan", testScanStop},
		{"scan returns the callback error", testScanError},
		{"scan callback may call get and update", testScanReentrant},
		{"scan reads a snapshot taken at its start", testScanSnapshot},
		{"concurrent increments are serializable", testConcurrentIncrements},
		{"exactly one concurrent claim of a key wins", testConcurrentClaim},
		{"values returned by get are not aliased", testNoAliasing},
		{"put copies the caller's buffers", testPutCopies},
		{"large value round trips", testLargeValue},
		{"binary keys with zero bytes", testBinaryKeys},
		{"cancelled context fails every method", testCancelled},
		{"methods fail after close", testClosed},
		{"backup then restore reproduces the store", func(t *testing.T, kv store.KV) {
			testBackupRestore(t, kv, newKV(t))
		}},
		{"restore refuses a store that is not empty", testRestoreNotEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newKV(t))
		})
	}
}

// RunPersistent checks that every acknowledged write survives closing and
// reopening the store. open opens (creating if needed) the store in dir;
// RunPersistent closes what it opens.
func RunPersistent(t *testing.T, open func(t *testing.T, dir string) store.KV) {
	t.Run("acknowledged writes survive reopen", func(t *testing.T) {
		dir := t.TempDir()
		kv := open(t, dir)
		const n = 200
		for i := range n {
			put(t, kv, key(i), []byte("v"+strconv.Itoa(i)))
		}
		put(t, kv, []byte("empty"), nil)
		for i := 0; i < n; i += 10 {
			del(t, kv, key(i))
		}
		if err := kv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		kv = open(t, dir)
		defer kv.Close()
		for i := range n {
			got, err := kv.Get(context.Background(), key(i))
			if i%10 == 0 {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("Get(%q) of a deleted key = %q, %v; want ErrNotFound", key(i), got, err)
				}
				continue
			}
			if want := "v" + strconv.Itoa(i); err != nil || string(got) != want {
				t.Errorf("Get(%q) = %q, %v; want %q", key(i), got, err, want)
			}
		}
		if got, err := kv.Get(context.Background(), []byte("empty")); err != nil || len(got) != 0 {
			t.Errorf("Get(empty) = %q, %v; want empty value", got, err)
		}
		if got := scanAll(t, kv, nil); len(got) != n-n/10+1 {
			t.Errorf("Scan after reopen found %d keys, want %d", len(got), n-n/10+1)
		}
	})
}

func key(i int) []byte { return fmt.Appendf(nil, "k%05d", i) }

func put(t *testing.T, kv store.KV, k, v []byte) {
	t.Helper()
	if err := kv.Update(context.Background(), func(tx store.Tx) error {
		return tx.Put(k, v)
	}); err != nil {
		t.Fatalf("Put(%q): %v", k, err)
	}
}

func del(t *testing.T, kv store.KV, k []byte) {
	t.Helper()
	if err := kv.Update(context.Background(), func(tx store.Tx) error {
		return tx.Delete(k)
	}); err != nil {
		t.Fatalf("Delete(%q): %v", k, err)
	}
}

func mustGet(t *testing.T, kv store.KV, k []byte) []byte {
	t.Helper()
	v, err := kv.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return v
}

func wantAbsent(t *testing.T, kv store.KV, k []byte) {
	t.Helper()
	if v, err := kv.Get(context.Background(), k); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", k, v, err)
	}
}

// kvPair is one key and value seen by Scan.
type kvPair struct{ key, value string }

func scanAll(t *testing.T, kv store.KV, prefix []byte) []kvPair {
	t.Helper()
	var got []kvPair
	if err := kv.Scan(context.Background(), prefix, func(k, v []byte) error {
		got = append(got, kvPair{string(k), string(v)})
		return nil
	}); err != nil {
		t.Fatalf("Scan(%q): %v", prefix, err)
	}
	return got
}

func testGetAbsent(t *testing.T, kv store.KV) {
	wantAbsent(t, kv, []byte("absent"))
	if err := kv.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Get([]byte("absent"))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tx.Get(absent) error = %v, want ErrNotFound", err)
		}
		return nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func testRoundTrip(t *testing.T, kv store.KV) {
	put(t, kv, []byte("a"), []byte("one"))
	if got := mustGet(t, kv, []byte("a")); string(got) != "one" {
		t.Fatalf("Get(a) = %q, want %q", got, "one")
	}
	put(t, kv, []byte("a"), []byte("two"))
	if got := mustGet(t, kv, []byte("a")); string(got) != "two" {
		t.Fatalf("Get(a) after overwrite = %q, want %q", got, "two")
	}
}

func testEmptyValue(t *testing.T, kv store.KV) {
	put(t, kv, []byte("nil"), nil)
	put(t, kv, []byte("empty"), []byte{})
	for _, k := range []string{"nil", "empty"} {
		v, err := kv.Get(context.Background(), []byte(k))
		if err != nil || len(v) != 0 {
			t.Errorf("Get(%s) = %q, %v; want an empty value", k, v, err)
		}
		if v == nil {
			t.Errorf("Get(%s) returned nil; a present key must not read back as nil", k)
		}
	}
	wantAbsent(t, kv, []byte("absent"))
	if got := scanAll(t, kv, nil); len(got) != 2 {
		t.Errorf("Scan found %v, want the two empty values", got)
	}
}

func testDelete(t *testing.T, kv store.KV) {
	put(t, kv, []byte("a"), []byte("1"))
	put(t, kv, []byte("b"), []byte("2"))
	del(t, kv, []byte("a"))
	wantAbsent(t, kv, []byte("a"))
	if got := mustGet(t, kv, []byte("b")); string(got) != "2" {
		t.Errorf("Get(b) = %q, want 2", got)
	}
	if got := scanAll(t, kv, nil); len(got) != 1 || got[0].key != "b" {
		t.Errorf("Scan after delete = %v, want only b", got)
	}
}

func testDeleteAbsent(t *testing.T, kv store.KV) {
	del(t, kv, []byte("never"))
	wantAbsent(t, kv, []byte("never"))
}

func testUpdateAtomic(t *testing.T, kv store.KV) {
	put(t, kv, []byte("keep"), []byte("old"))
	errBoom := errors.New("boom")
	err := kv.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Put([]byte("new"), []byte("x")); err != nil {
			return err
		}
		if err := tx.Put([]byte("keep"), []byte("changed")); err != nil {
			return err
		}
		if err := tx.Delete([]byte("keep")); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want one wrapping errBoom", err)
	}
	wantAbsent(t, kv, []byte("new"))
	if got := mustGet(t, kv, []byte("keep")); string(got) != "old" {
		t.Errorf("Get(keep) = %q after a failed Update, want old", got)
	}
}

func testReadYourWrites(t *testing.T, kv store.KV) {
	put(t, kv, []byte("gone"), []byte("here"))
	err := kv.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Put([]byte("a"), []byte("1")); err != nil {
			return err
		}
		if v, err := tx.Get([]byte("a")); err != nil || string(v) != "1" {
			t.Errorf("Tx.Get(a) after Put = %q, %v; want 1", v, err)
		}
		if err := tx.Delete([]byte("gone")); err != nil {
			return err
		}
		if v, err := tx.Get([]byte("gone")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Tx.Get(gone) after Delete = %q, %v; want ErrNotFound", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantAbsent(t, kv, []byte("gone"))
}

func testLastWriteWins(t *testing.T, kv store.KV) {
	err := kv.Update(context.Background(), func(tx store.Tx) error {
		for _, step := range []func() error{
			func() error { return tx.Put([]byte("a"), []byte("1")) },
			func() error { return tx.Delete([]byte("a")) },
			func() error { return tx.Put([]byte("a"), []byte("2")) },
			func() error { return tx.Put([]byte("b"), []byte("1")) },
			func() error { return tx.Delete([]byte("b")) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := mustGet(t, kv, []byte("a")); string(got) != "2" {
		t.Errorf("Get(a) = %q, want 2", got)
	}
	wantAbsent(t, kv, []byte("b"))
}

func testTxNotRetained(t *testing.T, kv store.KV) {
	var kept store.Tx
	if err := kv.Update(context.Background(), func(tx store.Tx) error {
		kept = tx
		return nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := kept.Put([]byte("late"), []byte("x")); err == nil {
		t.Error("Put on a tx whose Update returned succeeded, want an error")
	}
	wantAbsent(t, kv, []byte("late"))
}

func testScanOrder(t *testing.T, kv store.KV) {
	for _, k := range []string{"b", "a", "ab", "\x00", "aa", "\xff", "a\x00", "B"} {
		put(t, kv, []byte(k), []byte("v"+k))
	}
	want := []string{"\x00", "B", "a", "a\x00", "aa", "ab", "b", "\xff"}
	got := scanAll(t, kv, nil)
	if len(got) != len(want) {
		t.Fatalf("Scan found %v, want keys %q", got, want)
	}
	for i, p := range got {
		if p.key != want[i] || p.value != "v"+want[i] {
			t.Errorf("Scan item %d = %q=%q, want %q=%q", i, p.key, p.value, want[i], "v"+want[i])
		}
	}
}

func testScanPrefixBounds(t *testing.T, kv store.KV) {
	for _, k := range []string{
		"us", "ur\xff", "user", "user\x00", "users", "user\xff\xff", "usf", "ut", "v",
		"\x01\xfe\xff", "\x01\xff", "\x01\xff\x00", "\x01\xff\xff\xff", "\x02",
		"\xff\xfe", "\xff\xff", "\xff\xff\x00", "\xff\xff\xff",
	} {
		put(t, kv, []byte(k), []byte(k))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"us", []string{"us", "user", "user\x00", "users", "user\xff\xff", "usf"}},
		{"user", []string{"user", "user\x00", "users", "user\xff\xff"}},
		{"user\xff", []string{"user\xff\xff"}},
		{"\x01\xff", []string{"\x01\xff", "\x01\xff\x00", "\x01\xff\xff\xff"}},
		{"\xff\xff", []string{"\xff\xff", "\xff\xff\x00", "\xff\xff\xff"}},
		{"\xff\xff\xff\xff", nil},
		{"nothing", nil},
	}
	for _, tt := range tests {
		got := scanAll(t, kv, []byte(tt.prefix))
		var keys []string
		for _, p := range got {
			keys = append(keys, p.key)
		}
		if fmt.Sprintf("%q", keys) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("Scan(%q) = %q, want %q", tt.prefix, keys, tt.want)
		}
	}
}

func testScanStop(t *testing.T, kv store.KV) {
	for i := range 10 {
		put(t, kv, key(i), []byte("v"))
	}
	var n int
	err := kv.Scan(context.Background(), []byte("k"), func(k, v []byte) error {
		n++
		if n == 3 {
			return store.ErrStopScan
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan stopped with ErrStopScan returned %v, want nil", err)
	}
	if n != 3 {
		t.Errorf("callback ran %d times, want 3", n)
	}
}

func testScanError(t *testing.T, kv store.KV) {
	for i := range 10 {
		put(t, kv, key(i), []byte("v"))
	}
	errBoom := errors.New("boom")
	var n int
	err := kv.Scan(context.Background(), nil, func(k, v []byte) error {
		n++
		if n == 2 {
			return fmt.Errorf("scanning: %w", errBoom)
		}
		return nil
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Scan error = %v, want one wrapping errBoom", err)
	}
	if n != 2 {
		t.Errorf("callback ran %d times after an error, want 2", n)
	}
}

func testScanReentrant(t *testing.T, kv store.KV) {
	big := bytes.Repeat([]byte("x"), 1<<20+1) // big enough for a value log
	for i := range 5 {
		put(t, kv, key(i), big)
	}
	ctx := context.Background()
	err := kv.Scan(ctx, []byte("k"), func(k, v []byte) error {
		got, err := kv.Get(ctx, k)
		if err != nil {
			return fmt.Errorf("get inside scan: %w", err)
		}
		if !bytes.Equal(got, v) {
			return fmt.Errorf("get inside scan of %q returned a different value", k)
		}
		return kv.Update(ctx, func(tx store.Tx) error {
			return tx.Put(append([]byte("copy/"), k...), big)
		})
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if got := scanAll(t, kv, []byte("copy/")); len(got) != 5 {
		t.Errorf("Updates inside Scan wrote %d keys, want 5", len(got))
	}
}

func testScanSnapshot(t *testing.T, kv store.KV) {
	for i := range 5 {
		put(t, kv, key(i), []byte("old"))
	}
	ctx := context.Background()
	var seen []kvPair
	err := kv.Scan(ctx, []byte("k"), func(k, v []byte) error {
		seen = append(seen, kvPair{string(k), string(v)})
		if len(seen) > 1 {
			return nil
		}
		// Change the rest of the range behind the scan's back.
		return kv.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put(key(3), []byte("new")); err != nil {
				return err
			}
			if err := tx.Delete(key(4)); err != nil {
				return err
			}
			return tx.Put(key(9), []byte("new"))
		})
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if len(seen) != 5 {
		t.Fatalf("Scan saw %v, want the 5 keys present when it started", seen)
	}
	for _, p := range seen {
		if p.value != "old" {
			t.Errorf("Scan saw %q=%q, want the value from its start (old)", p.key, p.value)
		}
	}
}

func testConcurrentIncrements(t *testing.T, kv store.KV) {
	const workers, each = 8, 50
	ctx := context.Background()
	counter := []byte("counter")
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := kv.Update(ctx, func(tx store.Tx) error {
					n := 0
					v, err := tx.Get(counter)
					switch {
					case errors.Is(err, store.ErrNotFound):
					case err != nil:
						return err
					default:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					return tx.Put(counter, []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("increment: %v", err)
	}
	if got := mustGet(t, kv, counter); string(got) != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s, want %d", got, workers*each)
	}
}

func testConcurrentClaim(t *testing.T, kv store.KV) {
	const workers = 16
	ctx := context.Background()
	name := []byte("uid=alice")
	errTaken := errors.New("taken")
	results := make([]error, workers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			<-start
			results[i] = kv.Update(ctx, func(tx store.Tx) error {
				_, err := tx.Get(name)
				switch {
				case err == nil:
					return errTaken
				case !errors.Is(err, store.ErrNotFound):
					return err
				}
				return tx.Put(name, []byte(strconv.Itoa(i)))
			})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("claims %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, errTaken):
			t.Errorf("claim %d: %v, want nil or errTaken", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no claim succeeded")
	}
	if got := mustGet(t, kv, name); string(got) != strconv.Itoa(winner) {
		t.Errorf("stored owner = %s, want the winner %d", got, winner)
	}
}

func testNoAliasing(t *testing.T, kv store.KV) {
	put(t, kv, []byte("a"), []byte("value"))
	v := mustGet(t, kv, []byte("a"))
	v[0] = 'X'
	if got := mustGet(t, kv, []byte("a")); string(got) != "value" {
		t.Errorf("after mutating a returned slice, Get(a) = %q, want value", got)
	}
	if err := kv.Update(context.Background(), func(tx store.Tx) error {
		v, err := tx.Get([]byte("a"))
		if err != nil {
			return err
		}
		v[0] = 'Y'
		return nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := mustGet(t, kv, []byte("a")); string(got) != "value" {
		t.Errorf("after mutating a slice from Tx.Get, Get(a) = %q, want value", got)
	}
}

func testPutCopies(t *testing.T, kv store.KV) {
	k, v := []byte("key"), []byte("value")
	if err := kv.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Put(k, v); err != nil {
			return err
		}
		// A caller may reuse its buffers as soon as Put returns.
		copy(k, "KEY")
		copy(v, "VALUE")
		return nil
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := mustGet(t, kv, []byte("key")); string(got) != "value" {
		t.Errorf("Get(key) = %q, want value", got)
	}
	wantAbsent(t, kv, []byte("KEY"))
}

func testLargeValue(t *testing.T, kv store.KV) {
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	put(t, kv, []byte("big"), big)
	if got := mustGet(t, kv, []byte("big")); !bytes.Equal(got, big) {
		t.Fatalf("Get(big) returned %d bytes that differ from the %d put", len(got), len(big))
	}
	got := scanAll(t, kv, []byte("big"))
	if len(got) != 1 || got[0].value != string(big) {
		t.Fatalf("Scan(big) did not return the large value")
	}
}

func testBinaryKeys(t *testing.T, kv store.KV) {
	keys := [][]byte{{0}, {0, 0}, {0, 1}, {1, 0, 0}, {'a', 0, 'b'}, {0xff, 0, 0xff}}
	for i, k := range keys {
		put(t, kv, k, []byte{byte(i), 0})
	}
	for i, k := range keys {
		if got := mustGet(t, kv, k); !bytes.Equal(got, []byte{byte(i), 0}) {
			t.Errorf("Get(%q) = %q, want %q", k, got, []byte{byte(i), 0})
		}
	}
	if got := scanAll(t, kv, []byte{0}); len(got) != 3 {
		t.Errorf("Scan(\\x00) = %q, want the 3 keys starting with a zero byte", got)
	}
	wantAbsent(t, kv, []byte{0, 0, 0})
}

func testCancelled(t *testing.T, kv store.KV) {
	put(t, kv, []byte("a"), []byte("1"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := kv.Get(ctx, []byte("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v, want context.Canceled", err)
	}
	called := false
	err := kv.Scan(ctx, nil, func(k, v []byte) error { called = true; return nil })
	if !errors.Is(err, context.Canceled) || called {
		t.Errorf("Scan with a cancelled context = %v (callback called: %v), want context.Canceled", err, called)
	}
	err = kv.Update(ctx, func(tx store.Tx) error { return tx.Put([]byte("b"), []byte("2")) })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a cancelled context = %v, want context.Canceled", err)
	}
	wantAbsent(t, kv, []byte("b"))
	if b, ok := kv.(store.Backuper); ok {
		if err := b.Backup(ctx, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Backup with a cancelled context = %v, want context.Canceled", err)
		}
	}

	// Cancelling in the middle of a scan ends it before the next item.
	put(t, kv, []byte("b"), []byte("2"))
	ctx, cancel = context.WithCancel(context.Background())
	n := 0
	err = kv.Scan(ctx, nil, func(k, v []byte) error { n++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("Scan cancelled by its first callback = %v after %d items, want context.Canceled after 1", err, n)
	}
}

func testClosed(t *testing.T, kv store.KV) {
	put(t, kv, []byte("a"), []byte("1"))
	if err := kv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	if _, err := kv.Get(ctx, []byte("a")); err == nil {
		t.Error("Get after Close succeeded")
	}
	if err := kv.Scan(ctx, nil, func(k, v []byte) error { return nil }); err == nil {
		t.Error("Scan after Close succeeded")
	}
	if err := kv.Update(ctx, func(tx store.Tx) error { return nil }); err == nil {
		t.Error("Update after Close succeeded")
	}
}

func testBackupRestore(t *testing.T, src, dst store.KV) {
	b, ok := src.(store.Backuper)
	if !ok {
		t.Skip("backend does not implement store.Backuper")
	}
	r, ok := dst.(store.Restorer)
	if !ok {
		t.Skip("backend does not implement store.Restorer")
	}
	for i := range 100 {
		put(t, src, key(i), []byte(strconv.Itoa(i)))
	}
	put(t, src, []byte{0, 0xff}, nil)
	put(t, src, []byte("big"), bytes.Repeat([]byte{7}, 1<<20+1))
	del(t, src, key(50))
	want := scanAll(t, src, nil)

	var buf bytes.Buffer
	if err := b.Backup(context.Background(), &buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if err := r.Restore(context.Background(), &buf); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := scanAll(t, dst, nil)
	if len(got) != len(want) {
		t.Fatalf("restored store has %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("restored item %d = %q (%d bytes), want %q (%d bytes)",
				i, got[i].key, len(got[i].value), want[i].key, len(want[i].value))
		}
	}
	// The restored store takes writes like any other.
	put(t, dst, []byte("after"), []byte("restore"))
	if got := mustGet(t, dst, []byte("after")); string(got) != "restore" {
		t.Errorf("Get(after) = %q on the restored store", got)
	}
}

func testRestoreNotEmpty(t *testing.T, kv store.KV) {
	b, ok := kv.(store.Backuper)
	if !ok {
		t.Skip("backend does not implement store.Backuper")
	}
	r, ok := kv.(store.Restorer)
	if !ok {
		t.Skip("backend does not implement store.Restorer")
	}
	put(t, kv, []byte("a"), []byte("1"))
	var buf bytes.Buffer
	if err := b.Backup(context.Background(), &buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	put(t, kv, []byte("a"), []byte("2"))
	if err := r.Restore(context.Background(), &buf); err == nil {
		t.Fatal("Restore into a store that is not empty succeeded")
	}
	if got := mustGet(t, kv, []byte("a")); string(got) != "2" {
		t.Errorf("Get(a) = %q after a refused Restore, want 2", got)
	}
}

// testScanFrom checks store.Seeker: the keys of the prefix at or after
// start, in order; a start before the prefix starts at the prefix.
func testScanFrom(t *testing.T, kv store.KV) {
	sk, ok := kv.(store.Seeker)
	if !ok {
		t.Skip("backend does not implement store.Seeker")
	}
	for _, k := range []string{"s", "t", "t\x00\x05", "t\x00\x07a", "t\x00\x07b", "t\x01", "t\xff", "u"} {
		put(t, kv, []byte(k), []byte(k))
	}
	tests := []struct {
		prefix, start string
		want          []string
	}{
		{"t", "t\x00\x06", []string{"t\x00\x07a", "t\x00\x07b", "t\x01", "t\xff"}},
		{"t", "t\x00\x07b", []string{"t\x00\x07b", "t\x01", "t\xff"}},
		{"t", "", []string{"t", "t\x00\x05", "t\x00\x07a", "t\x00\x07b", "t\x01", "t\xff"}},
		{"t", "s", []string{"t", "t\x00\x05", "t\x00\x07a", "t\x00\x07b", "t\x01", "t\xff"}},
		{"t\x00", "t\x01", nil},
		{"t", "u", nil},
	}
	for _, tt := range tests {
		var keys []string
		err := sk.ScanFrom(context.Background(), []byte(tt.prefix), []byte(tt.start), func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
		if err != nil {
			t.Fatalf("ScanFrom(%q, %q): %v", tt.prefix, tt.start, err)
		}
		if fmt.Sprintf("%q", keys) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("ScanFrom(%q, %q) = %q, want %q", tt.prefix, tt.start, keys, tt.want)
		}
	}
}
