package sssdtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSSSDEnumerate runs SSSD with enumerate = true and a page size of 2:
// the full listing comes in pages (RFC 2696), and SSSD's periodic refresh,
// which asks only for what changed (modifyTimestamp>=), brings in a user
// added later.
func TestSSSDEnumerate(t *testing.T) {
	d := startDird(t, "max_age: 0")
	seed(t, d)
	before := len(d.searches())
	// enum_cache_timeout: the NSS responder keeps a listing 120s by
	// default.
	conf := strings.Replace(sssdConf(d, "rfc2307bis", bisGroups, ""), "[nss]\n", "[nss]\nenum_cache_timeout = 1\n", 1) +
		"enumerate = true\nldap_page_size = 2\nldap_enumeration_refresh_timeout = 1\nldap_enumeration_refresh_offset = 0\n"
	h := startSSSD(t, conf)
	names := func() []string {
		r := h.exec(t, "", false, "getent", "-s", "sss", "passwd")
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
			if name, _, ok := strings.Cut(l, ":"); ok {
				out = append(out, name)
			}
		}
		slices.Sort(out)
		return out
	}
	var want []string
	for _, u := range users {
		want = append(want, u.uid)
	}
	// The first enumeration runs as sssd starts; wait for it.
	waitFor(t, 60*time.Second, func() bool { return slices.Equal(names(), want) }, func() string {
		return fmt.Sprintf("getent -s sss passwd lists %v, want %v", names(), want)
	})
	// modifyTimestamp has whole seconds, and SSSD's refresh asks for
	// (modifyTimestamp>=T)(!(modifyTimestamp=T)) with T the newest it has
	// seen: an entry written in the same second as the seed would be left
	// to the next full enumeration (as with OpenLDAP). Add frank in a
	// later second.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	d.admin(t, "ldapadd", fmt.Sprintf("dn: %s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"+
		"uid: frank\ncn: Frank Poole\nsn: Poole\nuidNumber: 20006\ngidNumber: 30002\nhomeDirectory: /home/frank\n", userDN("frank")))
	want = append(want, "frank")
	waitFor(t, 60*time.Second, func() bool { return slices.Equal(names(), want) }, func() string {
		return fmt.Sprintf("after adding frank, getent -s sss passwd lists %v, want %v", names(), want)
	})
	refreshed, pages := false, 0
	for _, s := range d.searches()[before:] {
		refreshed = refreshed || strings.Contains(s.Filter, "modifyTimestamp>=")
		if s.Filter == "(&(objectclass=posixAccount)(uid=*)(uidNumber=*)(gidNumber=*))" {
			pages++
		}
	}
	// Five users in pages of two: at least three requests for the first
	// enumeration, each resuming where the last page stopped.
	if pages < 3 {
		t.Errorf("the full user enumeration came in %d requests, want at least 3 pages of 2", pages)
	}
	if !refreshed {
		t.Errorf("SSSD sent no modifyTimestamp>= search for its refresh")
	}
	checkSearches(t, "SSSD (enumerate)", d, before)
}

// waitFor polls cond until it holds or d passes (SSSD's refresh runs on
// its own timer: there is nothing to wait on).
func waitFor(t *testing.T, d time.Duration, cond func() bool, why func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, why())
		}
		time.Sleep(250 * time.Millisecond)
	}
}
