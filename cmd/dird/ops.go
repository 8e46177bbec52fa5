package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dird/dird/config"
	"github.com/dird/dird/server"
)

// The operations commands: import, export, backup, restore. Each loads
// the configuration, hands the work to package server, and prints what
// happened. Their failures print as "dird <command>: ...".

// cmdError names the command a failure belongs to, for run's message.
type cmdError struct {
	cmd string
	err error
}

func (e *cmdError) Error() string { return e.err.Error() }
func (e *cmdError) Unwrap() error { return e.err }

func failed(cmd string, err error) error {
	return &exitError{exitFailure, &cmdError{cmd, err}}
}

// interruptible returns the command's context, cancelled by the first
// SIGINT or SIGTERM (a second one kills the process): an import or a
// restore cancelled this way undoes or reports what it wrote, and a
// backup removes its unfinished file.
func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	return ctx, stop
}

// loadConfig reads --config as serve does.
func loadConfig(cmd *cobra.Command) (config.Config, error) {
	path, err := configPath(cmd)
	if err != nil {
		return config.Config{}, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return config.Config{}, &exitError{exitUsage, err}
	}
	return cfg, nil
}

// maxListed bounds the bad records import lists; a file for the wrong
// base_dn would otherwise print one line per record.
const maxListed = 50

func newImportCmd(stdout, stderr io.Writer) *cobra.Command {
	var continueOnError bool
	cmd := &cobra.Command{
		Use:   "import [--continue-on-error] FILE.ldif",
		Short: "Load an LDIF file (OpenLDAP slapcat output too) into the store, with the server stopped",
		Long: `Load an LDIF file (RFC 2849; OpenLDAP slapcat output too) into the store,
with dird serve stopped. Parents are loaded before children whatever the
file's order; password hashes, entryUUID, timestamps and ppolicy state are
kept; OpenLDAP internals and pwdPolicy entries are dropped, and a summary
says what was. Every record is checked before anything is written: one bad
record means nothing is written, unless --continue-on-error. FILE may be -
for standard input. Exit status 0 only if every record was loaded.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			in, name, err := openInput(args[0])
			if err != nil {
				return failed("import", err)
			}
			defer in.Close()
			ctx, stop := interruptible(cmd)
			defer stop()
			p := newProgress(stderr)
			sum, err := server.Import(ctx, cfg, in, server.ImportOptions{ContinueOnError: continueOnError, Progress: p.update})
			p.finish()
			if sum != nil {
				printImport(stdout, stderr, sum, name, err != nil)
			}
			if err != nil {
				return failed("import", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&continueOnError, "continue-on-error", false, "import every good record and list the bad ones (the exit status is still 1)")
	return cmd
}

func openInput(arg string) (io.ReadCloser, string, error) {
	if arg == "-" {
		return io.NopCloser(os.Stdin), "standard input", nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, "", err
	}
	return f, arg, nil
}

// printImport writes the summary on stdout and the bad records on
// stderr.
func printImport(stdout, stderr io.Writer, sum *server.ImportSummary, name string, failed bool) {
	for i, e := range sum.Errors {
		if i == maxListed {
			fmt.Fprintf(stderr, "dird import: ... and %d more records that cannot be imported\n", len(sum.Errors)-maxListed)
			break
		}
		fmt.Fprintf(stderr, "dird import: %s\n", oneLine(e.Error()))
	}
	if sum.Imported > 0 || !failed {
		rate := ""
		if s := sum.Elapsed.Seconds(); s > 0 && sum.Imported > 0 {
			rate = fmt.Sprintf(" (%.0f entries/s)", float64(sum.Imported)/s)
		}
		fmt.Fprintf(stdout, "imported %s from %s in %s%s\n", plural(sum.Imported, "entry"), name, sum.Elapsed.Round(time.Millisecond), rate)
	}
	if sum.Hashed > 0 {
		fmt.Fprintf(stdout, "hashed %s (each checked against the password policy first)\n", plural(sum.Hashed, "cleartext password"))
	}
	if len(sum.DroppedAttrs) > 0 {
		fmt.Fprintln(stdout, "dropped attributes (OpenLDAP internals, and what dird computes itself):")
		for _, k := range sortedKeys(sum.DroppedAttrs) {
			fmt.Fprintf(stdout, "  %-24s %s\n", k, entries(sum.DroppedAttrs[k]))
		}
	}
	if len(sum.Skipped) > 0 {
		fmt.Fprintln(stdout, "records left out:")
		for _, e := range sum.Skipped {
			fmt.Fprintf(stdout, "  %s\n", oneLine(e.Error()))
		}
	}
	if len(sum.Notes) > 0 {
		fmt.Fprintln(stdout, "notes:")
		for _, k := range sortedKeys(sum.Notes) {
			fmt.Fprintf(stdout, "  %s (%s)\n", k, entries(sum.Notes[k]))
		}
	}
}

func entries(n int) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

func plural(n int, what string) string {
	switch {
	case n == 1:
		return "1 " + what
	case strings.HasSuffix(what, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func newExportCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "export",
		Short: "Write the whole directory as LDIF on stdout, password hashes included",
		Long: `Write the whole directory as LDIF on standard output, parents before
children, with password hashes, ppolicy state, entryUUID and timestamps: a
migration and backup format that dird import and OpenLDAP's slapadd load.
It works whether or not dird serve runs (it asks the running server over
its control socket, <store.path>/dird.sock).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			n, err := server.Export(ctx, cfg, stdout)
			if err != nil {
				return failed("export", err)
			}
			if isTerminal(stderr) {
				fmt.Fprintf(stderr, "dird export: %d entries\n", n)
			}
			return nil
		},
	}
}

func newBackupCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "backup OUT",
		Short: "Write a consistent backup of the store to the file OUT, while dird serve runs or not",
		Long: `Write a consistent backup of the store to the file OUT (- for standard
output). While dird serve runs, the backup is taken through its control
socket as an online snapshot, without pausing the service; otherwise from
the store itself. OUT appears only once the backup is complete.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			start := time.Now()
			if args[0] == "-" {
				if err := server.Backup(ctx, cfg, stdout); err != nil {
					return failed("backup", err)
				}
				return nil
			}
			size, err := backupToFile(ctx, cfg, args[0])
			if err != nil {
				return failed("backup", err)
			}
			fmt.Fprintf(stdout, "backup of %s written to %s: %s in %s\n", cfg.Store.Path, args[0], humanBytes(size), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}

// backupToFile writes the backup next to out and renames it into place
// once complete and synced, so a failed backup never looks like one.
func backupToFile(ctx context.Context, cfg config.Config, out string) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := server.Backup(ctx, cfg, f); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, err
	}
	ok = true
	return st.Size(), nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func newRestoreCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "restore IN",
		Short: "Fill an empty store from a backup file, with the server stopped",
		Long: `Fill an empty store (store.path) from a backup file written by dird
backup (- for standard input), with dird serve stopped. A store that holds
anything is refused: move it aside or point store.path at a new directory.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			in, name, err := openInput(args[0])
			if err != nil {
				return failed("restore", err)
			}
			defer in.Close()
			ctx, stop := interruptible(cmd)
			defer stop()
			start := time.Now()
			n, err := server.Restore(ctx, cfg, in)
			if err != nil {
				return failed("restore", err)
			}
			fmt.Fprintf(stdout, "restored %d entries from %s into %s in %s\n", n, name, cfg.Store.Path, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}

func newMFAResetCmd(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "mfa-reset USER",
		Short: "Remove a user's authenticator app and recovery codes, while dird serve runs or not",
		Long: `Remove the second factor of USER (a uid, or a full DN): the authenticator
app (TOTP), an enrolment not yet confirmed, and the unused recovery codes,
for a person who lost the phone and the codes, or whose secret no longer
opens (after a modrdn, or a restore without seal.key). The portal then
asks only for the password, and the person can set up an app again in
Security. The person is emailed, and an audit line names the change.
While dird serve runs it goes through its control socket
(<store.path>/dird.sock); otherwise the store is opened directly and the
audit line is written on standard error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			res, err := server.MFAReset(ctx, cfg, args[0], newLogger(stderr, cfg.Log))
			if errors.Is(err, server.ErrBadUser) {
				return &exitError{exitUsage, &cmdError{"mfa-reset", err}}
			}
			if err != nil {
				return failed("mfa-reset", err)
			}
			fmt.Fprintln(stdout, mfaResetLine(res))
			if res.MailError != "" {
				fmt.Fprintf(stderr, "dird mfa-reset: the email telling %s could not be sent: %s\n", res.DN, oneLine(res.MailError))
			}
			return nil
		},
	}
}

// mfaResetLine says in one line what dird mfa-reset removed.
func mfaResetLine(r server.MFAResetResult) string {
	var parts []string
	if r.App {
		parts = append(parts, "the authenticator app")
	}
	if r.Pending {
		if r.App {
			parts = append(parts, "an unconfirmed replacement")
		} else {
			parts = append(parts, "an unconfirmed authenticator app")
		}
	}
	if r.RecoveryCodes > 0 {
		parts = append(parts, plural(r.RecoveryCodes, "unused recovery code"))
	}
	ended := ""
	if r.Sessions > 0 {
		ended = "; ended " + plural(r.Sessions, "portal session")
	}
	if len(parts) == 0 {
		return r.DN + " has no authenticator app" + ended
	}
	what := parts[len(parts)-1]
	if len(parts) > 1 {
		what = strings.Join(parts[:len(parts)-1], ", ") + " and " + what
	}
	line := "removed " + what + " of " + r.DN + ended
	if r.Mailed != "" {
		line += "; " + r.Mailed + " was told by email"
	}
	return line
}
