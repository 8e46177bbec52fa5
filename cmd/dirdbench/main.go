// Command dirdbench is dird's load generator: it seeds users over LDAP and
// measures binds and searches per second against any LDAP server (dird or
// slapd), with a fixed concurrency and duration. It is deliberately light
// (persistent connections, no per-request allocation beyond the client's)
// so that it does not starve the server on a small machine.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func main() {
	var (
		url      = flag.String("url", "ldap://127.0.0.1:3389", "LDAP URL")
		adminDN  = flag.String("admin-dn", "cn=admin,dc=example,dc=com", "administrator DN (for -seed)")
		adminPW  = flag.String("admin-pw", "dird-admin-secret", "administrator password (for -seed)")
		base     = flag.String("base", "dc=example,dc=com", "base DN")
		users    = flag.Int("users", 10000, "number of users userNNNNN")
		seed     = flag.Bool("seed", false, "add ou=people and the users first")
		hash     = flag.String("hash", "", "userPassword value stored for every seeded user (a hash, or cleartext)")
		password = flag.String("password", "Bench-Password-2026", "the users' password for binds")
		scenario = flag.String("scenario", "bind", "bind | search")
		conc     = flag.Int("c", 8, "concurrent connections")
		duration = flag.Duration("d", 10*time.Second, "how long to run")
		maxOps   = flag.Int("n", 1000000, "stop after this many operations")
		rssPID   = flag.Int("rss-pid", 0, "report the peak RSS (VmHWM) of this process at the end")
	)
	flag.Parse()
	if *seed {
		if err := seedUsers(*url, *adminDN, *adminPW, *base, *users, *hash); err != nil {
			fmt.Fprintln(os.Stderr, "dirdbench: seeding:", err)
			os.Exit(1)
		}
	}
	people := "ou=people," + *base
	var ops, fails atomic.Int64
	var firstErr sync.Once
	report := func(err error) {
		fails.Add(1)
		firstErr.Do(func() { fmt.Fprintln(os.Stderr, "dirdbench: first failure:", err) })
	}
	var mu sync.Mutex
	var lat []time.Duration
	// Connections are opened and bound before the clock starts, so the
	// figures measure the scenario, not the setup.
	var ready, wg sync.WaitGroup
	startc := make(chan struct{})
	var deadline time.Time
	ready.Add(*conc)
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ldap.DialURL(*url)
			if err == nil && *scenario == "search" {
				err = c.Bind(*adminDN, *adminPW)
			}
			ready.Done()
			<-startc
			if err != nil {
				report(err)
				return
			}
			defer c.Close()
			var mine []time.Duration
			for time.Now().Before(deadline) && ops.Load() < int64(*maxOps) {
				u := fmt.Sprintf("user%05d", rand.IntN(*users))
				t0 := time.Now()
				var err error
				switch *scenario {
				case "bind":
					err = c.Bind("uid="+u+","+people, *password)
				case "search":
					var res *ldap.SearchResult
					res, err = c.Search(ldap.NewSearchRequest(*base, ldap.ScopeWholeSubtree, 0, 0, 0, false,
						"(uid="+u+")", []string{"cn", "mail", "uidNumber"}, nil))
					if err == nil && len(res.Entries) != 1 {
						err = errors.New("not exactly one entry")
					}
				}
				mine = append(mine, time.Since(t0))
				ops.Add(1)
				if err != nil {
					report(err)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	ready.Wait()
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	deadline = start.Add(*duration)
	close(startc)
	wg.Wait()
	elapsed := time.Since(start)
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("scenario=%s c=%d ops=%d fails=%d elapsed=%s rate=%.0f/s p50=%s p99=%s loadgen_cpu=%.0f%%\n",
		*scenario, *conc, ops.Load(), fails.Load(), elapsed.Round(time.Millisecond),
		float64(ops.Load())/elapsed.Seconds(), pct(0.50), pct(0.99), 100*cpu.Seconds()/elapsed.Seconds())
	if *rssPID > 0 {
		fmt.Printf("server_peak_rss=%s\n", peakRSS(*rssPID))
	}
	if fails.Load() > 0 {
		os.Exit(1)
	}
}

func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "unknown"
}

func seedUsers(url, adminDN, adminPW, base string, n int, hash string) error {
	const workers = 4
	c, err := ldap.DialURL(url)
	if err != nil {
		return err
	}
	if err := c.Bind(adminDN, adminPW); err != nil {
		return err
	}
	ou := ldap.NewAddRequest("ou=people,"+base, nil)
	ou.Attribute("objectClass", []string{"organizationalUnit"})
	ou.Attribute("ou", []string{"people"})
	if err := c.Add(ou); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return err
	}
	c.Close()
	var next atomic.Int64
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ldap.DialURL(url)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			if err := c.Bind(adminDN, adminPW); err != nil {
				errc <- err
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				u := fmt.Sprintf("user%05d", i)
				r := ldap.NewAddRequest("uid="+u+",ou=people,"+base, nil)
				r.Attribute("objectClass", []string{"inetOrgPerson", "posixAccount"})
				r.Attribute("cn", []string{"User " + u})
				r.Attribute("sn", []string{"Bench"})
				r.Attribute("mail", []string{u + "@example.com"})
				r.Attribute("uidNumber", []string{fmt.Sprint(100000 + i)})
				r.Attribute("gidNumber", []string{"100000"})
				r.Attribute("homeDirectory", []string{"/home/" + u})
				if hash != "" {
					r.Attribute("userPassword", []string{hash})
				}
				if err := c.Add(r); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
					errc <- fmt.Errorf("adding %s: %w", u, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}
