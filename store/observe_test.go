package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

// TestOnChangeReportsCommittedWrites: each committed write is reported
// once, with its actor and the names of the attributes it wrote; a write
// that is rolled back and a quiet write are not reported.
func TestOnChangeReportsCommittedWrites(t *testing.T) {
	ctx := context.Background()
	var got []store.Change
	kv := memkv.New()
	t.Cleanup(func() { kv.Close() })
	d, err := store.Open(ctx, kv, store.Options{BaseDN: testBase, OnChange: func(c store.Change) { got = append(got, c) }})
	if err != nil {
		t.Fatal(err)
	}
	got = nil // the base entry's creation at first open
	aliceDN := mustParseDN(t, "uid=alice,"+people)
	steps := []struct {
		name string
		do   func() error
		want []store.Change
	}{
		{"an add names every attribute it stored", func() error { return add(ctx, d, ou(t, people), person(t, "alice")) },
			[]store.Change{
				{Actor: testAdmin, Op: "add", DN: mustParseDN(t, people), Attrs: []string{"createTimestamp", "creatorsName", "entryUUID", "objectClass", "ou"}},
				{Actor: testAdmin, Op: "add", DN: aliceDN, Attrs: []string{"cn", "createTimestamp", "creatorsName", "entryUUID", "mail", "objectClass", "sn", "uid"}},
			}},
		{"a modify names only what changed", func() error {
			_, err := modify(ctx, d, aliceDN, store.Mod{Op: store.ModReplace, Type: "telephoneNumber", Values: []string{"1"}}, store.Mod{Op: store.ModReplace, Type: "sn", Values: []string{"Example"}})
			return err
		}, []store.Change{{Actor: testAdmin, Op: "modify", DN: aliceDN, Attrs: []string{"telephoneNumber"}}}},
		{"a rolled-back transaction reports nothing", func() error {
			err := d.Update(ctx, func(tx *store.Txn) error {
				if _, err := tx.Modify(aliceDN, []store.Mod{{Op: store.ModReplace, Type: "title", Values: []string{"x"}}}, testAdmin); err != nil {
					return err
				}
				return errors.New("changed my mind")
			})
			if err == nil {
				return errors.New("the transaction did not fail")
			}
			return nil
		}, nil},
		{"a quiet write reports nothing", func() error {
			return d.Update(ctx, func(tx *store.Txn) error {
				old, err := tx.Get(aliceDN)
				if err != nil {
					return err
				}
				e := old.Clone()
				e.Set("title", "quiet")
				return tx.Replace(old, e, store.Quiet)
			})
		}, nil},
		{"a rename names the new DN", func() error {
			_, err := rename(ctx, d, aliceDN, "uid=alicia", false, "")
			return err
		}, []store.Change{{Actor: testAdmin, Op: "modrdn", DN: aliceDN, NewDN: mustParseDN(t, "uid=alicia,"+people), Attrs: []string{"uid"}}}},
		{"a delete names its actor", func() error { return del(ctx, d, mustParseDN(t, "uid=alicia,"+people)) },
			[]store.Change{{Actor: testAdmin, Op: "delete", DN: mustParseDN(t, "uid=alicia,"+people)}}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got = nil
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(st.want) {
				t.Fatalf("reported %d changes %+v, want %d %+v", len(got), got, len(st.want), st.want)
			}
			for i, w := range st.want {
				g := got[i]
				if g.Actor != w.Actor || g.Op != w.Op || !g.DN.Equal(w.DN) || !g.NewDN.Equal(w.NewDN) {
					t.Errorf("change %d = %+v, want %+v", i, g, w)
				}
				if w.Op != "delete" && !slices.Equal(g.Attrs, w.Attrs) {
					t.Errorf("change %d attrs = %v, want %v", i, g.Attrs, w.Attrs)
				}
			}
		})
	}
}
