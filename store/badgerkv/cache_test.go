package badgerkv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dird/dird/store"
)

// The read cache must never change what a read returns: these tests
// read through it after every kind of write, and race readers (which try
// to cache what they read) against writers.

func openCached(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if db.cache == nil {
		t.Fatal("the read cache is off by default")
	}
	return db
}

func put(t *testing.T, db *DB, kv ...string) {
	t.Helper()
	err := db.Update(context.Background(), func(tx store.Tx) error {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				if err := tx.Delete([]byte(kv[i])); err != nil {
					return err
				}
				continue
			}
			if err := tx.Put([]byte(kv[i]), []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func scanString(t *testing.T, db *DB, prefix string) string {
	t.Helper()
	var out string
	err := db.Scan(context.Background(), []byte(prefix), func(k, v []byte) error {
		out += string(k) + "=" + string(v) + ";"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadCacheSeesEveryWrite(t *testing.T) {
	ctx := context.Background()
	db := openCached(t)
	steps := []struct {
		name     string
		write    []string // key, value pairs; "" deletes
		key      string
		wantGet  string // "" means not found
		prefix   string
		wantScan string
	}{
		{"first put", []string{"ia=1", "x"}, "ia=1", "x", "ia=", "ia=1=x;"},
		{"overwrite", []string{"ia=1", "y"}, "ia=1", "y", "ia=", "ia=1=y;"},
		{"a new key under a cached prefix", []string{"ia=2", "z"}, "ia=2", "z", "ia=", "ia=1=y;ia=2=z;"},
		{"delete", []string{"ia=1", ""}, "ia=1", "", "ia=", "ia=2=z;"},
		{"a write outside the prefix", []string{"ib", "w"}, "ia=2", "z", "ia=", "ia=2=z;"},
		{"put back", []string{"ia=1", "v"}, "ia=1", "v", "ia=", "ia=1=v;ia=2=z;"},
	}
	for _, st := range steps {
		// Read twice before the write, so both reads are cached.
		for range 2 {
			db.Get(ctx, []byte(st.key))
			scanString(t, db, st.prefix)
		}
		put(t, db, st.write...)
		got, err := db.Get(ctx, []byte(st.key))
		switch {
		case st.wantGet == "" && !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: Get(%s) = %q, %v; want not found", st.name, st.key, got, err)
		case st.wantGet != "" && (err != nil || string(got) != st.wantGet):
			t.Errorf("%s: Get(%s) = %q, %v; want %q", st.name, st.key, got, err, st.wantGet)
		}
		if got := scanString(t, db, st.prefix); got != st.wantScan {
			t.Errorf("%s: Scan(%s) = %q, want %q", st.name, st.prefix, got, st.wantScan)
		}
	}
}

func TestReadCacheKeepsAbsentAndEmptyApart(t *testing.T) {
	ctx := context.Background()
	db := openCached(t)
	put(t, db, "empty", "x")
	db.Update(ctx, func(tx store.Tx) error { return tx.Put([]byte("empty"), nil) })
	for range 2 { // the second read comes from the cache
		if v, err := db.Get(ctx, []byte("empty")); err != nil || len(v) != 0 {
			t.Fatalf("Get(empty) = %q, %v; want an empty value", v, err)
		}
		if _, err := db.Get(ctx, []byte("missing")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(missing) = %v; want ErrNotFound", err)
		}
	}
	if _, _, ok := db.cache.get([]byte("missing")); !ok {
		t.Error("an absent key was not cached")
	}
}

func TestReadCacheCopies(t *testing.T) {
	ctx := context.Background()
	db := openCached(t)
	put(t, db, "k", "value")
	a, _ := db.Get(ctx, []byte("k"))
	a[0] = 'X' // the caller owns what Get returns
	b, _ := db.Get(ctx, []byte("k"))
	if string(b) != "value" {
		t.Fatalf("a caller's change reached the cache: %q", b)
	}
	scanString(t, db, "k")
	db.Scan(ctx, []byte("k"), func(k, v []byte) error { v[0] = 'X'; return nil })
	if got := scanString(t, db, "k"); got != "k=value;" {
		t.Fatalf("a scan callback's change reached the cache: %q", got)
	}
}

func TestReadCacheRefusesStaleReads(t *testing.T) {
	c := newReadCache(1 << 20)
	gen := c.generation()
	c.committed([][]byte{[]byte("k")}) // a commit ends while the read runs
	c.put(gen, []byte("k"), []byte("old"))
	c.putScan(gen, []byte("k"), []cachedKV{{[]byte("k"), []byte("old")}})
	if _, _, ok := c.get([]byte("k")); ok {
		t.Error("a value read before a commit was cached after it")
	}
	if _, ok := c.scan([]byte("k")); ok {
		t.Error("a scan read before a commit was cached after it")
	}
}

func TestReadCacheStaysWithinBudget(t *testing.T) {
	const budget = 64 << 10
	c := newReadCache(budget)
	for i := range 10000 {
		k := []byte("key" + strconv.Itoa(i))
		c.put(c.generation(), k, make([]byte, 100))
		c.putScan(c.generation(), k, []cachedKV{{k, make([]byte, 50)}})
		if c.used > budget {
			t.Fatalf("after %d puts the cache holds %d bytes, over its %d", i+1, c.used, budget)
		}
	}
	if len(c.values) == 0 || len(c.scans) == 0 {
		t.Fatalf("nothing kept: %d values, %d scans", len(c.values), len(c.scans))
	}
	// A large scan result and a large value are not cached at all.
	c.putScan(c.generation(), []byte("big"), make([]cachedKV, maxCachedScan+1))
	c.put(c.generation(), []byte("big"), make([]byte, maxCachedValue+1))
	if _, ok := c.scan([]byte("big")); ok {
		t.Error("a scan of more than maxCachedScan pairs was cached")
	}
	if _, _, ok := c.get([]byte("big")); ok {
		t.Error("a value over maxCachedValue was cached")
	}
}

// TestReadCacheReadYourWrites races readers that keep caching what they
// read against a writer that, after each acknowledged write, must read
// its own value back through Get and Scan.
func TestReadCacheReadYourWrites(t *testing.T) {
	ctx := context.Background()
	db := openCached(t)
	put(t, db, "c/n", "0")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				db.Get(ctx, []byte("c/n"))
				db.Scan(ctx, []byte("c/"), func(k, v []byte) error { return nil })
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	for i := 1; i <= 300; i++ {
		want := fmt.Sprint(i)
		put(t, db, "c/n", want)
		if got, err := db.Get(ctx, []byte("c/n")); err != nil || string(got) != want {
			t.Fatalf("Get after write %d = %q, %v", i, got, err)
		}
		if got := scanString(t, db, "c/"); got != "c/n="+want+";" {
			t.Fatalf("Scan after write %d = %q", i, got)
		}
	}
}

func TestReadCacheResetByRestore(t *testing.T) {
	c := newReadCache(1 << 20)
	c.put(c.generation(), []byte("k"), []byte("v"))
	c.reset()
	if _, _, ok := c.get([]byte("k")); ok || c.used != 0 {
		t.Fatalf("reset kept %d bytes", c.used)
	}
}
