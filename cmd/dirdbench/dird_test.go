package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dird/dird/internal/dirdproc"
)

const (
	testSecret   = "bench-test-secret-5c2e"
	testAdminDN  = "cn=admin,dc=example,dc=com"
	testAdminPW  = "Adm1n-Bench-Sesame-42"
	testPassword = "Bench-Password-2026"
	testUsers    = 5
)

// servedDird is a real `dird serve` loaded with testUsers users by
// `dird import`.
type servedDird struct {
	pid          int
	ldap, radius string
}

// startDird builds bin/dird, imports the users (cleartext passwords, so
// the import keeps their NT hashes for PEAP-MSCHAPv2) and serves them on
// loopback ports the kernel picks.
func startDird(t *testing.T) *servedDird {
	t.Helper()
	bin, cleanup, err := dirdproc.Build(false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dird.yaml")
	yaml := `base_dn: dc=example,dc=com
admin:
  dn: ` + testAdminDN + `
  password: ` + testAdminPW + `
store:
  path: ` + filepath.Join(dir, "data") + `
ldap:
  listen: 127.0.0.1:0
radius:
  listen: 127.0.0.1:0
  clients:
    - {name: loopback, address: 127.0.0.0/8, secret: ` + testSecret + `}
portal:
  listen: 127.0.0.1:0
policy:
  argon2_memory: 7168
  argon2_time: 1
  nt_hash: true
  upgrade_hashes: false
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var ldif strings.Builder
	ldif.WriteString("dn: dc=example,dc=com\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n")
	ldif.WriteString("dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n")
	for i := range testUsers {
		u := fmt.Sprintf("user%05d", i)
		fmt.Fprintf(&ldif, "dn: uid=%s,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"+
			"uid: %s\ncn: Load %s\nsn: Tester\nmail: %s@example.com\nuidNumber: %d\ngidNumber: 100000\nhomeDirectory: /home/%s\nuserPassword: %s\n\n",
			u, u, u, u, 100000+i, u, testPassword)
	}
	ldifPath := filepath.Join(dir, "users.ldif")
	if err := os.WriteFile(ldifPath, []byte(ldif.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := exec.Command(bin, "import", "--config", cfg, ldifPath)
	imp.Env = dirdproc.Env()
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("dird import: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Env = dirdproc.Env()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	listening := make(chan [2]string, 8)
	var logTail []string
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			logTail = append(logTail[max(0, len(logTail)-50):], sc.Text())
			var rec struct{ Msg, Front, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				select {
				case listening <- [2]string{rec.Front, rec.Addr}:
				default:
				}
			}
		}
	}()
	go func() {
		<-logDone
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("dird serve exited with %v", err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Error("dird serve did not stop within 20s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("dird serve log (tail):\n%s", strings.Join(logTail, "\n"))
		}
	})
	d := &servedDird{pid: cmd.Process.Pid}
	deadline := time.After(30 * time.Second)
	for d.ldap == "" || d.radius == "" {
		select {
		case l := <-listening:
			switch l[0] {
			case "ldap":
				d.ldap = l[1]
			case "radius":
				d.radius = l[1]
			}
		case err := <-exited:
			t.Fatalf("dird serve exited (%v) before listening", err)
		case <-deadline:
			t.Fatal("dird serve did not listen within 30s")
		}
	}
	return d
}

// jsonFields are the keys BENCH-INTERFACE.md promises on every line.
var jsonFields = []string{"scenario", "label", "c", "users", "ops", "fails", "secs", "ops_per_s",
	"p50_ms", "p99_ms", "loadgen_cpu_pct", "server_cpu_pct", "peak_rss_mib", "rss_mib", "first_error"}

// TestAgainstDird runs every scenario briefly against a real dird.
// eapol_test (Debian package eapoltest) must be installed: without it
// the peap and ttls cases fail.
func TestAgainstDird(t *testing.T) {
	d := startDird(t)
	common := []string{"-json", "-label", "dird", "-users", strconv.Itoa(testUsers), "-warmup", "200ms",
		"-pid", strconv.Itoa(d.pid), "-url", "ldap://" + d.ldap, "-radius", d.radius, "-secret", testSecret}
	confDir := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		fails bool   // the run must report failures
		want  string // in first_error
	}{
		{name: "search", args: []string{"-scenario", "search", "-c", "4", "-d", "1s", "-bind-dn", testAdminDN, "-bind-pw", testAdminPW}},
		{name: "bind", args: []string{"-scenario", "bind", "-c", "4", "-d", "1s"}},
		{name: "pap", args: []string{"-scenario", "pap", "-c", "4", "-d", "1s"}},
		{name: "peap", args: []string{"-scenario", "peap", "-c", "2", "-n", "3", "-d", "20s", "-warmup", "0", "-eapol-conf-dir", confDir}},
		{name: "ttls", args: []string{"-scenario", "ttls", "-c", "2", "-n", "3", "-d", "20s", "-warmup", "0", "-eapol-conf-dir", confDir}},
		{name: "idle", args: []string{"-scenario", "idle", "-c", "20", "-d", "300ms"}},
		{name: "hash", args: []string{"-scenario", "hash", "-d", "200ms", "-argon2-m", "1024", "-argon2-t", "1"}},
		{name: "anonymous search is refused", args: []string{"-scenario", "search", "-c", "1", "-d", "300ms", "-warmup", "0"},
			fails: true, want: "LDAP result 50"},
		{name: "bind with a wrong password", args: []string{"-scenario", "bind", "-c", "1", "-d", "300ms", "-warmup", "0", "-password", "wrong-Password-1"},
			fails: true, want: "LDAP result 49"},
		// dird answers a wrong password after one second (reject_delay):
		// the window leaves room for that under a loaded test machine.
		{name: "pap with a wrong password", args: []string{"-scenario", "pap", "-c", "1", "-d", "4s", "-warmup", "0", "-password", "wrong-Password-1"},
			fails: true, want: "Access-Reject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string(nil), common...), tc.args...), &stdout, &stderr)
			line := strings.TrimSpace(stdout.String())
			if strings.Count(line, "\n") != 0 {
				t.Fatalf("stdout is not one line:\n%s", line)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s\nstderr: %s", err, line, stderr.String())
			}
			for _, k := range jsonFields {
				if _, ok := got[k]; !ok {
					t.Errorf("JSON has no %q: %s", k, line)
				}
			}
			if len(got) != len(jsonFields) {
				t.Errorf("JSON has %d fields, want %d: %s", len(got), len(jsonFields), line)
			}
			ops, _ := got["ops"].(float64)
			fails, _ := got["fails"].(float64)
			firstErr, _ := got["first_error"].(string)
			if tc.fails {
				if code != 1 || fails == 0 || !strings.Contains(firstErr, tc.want) {
					t.Errorf("exit %d, fails %v, first_error %q; want exit 1, failures and %q", code, fails, firstErr, tc.want)
				}
				return
			}
			if code != 0 || ops <= 0 || fails != 0 || firstErr != "" {
				t.Errorf("exit %d: %s", code, line)
			}
			if tc.name != "hash" && got["rss_mib"].(float64) <= 0 {
				t.Errorf("no server RSS with -pid: %s", line)
			}
			if tc.name == "peap" || tc.name == "ttls" {
				if ops != 3 {
					t.Errorf("ops %v with -n 3, want 3", ops)
				}
			}
			t.Log(line)
		})
	}
}
