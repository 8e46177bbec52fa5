package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dird/dird/config"
	"github.com/dird/dird/server"
)

// Exit codes. A configuration the administrator must fix is told apart
// from a failure while running, so a supervisor need not restart a
// process that can never start.
const (
	exitOK      = 0
	exitFailure = 1 // the server failed while starting or running
	exitUsage   = 2 // bad command line or bad configuration
)

// exitError carries the exit code for err.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run executes the command line args and returns the exit code. Every
// error is printed as one line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		prefix := "dird"
		if ce := (*cmdError)(nil); errors.As(err, &ce) {
			prefix += " " + ce.cmd // "dird import: ..."
		}
		fmt.Fprintf(stderr, "%s: %s\n", prefix, oneLine(err.Error()))
		return ee.code
	}
	// Anything else is cobra refusing the command line.
	fmt.Fprintf(stderr, "dird: %s (see dird --help)\n", oneLine(err.Error()))
	return exitUsage
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "dird",
		Short: "dird is a directory server: LDAP, RADIUS and a web portal over one store",
		// Errors are printed once, by run, as one line; usage is for --help.
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().String("config", "", "the configuration `FILE` (default $DIRD_CONFIG)")
	root.AddCommand(
		newServeCmd(stderr),
		newCheckConfigCmd(stdout),
		newVersionCmd(stdout),
		newImportCmd(stdout, stderr),
		newExportCmd(stdout, stderr),
		newBackupCmd(stdout),
		newRestoreCmd(stdout),
		newMFAResetCmd(stdout, stderr),
	)
	return root
}

func newServeCmd(stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every front over the store until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := configPath(cmd)
			if err != nil {
				return err
			}
			cfg, err := config.Load(path)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			log := newLogger(stderr, cfg.Log)

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// After the first signal, restore the default handling, so a
			// second one ends a shutdown that hangs.
			context.AfterFunc(ctx, stop)

			if addr, _ := cmd.Flags().GetString("pprof"); addr != "" {
				if err := startPprof(ctx, addr, log); err != nil {
					return &exitError{exitUsage, err}
				}
			}
			log.Info("starting", "version", version, "config", path)
			// server.Run logs the listeners and the shutdown itself.
			if err := server.Run(ctx, cfg, log, reloads(ctx, path, log)); err != nil {
				return &exitError{exitFailure, err}
			}
			return nil
		},
	}
	// Hidden: a developer's tool (make bench, profiling), not part of the
	// contract an administrator relies on.
	cmd.Flags().String("pprof", "", "serve Go's profiler on this loopback address")
	_ = cmd.Flags().MarkHidden("pprof")
	return cmd
}

func newCheckConfigCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "Load and validate the configuration, exactly as serve does, and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := configPath(cmd)
			if err != nil {
				return err
			}
			if _, err := config.Load(path); err != nil {
				return &exitError{exitUsage, err}
			}
			fmt.Fprintln(stdout, "configuration ok")
			return nil
		},
	}
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			fmt.Fprintf(stdout, "dird %s\n", version)
		},
	}
}

// configPath returns --config, or $DIRD_CONFIG when the flag is not given.
// There is no default file: serving a configuration nobody chose is worse
// than refusing to start.
func configPath(cmd *cobra.Command) (string, error) {
	path, err := cmd.Flags().GetString("config")
	if err != nil {
		return "", err
	}
	if path == "" {
		path = os.Getenv("DIRD_CONFIG")
	}
	if path == "" {
		return "", &exitError{exitUsage, errors.New("--config FILE is required (or set DIRD_CONFIG)")}
	}
	return path, nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// newLogger writes at the configured level and format. config.Validate
// has checked both, so the fallback to info is never taken in practice.
func newLogger(w io.Writer, c config.LogConfig) *slog.Logger {
	level, err := c.SlogLevel()
	if err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
