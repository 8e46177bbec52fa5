package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/dird/dird/config"
	"github.com/dird/dird/store"
)

// The control socket lets `dird export` and `dird backup` reach a running
// dird serve, which holds the store's lock. It is a unix socket in the
// store's directory (mode 0600, so only the account that runs dird may
// use it), created when serve starts and removed when it stops, speaking
// HTTP/1.1:
//
//	GET /export   the directory as LDIF (see Export)
//	GET /backup   a backup file (see Backup)
//	POST /mfa-reset  remove a user's second factor (ops_mfa.go)
//
// Export and backup stream their body; a failure after the first byte is reported in
// the Dird-Error trailer, which the client checks after the body.

const (
	trailerError   = "Dird-Error"
	trailerEntries = "Dird-Entries"
)

// control is the control socket's server side.
type control struct {
	path   string
	srv    *http.Server
	cancel context.CancelFunc // aborts streams still running at shutdown
	done   chan struct{}
}

// startControl listens on the control socket. A failure is logged, not
// fatal: the directory serves without it, and export and backup say
// clearly that they cannot reach it.
func startControl(cfg config.Config, kv store.KV, dir *store.Directory, log *slog.Logger, mfaReset func(context.Context, string) (MFAResetResult, error)) *control {
	path := controlPath(cfg)
	// serve holds the store's lock, so a socket file there is a leftover
	// of a dird that did not stop cleanly.
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		log.Error("control socket unavailable: dird export and dird backup will not reach this server", "path", path, "err", err)
		return nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		log.Error("control socket unavailable: dird export and dird backup will not reach this server", "path", path, "err", err)
		return nil
	}
	base, cancel := context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		stream(w, "text/x-ldif", func(w io.Writer) (int, error) { return exportLDIF(r.Context(), dir, w) })
	})
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		stream(w, "application/octet-stream", func(w io.Writer) (int, error) { return 0, writeBackup(r.Context(), cfg, kv, w) })
	})
	mux.HandleFunc("POST /mfa-reset", handleMFAReset(mfaReset))
	c := &control{
		path:   path,
		cancel: cancel,
		done:   make(chan struct{}),
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return base },
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	go func() {
		defer close(c.done)
		if err := c.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("control socket failed", "path", path, "err", err)
		}
	}()
	log.Info("listening", "front", "control", "addr", path)
	return c
}

// stream sends what write produces as the response body, and its error
// and entry count as trailers.
func stream(w http.ResponseWriter, contentType string, write func(io.Writer) (int, error)) {
	w.Header().Set("Trailer", trailerError+", "+trailerEntries)
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	n, err := write(w)
	if err != nil {
		w.Header().Set(trailerError, err.Error())
	}
	w.Header().Set(trailerEntries, strconv.Itoa(n))
}

// stop lets streams in flight finish until ctx is done, then aborts them,
// and removes the socket.
func (c *control) stop(ctx context.Context) {
	if c == nil {
		return
	}
	if err := c.srv.Shutdown(ctx); err != nil {
		c.cancel()
		c.srv.Close()
	}
	c.cancel()
	<-c.done
	os.Remove(c.path)
}

// controlClient talks to a running dird serve.
type controlClient struct {
	path string
	hc   *http.Client
}

// dialControl returns a client when a dird serve answers on the control
// socket of cfg's store.
func dialControl(cfg config.Config) (*controlClient, bool) {
	path := controlPath(cfg)
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, false // no socket, or a leftover nobody listens on
	}
	conn.Close()
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	return &controlClient{path: path, hc: &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}}, true
}

// get copies the body of GET path to w and returns the entry count the
// server reported.
func (c *controlClient) get(ctx context.Context, path string, w io.Writer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://dird"+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("asking the running dird serve (%s): %w", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("the running dird serve (%s) answered %s: %s", c.path, resp.Status, msg)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return 0, fmt.Errorf("receiving from the running dird serve (%s): %w", c.path, err)
	}
	if msg := resp.Trailer.Get(trailerError); msg != "" {
		return 0, fmt.Errorf("the running dird serve failed: %s", msg)
	}
	n, err := strconv.Atoi(resp.Trailer.Get(trailerEntries))
	if err != nil {
		return 0, fmt.Errorf("the running dird serve (%s) ended its answer early", c.path)
	}
	return n, nil
}
