package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/dird/dird/config"
	"github.com/dird/dird/internal/ldif"
	"github.com/dird/dird/store"
)

// Export writes the whole directory as LDIF to w, parents before
// children, with every stored attribute: password hashes, ppolicy state,
// entryUUID and timestamps included (it is a migration and backup
// format). Computed attributes (memberOf, hasSubordinates, entryDN) are
// left out, so that OpenLDAP's slapadd and dird import both load it. It
// asks a running dird serve over its control socket, or reads the store
// itself when none runs. It returns the number of entries written.
func Export(ctx context.Context, cfg config.Config, w io.Writer) (int, error) {
	if c, ok := dialControl(cfg); ok {
		return c.get(ctx, "/export", w)
	}
	kv, err := openStore(cfg, true, noSocket(cfg))
	if err != nil {
		return 0, err
	}
	defer kv.Close()
	// A store that was never served has no base entry; export does not
	// create one.
	dir, err := store.Open(ctx, kv, store.Options{BaseDN: cfg.BaseDN, NoBaseEntry: true})
	if err != nil {
		return 0, err
	}
	return exportLDIF(ctx, dir, w)
}

// noSocket is what to say when the store is locked but no control socket
// answers.
func noSocket(cfg config.Config) string {
	return fmt.Sprintf("its control socket %s does not answer (is that dird older, or was the socket removed?); "+
		"restart it, or stop it and run this command again", controlPath(cfg))
}

// exportLDIF writes every entry of dir in key order, which puts parents
// before their children.
func exportLDIF(ctx context.Context, dir *store.Directory, w io.Writer) (int, error) {
	lw := ldif.NewWriter(w)
	n := 0
	req := store.SearchRequest{Base: dir.Base(), Scope: store.ScopeSubtree,
		Filter: store.Filter{Kind: store.FilterPresent, Attr: "objectClass"}, Admin: true}
	err := dir.Search(ctx, req, func(e *store.Entry) error {
		rec := &ldif.Record{DN: e.DN.String(), Attrs: make([]ldif.Attr, 0, len(e.Attrs))}
		for _, a := range e.Attrs {
			rec.Attrs = append(rec.Attrs, ldif.Attr{Type: a.Type, Values: a.Values})
		}
		n++
		return lw.Write(rec)
	})
	if errors.Is(err, store.ErrNoSuchObject) && n == 0 {
		err = nil // no base entry: an empty directory
	}
	if err != nil {
		return n, fmt.Errorf("exporting: %w", err)
	}
	if err := lw.Flush(); err != nil {
		return n, fmt.Errorf("exporting: %w", err)
	}
	return n, nil
}

// backupHeader is the first line of a backup file, before the backend's
// own stream: it lets restore refuse a file that is not a dird backup, or
// one of another backend or directory.
type backupHeader struct {
	Format  string `json:"format"` // backupFormat
	Version int    `json:"version"`
	Backend string `json:"backend"`
	// Compression of what follows the header: "zstd".
	Compression string    `json:"compression"`
	BaseDN      string    `json:"base_dn"`
	Created     time.Time `json:"created"`
}

const (
	backupFormat  = "dird-backup"
	backupVersion = 1
)

// writeBackup writes the header line and the backend's consistent online
// backup of kv, compressed: Badger's stream holds every index key in full
// and is about four times the store's size on disk; zstd at its fastest
// level makes it a fraction of it, faster than the disk would take the
// difference.
func writeBackup(ctx context.Context, cfg config.Config, kv store.KV, w io.Writer) error {
	b, ok := kv.(store.Backuper)
	if !ok {
		return fmt.Errorf("store.backend %s cannot make backups", cfg.Store.Backend)
	}
	h, err := json.Marshal(backupHeader{Format: backupFormat, Version: backupVersion, Backend: cfg.Store.Backend,
		Compression: "zstd", BaseDN: cfg.BaseDN, Created: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		return err
	}
	if _, err := w.Write(append(h, '\n')); err != nil {
		return fmt.Errorf("writing backup: %w", err)
	}
	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	if err := b.Backup(ctx, zw); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing backup: %w", err)
	}
	return nil
}

// Backup writes one file's worth of consistent backup of the store to w:
// through a running dird serve's control socket (the backend's online
// snapshot, which does not pause the service), or from the store itself
// when none runs.
func Backup(ctx context.Context, cfg config.Config, w io.Writer) error {
	if c, ok := dialControl(cfg); ok {
		_, err := c.get(ctx, "/backup", w)
		return err
	}
	kv, err := openStore(cfg, true, noSocket(cfg))
	if err != nil {
		return err
	}
	defer kv.Close()
	return writeBackup(ctx, cfg, kv, w)
}

// ErrNotEmpty is wrapped by Restore's error when the store holds data.
var ErrNotEmpty = errors.New("server: store not empty")

// Restore fills an empty store from a backup written by Backup, with the
// server stopped. It refuses a file that is not a dird backup, a backup
// of another backend or base_dn, and a store that holds anything. It
// returns the number of entries restored.
func Restore(ctx context.Context, cfg config.Config, r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, errors.New("this is not a dird backup file (no header line)")
	}
	var h backupHeader
	if err := json.Unmarshal(line, &h); err != nil || h.Format != backupFormat {
		return 0, errors.New("this is not a dird backup file (bad header line)")
	}
	if h.Version != backupVersion {
		return 0, fmt.Errorf("this backup has version %d; this dird reads version %d", h.Version, backupVersion)
	}
	if h.Compression != "zstd" {
		return 0, fmt.Errorf("this backup's compression %q is not one this dird reads (zstd)", h.Compression)
	}
	if h.Backend != cfg.Store.Backend {
		return 0, fmt.Errorf("this is a backup of a %s store; store.backend is %s", h.Backend, cfg.Store.Backend)
	}
	if want, err1 := store.NormalizeDN(cfg.BaseDN); err1 != nil || !strings.EqualFold(want, mustNorm(h.BaseDN)) {
		return 0, fmt.Errorf("this is a backup of base_dn %s; the configuration has base_dn %s", h.BaseDN, cfg.BaseDN)
	}
	kv, err := openStore(cfg, false, "stop it first (restore fills an empty store)")
	if err != nil {
		return 0, err
	}
	defer kv.Close()
	empty, err := isEmpty(ctx, kv)
	if err != nil {
		return 0, err
	}
	if !empty {
		return 0, &opsError{msg: fmt.Sprintf("the store at %s is not empty; restore fills an empty store only: move that directory aside, "+
			"or set store.path to a new one, and run restore again", cfg.Store.Path), sentinel: ErrNotEmpty}
	}
	rs, ok := store.KV(kv).(store.Restorer)
	if !ok {
		return 0, fmt.Errorf("store.backend %s cannot restore backups", cfg.Store.Backend)
	}
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	if err := rs.Restore(ctx, zr); err != nil {
		return 0, fmt.Errorf("%w; the store at %s now holds part of the backup: remove that directory before trying again", err, cfg.Store.Path)
	}
	dir, err := store.Open(ctx, kv, store.Options{BaseDN: cfg.BaseDN, NoBaseEntry: true})
	if err != nil {
		return 0, err
	}
	// A backup from before the password change index gets it here
	// rather than at the first start.
	if _, err := dir.EnsurePwdChangedIndex(ctx); err != nil {
		return 0, err
	}
	return exportLDIF(ctx, dir, io.Discard)
}

func mustNorm(dn string) string {
	n, err := store.NormalizeDN(dn)
	if err != nil {
		return "\x00invalid"
	}
	return n
}
