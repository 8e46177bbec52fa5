package sssdtest

import (
	"encoding/json"
	"testing"
)

// TestUnindexed proves the search check can fail: it reads dird's log
// lines as the tests do and picks out a scan.
func TestUnindexed(t *testing.T) {
	lines := []string{
		`{"level":"DEBUG","msg":"ldap search","base":"","scope":"base","filter":"(objectclass=*)","plan":"rootDSE","entries":1}`,
		`{"level":"DEBUG","msg":"ldap search","base":"dc=example,dc=com","scope":"sub","filter":"(uid=alice)","plan":"index uid","entries":1}`,
		`{"level":"DEBUG","msg":"ldap search","base":"uid=alice,ou=people,dc=example,dc=com","scope":"base","filter":"(objectClass=*)","plan":"base","entries":1}`,
		`{"level":"DEBUG","msg":"ldap search","base":"dc=example,dc=com","scope":"sub","filter":"(description=x)","plan":"scan","entries":0}`,
		`{"level":"DEBUG","msg":"ldap search","base":"dc=example,dc=com","scope":"one","filter":"(sn=x)","entries":0}`,
		`{"level":"INFO","msg":"ldap bind","dn":"uid=alice,ou=people,dc=example,dc=com"}`,
	}
	d := &dird{log: lines}
	all := d.searches()
	if len(all) != 5 {
		t.Fatalf("read %d searches from the log, want 5: %+v", len(all), all)
	}
	got := unindexed(all)
	if len(got) != 2 || got[0].Filter != "(description=x)" || got[1].Filter != "(sn=x)" {
		b, _ := json.Marshal(got)
		t.Fatalf("unindexed = %s, want the scan and the search without a plan", b)
	}
}
