package radiusd_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/internal/dirdtest"
)

// The tests below drive dird with FreeRADIUS's own clients from Debian's
// freeradius-utils, which `make test-deps` installs. radclient computes
// a request's Message-Authenticator only when its input has the line
// "Message-Authenticator = 0x00" (radtest always adds it), and it checks
// the Message-Authenticator of the replies it gets, so an accepted
// exchange also proves dird's reply signature right.

// tool returns the path of a freeradius-utils program, failing (never
// skipping) when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found (Debian package freeradius-utils): run make test-deps", name)
	}
	return p
}

// run runs a command with stdin and returns its combined output and exit
// code.
func run(t *testing.T, stdin string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return string(out), ee.ExitCode()
	}
	t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	return "", -1
}

// radclient sends the attribute lines of input as one request of kind
// (auth, status) with one try and a short timeout.
func radclient(t *testing.T, d *dirdtest.Dird, kind, input string) (string, int) {
	t.Helper()
	return run(t, input, "radclient", "-x", "-r", "1", "-t", "3", d.RadiusAddr, kind, secret)
}

func TestRadclient(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d, map[string]string{"alice": alicePW, "locked": "Behind-Bars-101"})
	modify(t, d, "locked", "pwdAccountLockedTime", "000001010000Z")
	tests := []struct {
		name     string
		kind     string
		input    string
		wantExit int
		want     []string // in radclient's output
	}{
		{
			name:  "PAP with the right password is accepted",
			kind:  "auth",
			input: "User-Name = \"alice\"\nUser-Password = \"" + alicePW + "\"\nMessage-Authenticator = 0x00\n",
			want:  []string{"Received Access-Accept"},
		},
		{
			name:     "PAP with a wrong password is rejected with a Reply-Message",
			kind:     "auth",
			input:    "User-Name = \"alice\"\nUser-Password = \"not-her-password\"\nMessage-Authenticator = 0x00\n",
			wantExit: 1,
			want:     []string{"Received Access-Reject", `Reply-Message = "Wrong user name or password"`},
		},
		{
			name:     "PAP on a locked account says so",
			kind:     "auth",
			input:    "User-Name = \"locked\"\nUser-Password = \"Behind-Bars-101\"\nMessage-Authenticator = 0x00\n",
			wantExit: 1,
			want:     []string{"Received Access-Reject", `Reply-Message = "Your account is locked; contact your administrator"`},
		},
		{
			name:     "a request without Message-Authenticator gets no answer",
			kind:     "auth",
			input:    "User-Name = \"alice\"\nUser-Password = \"" + alicePW + "\"\n",
			wantExit: 1,
			want:     []string{"No reply from server"},
		},
		{
			name:  "Status-Server is answered",
			kind:  "status",
			input: "Message-Authenticator = 0x00\n",
			want:  []string{"Received Access-Accept"},
		},
		{
			name:     "Status-Server without Message-Authenticator gets no answer",
			kind:     "status",
			input:    "NAS-Identifier = \"test\"\n",
			wantExit: 1,
			want:     []string{"No reply from server"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, code := radclient(t, d, tt.kind, tt.input)
			if code != tt.wantExit {
				t.Errorf("radclient exit code %d, want %d", code, tt.wantExit)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("radclient output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("radtest PAP is accepted", func(t *testing.T) {
		t.Parallel()
		// radtest user password server nas-port secret ppp-hint nas-name
		out, code := run(t, "", "radtest", "alice", alicePW, d.RadiusAddr, "0", secret, "0", "127.0.0.1")
		if code != 0 || !strings.Contains(out, "Received Access-Accept") {
			t.Errorf("radtest exit code %d, output:\n%s", code, out)
		}
	})
}
