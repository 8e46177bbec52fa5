package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dird/dird/config"
	"github.com/dird/dird/internal/ldif"
	"github.com/dird/dird/store"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// ContinueOnError loads every good record and reports the bad ones.
	// Without it one bad record means nothing is written.
	ContinueOnError bool
	// Progress, when set, is called from Import's goroutine as it
	// advances.
	Progress func(Progress)
}

// Progress is one reading of an import's advance: Done of Total records
// in Phase ("reading", "checking", "writing", then "compacting", which
// has no count). Total is 0 while reading, when it is not known yet.
type Progress struct {
	Phase       string
	Done, Total int
}

// ImportSummary says what an import did.
type ImportSummary struct {
	// Records counts the records of the file, good and bad.
	Records int
	// Imported counts the entries written.
	Imported int
	// Errors lists the records that were not imported, in line order.
	Errors []RecordError
	// Hashed counts cleartext passwords that were checked and hashed.
	Hashed int
	// DroppedAttrs counts, per attribute, the entries it was dropped
	// from (OpenLDAP internals, and what dird computes itself).
	DroppedAttrs map[string]int
	// Skipped lists records left out on purpose, with the reason.
	Skipped []RecordError
	// Notes counts other things worth telling, per message.
	Notes map[string]int
	// Elapsed is the whole import's duration; Checked and Written the
	// durations of its check and its writes.
	Elapsed, Checked, Written time.Duration
}

// RecordError is a record of the file that was not imported, and why.
type RecordError struct {
	Line int
	DN   string // as written in the file; "" when the record had none
	Err  error
}

func (e RecordError) Error() string {
	if e.DN == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.DN, e.Err)
}

// ErrRecords is wrapped by Import's error when records were not imported.
var ErrRecords = errors.New("server: records not imported")

// droppedAttrs are attributes an import leaves out: OpenLDAP's internal
// and computed operational attributes, which mean nothing to dird or
// which dird computes itself (memberOf, hasSubordinates, entryDN), and
// ppolicy attributes that dird does not use (pwdPolicySubentry points at a
// policy entry, which is dropped too: dird has one policy, in its
// configuration), and a sealed NT hash.
var droppedAttrs = map[string]bool{
	"entrycsn": true, "contextcsn": true, "structuralobjectclass": true, "hassubordinates": true,
	"numsubordinates": true, "subschemasubentry": true, "entrydn": true, "memberof": true,
	"authtimestamp": true, "entryttl": true,
	"pwdpolicysubentry": true, "pwdlastsuccess": true, "pwdstarttime": true, "pwdendtime": true,
	// Sealed with another server's key (or forged): policy computes it
	// from a cleartext password, or at the next cleartext login.
	"dirdnthash": true,
}

// keptPwd is the ppolicy state an import keeps (policy.PrepareImport
// checks it); any other pwd* attribute is dropped.
var keptPwd = map[string]bool{
	"pwdchangedtime": true, "pwdaccountlockedtime": true, "pwdfailuretime": true,
	"pwdhistory": true, "pwdreset": true, "pwdgraceusetime": true,
}

// Import batches: Badger refuses a transaction past 15% of a memtable
// (1.2 MiB with dird's 8 MiB memtables) or about 12,000 writes. Batches
// stay well under both, measured by the check's own writes.
const (
	batchEntries = 500
	batchBytes   = 512 << 10
	batchWrites  = 4000
)

// importItem is one record on its way into the store.
type importItem struct {
	line   int
	rawDN  string
	dn     store.DN
	e      *store.Entry
	bytes  int // the size of its writes, measured by the check
	writes int
}

// Import loads an LDIF file (RFC 2849; OpenLDAP slapcat output too) into
// the store, with the server stopped. See CONTRACT.md: parents go before
// children whatever the file's order; hashes, entryUUID, timestamps and
// ppolicy state are kept; OpenLDAP internals and pwdPolicy entries are
// dropped and counted; cleartext passwords are checked and hashed.
//
// Every record is first checked by the code that will write it, on an
// overlay of the store that writes nothing; only then are the entries
// written, in batches. Without ContinueOnError a bad record means nothing
// is written. A write that fails after the check (a full disk) removes
// what the import wrote before it, and the error says in which state the
// store is. The returned error wraps ErrRecords when records were not
// imported (the summary lists them), and ErrStoreInUse when a dird serve
// holds the store.
func Import(ctx context.Context, cfg config.Config, r io.Reader, o ImportOptions) (*ImportSummary, error) {
	start := time.Now()
	// The summary is returned once the file has been read, and nil with
	// errors that come before (a store in use, an unreadable file).
	sum := &ImportSummary{DroppedAttrs: map[string]int{}, Notes: map[string]int{}}
	progress := func(phase string, done, total int) {
		if o.Progress != nil {
			o.Progress(Progress{Phase: phase, Done: done, Total: total})
		}
	}
	kv, err := openStore(cfg, false, "stop it first")
	if err != nil {
		return nil, err
	}
	defer kv.Close()
	base, err := store.ParseDN(cfg.BaseDN)
	if err != nil {
		return nil, fmt.Errorf("base_dn: %w", err)
	}
	adminDN, err := store.ParseDN(cfg.Admin.DN)
	if err != nil {
		return nil, fmt.Errorf("admin.dn: %w", err)
	}

	items, err := readImport(ctx, r, base, adminDN, sum, progress)
	if errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("the import was interrupted while reading the file; nothing was written: %w", err)
	}
	if err != nil {
		return nil, err
	}
	// Parents before children: a parent's DN is shorter than its
	// children's. The sort is stable, so the file's order holds otherwise.
	slices.SortStableFunc(items, func(a, b *importItem) int { return len(a.dn) - len(b.dn) })

	checkStart := time.Now()
	good, hasBase, err := checkImport(ctx, cfg, kv, items, base, adminDN, sum, progress)
	if errors.Is(err, context.Canceled) {
		return sum, fmt.Errorf("the import was interrupted while checking the records; nothing was written: %w", err)
	}
	if err != nil {
		return sum, err
	}
	sum.Checked = time.Since(checkStart)
	slices.SortFunc(sum.Errors, func(a, b RecordError) int { return a.Line - b.Line })
	slices.SortFunc(sum.Skipped, func(a, b RecordError) int { return a.Line - b.Line })
	if len(sum.Errors) > 0 && !o.ContinueOnError {
		sum.Elapsed = time.Since(start)
		return sum, &opsError{msg: fmt.Sprintf("%d of %d records cannot be imported; nothing was written", len(sum.Errors), sum.Records), sentinel: ErrRecords}
	}

	writeStart := time.Now()
	if err := writeImport(ctx, cfg, kv, good, hasBase, sum, progress); err != nil {
		sum.Elapsed = time.Since(start)
		return sum, err
	}
	progress("compacting", 0, 0)
	if err := kv.Compact(); err != nil {
		// Everything is written and synced; only the tidying failed,
		// which Badger redoes at the next open.
		sum.Notes["the store was not compacted ("+err.Error()+"); dird serve compacts it at start"]++
	}
	sum.Written = time.Since(writeStart)
	sum.Elapsed = time.Since(start)
	if len(sum.Errors) > 0 {
		return sum, &opsError{msg: fmt.Sprintf("%d of %d records were not imported", len(sum.Errors), sum.Records), sentinel: ErrRecords}
	}
	return sum, nil
}

// readImport reads every record, turning each into an entry with what an
// import drops left out. Bad records go to sum.Errors.
func readImport(ctx context.Context, r io.Reader, base, adminDN store.DN, sum *ImportSummary, progress func(string, int, int)) ([]*importItem, error) {
	lr := ldif.NewReader(r)
	var items []*importItem
	seen := map[string]int{}  // normalised DN -> line
	uuids := map[string]int{} // entryUUID -> line
	for {
		if sum.Records%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			progress("reading", sum.Records, 0)
		}
		rec, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *ldif.Error
		if errors.As(err, &le) {
			sum.Records++
			sum.Errors = append(sum.Errors, RecordError{Line: le.Line, Err: errors.New(le.Msg)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the file: %w", err)
		}
		sum.Records++
		bad := func(err error) {
			sum.Errors = append(sum.Errors, RecordError{Line: rec.Line, DN: rec.DN, Err: err})
		}
		dn, err := store.ParseDN(rec.DN)
		switch {
		case err != nil:
			bad(err)
			continue
		case len(dn) == 0:
			bad(errors.New("the root DSE (an empty dn) cannot be imported"))
			continue
		case !dn.IsUnder(base):
			bad(fmt.Errorf("not under base_dn %s", base))
			continue
		}
		if line, dup := seen[dn.Norm()]; dup {
			bad(fmt.Errorf("the same entry as the record at line %d", line))
			continue
		}
		seen[dn.Norm()] = rec.Line
		if slices.ContainsFunc(rec.Get("objectClass"), func(v string) bool { return strings.EqualFold(v, "pwdPolicy") }) {
			sum.Skipped = append(sum.Skipped, RecordError{Line: rec.Line, DN: rec.DN,
				Err: errors.New("a password policy entry (objectClass pwdPolicy): dird has one policy, set in the policy section of its configuration")})
			continue
		}
		e := &store.Entry{DN: dn}
		var dropped, notes []string // counted once the record is kept
		for _, a := range rec.Attrs {
			name, _, opts := strings.Cut(a.Type, ";")
			lower := strings.ToLower(store.LookupAttr(name).Name)
			if droppedAttrs[lower] || strings.HasPrefix(lower, "pwd") && !keptPwd[lower] {
				dropped = append(dropped, store.LookupAttr(name).Name)
				continue
			}
			if opts {
				// dird has no attribute options: cn;lang-en is stored as
				// cn, userCertificate;binary as userCertificate.
				notes = append(notes, "attribute options are not kept: "+a.Type+" was stored as "+name)
			}
			canon := store.LookupAttr(name).Name
			e.Set(canon, append(slices.Clone(e.Get(canon)), a.Values...)...)
		}
		if u := strings.ToLower(e.First("entryUUID")); u != "" {
			if line, dup := uuids[u]; dup {
				bad(fmt.Errorf("entryUUID %s is also the record's at line %d", u, line))
				continue
			}
			uuids[u] = rec.Line
		}
		if dn.Equal(adminDN) && hasCredentials(e) {
			sum.Skipped = append(sum.Skipped, RecordError{Line: rec.Line, DN: rec.DN,
				Err: errors.New("the administrator's entry carries a password here; dird keeps that entry itself and checks admin.password from its configuration")})
			continue
		}
		for _, a := range dropped {
			sum.DroppedAttrs[a]++
		}
		for _, n := range notes {
			sum.Notes[n]++
		}
		items = append(items, &importItem{line: rec.Line, rawDN: rec.DN, dn: dn, e: e})
	}
	progress("reading", sum.Records, sum.Records)
	return items, nil
}

func hasCredentials(e *store.Entry) bool {
	for _, a := range e.Attrs {
		if store.LookupAttr(a.Type).Class != store.Public {
			return true
		}
	}
	return false
}

// checkImport runs every entry through the policy door on an overlay of
// the store: the writes an import would make, made where nothing is
// written. It returns the entries that passed, prepared (cleartext
// hashed) and measured, and whether the file brings the base entry.
func checkImport(ctx context.Context, cfg config.Config, kv store.KV, items []*importItem, base, adminDN store.DN,
	sum *ImportSummary, progress func(string, int, int)) (good []*importItem, hasBase bool, err error) {
	// The base and the administrator's entries exist in a store that has
	// been served: the store's are kept.
	stored, err := store.Open(ctx, kv, store.Options{BaseDN: cfg.BaseDN, NoBaseEntry: true})
	if err != nil {
		return nil, false, err
	}
	kept := items[:0]
	for _, it := range items {
		if it.dn.Equal(base) || it.dn.Equal(adminDN) {
			_, err := stored.Get(ctx, it.dn)
			if err == nil {
				sum.Skipped = append(sum.Skipped, RecordError{Line: it.line, DN: it.rawDN,
					Err: errors.New("already in the store (created by dird serve at its first start); the store's entry was kept")})
				continue
			}
			if !errors.Is(err, store.ErrNoSuchObject) {
				return nil, false, err
			}
			hasBase = hasBase || it.dn.Equal(base)
		}
		kept = append(kept, it)
	}
	items = kept

	ov := newOverlay(kv)
	dir, err := store.Open(ctx, ov, store.Options{BaseDN: cfg.BaseDN, NoBaseEntry: hasBase})
	if err != nil {
		return nil, false, err
	}
	door, err := newDoor(cfg, dir)
	if err != nil {
		return nil, false, err
	}
	failed := map[string]int{} // normalised DN -> line of a record that did not pass
	for i, it := range items {
		if i%100 == 0 {
			progress("checking", i, len(items))
		}
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if line, ok := failed[it.dn.Parent().Norm()]; ok && len(it.dn) > len(base) {
			sum.Errors = append(sum.Errors, RecordError{Line: it.line, DN: it.rawDN, Err: fmt.Errorf("its parent (line %d) was not imported", line)})
			failed[it.dn.Norm()] = it.line
			continue
		}
		p, hashed, err := door.PrepareImport(ctx, it.e)
		if err == nil {
			err = door.Import(ctx, []*store.Entry{p})
		}
		if err != nil {
			// The record already names its DN.
			msg := strings.TrimPrefix(err.Error(), "importing "+it.dn.String()+": ")
			sum.Errors = append(sum.Errors, RecordError{Line: it.line, DN: it.rawDN, Err: &causeError{msg, err}})
			failed[it.dn.Norm()] = it.line
			continue
		}
		if hashed {
			sum.Hashed++
		}
		it.e = p
		it.bytes, it.writes = ov.last()
		good = append(good, it)
	}
	progress("checking", len(items), len(items))
	return good, hasBase, nil
}

// writeImport writes the checked entries in batches. If a batch fails, it
// removes what the import wrote before it.
func writeImport(ctx context.Context, cfg config.Config, kv store.KV, items []*importItem, hasBase bool,
	sum *ImportSummary, progress func(string, int, int)) error {
	if len(items) == 0 {
		return nil
	}
	dir, err := store.Open(ctx, kv, store.Options{BaseDN: cfg.BaseDN, NoBaseEntry: hasBase})
	if err != nil {
		return err
	}
	door, err := newDoor(cfg, dir)
	if err != nil {
		return err
	}
	progress("writing", 0, len(items))
	for start := 0; start < len(items); {
		end, bytes, writes := start, 0, 0
		for end < len(items) && end-start < batchEntries &&
			(end == start || bytes+items[end].bytes <= batchBytes && writes+items[end].writes <= batchWrites) {
			bytes += items[end].bytes
			writes += items[end].writes
			end++
		}
		batch := make([]*store.Entry, 0, end-start)
		for _, it := range items[start:end] {
			batch = append(batch, it.e)
		}
		if err := door.Import(ctx, batch); err != nil {
			left, err := rollback(dir, items, start, end, err)
			sum.Imported = left
			return err
		}
		for _, it := range items[start:end] {
			it.e = nil // written; a rollback needs only the DN
		}
		sum.Imported += end - start
		start = end
		progress("writing", start, len(items))
	}
	return nil
}

// rollback removes the entries of items[:done], written before the batch
// items[done:failedEnd] failed with cause, children first, and says in
// which state the store is left; it returns how many of the file's
// entries the store still holds. It runs to the end even when ctx was
// cancelled: an interrupted import is undone too.
func rollback(dir *store.Directory, items []*importItem, done, failedEnd int, cause error) (int, error) {
	where := fmt.Sprintf("writing a batch of %d entries (the first from line %d) failed", failedEnd-done, items[done].line)
	before := " before it"
	if errors.Is(cause, context.Canceled) {
		where, before = "the import was interrupted while writing", ""
	}
	if done == 0 {
		return 0, fmt.Errorf("%s: %w; nothing of the file was written", where, cause)
	}
	ctx := context.Background()
	var baseLeft bool
	for end := done; end > 0; {
		start := max(0, end-batchEntries)
		err := dir.Update(ctx, func(tx *store.Txn) error {
			for i := end - 1; i >= start; i-- {
				if len(items[i].dn) == len(dir.Base()) {
					baseLeft = true // the base entry cannot be deleted
					continue
				}
				if err := tx.Delete(items[i].dn, store.Quiet); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return end, fmt.Errorf("%s: %w; removing the %d entries written%s failed too (%v): the store holds %d of the file's entries, "+
				"parents first; restore a backup, or import into an empty store.path", where, cause, done, before, err, end)
		}
		end = start
	}
	msg := "the store is as it was"
	if baseLeft {
		msg = "the store is as it was, apart from the base entry, which the file brought"
		return 1, fmt.Errorf("%s: %w; the %d entries written%s were removed again: %s", where, cause, done, before, msg)
	}
	return 0, fmt.Errorf("%s: %w; the %d entries written%s were removed again: %s", where, cause, done, before, msg)
}

// causeError rewords an error and keeps it for errors.Is.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }
