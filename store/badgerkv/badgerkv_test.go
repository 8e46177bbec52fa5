package badgerkv_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/internal/deptest"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/badgerkv"
	"github.com/dird/dird/store/storetest"
)

func open(t *testing.T, dir string) *badgerkv.DB {
	t.Helper()
	db, err := badgerkv.Open(dir, badgerkv.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.KV {
		return open(t, t.TempDir())
	})
}

func TestPersistent(t *testing.T) {
	storetest.RunPersistent(t, func(t *testing.T, dir string) store.KV {
		return open(t, dir)
	})
}

func TestBadgerOptions(t *testing.T) {
	tests := []struct {
		name string
		o    badgerkv.Options
	}{
		{"defaults sync every write", badgerkv.Options{}},
		{"tuned options sync every write", badgerkv.Options{MemTableSize: 4 << 20, BlockCacheSize: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bo := badgerkv.BadgerOptions("/var/lib/dird", tt.o)
			if !bo.SyncWrites {
				t.Error("SyncWrites is false; acknowledged writes could be lost on power failure")
			}
			if !bo.DetectConflicts {
				t.Error("DetectConflicts is false; Update would not be serializable")
			}
			if bo.MemTableSize > 16<<20 || bo.BlockCacheSize > 16<<20 || bo.NumMemtables > 3 {
				t.Errorf("memory options too large for a small service: memtable %d, block cache %d, %d memtables",
					bo.MemTableSize, bo.BlockCacheSize, bo.NumMemtables)
			}
			if bo.Dir != "/var/lib/dird" || bo.ValueDir != "/var/lib/dird" || bo.InMemory {
				t.Errorf("Dir = %q, ValueDir = %q, InMemory = %v; want both in /var/lib/dird on disk",
					bo.Dir, bo.ValueDir, bo.InMemory)
			}
		})
	}
	// A memtable smaller than Badger's batch limit needs a lower value
	// threshold, or Badger refuses to open.
	db, err := badgerkv.Open(t.TempDir(), badgerkv.Options{MemTableSize: 4 << 20})
	if err != nil {
		t.Fatalf("Open with a 4 MiB memtable: %v", err)
	}
	db.Close()
}

func TestSecondOpenFailsWhileInUse(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	_, err := badgerkv.Open(dir, badgerkv.Options{})
	if !errors.Is(err, badgerkv.ErrInUse) {
		t.Fatalf("second Open = %v, want ErrInUse", err)
	}
	if !strings.Contains(err.Error(), "store in use by another process") {
		t.Errorf("second Open error %q does not say the store is in use", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db2, err := badgerkv.Open(dir, badgerkv.Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

func TestBackupRestoreIntoFreshDir(t *testing.T) {
	ctx := context.Background()
	src := open(t, t.TempDir())
	for i := range 50 {
		if err := src.Update(ctx, func(tx store.Tx) error {
			return tx.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i))
		}); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	backup := filepath.Join(t.TempDir(), "backup")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Backup(ctx, f); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	dst := open(t, dir)
	f, err = os.Open(backup)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := dst.Restore(ctx, f); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	// The restored data must be on disk, not only in the open DB.
	if err := dst.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	dst = open(t, dir)
	for i := range 50 {
		got, err := dst.Get(ctx, fmt.Appendf(nil, "k%03d", i))
		if want := fmt.Sprintf("v%d", i); err != nil || string(got) != want {
			t.Errorf("Get(k%03d) = %q, %v; want %q", i, got, err, want)
		}
	}
}

func TestLoggerDefaultsToSilence(t *testing.T) {
	// Badger logs at INFO on every open; with no Logger, stderr stays
	// quiet. The child process lets us see its stderr.
	if os.Getenv(childDirEnv) != "" {
		t.Skip("child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildOpenClose$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("child: %v\nstdout: %s\nstderr: %s", err, out, stderr.Bytes())
	}
	if stderr.Len() != 0 {
		t.Errorf("opening and closing a store wrote to stderr:\n%s", stderr.Bytes())
	}
}

func TestLoggerReceivesBadgerLines(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := badgerkv.Open(t.TempDir(), badgerkv.Options{Logger: l})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !strings.Contains(buf.String(), "component=badger") {
		t.Errorf("no Badger line reached the logger; got:\n%s", buf.String())
	}
}

func TestValueLogGCStopsOnClose(t *testing.T) {
	db, err := badgerkv.Open(t.TempDir(), badgerkv.Options{GCInterval: time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := context.Background()
	big := bytes.Repeat([]byte("v"), 1<<20) // goes to the value log
	for i := range 20 {
		// Overwrite a few keys so the value log holds garbage to collect.
		if err := db.Update(ctx, func(tx store.Tx) error {
			return tx.Put(fmt.Appendf(nil, "k%d", i%3), big)
		}); err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return while value-log GC was running")
	}
}

// childDirEnv selects child mode for the tests that re-execute the test
// binary, and names the store directory.
const childDirEnv = "DIRD_BADGERKV_CHILD_DIR"

func TestChildOpenClose(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("runs only as a child of TestLoggerDefaultsToSilence")
	}
	db, err := badgerkv.Open(dir, badgerkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCrashKeepsAcknowledgedWrites kills a writer with SIGKILL and checks
// that every write it acknowledged is there after reopening. SIGKILL does
// not drop the page cache, so this proves Badger wrote before Update
// returned; TestBadgerOptions covers the fsync (SyncWrites).
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if os.Getenv(childDirEnv) != "" {
		t.Skip("child process")
	}
	const killAfter = 200
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildWriter$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Whatever happens below, the child does not outlive the test.
	t.Cleanup(func() { cmd.Process.Kill() })

	lines := make(chan string)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	var acked []string
	killed := false
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
read:
	for {
		select {
		case <-deadline.C:
			t.Fatalf("child acknowledged %d writes before the deadline, want %d; stderr:\n%s", len(acked), killAfter, stderr.Bytes())
		case line, ok := <-lines:
			if !ok {
				break read
			}
			key, ok := strings.CutPrefix(line, "ack ")
			if !ok {
				continue // test framework output
			}
			// Lines already in the pipe when the child dies were
			// acknowledged too, so keep reading to EOF after the kill.
			acked = append(acked, key)
			if len(acked) == killAfter && !killed {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatalf("killing child: %v", err)
				}
				killed = true
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited (%v) after %d acknowledged writes, before being killed; stderr:\n%s", err, len(acked), stderr.Bytes())
	}

	db := open(t, dir)
	ctx := context.Background()
	for _, k := range acked {
		if v, err := db.Get(ctx, []byte(k)); err != nil || string(v) != "value of "+k {
			t.Errorf("acknowledged key %q after crash: %q, %v", k, v, err)
		}
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

// TestChildWriter is the child of TestCrashKeepsAcknowledgedWrites: it
// writes keys and prints each one after its Update returned nil, until it
// is killed (or gives up after a bounded number of writes).
func TestChildWriter(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("runs only as a child of TestCrashKeepsAcknowledgedWrites")
	}
	db, err := badgerkv.Open(dir, badgerkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 100_000 {
		k := fmt.Sprintf("key%06d", i)
		if err := db.Update(ctx, func(tx store.Tx) error {
			return tx.Put([]byte(k), []byte("value of "+k))
		}); err != nil {
			t.Fatal(err)
		}
		fmt.Println("ack", k)
	}
	t.Fatal("child was not killed after 100000 writes")
}

// TestDeps checks the dependency rule: a backend imports only store of
// dird's own packages.
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "store") }

// TestCompactKeepsEverything: dird import compacts the store at its end;
// every key must read back the same afterwards, and after a reopen.
func TestCompactKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := badgerkv.Open(dir, badgerkv.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for start := 0; start < n; start += 500 {
		err := db.Update(ctx, func(tx store.Tx) error {
			for i := start; i < start+500; i++ {
				if err := tx.Put(fmt.Appendf(nil, "k%05d", i), bytes.Repeat([]byte{byte(i)}, 700)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Compact(); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	check := func(db *badgerkv.DB) {
		t.Helper()
		count := 0
		err := db.Scan(ctx, []byte("k"), func(k, v []byte) error {
			if want := fmt.Sprintf("k%05d", count); string(k) != want || len(v) != 700 || v[0] != byte(count) {
				return fmt.Errorf("key %d: got %q (%d bytes), want %s", count, k, len(v), want)
			}
			count++
			return nil
		})
		if err != nil || count != n {
			t.Fatalf("after Compact: %d keys, %v", count, err)
		}
	}
	check(db)
	db.Close()
	if err := db.Compact(); !errors.Is(err, badgerkv.ErrClosed) {
		t.Errorf("Compact after Close = %v, want ErrClosed", err)
	}
	check(open(t, dir))
}
