package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// indexed lists what ScanPwdChanged offers over all time, as "DN@time".
func indexed(t *testing.T, d *store.Directory) []string {
	t.Helper()
	var out []string
	err := d.ScanPwdChanged(context.Background(), time.Unix(0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), func(dn store.DN, changed time.Time) error {
		out = append(out, dn.String()+"@"+store.FormatTime(changed))
		return nil
	})
	if err != nil {
		t.Fatalf("ScanPwdChanged: %v", err)
	}
	return out
}

// TestPwdChangedIndex checks that every operation that writes, drops or
// moves an entry's pwdChangedTime keeps the index in step: the hook in
// reindex, which add, modify, replace, rename and delete all go through.
func TestPwdChangedIndex(t *testing.T) {
	ctx := context.Background()
	alice, bob := "uid=alice,"+people, "uid=bob,"+people
	tests := []struct {
		name string
		op   func(t *testing.T, tx *store.Txn) error
		want []string
	}{
		{"add without pwdChangedTime is not indexed", func(t *testing.T, tx *store.Txn) error {
			return tx.Add(person(t, "carol"), testAdmin)
		}, []string{alice + "@20240301000000Z"}},
		{"add with pwdChangedTime is indexed in time order", func(t *testing.T, tx *store.Txn) error {
			return tx.Add(person(t, "bob", "pwdChangedTime: 20240201000000Z"), testAdmin)
		}, []string{bob + "@20240201000000Z", alice + "@20240301000000Z"}},
		{"modify moves the key", func(t *testing.T, tx *store.Txn) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModReplace, Type: "pwdChangedTime", Values: []string{"20240105120000Z"}}}, testAdmin)
			return err
		}, []string{alice + "@20240105120000Z"}},
		{"modify of another attribute leaves it", func(t *testing.T, tx *store.Txn) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModReplace, Type: "description", Values: []string{"x"}}}, testAdmin)
			return err
		}, []string{alice + "@20240301000000Z"}},
		{"deleting the attribute drops the key", func(t *testing.T, tx *store.Txn) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModDelete, Type: "pwdChangedTime"}}, testAdmin)
			return err
		}, nil},
		{"replace (policy's path) moves the key", func(t *testing.T, tx *store.Txn) error {
			old, err := tx.Get(mustParseDN(t, alice))
			if err != nil {
				return err
			}
			e := old.Clone()
			e.Set("pwdChangedTime", "20240401000000.5Z")
			return tx.Replace(old, e, store.Quiet)
		}, []string{alice + "@20240401000000Z"}},
		{"rename carries the key to the new DN", func(t *testing.T, tx *store.Txn) error {
			_, err := tx.Rename(mustParseDN(t, alice), mustParseDN(t, "uid=alicia")[0], true, nil, testAdmin)
			return err
		}, []string{"uid=alicia," + people + "@20240301000000Z"}},
		{"delete drops the key", func(t *testing.T, tx *store.Txn) error {
			return tx.Delete(mustParseDN(t, alice), testAdmin)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := openDir(t, nil)
			creds, err := d.ClaimCredentials()
			if err != nil {
				t.Fatal(err)
			}
			mustAdd(t, d, ou(t, people))
			err = creds.Update(ctx, func(tx *store.Txn) error {
				return tx.Add(person(t, "alice", "pwdChangedTime: 20240301000000Z"), testAdmin)
			})
			if err != nil {
				t.Fatalf("adding alice: %v", err)
			}
			if err := creds.Update(ctx, func(tx *store.Txn) error { return tt.op(t, tx) }); err != nil {
				t.Fatalf("operation: %v", err)
			}
			if got := indexed(t, d); !slices.Equal(got, tt.want) {
				t.Errorf("index = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestScanPwdChangedRange checks the range bounds (both ends included, to
// the second) and that a scan stops at the end of the range.
func TestScanPwdChangedRange(t *testing.T) {
	ctx := context.Background()
	d, _ := openDir(t, nil)
	creds, _ := d.ClaimCredentials()
	mustAdd(t, d, ou(t, people))
	times := []string{"20240101000000Z", "20240102000000Z", "20240103000000Z", "20240104000000Z"}
	err := creds.Update(ctx, func(tx *store.Txn) error {
		for i, ts := range times {
			if err := tx.Add(person(t, string(rune('a'+i))+"user", "pwdChangedTime: "+ts), testAdmin); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	until := time.Date(2024, 1, 3, 0, 0, 0, 999, time.UTC)
	var got []string
	err = d.ScanPwdChanged(ctx, from, until, func(dn store.DN, changed time.Time) error {
		got = append(got, store.FormatTime(changed))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := times[1:3]; !slices.Equal(got, want) {
		t.Errorf("ScanPwdChanged(%s, %s) = %q, want %q", from, until, got, want)
	}
}

// TestEnsurePwdChangedIndex: a store written before the index existed
// (no index keys, no marker) gets it built once; a new store is marked
// complete from its first open and is never scanned again.
func TestEnsurePwdChangedIndex(t *testing.T) {
	ctx := context.Background()
	kv := memkv.New()
	d, _ := openDir(t, kv)
	creds, _ := d.ClaimCredentials()
	mustAdd(t, d, ou(t, people))
	err := creds.Update(ctx, func(tx *store.Txn) error {
		for _, uid := range []string{"alice", "bob"} {
			if err := tx.Add(person(t, uid, "pwdChangedTime: 20240301000000Z"), testAdmin); err != nil {
				return err
			}
		}
		return tx.Add(person(t, "carol"), testAdmin)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.EnsurePwdChangedIndex(ctx); err != nil || n != 0 {
		t.Fatalf("EnsurePwdChangedIndex on a new store = %d, %v; want 0 (complete from the start)", n, err)
	}
	want := indexed(t, d)
	if len(want) != 2 {
		t.Fatalf("index = %q, want alice and bob", want)
	}
	// Make it an old store: drop the index and its marker.
	var old [][]byte
	kv.Scan(ctx, nil, func(k, _ []byte) error {
		if k[0] == 't' || string(k) == "mtimeindex/1" {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	if len(old) != 3 {
		t.Fatalf("found %d index keys and marker, want 3", len(old))
	}
	kv.Update(ctx, func(tx store.Tx) error {
		for _, k := range old {
			tx.Delete(k)
		}
		return nil
	})
	if got := indexed(t, d); len(got) != 0 {
		t.Fatalf("index after dropping it = %q", got)
	}
	if n, err := d.EnsurePwdChangedIndex(ctx); err != nil || n != 2 {
		t.Fatalf("EnsurePwdChangedIndex on an old store = %d, %v; want 2", n, err)
	}
	if got := indexed(t, d); !slices.Equal(got, want) {
		t.Errorf("rebuilt index = %q, want %q", got, want)
	}
	if n, err := d.EnsurePwdChangedIndex(ctx); err != nil || n != 0 {
		t.Errorf("second EnsurePwdChangedIndex = %d, %v; want 0", n, err)
	}
}

// TestNotices: a record is keyed by entry, password and offset, and
// pruning removes the records of passwords changed before the cutoff
// only.
func TestNotices(t *testing.T) {
	ctx := context.Background()
	d, _ := openDir(t, nil)
	changed := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	n := store.Notice{EntryID: "u1", Changed: changed, Offset: 72 * time.Hour}
	if sent, err := d.NoticeSent(ctx, n); err != nil || sent {
		t.Fatalf("NoticeSent before recording = %v, %v", sent, err)
	}
	if err := d.RecordNotice(ctx, n, changed.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	others := []store.Notice{
		{EntryID: "u1", Changed: changed, Offset: 24 * time.Hour},
		{EntryID: "u1", Changed: changed.Add(time.Second), Offset: 72 * time.Hour},
		{EntryID: "u2", Changed: changed, Offset: 72 * time.Hour},
	}
	for _, o := range others {
		if sent, err := d.NoticeSent(ctx, o); err != nil || sent {
			t.Errorf("NoticeSent(%+v) = %v, %v; want false (another notice)", o, sent, err)
		}
	}
	later := store.Notice{EntryID: "u3", Changed: changed.Add(48 * time.Hour), Offset: 72 * time.Hour}
	if err := d.RecordNotice(ctx, later, changed); err != nil {
		t.Fatal(err)
	}
	pruned, err := d.PruneNotices(ctx, changed.Add(time.Hour))
	if err != nil || pruned != 1 {
		t.Fatalf("PruneNotices = %d, %v; want 1", pruned, err)
	}
	if sent, _ := d.NoticeSent(ctx, n); sent {
		t.Error("a pruned record is still there")
	}
	if sent, _ := d.NoticeSent(ctx, later); !sent {
		t.Error("pruning removed the record of a password changed after the cutoff")
	}
}
