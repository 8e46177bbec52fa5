package sssdtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// host is a Linux host's login stack in a private mount namespace: one
// daemon (sssd or nslcd) whose state directories, PAM services and
// configuration are the test's own bind mounts, and the commands the
// test runs there through nsenter.
type host struct {
	t      *testing.T
	name   string // "sssd" or "nslcd"
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}

	mu  sync.Mutex // guards out
	out bytes.Buffer
}

// syncBuffer lets the daemon's output be written by exec's copier while
// the test reads it.
type lockedWriter struct{ h *host }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	return w.h.out.Write(p)
}

func (h *host) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out.String()
}

// pamService is the PAM service file the tests use, for the module.
func pamService(module string) string {
	return fmt.Sprintf(`# dird sssdtest: exists only inside the test's mount namespace
auth     required %[1]s
account  required %[1]s
password required %[1]s
session  required pam_permit.so
`, module)
}

// startHost writes the private tree, then starts the daemon in a new
// mount namespace where mounts bind it over the system paths. binds maps
// a directory or file under h.dir to the path it covers.
func startHost(t *testing.T, name string, binds [][2]string, argv []string, ready func(h *host) bool) *host {
	t.Helper()
	h := &host{t: t, name: name, dir: t.TempDir(), exited: make(chan struct{})}
	// The mount namespace is private (unshare -m makes its mounts
	// private by default), so nothing mounted here reaches the host.
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, b := range binds {
		fmt.Fprintf(&script, "mount --bind %s %s\n", shellQuote(b[0]), shellQuote(b[1]))
	}
	script.WriteString("exec")
	for _, a := range argv {
		script.WriteString(" " + shellQuote(a))
	}
	script.WriteString("\n")
	h.cmd = exec.Command("unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script.String())
	h.cmd.Stdout, h.cmd.Stderr = lockedWriter{h}, lockedWriter{h}
	// Its own process group, so that its end does not take ours along
	// and ours does not leave it running.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		h.cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(h.stop)
	deadline := time.Now().Add(60 * time.Second)
	for !ready(h) {
		select {
		case <-h.exited:
			t.Fatalf("%s exited before it was ready; output:\n%s", name, h.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not ready within 60s; output:\n%s", name, h.output())
		}
		// Readiness is a socket file appearing in the private tree:
		// nothing to wait on but a short poll.
		time.Sleep(100 * time.Millisecond)
	}
	return h
}

// stop ends the daemon by its pid (SIGTERM, then SIGKILL), and with it
// the mount namespace.
func (h *host) stop() {
	select {
	case <-h.exited:
	default:
		h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(20 * time.Second):
			h.cmd.Process.Kill()
			<-h.exited
			h.t.Errorf("%s did not exit within 20s of SIGTERM", h.name)
		}
	}
	if h.t.Failed() {
		out := h.output()
		if len(out) > 200<<10 {
			out = "...\n" + out[len(out)-200<<10:]
		}
		h.t.Logf("%s output:\n%s", h.name, out)
	}
}

// exec runs a command inside the host's mount namespace; asUser runs it
// as nobody, as a user typing passwd would (pam_sss asks root for no old
// password).
func (h *host) exec(t *testing.T, stdin string, asUser bool, argv ...string) result {
	t.Helper()
	args := []string{"-t", strconv.Itoa(h.cmd.Process.Pid), "-m", "--"}
	if asUser {
		args = append(args, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
	}
	return run(t, stdin, "nsenter", append(args, argv...)...)
}

// pam runs pamtester for service and user with the given operations,
// feeding the lines as the answers to its prompts.
func (h *host) pam(t *testing.T, service, user string, asUser bool, answers []string, ops ...string) result {
	t.Helper()
	stdin := strings.Join(answers, "\n") + "\n"
	return h.exec(t, stdin, asUser, append([]string{"pamtester", "-v", service, user}, ops...)...)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// mkdirs makes the directories under root.
func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// privatePAM copies /etc/pam.d into dir and adds the test's service, so
// the namespace sees the host's services plus ours and the host's
// directory is never written.
func privatePAM(t *testing.T, dir, service, content string) {
	t.Helper()
	if r := run(t, "", "cp", "-a", "/etc/pam.d/.", dir); r.exit != 0 {
		t.Fatalf("copying /etc/pam.d: %s", r)
	}
	if err := os.WriteFile(filepath.Join(dir, service), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
