package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dird/dird/store"
)

// TestCredentialAttributes is the test DESIGN.md asks for: only the
// Credentials handle that policy claims writes userPassword, pwd* and the
// sealed secrets; Directory.Update refuses them whatever the operation.
func TestCredentialAttributes(t *testing.T) {
	ctx := context.Background()
	alice := "uid=alice," + people
	attrs := map[string]string{
		"userPassword":         "{SSHA}c2VjcmV0c2FsdA==",
		"pwdChangedTime":       "20240101000000Z",
		"pwdAccountLockedTime": "000001010000Z",
		"pwdFailureTime":       "20240101000000.123456Z",
		"pwdReset":             "TRUE",
		"dirdNTHash":           "sealed",
	}
	type write func(t *testing.T, tx *store.Txn, attr, value string) error
	writes := []struct {
		name string
		fn   write
	}{
		{"add an entry with it", func(t *testing.T, tx *store.Txn, attr, value string) error {
			return tx.Add(person(t, "bob", attr+": "+value), testAdmin)
		}},
		{"add an entry named by it", func(t *testing.T, tx *store.Txn, attr, value string) error {
			return tx.Add(ldif(t, attr+"="+value+","+people, "objectClass: extensibleObject"), testAdmin)
		}},
		{"modify add", func(t *testing.T, tx *store.Txn, attr, value string) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModAdd, Type: attr, Values: []string{value}}}, testAdmin)
			return err
		}},
		{"modify replace", func(t *testing.T, tx *store.Txn, attr, value string) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModReplace, Type: attr, Values: []string{value}}}, testAdmin)
			return err
		}},
		{"modify add with the type in other case", func(t *testing.T, tx *store.Txn, attr, value string) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModAdd, Type: strings.ToUpper(attr), Values: []string{value}}}, testAdmin)
			return err
		}},
		{"replace the entry", func(t *testing.T, tx *store.Txn, attr, value string) error {
			old, err := tx.Get(mustParseDN(t, alice))
			if err != nil {
				return err
			}
			e := old.Clone()
			e.Set(attr, value)
			return tx.Replace(old, e, testAdmin)
		}},
		{"rename to it", func(t *testing.T, tx *store.Txn, attr, value string) error {
			_, err := tx.Rename(mustParseDN(t, alice), store.RDN{{Type: attr, Value: value}}, false, nil, testAdmin)
			return err
		}},
	}
	for attr, value := range attrs {
		for _, w := range writes {
			t.Run(w.name+" "+attr+" is refused without Credentials", func(t *testing.T) {
				d, _ := tree(t)
				err := d.Update(ctx, func(tx *store.Txn) error { return w.fn(t, tx, attr, value) })
				if !errors.Is(err, store.ErrCredentialAttribute) {
					t.Fatalf("error = %v, want ErrCredentialAttribute", err)
				}
				if got := get(t, d, alice).Get(attr); got != nil {
					t.Errorf("%s = %q after a refused write", attr, got)
				}
			})
			t.Run(w.name+" "+attr+" works through Credentials", func(t *testing.T) {
				d, _ := tree(t)
				creds, err := d.ClaimCredentials()
				if err != nil {
					t.Fatal(err)
				}
				if err := creds.Update(ctx, func(tx *store.Txn) error { return w.fn(t, tx, attr, value) }); err != nil {
					t.Fatalf("through Credentials: %v", err)
				}
			})
		}
	}

	// Writing a credential attribute covers removing it too: a Directory
	// Update must not drop a password, whatever the caller claims the old
	// entry held.
	removals := []struct {
		name string
		fn   func(t *testing.T, tx *store.Txn) error
	}{
		{"modify delete", func(t *testing.T, tx *store.Txn) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModDelete, Type: "userPassword"}}, testAdmin)
			return err
		}},
		{"modify replace with nothing", func(t *testing.T, tx *store.Txn) error {
			_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{{Op: store.ModReplace, Type: "userPassword"}}, testAdmin)
			return err
		}},
		{"replace with an entry without it", func(t *testing.T, tx *store.Txn) error {
			old, err := tx.Get(mustParseDN(t, alice))
			if err != nil {
				return err
			}
			e := old.Clone()
			e.Set("userPassword")
			e.Set("pwdAccountLockedTime")
			return tx.Replace(old, e, testAdmin)
		}},
		{"replace passing an old entry without it", func(t *testing.T, tx *store.Txn) error {
			old, err := tx.Get(mustParseDN(t, alice))
			if err != nil {
				return err
			}
			old.Set("userPassword")
			old.Set("pwdAccountLockedTime")
			return tx.Replace(old, old.Clone(), testAdmin)
		}},
		{"replace changing the DN", func(t *testing.T, tx *store.Txn) error {
			old, err := tx.Get(mustParseDN(t, alice))
			if err != nil {
				return err
			}
			e := old.Clone()
			e.DN = mustParseDN(t, "uid=alice,"+groups)
			return tx.Replace(old, e, testAdmin)
		}},
	}
	for _, r := range removals {
		t.Run(r.name+" cannot remove credentials", func(t *testing.T) {
			d, _ := tree(t)
			creds, err := d.ClaimCredentials()
			if err != nil {
				t.Fatal(err)
			}
			err = creds.Update(ctx, func(tx *store.Txn) error {
				_, err := tx.Modify(mustParseDN(t, alice), []store.Mod{
					{Op: store.ModAdd, Type: "userPassword", Values: []string{"{SSHA}x"}},
					{Op: store.ModAdd, Type: "pwdAccountLockedTime", Values: []string{"000001010000Z"}}}, store.Quiet)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Update(ctx, func(tx *store.Txn) error { return r.fn(t, tx) }); err == nil {
				t.Errorf("a Directory Update got through")
			}
			e := get(t, d, alice)
			if !slices.Equal(e.Get("userPassword"), []string{"{SSHA}x"}) || e.First("pwdAccountLockedTime") != "000001010000Z" {
				t.Errorf("credentials after a refused write: %v", e.Attrs)
			}
			// The same write is the policy door's to make.
			if err := creds.Update(ctx, func(tx *store.Txn) error { return r.fn(t, tx) }); err != nil && !strings.Contains(r.name, "DN") {
				t.Errorf("through Credentials: %v", err)
			}
		})
	}

	t.Run("Replace keeps public attributes public", func(t *testing.T) {
		d, _ := tree(t)
		err := d.Update(ctx, func(tx *store.Txn) error {
			old, err := tx.Get(mustParseDN(t, alice))
			if err != nil {
				return err
			}
			e := old.Clone()
			e.Set("description", "changed")
			return tx.Replace(old, e, testAdmin)
		})
		if err != nil {
			t.Fatalf("Replace of a public attribute: %v", err)
		}
		if got := get(t, d, alice).First("description"); got != "changed" {
			t.Errorf("description = %q", got)
		}
	})

	t.Run("credentials are claimed once", func(t *testing.T) {
		d, _ := tree(t)
		if _, err := d.ClaimCredentials(); err != nil {
			t.Fatal(err)
		}
		if c, err := d.ClaimCredentials(); err == nil || c != nil {
			t.Errorf("second ClaimCredentials = %v, %v; want an error", c, err)
		}
	})
	t.Run("credentials are claimed once under contention", func(t *testing.T) {
		d, _ := tree(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := d.ClaimCredentials(); err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d claims succeeded, want 1", won)
		}
	})
}
