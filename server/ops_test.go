package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/dird/dird/config"
	"github.com/dird/dird/internal/ldif"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/badgerkv"
	"github.com/dird/dird/store/memkv"
)

// The operations commands' tests run on real Badger stores in temporary
// directories, and start a real server on them where a test needs one
// serving (the control socket, binds after an import).

const (
	opsAdminDN = "cn=admin,dc=example,dc=com"
	opsAdminPW = "Adm1n-Ops-Sesame-42"
)

// opsConfig loads a configuration whose store lives in a new temporary
// directory, with every listener on 127.0.0.1:0 and cheap hashing.
func opsConfig(t *testing.T) config.Config {
	t.Helper()
	dir := t.TempDir()
	yaml := `base_dn: dc=example,dc=com
admin:
  dn: ` + opsAdminDN + `
  password: ` + opsAdminPW + `
store:
  path: ` + filepath.Join(dir, "data") + `
ldap:
  listen: 127.0.0.1:0
radius:
  listen: ""
portal:
  listen: 127.0.0.1:0
policy:
  argon2_memory: 7168
  argon2_time: 1
`
	path := filepath.Join(dir, "dird.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// withStore points cfg at another new store.
func withStore(t *testing.T, cfg config.Config) config.Config {
	cfg.Store.Path = filepath.Join(t.TempDir(), "data")
	return cfg
}

// people is a small directory in LDIF, children listed before their
// parents, with what a migration carries: hashes, ppolicy state,
// operational attributes, base64 and folded values.
const people = `dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
objectClass: posixAccount
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.com
uidNumber: 10001
gidNumber: 10000
homeDirectory: /home/alice
description:: w6lsw6h2ZSBkZSBsJ8OpY29sZSwgYSBkZXNjcmlwdGlvbiBsb25nIGVub3VnaCB0byBi
 ZSBmb2xkZWQ=
userPassword: {SSHA}IiF06bUzHayZmFrItmBg9nRSe43cp85v
pwdChangedTime: 20241128043202Z
pwdFailureTime: 20241128043202.683645Z
entryUUID: 5f3e8e9c-7f30-1041-85a5-878e8915a138
createTimestamp: 20240315093149Z
creatorsName: cn=Manager,dc=example,dc=com
modifyTimestamp: 20241128043202Z
modifiersName: uid=alice,ou=people,dc=example,dc=com

dn: cn=staff,ou=groups,dc=example,dc=com
objectClass: groupOfNames
objectClass: posixGroup
cn: staff
gidNumber: 10000
member: uid=alice,ou=people,dc=example,dc=com
member: uid=bob,ou=people,dc=example,dc=com

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: uid=bob,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: bob
cn: Bob Dobbs
sn: Dobbs
mail: bob@example.com
userPassword: Quiet-Harbor-58
pwdReset: TRUE

dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example Corp
entryUUID: 5f3e3230-7f30-1041-85a0-878e8915a138

`

func mustImport(t *testing.T, cfg config.Config, src string, o ImportOptions) *ImportSummary {
	t.Helper()
	sum, err := Import(context.Background(), cfg, strings.NewReader(src), o)
	if err != nil {
		t.Fatalf("Import: %v (summary %+v)", err, sum)
	}
	return sum
}

func mustExport(t *testing.T, cfg config.Config) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := Export(context.Background(), cfg, &b); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b.String()
}

// startOps serves cfg's store (Badger, control socket and all) until the
// test ends, or until the returned stop is called.
func startOps(t *testing.T, cfg config.Config) (*Server, func()) {
	t.Helper()
	s, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func bind(t *testing.T, s *Server, dn, pw string) error {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + s.Addr("ldap"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Bind(dn, pw)
}

// records reads an export back, each record as its sorted lines, the
// records sorted: the same directory in any order compares equal.
func records(t *testing.T, src string) []string {
	t.Helper()
	r := ldif.NewReader(strings.NewReader(src))
	var out []string
	for {
		rec, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("reading the export: %v", err)
		}
		var lines []string
		for _, a := range rec.Attrs {
			for _, v := range a.Values {
				lines = append(lines, a.Type+": "+v)
			}
		}
		slices.Sort(lines)
		out = append(out, "dn: "+rec.DN+"\n"+strings.Join(lines, "\n"))
	}
	slices.Sort(out)
	return out
}

func TestImportExportRoundTrip(t *testing.T) {
	cfg := opsConfig(t)
	sum := mustImport(t, cfg, people, ImportOptions{})
	if sum.Imported != 6 || sum.Records != 6 || sum.Hashed != 1 || len(sum.Errors) != 0 {
		t.Fatalf("summary %+v", sum)
	}
	// Serve it once, as an administrator would: the administrator's entry
	// appears, and bob's cleartext password became a hash that binds.
	s, stop := startOps(t, cfg)
	if err := bind(t, s, "uid=alice,ou=people,dc=example,dc=com", "Alice-New-2025"); err != nil {
		t.Errorf("alice's imported {SSHA} password: %v", err)
	}
	stop()
	first := mustExport(t, cfg)
	for _, want := range []string{
		"dn: dc=example,dc=com\n", "dn: cn=admin,dc=example,dc=com\n",
		"entryUUID: 5f3e8e9c-7f30-1041-85a5-878e8915a138\n", "creatorsName: cn=Manager,dc=example,dc=com\n",
		"pwdChangedTime: 20241128043202Z\n", "userPassword: {ARGON2}$argon2id$", "pwdReset: TRUE\n",
		"description:: w6lsw6h2ZSBkZSBsJ8OpY29sZSwgYSBkZXNjcmlwdGlvbiBsb25n",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("the export lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "memberOf") || strings.Contains(first, "hasSubordinates") {
		t.Errorf("the export carries computed attributes:\n%s", first)
	}
	// Parents come before their children.
	seen := map[string]bool{}
	r := ldif.NewReader(strings.NewReader(first))
	for rec, err := r.Next(); err == nil; rec, err = r.Next() {
		dn, _ := store.ParseDN(rec.DN)
		if len(dn) > 3 && !seen[dn.Parent().Norm()] {
			t.Errorf("%s comes before its parent", rec.DN)
		}
		seen[dn.Norm()] = true
	}

	// Into a store never served, and out again: the same directory.
	cfg2 := withStore(t, cfg)
	sum = mustImport(t, cfg2, first, ImportOptions{})
	if sum.Imported != 7 || len(sum.Skipped) != 0 || len(sum.DroppedAttrs) != 0 {
		t.Errorf("re-import summary %+v", sum)
	}
	second := mustExport(t, cfg2)
	if a, b := records(t, first), records(t, second); !slices.Equal(a, b) {
		t.Errorf("export, import, export changed the directory:\nfirst:\n%s\nsecond:\n%s", first, second)
	}
	if first != second {
		t.Errorf("the second export is not byte for byte the first")
	}
}

func TestImportAllOrNothing(t *testing.T) {
	bad := strings.Replace(people, "dn: uid=bob,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\n",
		"dn: uid=bob,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuidNumber: many\n", 1)
	bad += "dn: cn=nobody,ou=missing,dc=example,dc=com\nobjectClass: device\ncn: nobody\n\n" +
		"dn: ou=broken,dc=example,dc=com\nou:: !!\n\n" +
		"dn: uid=carol,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: carol\ncn: Carol\nsn: C\nmail: ALICE@example.com\n\n" +
		"dn: uid=dan,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: dan\ncn: Dan\nsn: D\nuserPassword: password\n\n"
	wantErrs := []string{
		"line 38: uid=bob,ou=people,dc=example,dc=com: store: invalid attribute syntax: uidNumber",
		"line 55: cn=nobody,ou=missing,dc=example,dc=com: store: no such object: parent ou=missing,dc=example,dc=com does not exist",
		"line 60: attribute ou: bad base64 value",
		"line 62: uid=carol,ou=people,dc=example,dc=com: store: constraint violation: mail 'alice@example.com' is already in use",
		"line 69: uid=dan,ou=people,dc=example,dc=com: ", // a password policy refusal
	}
	check := func(t *testing.T, sum *ImportSummary, err error) {
		t.Helper()
		if !errors.Is(err, ErrRecords) {
			t.Fatalf("Import = %v, want ErrRecords", err)
		}
		var got []string
		for _, e := range sum.Errors {
			got = append(got, e.Error())
		}
		if len(got) != len(wantErrs) {
			t.Fatalf("errors:\n%s\nwant %d", strings.Join(got, "\n"), len(wantErrs))
		}
		for i := range got {
			if !strings.HasPrefix(got[i], wantErrs[i]) {
				t.Errorf("error %d = %q, want it to start with %q", i, got[i], wantErrs[i])
			}
		}
	}

	t.Run("one bad record and nothing is written", func(t *testing.T) {
		cfg := opsConfig(t)
		sum, err := Import(context.Background(), cfg, strings.NewReader(bad), ImportOptions{})
		check(t, sum, err)
		if want := "5 of 10 records cannot be imported; nothing was written"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		if sum.Imported != 0 {
			t.Errorf("imported %d", sum.Imported)
		}
		kv, err := badgerkv.Open(cfg.Store.Path, badgerkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer kv.Close()
		if empty, err := isEmpty(context.Background(), kv); err != nil || !empty {
			t.Errorf("the store is not empty after a refused import (%v)", err)
		}
	})
	t.Run("continue on error loads the rest", func(t *testing.T) {
		cfg := opsConfig(t)
		sum, err := Import(context.Background(), cfg, strings.NewReader(bad), ImportOptions{ContinueOnError: true})
		check(t, sum, err)
		if want := "5 of 10 records were not imported"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
		if sum.Imported != 5 {
			t.Errorf("imported %d, want 5", sum.Imported)
		}
		out := mustExport(t, cfg)
		if !strings.Contains(out, "dn: cn=staff,ou=groups") || strings.Contains(out, "dn: uid=bob") || strings.Contains(out, "dn: uid=carol") {
			t.Errorf("export after a partial import:\n%s", out)
		}
	})
	t.Run("children of a bad record are reported, not lost", func(t *testing.T) {
		cfg := opsConfig(t)
		src := strings.Replace(people, "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n",
			"dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nobjectClass: inetOrgPerson\n", 1)
		sum, err := Import(context.Background(), cfg, strings.NewReader(src), ImportOptions{ContinueOnError: true})
		if !errors.Is(err, ErrRecords) || len(sum.Errors) != 3 {
			t.Fatalf("Import = %v, %+v", err, sum.Errors)
		}
		if got := sum.Errors[0].Error(); !strings.Contains(got, "its parent (line 30) was not imported") {
			t.Errorf("alice's error: %q", got)
		}
	})
}

func TestImportRefusesDuplicates(t *testing.T) {
	src := people + "dn: UID=Alice,ou=people,dc=example,dc=com\nobjectClass: account\nuid: alice\n\n" +
		"dn: ou=dup,dc=example,dc=com\nobjectClass: organizationalUnit\nou: dup\nentryUUID: 5F3E8E9C-7F30-1041-85A5-878E8915A138\n\n"
	cfg := opsConfig(t)
	sum, err := Import(context.Background(), cfg, strings.NewReader(src), ImportOptions{})
	if !errors.Is(err, ErrRecords) || len(sum.Errors) != 2 {
		t.Fatalf("Import = %v, %v", err, sum.Errors)
	}
	for i, want := range []string{
		"line 54: UID=Alice,ou=people,dc=example,dc=com: the same entry as the record at line 1",
		"line 58: ou=dup,dc=example,dc=com: entryUUID 5f3e8e9c-7f30-1041-85a5-878e8915a138 is also the record's at line 1",
	} {
		if got := sum.Errors[i].Error(); got != want {
			t.Errorf("error %d = %q, want %q", i, got, want)
		}
	}
}

func TestImportIntoAServedStore(t *testing.T) {
	cfg := opsConfig(t)
	_, stop := startOps(t, cfg) // creates the base and administrator's entries
	stop()
	src := people + "dn: cn=admin,dc=example,dc=com\nobjectClass: organizationalRole\ncn: admin\n\n"
	sum := mustImport(t, cfg, src, ImportOptions{})
	if sum.Imported != 5 || len(sum.Skipped) != 2 {
		t.Fatalf("summary %+v", sum)
	}
	for _, s := range sum.Skipped {
		if !strings.Contains(s.Error(), "already in the store") {
			t.Errorf("skipped: %v", s)
		}
	}
	if out := mustExport(t, cfg); strings.Contains(out, "Example Corp") {
		t.Errorf("the file's base entry replaced the store's:\n%s", out)
	}
}

func TestImportWhileServing(t *testing.T) {
	cfg := opsConfig(t)
	startOps(t, cfg)
	sum, err := Import(context.Background(), cfg, strings.NewReader(people), ImportOptions{})
	if !errors.Is(err, ErrStoreInUse) || sum != nil {
		t.Fatalf("Import = %+v, %v; want ErrStoreInUse", sum, err)
	}
	want := "the store at " + cfg.Store.Path + " is in use by a running dird serve; stop it first"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if _, err := Restore(context.Background(), cfg, strings.NewReader(`{"format":"dird-backup","version":1,"backend":"badger","compression":"zstd","base_dn":"dc=example,dc=com"}`+"\n")); !errors.Is(err, ErrStoreInUse) {
		t.Errorf("Restore while serving = %v", err)
	}
}

// failingKV fails the Updates for which fail returns true (n counts
// Updates from 1).
type failingKV struct {
	store.KV
	n    int
	fail func(n int) bool
}

var errDiskFull = errors.New("disk full")

func (f *failingKV) Update(ctx context.Context, fn func(store.Tx) error) error {
	f.n++
	if f.fail != nil && f.fail(f.n) {
		return errDiskFull
	}
	return f.KV.Update(ctx, fn)
}

func TestImportRollsBackAFailedWrite(t *testing.T) {
	ctx := context.Background()
	cfg := opsConfig(t)
	var src strings.Builder
	src.WriteString(people)
	for i := range 1200 {
		fmt.Fprintf(&src, "dn: uid=u%d,ou=people,dc=example,dc=com\nobjectClass: account\nuid: u%d\n\n", i, i)
	}
	prepare := func(t *testing.T, kv store.KV) ([]*importItem, bool, *ImportSummary) {
		sum := &ImportSummary{DroppedAttrs: map[string]int{}, Notes: map[string]int{}}
		base, _ := store.ParseDN(cfg.BaseDN)
		admin, _ := store.ParseDN(cfg.Admin.DN)
		items, err := readImport(ctx, strings.NewReader(src.String()), base, admin, sum, func(string, int, int) {})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortStableFunc(items, func(a, b *importItem) int { return len(a.dn) - len(b.dn) })
		good, hasBase, err := checkImport(ctx, cfg, kv, items, base, admin, sum, func(string, int, int) {})
		if err != nil || len(sum.Errors) > 0 {
			t.Fatal(err, sum.Errors)
		}
		return good, hasBase, sum
	}
	t.Run("removed again", func(t *testing.T) {
		mem := memkv.New()
		kv := &failingKV{KV: mem}
		items, hasBase, sum := prepare(t, kv)
		kv.n, kv.fail = 0, func(n int) bool { return n == 3 } // the third batch
		err := writeImport(ctx, cfg, kv, items, hasBase, sum, func(string, int, int) {})
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("writeImport = %v", err)
		}
		if !strings.Contains(err.Error(), "entries written before it were removed again: the store is as it was, apart from the base entry, which the file brought") {
			t.Errorf("error %q", err)
		}
		dir, _ := store.Open(ctx, mem, store.Options{BaseDN: cfg.BaseDN, NoBaseEntry: true})
		if n, _ := exportLDIF(ctx, dir, &bytes.Buffer{}); n != 1 {
			t.Errorf("%d entries left after the rollback, want the base entry only", n)
		}
	})
	t.Run("and when removing fails too", func(t *testing.T) {
		kv := &failingKV{KV: memkv.New()}
		items, hasBase, sum := prepare(t, kv)
		kv.n, kv.fail = 0, func(n int) bool { return n >= 2 }
		err := writeImport(ctx, cfg, kv, items, hasBase, sum, func(string, int, int) {})
		if !errors.Is(err, errDiskFull) || !regexp.MustCompile(`removing the (\d+) entries written before it failed too \(disk full\): the store holds (\d+) of the file's entries`).MatchString(err.Error()) {
			t.Errorf("writeImport = %v", err)
		}
	})
}

func TestExportAndBackupThroughTheControlSocket(t *testing.T) {
	ctx := context.Background()
	cfg := opsConfig(t)
	mustImport(t, cfg, people, ImportOptions{})
	s, stop := startOps(t, cfg)
	if fi, err := os.Stat(controlPath(cfg)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, %v", fi, err)
	}
	live := mustExport(t, cfg) // through the socket: Badger is locked
	if !strings.Contains(live, "dn: uid=alice,ou=people,dc=example,dc=com") {
		t.Errorf("export while serving:\n%s", live)
	}
	var backup bytes.Buffer
	if err := Backup(ctx, cfg, &backup); err != nil {
		t.Fatalf("Backup while serving: %v", err)
	}
	if err := bind(t, s, "uid=alice,ou=people,dc=example,dc=com", "Alice-New-2025"); err != nil {
		t.Errorf("bind after the backup: %v", err)
	}
	stop()
	if _, err := os.Stat(controlPath(cfg)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the control socket outlived the server: %v", err)
	}
	stopped := mustExport(t, cfg) // from the store itself
	// The bind above upgraded alice's hash, after the live export.
	if a, b := records(t, live), records(t, stopped); len(a) != len(b) {
		t.Errorf("live export has %d entries, the stopped one %d", len(a), len(b))
	}

	cfg2 := withStore(t, cfg)
	n, err := Restore(ctx, cfg2, &backup)
	if err != nil || n != 7 {
		t.Fatalf("Restore = %d, %v", n, err)
	}
	if got := mustExport(t, cfg2); got != live {
		t.Errorf("the restored directory differs from the one backed up:\n%s\nwant\n%s", got, live)
	}
	s2, _ := startOps(t, cfg2)
	if err := bind(t, s2, "uid=alice,ou=people,dc=example,dc=com", "Alice-New-2025"); err != nil {
		t.Errorf("bind on the restored directory: %v", err)
	}
}

func TestStoppedSocketIsNotTrusted(t *testing.T) {
	cfg := opsConfig(t)
	mustImport(t, cfg, people, ImportOptions{})
	// A socket file nobody listens on, as a killed serve leaves it.
	if err := os.WriteFile(controlPath(cfg), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustExport(t, cfg); !strings.Contains(out, "uid=alice") {
		t.Errorf("export beside a stale socket:\n%s", out)
	}
}

func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	cfg := opsConfig(t)
	mustImport(t, cfg, people, ImportOptions{})
	var backup bytes.Buffer
	if err := Backup(ctx, cfg, &backup); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  func() config.Config
		in   string
		want string
	}{
		{"a store that holds data", func() config.Config { return cfg }, backup.String(),
			"the store at " + cfg.Store.Path + " is not empty; restore fills an empty store only"},
		{"a file that is not a backup", func() config.Config { return withStore(t, cfg) }, people, "this is not a dird backup file"},
		{"an empty file", func() config.Config { return withStore(t, cfg) }, "", "this is not a dird backup file"},
		{"a backup of another directory", func() config.Config { c := withStore(t, cfg); c.BaseDN = "dc=other,dc=org"; return c }, backup.String(),
			"this is a backup of base_dn dc=example,dc=com; the configuration has base_dn dc=other,dc=org"},
		{"a later format", func() config.Config { return withStore(t, cfg) },
			`{"format":"dird-backup","version":2,"backend":"badger","base_dn":"dc=example,dc=com"}` + "\n", "this backup has version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Restore(ctx, tt.cfg(), strings.NewReader(tt.in))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Restore = %v, want %q", err, tt.want)
			}
		})
	}
	if !errors.Is(func() error { _, err := Restore(ctx, cfg, bytes.NewReader(backup.Bytes())); return err }(), ErrNotEmpty) {
		t.Error("a non-empty store is not ErrNotEmpty")
	}
}

func TestExportOfNoStore(t *testing.T) {
	cfg := opsConfig(t)
	if _, err := Export(context.Background(), cfg, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "there is no store at") {
		t.Errorf("Export of a missing store = %v", err)
	}
	if err := Backup(context.Background(), cfg, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "there is no store at") {
		t.Errorf("Backup of a missing store = %v", err)
	}
	// A store that exists but was never served exports nothing, and
	// export does not create a base entry in it.
	if err := os.MkdirAll(cfg.Store.Path, 0o700); err != nil {
		t.Fatal(err)
	}
	if out := mustExport(t, cfg); out != "" {
		t.Errorf("export of an empty store: %q", out)
	}
	if out := mustExport(t, cfg); out != "" {
		t.Errorf("export created something: %q", out)
	}
}
