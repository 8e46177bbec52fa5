package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/server"
)

// opsConfigFile writes a configuration whose store is in a new temporary
// directory.
func opsConfigFile(t *testing.T) (path, store string) {
	t.Helper()
	store = filepath.Join(t.TempDir(), "data")
	return writeConfig(t, `
base_dn: dc=example,dc=com
admin: {dn: 'cn=admin,dc=example,dc=com', password: Adm1n-Cmd-Sesame-9}
store: {path: '`+store+`'}
ldap: {listen: '127.0.0.1:0'}
radius: {listen: ''}
portal: {listen: '127.0.0.1:0'}
policy: {argon2_memory: 7168, argon2_time: 1}
`), store
}

const cmdLDIF = `dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example
contextCSN: 20241128043202.723111Z#000000#000#000000

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Liddell
userPassword: {SSHA}IiF06bUzHayZmFrItmBg9nRSe43cp85v
entryCSN: 20241128043202.662977Z#000000#000#000000
structuralObjectClass: inetOrgPerson

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people
entryCSN: 20241128043202.662977Z#000000#000#000000

`

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.ldif")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportCommand(t *testing.T) {
	clearEnv(t)
	t.Run("a good file", func(t *testing.T) {
		cfg, _ := opsConfigFile(t)
		code, out, errs := runCmd(t, "import", "--config", cfg, writeFile(t, cmdLDIF))
		if code != 0 || errs != "" {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
		for _, want := range []string{"imported 3 entries from ", "dropped attributes (OpenLDAP internals, and what dird computes itself):\n",
			"  contextCSN               1 entry\n", "  entryCSN                 2 entries\n", "  structuralObjectClass    1 entry\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		}
		code, out, _ = runCmd(t, "export", "--config", cfg)
		if code != 0 || !strings.Contains(out, "dn: uid=alice,ou=people,dc=example,dc=com\n") || !strings.Contains(out, "userPassword: {SSHA}") {
			t.Errorf("export: exit %d\n%s", code, out)
		}
	})
	bad := cmdLDIF + "dn: uid=bob,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob\n\n"
	t.Run("a bad record: nothing written, exit 1", func(t *testing.T) {
		cfg, _ := opsConfigFile(t)
		code, out, errs := runCmd(t, "import", "--config", cfg, writeFile(t, bad))
		want := "dird import: line 22: uid=bob,ou=people,dc=example,dc=com: store: object class violation: object class 'person' requires attribute 'sn'\n" +
			"dird import: 1 of 4 records cannot be imported; nothing was written\n"
		if code != 1 || errs != want {
			t.Errorf("exit %d, stderr\n%s\nwant\n%s", code, errs, want)
		}
		if strings.Contains(out, "imported") {
			t.Errorf("stdout %q", out)
		}
		if code, out, _ := runCmd(t, "export", "--config", cfg); code != 0 || out != "" {
			t.Errorf("export after a refused import: exit %d, %q", code, out)
		}
	})
	t.Run("continue on error: the rest loads, exit 1", func(t *testing.T) {
		cfg, _ := opsConfigFile(t)
		code, out, errs := runCmd(t, "import", "--continue-on-error", "--config", cfg, writeFile(t, bad))
		if code != 1 || !strings.HasSuffix(errs, "dird import: 1 of 4 records were not imported\n") || !strings.Contains(out, "imported 3 entries") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
		}
	})
	t.Run("a missing file", func(t *testing.T) {
		cfg, _ := opsConfigFile(t)
		code, _, errs := runCmd(t, "import", "--config", cfg, "/nonexistent.ldif")
		if code != 1 || !strings.HasPrefix(errs, "dird import: open /nonexistent.ldif: no such file or directory\n") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
	t.Run("no file", func(t *testing.T) {
		cfg, _ := opsConfigFile(t)
		if code, _, errs := runCmd(t, "import", "--config", cfg); code != 2 || !strings.HasPrefix(errs, "dird: accepts 1 arg(s)") {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
}

func TestBackupRestoreCommands(t *testing.T) {
	clearEnv(t)
	cfg, _ := opsConfigFile(t)
	if code, _, errs := runCmd(t, "import", "--config", cfg, writeFile(t, cmdLDIF)); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	out := filepath.Join(t.TempDir(), "dird.backup")
	code, stdout, errs := runCmd(t, "backup", "--config", cfg, out)
	if code != 0 || !strings.Contains(stdout, "written to "+out+": ") {
		t.Fatalf("backup: exit %d, %q %q", code, stdout, errs)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	cfg2, store2 := opsConfigFile(t)
	code, stdout, errs = runCmd(t, "restore", "--config", cfg2, out)
	if code != 0 || !strings.HasPrefix(stdout, "restored 3 entries from "+out+" into "+store2) {
		t.Fatalf("restore: exit %d, %q %q", code, stdout, errs)
	}
	code, _, errs = runCmd(t, "restore", "--config", cfg2, out)
	if code != 1 || errs != "dird restore: the store at "+store2+" is not empty; restore fills an empty store only: "+
		"move that directory aside, or set store.path to a new one, and run restore again\n" {
		t.Errorf("restore into a full store: exit %d, %q", code, errs)
	}
	_, a, _ := runCmd(t, "export", "--config", cfg)
	_, b, _ := runCmd(t, "export", "--config", cfg2)
	if a != b || a == "" {
		t.Errorf("restored export differs:\n%s\nwant\n%s", b, a)
	}
	// A failed backup leaves no file behind.
	missing, _ := opsConfigFile(t)
	bad := filepath.Join(t.TempDir(), "none.backup")
	if code, _, errs := runCmd(t, "backup", "--config", missing, bad); code != 1 || !strings.Contains(errs, "there is no store at") {
		t.Errorf("backup of no store: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a failed backup left its file")
	}
}

func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b) // not a terminal: plain lines every 10,000
	p.start = time.Now().Add(-time.Second)
	p.phase = "writing"
	for i := 0; i <= 25000; i += 500 {
		p.update(server.Progress{Phase: "writing", Done: i, Total: 25000})
	}
	p.finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "dird import: writing: 10000/25000 entries, ") ||
		!strings.Contains(lines[0], "/s, ") || !strings.HasSuffix(lines[0], " left") {
		t.Errorf("progress lines:\n%s", b.String())
	}
}

// TestMFAResetLine: the one line dird mfa-reset prints says what went.
func TestMFAResetLine(t *testing.T) {
	const dn = "uid=alice,ou=people,dc=example,dc=com"
	tests := []struct {
		res  server.MFAResetResult
		want string
	}{
		{server.MFAResetResult{DN: dn, App: true, RecoveryCodes: 7, Mailed: "alice@example.com"},
			"removed the authenticator app and 7 unused recovery codes of " + dn + "; alice@example.com was told by email"},
		{server.MFAResetResult{DN: dn, App: true, RecoveryCodes: 1}, "removed the authenticator app and 1 unused recovery code of " + dn},
		{server.MFAResetResult{DN: dn, App: true}, "removed the authenticator app of " + dn},
		{server.MFAResetResult{DN: dn, App: true, Sessions: 2, Mailed: "alice@example.com"},
			"removed the authenticator app of " + dn + "; ended 2 portal sessions; alice@example.com was told by email"},
		{server.MFAResetResult{DN: dn, Sessions: 1}, dn + " has no authenticator app; ended 1 portal session"},
		{server.MFAResetResult{DN: dn, Pending: true}, "removed an unconfirmed authenticator app of " + dn},
		{server.MFAResetResult{DN: dn, App: true, Pending: true, RecoveryCodes: 10},
			"removed the authenticator app, an unconfirmed replacement and 10 unused recovery codes of " + dn},
		{server.MFAResetResult{DN: dn}, dn + " has no authenticator app"},
	}
	for _, tt := range tests {
		if got := mfaResetLine(tt.res); got != tt.want {
			t.Errorf("mfaResetLine(%+v)\n got %q\nwant %q", tt.res, got, tt.want)
		}
	}
}
