package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestReadyzFollowsTheServer(t *testing.T) {
	m := New(nil)
	h := m.Handler()
	for _, tc := range []struct {
		name  string
		ready bool
		path  string
		want  int
	}{
		{"live before the server is up", false, "/healthz", http.StatusOK},
		{"not ready before the server is up", false, "/readyz", http.StatusServiceUnavailable},
		{"ready once the server says so", true, "/readyz", http.StatusOK},
		{"not ready again while shutting down", false, "/readyz", http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.SetReady(tc.ready)
			if code, body := get(t, h, tc.path); code != tc.want {
				t.Errorf("GET %s: %d %q, want %d", tc.path, code, body, tc.want)
			}
		})
	}
}

func TestCountersAppearInTheScrape(t *testing.T) {
	m := New(func() int64 { return 4096 })
	m.LDAPBind("ok")
	m.LDAPOperation("search")
	m.RADIUSRequest("pap", "reject")
	m.Lockout()
	m.PasswordChange("ldap", "reset")
	m.Mail(nil)
	m.Mail(errors.New("relay refused"))
	m.HashWait(3 * time.Millisecond)
	_, body := get(t, m.Handler(), "/metrics")
	for _, want := range []string{
		`dird_ldap_binds_total{outcome="ok"} 1`,
		`dird_ldap_binds_total{outcome="locked"} 0`,
		`dird_ldap_operations_total{op="search"} 1`,
		`dird_radius_requests_total{method="pap",outcome="reject"} 1`,
		`dird_lockouts_total 1`,
		`dird_password_changes_total{front="ldap",kind="reset"} 1`,
		`dird_mails_total{result="sent"} 1`,
		`dird_mails_total{result="failed"} 1`,
		`dird_hash_queue_wait_seconds_bucket{le="0.005"} 1`,
		`dird_hash_queue_wait_seconds_count 1`,
		`dird_store_size_bytes 4096`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{"", true},
		{"127.0.0.1:9100", true},
		{"[::1]:0", true},
		{"9100", false},
		{"127.0.0.1:http", false},
		{"127.0.0.1:70000", false},
	} {
		err := Config{Listen: tc.listen}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%q) = %v, want ok=%v", tc.listen, err, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "metrics.listen: ") {
			t.Errorf("Validate(%q) = %q, want it to name metrics.listen", tc.listen, err)
		}
	}
}

// TestREADMENamesEveryMetric keeps README's "Metrics and logs" table in
// step with what is exported.
func TestREADMENamesEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{NameLDAPBinds, NameLDAPOperations, NameRADIUSRequests, NameLockouts,
		NamePasswordChanges, NameMails, NameHashQueueWait, NameStoreSize} {
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("README.md has no table row for %s", name)
		}
	}
}
