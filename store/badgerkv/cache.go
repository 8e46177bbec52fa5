package badgerkv

import "sync"

// readCache keeps recently read values, and the results of small prefix
// scans, in memory, so the reads every bind and search repeats (the
// entry, the search base, an equality index) skip Badger's read path: a
// transaction, a bloom-filter probe per table, a block lookup and a copy
// (half of a search's CPU under load, by the profile of `make bench`).
//
// It is kept consistent by invalidation, never by expiry: every Update
// that commits drops each key it wrote and every cached scan whose
// prefix begins one of those keys, before Update returns, so a write
// acknowledged to a client is seen by every read that starts after it.
// A read that raced a commit must not bring the old value back: readers
// note the generation before they read Badger and store what they read
// only if no commit has ended since (put and putScan check it).
//
// It is bounded in bytes; when full, arbitrary entries are evicted (Go's
// map iteration order is random enough for a cache whose job is the hot
// set of a directory).
type readCache struct {
	mu     sync.Mutex
	gen    uint64
	budget int
	used   int
	values map[string]cachedValue
	scans  map[string][]cachedKV
}

type cachedKV struct{ k, v []byte }

// cachedValue is a value, or the knowledge that its key is absent.
type cachedValue struct {
	v      []byte
	absent bool
}

const (
	// entryOverhead approximates a map entry's own cost beyond its bytes.
	entryOverhead = 64
	// maxCachedValue keeps a few large values (a group of thousands of
	// members) from pushing out the hot set.
	maxCachedValue = 16 << 10
	// maxCachedScan is the largest scan result cached: equality index
	// lookups, which return one or a few keys, not subtree listings.
	maxCachedScan = 16
)

// newReadCache returns a cache of budget bytes, or nil (no caching) when
// budget is not positive.
func newReadCache(budget int) *readCache {
	if budget <= 0 {
		return nil
	}
	return &readCache{
		budget: budget,
		values: make(map[string]cachedValue),
		scans:  make(map[string][]cachedKV),
	}
}

// generation is the number of commits so far; a reader takes it before
// reading Badger and hands it to put or putScan.
func (c *readCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns a copy of the cached value of key; found is false when the
// key is cached as absent: most authentications also look for records
// most users do not have (an authenticator app), and a flood of unknown
// user names should not cost more than known ones.
func (c *readCache) get(key []byte) (v []byte, found, ok bool) {
	if c == nil {
		return nil, false, false
	}
	c.mu.Lock()
	cached, ok := c.values[string(key)]
	c.mu.Unlock()
	if !ok {
		return nil, false, false
	}
	if cached.absent {
		return nil, false, true
	}
	return append(make([]byte, 0, len(cached.v)), cached.v...), true, true
}

// put caches a copy of value, read at generation gen.
func (c *readCache) put(gen uint64, key, value []byte) {
	c.store(gen, key, cachedValue{v: value})
}

// putAbsent caches that key did not exist at generation gen.
func (c *readCache) putAbsent(gen uint64, key []byte) {
	c.store(gen, key, cachedValue{absent: true})
}

func (c *readCache) store(gen uint64, key []byte, cv cachedValue) {
	if c == nil || len(cv.v) > maxCachedValue {
		return
	}
	cv.v = append([]byte(nil), cv.v...)
	size := len(key) + len(cv.v) + entryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if old, ok := c.values[string(key)]; ok {
		c.used -= len(key) + len(old.v) + entryOverhead
	}
	c.makeRoom(size)
	c.values[string(key)] = cv
	c.used += size
}

// scan returns the cached result of the scan of prefix.
func (c *readCache) scan(prefix []byte) ([]cachedKV, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	kvs, ok := c.scans[string(prefix)]
	return kvs, ok
}

// putScan caches the complete result of a scan of prefix, read at gen.
// The pairs must not be changed afterwards (the cache shares them with
// readers, who copy before handing them on).
func (c *readCache) putScan(gen uint64, prefix []byte, kvs []cachedKV) {
	if c == nil || len(kvs) > maxCachedScan {
		return
	}
	size := scanSize(prefix, kvs)
	if size > maxCachedValue {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if old, ok := c.scans[string(prefix)]; ok {
		c.used -= scanSize(prefix, old)
	}
	c.makeRoom(size)
	c.scans[string(prefix)] = kvs
	c.used += size
}

func scanSize(prefix []byte, kvs []cachedKV) int {
	size := len(prefix) + entryOverhead
	for _, kv := range kvs {
		size += len(kv.k) + len(kv.v) + entryOverhead
	}
	return size
}

// makeRoom evicts arbitrary entries until size more bytes fit. c.mu is
// held.
func (c *readCache) makeRoom(size int) {
	for c.used+size > c.budget && (len(c.values) > 0 || len(c.scans) > 0) {
		for k, cv := range c.values {
			delete(c.values, k)
			c.used -= len(k) + len(cv.v) + entryOverhead
			break
		}
		for p, kvs := range c.scans {
			delete(c.scans, p)
			c.used -= scanSize([]byte(p), kvs)
			break
		}
	}
}

// committed drops what a commit that wrote keys made stale and starts a
// new generation. Called after the commit and before Update returns.
func (c *readCache) committed(keys [][]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		if cv, ok := c.values[string(k)]; ok {
			delete(c.values, string(k))
			c.used -= len(k) + len(cv.v) + entryOverhead
		}
		if len(c.scans) == 0 {
			continue
		}
		// Every cached scan whose prefix begins k may have changed:
		// look up each prefix of k (a map lookup of a []byte
		// conversion does not allocate).
		for l := 0; l <= len(k); l++ {
			if kvs, ok := c.scans[string(k[:l])]; ok {
				delete(c.scans, string(k[:l]))
				c.used -= scanSize(k[:l], kvs)
			}
		}
	}
}

// reset empties the cache: the store changed under it (a restore).
func (c *readCache) reset() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.values)
	clear(c.scans)
	c.used = 0
}
