package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MS-CHAPv2 against a real `dird serve` with policy.nt_hash on, driven by
// FreeRADIUS's radclient from Debian's freeradius-utils. The request is
// RFC 2759 §9.2's worked example (user "User", password "clientPass",
// fixed challenges), so the MS-CHAP2-Success and the MPPE send key dird
// must answer are the RFC's own numbers (RFC 3079 §3.5.3 for the key),
// and radclient decrypts the key with the shared secret as an access
// point would.
const (
	rfcUser          = "User"
	rfcPassword      = "clientPass"
	rfcAuthChallenge = "5B5D7C7D7B3F2F3E3C2C602132262628"
	rfcPeerChallenge = "21402324255E262A28295F2B3A337C7E"
	rfcNTResponse    = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"
	rfcAuthResponse  = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
	rfcSendKey       = "8B7CDC149B993A1BA118CB153F56DCCB"
	radiusSecret     = "testing123"
)

// radclientMSCHAPv2 sends one MS-CHAPv2 Access-Request for the RFC's
// exchange, with ntResponse as the NT-Response, and returns radclient's
// output and exit code.
func radclientMSCHAPv2(t *testing.T, d *dird, ntResponse string) (string, int) {
	t.Helper()
	path, err := exec.LookPath("radclient")
	if err != nil {
		t.Fatal("radclient is not installed (Debian package freeradius-utils): run make test-deps")
	}
	// MS-CHAP2-Response: Ident 1, Flags 0, Peer-Challenge, 8 reserved
	// zero bytes, NT-Response (RFC 2548 §2.3.2).
	resp := "0100" + rfcPeerChallenge + strings.Repeat("00", 8) + ntResponse
	input := "User-Name = \"" + rfcUser + "\"\n" +
		"MS-CHAP-Challenge = 0x" + rfcAuthChallenge + "\n" +
		"MS-CHAP2-Response = 0x" + resp + "\n" +
		"Message-Authenticator = 0x00\n"
	ctx, cancel := context.WithTimeout(context.Background(), toolLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-x", "-r", "1", "-t", "5", d.addrs["radius"], "auth", radiusSecret)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("radclient did not finish within %v:\n%s", toolLimit, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running radclient: %v", err)
	}
	return string(out), code
}

// radiusAddr fills d.addrs["radius"] from the log: launch waits for the
// LDAP listener only, and dird logs the RADIUS one right after it.
func radiusAddr(t *testing.T, d *dird) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for d.addrs["radius"] == "" {
		for _, line := range d.logLines() {
			var rec struct{ Msg, Front, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Front == "radius" {
				d.addrs["radius"] = rec.Addr
			}
		}
		if d.addrs["radius"] != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dird logged no RADIUS listener:\n%s", d.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMSCHAPv2WithRadclient(t *testing.T) {
	d := startDird(t, opts{"policy.nt_hash": true, "policy.lockout_threshold": 5})
	radiusAddr(t, d)
	d.secret(rfcPassword)
	loadDirectory(t, d)
	r := d.ldif(t, adminDN, adminPW, "ldapadd", "dn: "+userDN(rfcUser)+"\nobjectClass: inetOrgPerson\nuid: "+rfcUser+
		"\ncn: RFC Example\nsn: Example\nuserPassword: "+rfcPassword+"\n\n")
	expect(t, r, 0)

	accepted := func(t *testing.T, d *dird) {
		t.Helper()
		out, code := radclientMSCHAPv2(t, d, rfcNTResponse)
		if code != 0 || !strings.Contains(out, "Received Access-Accept") {
			t.Fatalf("radclient exit %d, want an Access-Accept:\n%s", code, out)
		}
		lower := strings.ToLower(out)
		success := "0x01" + hex.EncodeToString([]byte(rfcAuthResponse))
		if !strings.Contains(lower, "ms-chap2-success = "+strings.ToLower(success)) {
			t.Errorf("no MS-CHAP2-Success = %s (ident 1, %s) in:\n%s", success, rfcAuthResponse, out)
		}
		if !strings.Contains(lower, "ms-mppe-send-key = 0x"+strings.ToLower(rfcSendKey)) {
			t.Errorf("MS-MPPE-Send-Key does not decrypt to RFC 3079's 0x%s:\n%s", rfcSendKey, out)
		}
		if !strings.Contains(out, "MS-MPPE-Recv-Key = 0x") {
			t.Errorf("no MS-MPPE-Recv-Key:\n%s", out)
		}
	}

	t.Run("the RFC's exchange is accepted with its authenticator response and MPPE key", func(t *testing.T) {
		accepted(t, d)
	})
	t.Run("a changed NT-Response is rejected with MS-CHAP error 691", func(t *testing.T) {
		out, code := radclientMSCHAPv2(t, d, strings.Repeat("00", 24))
		if code == 0 || !strings.Contains(out, "Received Access-Reject") || !strings.Contains(out, `Reply-Message = "Wrong user name or password"`) {
			t.Fatalf("radclient exit %d, want an Access-Reject saying why:\n%s", code, out)
		}
		// radclient prints it as a string after the Ident byte (\001).
		if !strings.Contains(out, `MS-CHAP-Error = "\001E=691 R=0 C=`) {
			t.Errorf("no MS-CHAP-Error E=691 in:\n%s", out)
		}
	})
	t.Run("the NT hash never appears in ldapsearch", func(t *testing.T) {
		for _, who := range [][2]string{{adminDN, adminPW}, {userDN(rfcUser), rfcPassword}, {userDN("alice"), pwOf("alice")}} {
			r := d.as(t, who[0], who[1], "ldapsearch", "-LLL", "-b", baseDN, "(uid="+rfcUser+")", "*", "+", "dirdNTHash")
			expect(t, r, 0, "dn: "+userDN(rfcUser))
			refute(t, r, "dirdNTHash", "{SEALED}")
			r = d.as(t, who[0], who[1], "ldapsearch", "-LLL", "-b", baseDN, "(dirdNTHash=*)", "dn")
			if got := dns(r.stdout); r.exit != 0 || len(got) != 0 {
				t.Errorf("(dirdNTHash=*) as %s: exit %d, entries %v; want none\n%s", who[0], r.exit, got, r)
			}
		}
	})
	t.Run("dird export leaves the NT hash out", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), toolLimit)
		defer cancel()
		cmd := exec.CommandContext(ctx, dirdBin, "export", "--config", d.cfgPath)
		cmd.Env = os.Environ()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dird export: %v", err)
		}
		ldif := string(out)
		if !strings.Contains(ldif, "dn: "+userDN(rfcUser)) || !strings.Contains(ldif, "userPassword:") {
			t.Fatalf("export lacks the user or its password hash:\n%s", ldif)
		}
		if strings.Contains(ldif, "dirdNTHash") || strings.Contains(ldif, "{SEALED}") {
			t.Errorf("export carries the sealed NT hash:\n%s", ldif)
		}
	})
	t.Run("seal.key is 32 bytes, mode 0600, and still opens after a restart", func(t *testing.T) {
		path := filepath.Join(d.dir, "data", "seal.key")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("seal.key: %v", err)
		}
		if fi.Size() != 32 || fi.Mode().Perm() != 0o600 {
			t.Errorf("seal.key: %d bytes, mode %o; want 32 bytes, 0600", fi.Size(), fi.Mode().Perm())
		}
		before, _ := os.ReadFile(path)
		d.stop(t)
		again := launch(t, d.cfgPath, d.dir)
		again.inheritSecrets(d)
		radiusAddr(t, again)
		accepted(t, again)
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Error("seal.key changed across a restart")
		}
	})
}
