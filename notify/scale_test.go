package notify_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// countingKV counts, per key prefix byte, the keys read through Get and
// the keys a Scan hands over.
type countingKV struct {
	store.KV
	mu      sync.Mutex
	gets    map[byte]int
	scanned map[byte]int
}

func newCountingKV(kv store.KV) *countingKV {
	return &countingKV{KV: kv, gets: map[byte]int{}, scanned: map[byte]int{}}
}

func (c *countingKV) Get(ctx context.Context, key []byte) ([]byte, error) {
	c.mu.Lock()
	if len(key) > 0 {
		c.gets[key[0]]++
	}
	c.mu.Unlock()
	return c.KV.Get(ctx, key)
}

func (c *countingKV) Scan(ctx context.Context, prefix []byte, fn func(key, value []byte) error) error {
	return c.KV.Scan(ctx, prefix, func(key, value []byte) error {
		c.mu.Lock()
		c.scanned[key[0]]++
		c.mu.Unlock()
		return fn(key, value)
	})
}

// ScanFrom counts as Scan does; countingKV is a store.Seeker when the
// KV it wraps is one.
func (c *countingKV) ScanFrom(ctx context.Context, prefix, start []byte, fn func(key, value []byte) error) error {
	return c.KV.(store.Seeker).ScanFrom(ctx, prefix, start, func(key, value []byte) error {
		c.mu.Lock()
		c.scanned[key[0]]++
		c.mu.Unlock()
		return fn(key, value)
	})
}

// reset forgets the counts and returns them.
func (c *countingKV) reset() (gets, scanned map[byte]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gets, scanned = c.gets, c.scanned
	c.gets, c.scanned = map[byte]int{}, map[byte]int{}
	return gets, scanned
}

// TestTickReadsOnlyTheIndexRange: over 1000 users, half of them with
// passwords expired long ago, a pass with nothing due reads no entry and
// at most one index key (the first one past the range, which ends the
// scan); a pass with three due reads those three entries only.
func TestTickReadsOnlyTheIndexRange(t *testing.T) {
	const users = 1000
	kv := newCountingKV(memkv.New())
	s := newSite(t, kv, &fakeClock{t: t0}, 90*day)
	for i := range users / 2 {
		// Changed over the last 30 days: the first expires in 60 days,
		// far beyond the 7d offset.
		s.addUser(fmt.Sprintf("user%04d", i), t0.Add(-time.Duration(i)*(30*day/users)), false)
		// Expired 100 to 250 days ago: before the range.
		s.addUser(fmt.Sprintf("gone%04d", i), t0.Add(-190*day-time.Duration(i)*(300*day/users)), false)
	}
	kv.reset()
	got, tally := s.tick(0)
	gets, scanned := kv.reset()
	if len(got) != 0 || tally.Candidates != 0 {
		t.Fatalf("nothing is due, but delivered %q (tally %+v)", got, tally)
	}
	if gets['e'] != 0 || scanned['e'] != 0 {
		t.Errorf("a pass with nothing due read %d entries by key and %d by scan; want none", gets['e'], scanned['e'])
	}
	if scanned['t'] > 1 {
		t.Errorf("a pass with nothing due scanned %d index keys; want at most 1", scanned['t'])
	}
	t.Logf("nothing due over %d users: %d entry reads, %d index keys, %d notice keys scanned", users, gets['e'], scanned['t'], scanned['n'])

	for _, uid := range []string{"due1", "due2", "due3"} {
		s.addUser(uid, t0.Add(-85*day), false)
	}
	kv.reset()
	got, tally = s.tick(time.Hour)
	gets, scanned = kv.reset()
	if len(got) != 3 || tally.Sent != 3 {
		t.Fatalf("three due: delivered %q (tally %+v)", got, tally)
	}
	if gets['e'] != 3 || scanned['e'] != 0 {
		t.Errorf("three due: read %d entries by key and %d by scan; want 3 and 0", gets['e'], scanned['e'])
	}
	if scanned['t'] > 4 {
		t.Errorf("three due: scanned %d index keys; want at most 4", scanned['t'])
	}
}
