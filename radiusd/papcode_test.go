package radiusd_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2868"

	"github.com/dird/dird/internal/dirdtest"
	"github.com/dird/dird/radiusd"
	"github.com/dird/dird/store"
)

// The second factor over PAP (radiusd/papcode.go): a right password of
// an account with an authenticator app gets an Access-Challenge with a
// State; the code comes back in User-Password with that State.

const (
	msgEnterCode     = "Enter the 6-digit code from your authenticator app"
	msgCodeWrong     = "The code is not right; log in again and enter the current code from your authenticator app"
	msgCodeThrottled = "Too many wrong codes; wait a minute, then log in again"
	msgCodeStale     = "The code was not asked for, or was asked too long ago; log in again"
	msgNeedsPAP      = "Your account uses an authenticator app, which this sign-in method cannot ask for; use PAP or contact your administrator"
	otherSecret      = "another-client-secret-77"
)

// rfc6238 is the TOTP code of secret at t (RFC 6238: HMAC-SHA1, 30 s, 6
// digits), computed here independently of policy's.
func rfc6238(secret []byte, t time.Time) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// enrolTOTP gives uid an authenticator app the way the portal does
// (BeginTOTP, then ConfirmTOTP with a code from it) and returns its
// secret and recovery codes. The confirmation uses the current step's
// code, so callers move the clock a step before logging in.
func enrolTOTP(t *testing.T, d *dirdtest.Dird, now func() time.Time, uid string) (secret []byte, recovery []string) {
	t.Helper()
	ctx := context.Background()
	dn, err := store.ParseDN(userDN(uid))
	if err != nil {
		t.Fatal(err)
	}
	en, err := d.Door().BeginTOTP(ctx, dn, "dird", uid)
	if err != nil {
		t.Fatalf("BeginTOTP %s: %v", uid, err)
	}
	secret, err = base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if err != nil {
		t.Fatalf("enrolment secret %q: %v", en.Secret, err)
	}
	recovery, err = d.Door().ConfirmTOTP(ctx, dn, rfc6238(secret, now()))
	if err != nil {
		t.Fatalf("ConfirmTOTP %s: %v", uid, err)
	}
	return secret, recovery
}

// codeRequest is the second leg: the code in User-Password, with state.
func codeRequest(t *testing.T, user, code string, state []byte) *radius.Packet {
	t.Helper()
	p := accessRequest(t, user, code)
	if err := rfc2865.State_Set(p, state); err != nil {
		t.Fatal(err)
	}
	return p
}

// expectChallenge checks an Access-Challenge asking for the code and
// returns its State.
func expectChallenge(t *testing.T, p *radius.Packet) []byte {
	t.Helper()
	if p.Code != radius.CodeAccessChallenge {
		t.Fatalf("reply %s (Reply-Message %q), want Access-Challenge", p.Code, rfc2865.ReplyMessage_GetString(p))
	}
	if got := rfc2865.ReplyMessage_GetString(p); got != msgEnterCode {
		t.Errorf("Reply-Message %q, want %q", got, msgEnterCode)
	}
	st := rfc2865.State_Get(p)
	if len(st) < 16 {
		t.Fatalf("State of %d bytes, want 16 or more", len(st))
	}
	if _, _, err := rfc2868.TunnelPrivateGroupID_Lookup(p); err == nil {
		t.Error("the Access-Challenge carries the Accept's VLAN")
	}
	return st
}

func expectReply(t *testing.T, p *radius.Packet, code radius.Code, message string) {
	t.Helper()
	if p.Code != code {
		t.Fatalf("reply %s (Reply-Message %q), want %s", p.Code, rfc2865.ReplyMessage_GetString(p), code)
	}
	if got := rfc2865.ReplyMessage_GetString(p); got != message {
		t.Errorf("Reply-Message %q, want %q", got, message)
	}
	if st := rfc2865.State_Get(p); code != radius.CodeAccessChallenge && st != nil {
		t.Errorf("%s carries a State", code)
	}
}

// newNASFrom is a NAS whose requests leave from local (another client).
func newNASFrom(t *testing.T, d *dirdtest.Dird, local string) *nas {
	t.Helper()
	ra, err := net.ResolveUDPAddr("udp", d.RadiusAddr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)}, ra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &nas{t: t, conn: c}
}

func TestPAPSecondFactor(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := dirdtest.NewClock(now)
	cfg := dirdtest.Config(t)
	cfg.Policy.NTHash = true
	cfg.Policy.MaxAge = 90 * 24 * time.Hour
	cfg.Policy.ExpireWarning = 14 * 24 * time.Hour
	cfg.Policy.LockoutThreshold = 3
	cfg.Policy.LockoutDuration = 5 * time.Minute
	cfg.Radius.Clients = []radiusd.Client{
		{Name: "ap", Address: "127.0.0.1/32", Secret: secret},
		{Name: "other-ap", Address: "127.0.0.2/32", Secret: otherSecret},
	}
	cfg.Radius.GroupReplies = map[string]radiusd.GroupReply{"staff": {VLAN: 42}}
	d := dirdtest.Start(t, cfg, dirdtest.Options{Now: clock.Now})
	users := []string{"tina", "wrong", "throttled", "replay", "late", "roam", "reuse", "recover", "mschap", "locked", "renamed", "unlocked", "changed"}
	pw := map[string]string{"plain": "No-Second-Factor-5"}
	for i, u := range users {
		pw[u] = fmt.Sprintf("Second-Factor-Seed-%d", 100+i)
	}
	seed(t, d, pw)
	addGroup(t, d, "staff", "tina")
	// tina's password expires in 10 days: the Accept after the code
	// carries the warning the first leg decided.
	modify(t, d, "tina", "pwdChangedTime", store.FormatTime(now.Add(-80*24*time.Hour)))
	secrets := map[string][]byte{}
	recovery := map[string][]string{}
	for _, u := range users {
		secrets[u], recovery[u] = enrolTOTP(t, d, clock.Now, u)
	}
	// The confirmation used this step's code; a login needs a new one.
	clock.Advance(30 * time.Second)
	code := func(u string) string { return rfc6238(secrets[u], clock.Now()) }
	// challenge runs the first leg for u from n.
	challenge := func(t *testing.T, n *nas, u string) []byte {
		t.Helper()
		return expectChallenge(t, n.exchange(sign(t, accessRequest(t, u, pw[u]), secret)))
	}

	// Subtests run in order: some move the shared clock.
	t.Run("right password then right code is accepted with the first leg's warning and VLAN; retransmissions get the cached replies", func(t *testing.T) {
		n := newNAS(t, d)
		leg1 := sign(t, accessRequest(t, "tina", pw["tina"]), secret)
		n.send(leg1)
		first := n.read(replyWait)
		st := expectChallenge(t, verifyReply(t, first, leg1, secret))
		n.send(leg1) // the access point retransmits: same State, not a second challenge
		if again := n.read(replyWait); !bytes.Equal(again, first) {
			t.Errorf("retransmitted first leg got another reply")
		}
		leg2 := sign(t, codeRequest(t, "tina", code("tina"), st), secret)
		n.send(leg2)
		b := n.read(replyWait)
		rep := verifyReply(t, b, leg2, secret)
		expectReply(t, rep, radius.CodeAccessAccept, "Your password expires in 10 days")
		if _, vlan := rfc2868.TunnelPrivateGroupID_GetString(rep); vlan != "42" {
			t.Errorf("Tunnel-Private-Group-ID %q, want 42", vlan)
		}
		n.send(leg2) // retransmitted: the cached Accept, not "State already answered"
		if again := n.read(replyWait); !bytes.Equal(again, b) {
			t.Errorf("retransmitted second leg got another reply")
		}
	})
	t.Run("a user without an authenticator app gets a plain Accept", func(t *testing.T) {
		rep := newNAS(t, d).exchange(sign(t, accessRequest(t, "plain", pw["plain"]), secret))
		expectReply(t, rep, radius.CodeAccessAccept, "")
	})
	t.Run("a wrong password is rejected without a challenge", func(t *testing.T) {
		rep := newNAS(t, d).exchange(sign(t, accessRequest(t, "tina", "not-her-password"), secret))
		expectReply(t, rep, radius.CodeAccessReject, "Wrong user name or password")
	})
	t.Run("a wrong code is rejected; the next login with the right code works", func(t *testing.T) {
		n := newNAS(t, d)
		st := challenge(t, n, "wrong")
		bad := fmt.Sprintf("%06d", (mustAtoi(t, code("wrong"))+1)%1_000_000)
		expectReply(t, n.exchange(sign(t, codeRequest(t, "wrong", bad, st), secret)), radius.CodeAccessReject, msgCodeWrong)
		st = challenge(t, n, "wrong")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "wrong", code("wrong"), st), secret)), radius.CodeAccessAccept, "")
	})
	t.Run("five wrong codes a minute throttle the next, even a right one", func(t *testing.T) {
		n := newNAS(t, d)
		for i := range 5 {
			st := challenge(t, n, "throttled")
			expectReply(t, n.exchange(sign(t, codeRequest(t, "throttled", fmt.Sprintf("00000%d", i), st), secret)), radius.CodeAccessReject, msgCodeWrong)
		}
		st := challenge(t, n, "throttled")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "throttled", code("throttled"), st), secret)), radius.CodeAccessReject, msgCodeThrottled)
	})
	t.Run("a code used once is refused the second time", func(t *testing.T) {
		n := newNAS(t, d)
		c := code("replay")
		st := challenge(t, n, "replay")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "replay", c, st), secret)), radius.CodeAccessAccept, "")
		st = challenge(t, n, "replay")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "replay", c, st), secret)), radius.CodeAccessReject, msgCodeWrong)
	})
	t.Run("a State answered after the timeout is refused", func(t *testing.T) {
		n := newNAS(t, d)
		st := challenge(t, n, "late")
		clock.Advance(61 * time.Second)
		expectReply(t, n.exchange(sign(t, codeRequest(t, "late", code("late"), st), secret)), radius.CodeAccessReject, msgCodeStale)
		if !strings.Contains(d.Log.String(), "unknown, expired or already answered State") {
			t.Error("no log line for the expired State")
		}
	})
	t.Run("a State sent to one client is refused from another, and still works from its own", func(t *testing.T) {
		n := newNAS(t, d)
		st := challenge(t, n, "roam")
		other := newNASFrom(t, d, "127.0.0.2")
		req := sign(t, codeRequest(t, "roam", code("roam"), st), otherSecret)
		other.send(req)
		b := other.read(replyWait)
		if b == nil {
			t.Fatal("no reply to the other client")
		}
		expectReply(t, verifyReply(t, b, req, otherSecret), radius.CodeAccessReject, msgCodeStale)
		if !strings.Contains(d.Log.String(), "the State answers a code challenge sent to another client") {
			t.Error("no log line for the State from another client")
		}
		expectReply(t, n.exchange(sign(t, codeRequest(t, "roam", code("roam"), st), secret)), radius.CodeAccessAccept, "")
	})
	t.Run("a State is good for one answer", func(t *testing.T) {
		n := newNAS(t, d)
		st := challenge(t, n, "reuse")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "reuse", code("reuse"), st), secret)), radius.CodeAccessAccept, "")
		clock.Advance(30 * time.Second) // a fresh code, so only the State is at fault
		expectReply(t, n.exchange(sign(t, codeRequest(t, "reuse", code("reuse"), st), secret)), radius.CodeAccessReject, msgCodeStale)
	})
	t.Run("a recovery code works once in place of the code", func(t *testing.T) {
		n := newNAS(t, d)
		rc := recovery["recover"][0]
		st := challenge(t, n, "recover")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "recover", rc, st), secret)), radius.CodeAccessAccept, "")
		st = challenge(t, n, "recover")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "recover", rc, st), secret)), radius.CodeAccessReject, msgCodeWrong)
	})
	t.Run("another User-Name with the State is refused", func(t *testing.T) {
		n := newNAS(t, d)
		st := challenge(t, n, "renamed")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "tina", code("renamed"), st), secret)), radius.CodeAccessReject, "Wrong user name or password")
	})
	t.Run("an account locked between the legs is refused at the second", func(t *testing.T) {
		n := newNAS(t, d)
		st := challenge(t, n, "locked")
		modify(t, d, "locked", "pwdAccountLockedTime", "000001010000Z")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "locked", code("locked"), st), secret)), radius.CodeAccessReject,
			"Your account is locked; contact your administrator")
	})
	t.Run("a password changed between the legs voids the challenge", func(t *testing.T) {
		n := newNAS(t, d)
		st := challenge(t, n, "changed")
		modify(t, d, "changed", "userPassword", "Brand-New-Secret-Words-77")
		expectReply(t, n.exchange(sign(t, codeRequest(t, "changed", code("changed"), st), secret)), radius.CodeAccessReject, msgCodeStale)
	})
	t.Run("a lockout that has run out does not void the challenge the right password then gets", func(t *testing.T) {
		n := newNAS(t, d)
		for i := range 3 {
			expectReply(t, n.exchange(sign(t, accessRequest(t, "unlocked", fmt.Sprintf("wrong-password-%d", i)), secret)), radius.CodeAccessReject, "Wrong user name or password")
		}
		expectReply(t, n.exchange(sign(t, accessRequest(t, "unlocked", pw["unlocked"]), secret)), radius.CodeAccessReject,
			"Your account is locked; contact your administrator")
		clock.Advance(6 * time.Minute)
		st := challenge(t, n, "unlocked") // this login clears the old lock
		expectReply(t, n.exchange(sign(t, codeRequest(t, "unlocked", code("unlocked"), st), secret)), radius.CodeAccessAccept, "")
	})
	t.Run("a State nobody was given is refused", func(t *testing.T) {
		req := sign(t, codeRequest(t, "tina", code("tina"), bytes.Repeat([]byte{7}, 18)), secret)
		expectReply(t, newNAS(t, d).exchange(req), radius.CodeAccessReject, msgCodeStale)
	})
	t.Run("MS-CHAPv2 refuses an account with an authenticator app with E=649", func(t *testing.T) {
		a := newAttempt(t, "mschap", pw["mschap"])
		_, rep := mschapExchange(t, newNAS(t, d), a)
		expectMSCHAPReject(t, rep, a.ident, 649, msgNeedsPAP)
		if !strings.Contains(d.Log.String(), "this method cannot ask for a code") {
			t.Error("no log line saying why MS-CHAPv2 was refused")
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRadclientSecondFactor runs both legs with FreeRADIUS's radclient:
// the first request gets an Access-Challenge with a State, the second
// sends that State and the code and gets an Access-Accept (radclient
// checks the replies' Message-Authenticator).
func TestRadclientSecondFactor(t *testing.T) {
	clock := dirdtest.NewClock(time.Now())
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{Now: clock.Now})
	const pwd = "Two-Factors-Are-Better-4"
	seed(t, d, map[string]string{"otto": pwd})
	key, _ := enrolTOTP(t, d, clock.Now, "otto")
	clock.Advance(30 * time.Second)

	out, code := radclient(t, d, "auth", "User-Name = \"otto\"\nUser-Password = \""+pwd+"\"\nMessage-Authenticator = 0x00\n")
	if !strings.Contains(out, "Received Access-Challenge") || !strings.Contains(out, msgEnterCode) {
		t.Fatalf("radclient exit %d, want an Access-Challenge asking for the code:\n%s", code, out)
	}
	m := regexp.MustCompile(`State = (0x[0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no State in radclient's output:\n%s", out)
	}
	out, code = radclient(t, d, "auth", "User-Name = \"otto\"\nUser-Password = \""+rfc6238(key, clock.Now())+"\"\nState = "+m[1]+"\nMessage-Authenticator = 0x00\n")
	if code != 0 || !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("radclient exit %d, want Access-Accept for the code:\n%s", code, out)
	}
	out, code = radclient(t, d, "auth", "User-Name = \"otto\"\nUser-Password = \"000000\"\nState = "+m[1]+"\nMessage-Authenticator = 0x00\n")
	if !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, msgCodeStale) {
		t.Fatalf("radclient exit %d, want Access-Reject for the used State:\n%s", code, out)
	}
}

// TestEAPRefusesSecondFactor checks with wpa_supplicant's eapol_test that
// EAP-TTLS/PAP and PEAP-MSCHAPv2, which cannot ask for a code, refuse an
// account with an authenticator app (and log why), while the same
// password without one is accepted.
func TestEAPRefusesSecondFactor(t *testing.T) {
	bin, err := exec.LookPath("eapol_test")
	if err != nil {
		t.Fatal("eapol_test not found (Debian package eapoltest): run make test-deps")
	}
	clock := dirdtest.NewClock(time.Now())
	cfg := dirdtest.Config(t)
	cfg.Policy.NTHash = true
	d := dirdtest.Start(t, cfg, dirdtest.Options{Now: clock.Now})
	pws := map[string]string{"wifi": "Open-Air-Network-31", "wifitotp": "Guarded-Air-Network-32"}
	seed(t, d, pws)
	enrolTOTP(t, d, clock.Now, "wifitotp")
	host, port, _ := strings.Cut(d.RadiusAddr, ":")
	eapol := func(t *testing.T, eap, phase2, user string) (int, string) {
		t.Helper()
		phase1 := ""
		if eap == "PEAP" {
			phase1 = "peapver=0"
		}
		conf := fmt.Sprintf("network={\n\tkey_mgmt=WPA-EAP\n\teap=%s\n\tidentity=%q\n\tanonymous_identity=\"anonymous\"\n\tpassword=%q\n\tphase1=%q\n\tphase2=%q\n}\n",
			eap, user, pws[user], phase1, phase2)
		path := filepath.Join(t.TempDir(), "eapol.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "-c", path, "-a", host, "-p", port, "-s", secret, "-t", "20").CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, string(out)
		case errors.As(err, &ee) && ctx.Err() == nil:
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("eapol_test: %v\n%s", err, out)
		return -1, ""
	}
	for _, m := range []struct{ eap, phase2 string }{{"TTLS", "auth=PAP"}, {"PEAP", "auth=MSCHAPV2"}} {
		t.Run(m.eap+" "+m.phase2, func(t *testing.T) {
			if code, out := eapol(t, m.eap, m.phase2, "wifi"); code != 0 {
				t.Fatalf("without an authenticator app: eapol_test exit %d, want 0 (SUCCESS):\n%s", code, out)
			}
			before := strings.Count(d.Log.String(), "this method cannot ask for a code")
			// Debian's eapol_test exits 252 after a reject (eapolExitReject).
			if code, out := eapol(t, m.eap, m.phase2, "wifitotp"); code != 252 || !strings.Contains(out, "(Access-Reject)") {
				t.Fatalf("with an authenticator app: eapol_test exit %d, want 252 after an Access-Reject:\n%s", code, out)
			}
			if after := strings.Count(d.Log.String(), "this method cannot ask for a code"); after != before+1 {
				t.Errorf("%d log lines saying why, want 1", after-before)
			}
		})
	}
}
