package server

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/badgerkv"
)

func TestLoadSealKey(t *testing.T) {
	t.Run("made once with mode 0600, then read back", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		key, err := loadSealKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != policy.SealKeySize || bytes.Equal(key, make([]byte, policy.SealKeySize)) {
			t.Fatalf("key %x: want 32 random bytes", key)
		}
		fi, err := os.Stat(filepath.Join(dir, sealKeyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("seal.key: %v, mode %v; want 0600", err, fi.Mode())
		}
		again, err := loadSealKey(dir)
		if err != nil || !bytes.Equal(again, key) {
			t.Fatalf("second load: %x, %v; want the same key", again, err)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".seal.key-*")); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
		if w := sealKeyWarning(dir); w != "" {
			t.Errorf("warning %q for a 0600 key", w)
		}
		os.Chmod(filepath.Join(dir, sealKeyFile), 0o644)
		if w := sealKeyWarning(dir); !strings.Contains(w, "chmod 600") {
			t.Errorf("no warning for a 0644 key: %q", w)
		}
	})
	t.Run("concurrent first starts agree on one key", func(t *testing.T) {
		dir := t.TempDir()
		keys := make([][]byte, 8)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := loadSealKey(dir)
				if err != nil {
					t.Error(err)
				}
				keys[i] = k
			}()
		}
		wg.Wait()
		for _, k := range keys[1:] {
			if !bytes.Equal(k, keys[0]) {
				t.Fatalf("two loads made different keys: %x and %x", keys[0], k)
			}
		}
	})
	t.Run("a key of the wrong size is refused, never replaced", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, sealKeyFile)
		os.WriteFile(path, []byte("short"), 0o600)
		_, err := loadSealKey(dir)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backups") {
			t.Fatalf("loadSealKey: %v; want an error naming the file and the backups", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "short" {
			t.Error("the bad key file was replaced")
		}
	})
}

func TestServeRefusesABadSealKey(t *testing.T) {
	cfg := opsConfig(t)
	os.MkdirAll(cfg.Store.Path, 0o700)
	os.WriteFile(filepath.Join(cfg.Store.Path, sealKeyFile), make([]byte, 31), 0o600)
	if _, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{}); err == nil || !strings.Contains(err.Error(), "seal.key") {
		t.Fatalf("Start with a 31-byte seal.key: %v; want an error naming it", err)
	}
}

// ntHashOf reads the stored dirdNTHash of dn straight from the store.
func ntHashOf(t *testing.T, storePath, dn string) string {
	t.Helper()
	kv, err := badgerkv.Open(storePath, badgerkv.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	dir, err := store.Open(context.Background(), kv, store.Options{BaseDN: "dc=example,dc=com", NoBaseEntry: true})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := store.ParseDN(dn)
	e, err := dir.Get(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return e.First("dirdNTHash")
}

func TestImportAndExportOfTheNTHash(t *testing.T) {
	cfg := opsConfig(t)
	cfg.Policy.NTHash = true
	// bob's cleartext password gets a sealed NT hash; alice's {SSHA} none;
	// carol's dirdNTHash from another server is dropped.
	src := people + `dn: uid=carol,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: carol
cn: Carol Danvers
sn: Danvers
userPassword: {SSHA}IiF06bUzHayZmFrItmBg9nRSe43cp85v
dirdNTHash: {SEALED}c2VhbGVkIGJ5IGFub3RoZXIgc2VydmVyIHdpdGggYW5vdGhlciBrZXk=

`
	sum := mustImport(t, cfg, src, ImportOptions{})
	if sum.DroppedAttrs["dirdNTHash"] != 1 || len(sum.Errors) != 0 {
		t.Fatalf("summary %+v: want dirdNTHash dropped once", sum)
	}
	st := cfg.Store.Path
	if v := ntHashOf(t, st, "uid=bob,ou=people,dc=example,dc=com"); !strings.HasPrefix(v, "{SEALED}") {
		t.Errorf("bob's NT hash after importing his cleartext password: %q", v)
	}
	for _, uid := range []string{"alice", "carol"} {
		if v := ntHashOf(t, st, "uid="+uid+",ou=people,dc=example,dc=com"); v != "" {
			t.Errorf("%s keeps NT hash %q after importing a hash", uid, v)
		}
	}
	out := mustExport(t, cfg)
	if strings.Contains(out, "dirdNTHash") || strings.Contains(out, "{SEALED}") {
		t.Errorf("the export carries the NT hash:\n%s", out)
	}
	if !strings.Contains(out, "uid=bob,ou=people") {
		t.Fatalf("the export lacks bob:\n%s", out)
	}
}
