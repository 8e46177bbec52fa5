package radiusd_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/internal/dirdtest"
	"github.com/dird/dird/radiusd"
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
	t.Run("radtest -t mschap (MS-CHAP version 1) is refused with a log line", func(t *testing.T) {
		t.Parallel()
		out, code := run(t, "", "radtest", "-t", "mschap", "alice", alicePW, d.RadiusAddr, "0", secret, "0", "127.0.0.1")
		if code == 0 || !strings.Contains(out, "Received Access-Reject") ||
			!strings.Contains(out, `Reply-Message = "MS-CHAP version 1 is not accepted; use MS-CHAPv2 or PAP"`) {
			t.Errorf("radtest exit code %d, output:\n%s", code, out)
		}
		waitLog(t, d, "MS-CHAP version 1 (MS-CHAP-Response) is refused")
	})
	t.Run("radtest PAP is accepted", func(t *testing.T) {
		t.Parallel()
		// radtest user password server nas-port secret ppp-hint nas-name
		out, code := run(t, "", "radtest", "alice", alicePW, d.RadiusAddr, "0", secret, "0", "127.0.0.1")
		if code != 0 || !strings.Contains(out, "Received Access-Accept") {
			t.Errorf("radtest exit code %d, output:\n%s", code, out)
		}
	})
}

// TestRadclientMSCHAPv2 sends radclient an MS-CHAP-Challenge and an
// MS-CHAP2-Response computed by the test (mschappeer_test.go) and checks
// what radclient received: the MS-CHAP2-Success the peer would verify and
// the MPPE keys, which radclient decrypts with the shared secret as an
// access point does, and a VLAN from radius.group_replies.
func TestRadclientMSCHAPv2(t *testing.T) {
	cfg := dirdtest.Config(t)
	cfg.Policy.NTHash = true
	cfg.Radius.GroupReplies = map[string]radiusd.GroupReply{"staff": {VLAN: 42}}
	d := dirdtest.Start(t, cfg, dirdtest.Options{})
	seed(t, d, map[string]string{"alice": alicePW})
	addGroup(t, d, "staff", "alice")
	input := func(a *mschapAttempt) string {
		return fmt.Sprintf("User-Name = %q\nMS-CHAP-Challenge = 0x%x\nMS-CHAP2-Response = 0x%x\nMessage-Authenticator = 0x00\n",
			a.user, a.authChallenge[:], a.response())
	}
	t.Run("the right password is accepted", func(t *testing.T) {
		a := newAttempt(t, "alice", alicePW)
		out, code := radclient(t, d, "auth", input(a))
		if code != 0 || !strings.Contains(out, "Received Access-Accept") {
			t.Fatalf("radclient exit code %d:\n%s", code, out)
		}
		send, recv := a.serverKeys()
		lower := strings.ToLower(out)
		for _, want := range []string{
			fmt.Sprintf("ms-chap2-success = 0x%02x%x", a.ident, a.authenticatorResponse()),
			fmt.Sprintf("ms-mppe-send-key = 0x%x", send),
			fmt.Sprintf("ms-mppe-recv-key = 0x%x", recv),
			// :0, no tag (the Group-ID is sent untagged).
			"tunnel-type:0 = vlan", "tunnel-medium-type:0 = ieee-802", `tunnel-private-group-id:0 = "42"`,
		} {
			if !strings.Contains(lower, want) {
				t.Errorf("radclient output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("a wrong password is rejected with E=691 and a Reply-Message", func(t *testing.T) {
		out, code := radclient(t, d, "auth", input(newAttempt(t, "alice", "not-her-password")))
		// MS-CHAP-Error starts with the Ident, '*' (0x2a) here.
		for _, want := range []string{"Received Access-Reject", `Reply-Message = "Wrong user name or password"`, `MS-CHAP-Error = "*E=691 R=0 C=`} {
			if !strings.Contains(out, want) {
				t.Errorf("radclient output lacks %q:\n%s", want, out)
			}
		}
		if code == 0 {
			t.Errorf("radclient exit code 0 for a reject")
		}
	})
}
