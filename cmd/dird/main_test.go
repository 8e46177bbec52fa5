package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clearEnv unsets every DIRD_* variable for the test (an empty value
// would still count as set).
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "DIRD_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dird.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const example = "../../config.example.yaml"

func TestCommands(t *testing.T) {
	bad := "base_dn: dc=example,dc=com\nadmin: {dn: 'cn=admin,dc=example,dc=com', password: x}\npolicy: {min_length: 0}\n"
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		file       string // written to a temp file and passed as --config
		wantCode   int
		wantStdout string
		wantStderr string // a prefix of the single stderr line
	}{
		{name: "version prints the build version", args: []string{"version"}, wantStdout: "dird dev\n"},
		{name: "check-config accepts the example", args: []string{"check-config", "--config", example}, wantStdout: "configuration ok\n"},
		{name: "check-config reads DIRD_CONFIG", args: []string{"check-config"}, env: map[string]string{"DIRD_CONFIG": example}, wantStdout: "configuration ok\n"},
		{name: "the flag beats DIRD_CONFIG", args: []string{"check-config", "--config", example}, env: map[string]string{"DIRD_CONFIG": "/nonexistent.yaml"}, wantStdout: "configuration ok\n"},
		{name: "check-config names the bad key", file: bad, args: []string{"check-config"}, wantCode: 2, wantStderr: "dird: policy.min_length: must be at least 1"},
		{name: "check-config sees the environment", args: []string{"check-config", "--config", example}, env: map[string]string{"DIRD_LDAP_LISTEN": "nowhere"}, wantCode: 2, wantStderr: "dird: ldap.listen:"},
		{name: "check-config without a file", args: []string{"check-config"}, wantCode: 2, wantStderr: "dird: --config FILE is required"},
		{name: "check-config with a missing file", args: []string{"check-config", "--config", "/nonexistent/dird.yaml"}, wantCode: 2, wantStderr: `dird: config file "/nonexistent/dird.yaml"`},
		{name: "serve refuses a bad configuration", file: bad, args: []string{"serve"}, wantCode: 2, wantStderr: "dird: policy.min_length: must be at least 1"},
		{name: "serve without a file", args: []string{"serve"}, wantCode: 2, wantStderr: "dird: --config FILE is required"},
		{name: "serve's profiler only on loopback", args: []string{"serve", "--config", example, "--pprof", "0.0.0.0:6060"}, wantCode: 2, wantStderr: "dird: --pprof: only a loopback address"},
		{name: "an unknown command is a usage error", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `dird: unknown command "frobnicate"`},
		{name: "an unknown flag is a usage error", args: []string{"check-config", "--confg", example}, wantCode: 2, wantStderr: "dird: unknown flag: --confg"},
		{name: "arguments are refused", args: []string{"check-config", "--config", example, "extra"}, wantCode: 2, wantStderr: "dird: unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if tt.file != "" {
				args = append(slices.Clone(args), "--config", writeConfig(t, tt.file))
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantStderr == "" {
				if stderr.Len() != 0 {
					t.Errorf("stderr %q, want nothing", stderr.String())
				}
				return
			}
			if !strings.HasPrefix(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q, want it to start with %q", stderr.String(), tt.wantStderr)
			}
			if n := strings.Count(stderr.String(), "\n"); n != 1 {
				t.Errorf("stderr has %d lines, want exactly one: %q", n, stderr.String())
			}
		})
	}
}

// buildDird builds the binary the way the Makefile does, with the version
// stamped by -ldflags.
func buildDird(t *testing.T, version string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "dird")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+version, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestVersionLdflags checks that the Makefile's way of stamping the version
// reaches the binary.
func TestVersionLdflags(t *testing.T) {
	bin := buildDird(t, "v9.8.7-test")
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "dird v9.8.7-test\n" {
		t.Errorf("dird version = %q, want %q", got, "dird v9.8.7-test\n")
	}
}

// TestServeStopsOnSIGTERM runs the real binary: it must log JSON lines on
// stderr, accept connections on the address it logs, and exit 0 on
// SIGTERM, as an init system expects.
func TestServeStopsOnSIGTERM(t *testing.T) {
	clearEnv(t)
	bin := buildDird(t, "test")
	cfg := loopbackConfig(t)
	s := startServe(t, bin, "serve", "--config", cfg)
	addr := s.waitListening(t, "ldap")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing the logged LDAP address: %v", err)
	}
	conn.Close()

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for s.sc.Scan() {
		s.logged = append(s.logged, s.sc.Text())
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v; stderr:\n%s", err, strings.Join(s.logged, "\n"))
	}
}

// loopbackConfig writes a configuration for a real `dird serve` with
// every front on a port the kernel picks (none on a fixed port another
// test or program may hold) and a fresh store.
func loopbackConfig(t *testing.T) string {
	t.Helper()
	return writeConfig(t, `
base_dn: dc=example,dc=com
admin: {dn: 'cn=admin,dc=example,dc=com', password: dird-admin-secret}
store: {path: '`+filepath.Join(t.TempDir(), "data")+`'}
ldap: {listen: '127.0.0.1:0'}
radius: {listen: '127.0.0.1:0'}
portal: {listen: '127.0.0.1:0'}
`)
}

// served is a running `dird serve` whose stderr is read line by line.
type served struct {
	cmd    *exec.Cmd
	sc     *bufio.Scanner
	logged []string
}

// startServe starts the binary; the process is killed when the test ends.
func startServe(t *testing.T, bin string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return &served{cmd: cmd, sc: bufio.NewScanner(stderr)}
}

// waitListening reads log lines, each of which must be JSON, until front
// logs its listening address, and returns that address.
func (s *served) waitListening(t *testing.T, front string) string {
	t.Helper()
	for s.sc.Scan() {
		s.logged = append(s.logged, s.sc.Text())
		var line struct{ Msg, Front, Addr string }
		if err := json.Unmarshal(s.sc.Bytes(), &line); err != nil {
			t.Fatalf("stderr line is not JSON: %q", s.sc.Text())
		}
		if line.Msg == "listening" && line.Front == front {
			return line.Addr
		}
	}
	t.Fatalf("no listening line for %s; stderr:\n%s", front, strings.Join(s.logged, "\n"))
	return ""
}

// TestServePprof checks the hidden --pprof flag `make bench` profiles
// with: Go's profiler answers on the loopback address it logs.
func TestServePprof(t *testing.T) {
	clearEnv(t)
	bin := buildDird(t, "test")
	cfg := loopbackConfig(t)
	s := startServe(t, bin, "serve", "--config", cfg, "--pprof", "127.0.0.1:0")
	addr := s.waitListening(t, "pprof")
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("goroutine profile:")) {
		t.Fatalf("GET goroutine profile: %s\n%.300s", resp.Status, body)
	}
	// Serve stays up behind it: the LDAP front listens too.
	s.waitListening(t, "ldap")
}
