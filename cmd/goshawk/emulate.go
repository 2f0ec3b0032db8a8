package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// The emulators' fixed ports: next to serve's 8470, so a config written
// once keeps working across restarts.
const (
	defaultTCEmulator = "127.0.0.1:8471"
	defaultTQEmulator = "127.0.0.1:8472"
)

// emulatorEnv are the variables the printed asset config reads, named as
// in the README's example config, so moving from the emulators to the real
// platforms changes the URLs and the values, not the config's shape.
var emulatorEnv = []struct{ name, value string }{
	{"TC_ACCESS_ID", tcfake.DefaultAccessID},
	{"TC_SECRET_KEY", tcfake.DefaultSecretKey},
	{"TQ_PASSWORD", tqfake.DefaultPassword},
	{"TQ_CLIENT_ID", tqfake.DefaultClientID},
}

// emulatorAssets is the assets: section that reaches the emulators.
const emulatorAssets = `assets:
  tc:
    provider: threatconnect
    base_url: %s
    access_id: ${TC_ACCESS_ID}
    secret_key: ${TC_SECRET_KEY}
    max_containers: 100
    interval_days: 7
  tq:
    provider: threatq
    url: %s
    email: %s
    password: ${TQ_PASSWORD}
    client_id: ${TQ_CLIENT_ID}
`

type emulateFlags struct {
	tc, tq string
}

func (a *app) emulateCommand() *cobra.Command {
	var f emulateFlags
	c := &cobra.Command{
		Use:   "emulate",
		Short: "serve the built-in ThreatConnect and ThreatQ emulators until interrupted",
		Long: `Serve the built-in emulators of the ThreatConnect and ThreatQ APIs, with
their sample data, on fixed loopback ports, and print the assets: section
of a goshawk.yaml that reaches them and the export lines of the variables it
reads. Then goshawk act, poll and run work against them as against the real
platforms: develop a playbook, run it, and save its runs as tests (goshawk
runs save). Runs until Ctrl-C; the data lives in memory and starts afresh
each time. With -v each request is logged.`,
		Example: "  goshawk emulate\n  goshawk emulate --tc-listen 127.0.0.1:9471 --tq-listen 127.0.0.1:9472\n  goshawk emulate -v",
		Args:    argsBetween(0, 0),
		RunE: body(func(ctx context.Context, _ []string) int {
			return cmdEmulate(ctx, a, f, nil)
		}),
	}
	c.Flags().StringVar(&f.tc, "tc-listen", defaultTCEmulator, "loopback address of the ThreatConnect emulator")
	c.Flags().StringVar(&f.tq, "tq-listen", defaultTQEmulator, "loopback address of the ThreatQ emulator")
	return c
}

// cmdEmulate serves the emulators until ctx ends. ready, when set, is
// called once both listen (tests use it).
func cmdEmulate(ctx context.Context, a *app, f emulateFlags, ready func(tcURL, tqURL string)) int {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, l := range []struct{ flag, addr string }{{"--tc-listen", f.tc}, {"--tq-listen", f.tq}} {
		if !config.IsLoopback(l.addr) {
			return a.fail(usagef("%s %s: the emulators accept well-known credentials, so they listen only on a loopback address such as 127.0.0.1:8471", l.flag, l.addr))
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return a.fail(usagef("%s %s: %v; choose another address with %s", l.flag, l.addr, err, l.flag))
		}
		lns = append(lns, ln)
	}
	tcURL, tqURL := "http://"+lns[0].Addr().String(), "http://"+lns[1].Addr().String()

	tc := tcfake.NewHandler(tcfake.Options{})
	tc.SetURL(tcURL)
	tq := tqfake.NewHandler(tqfake.Options{})
	tq.URL = tqURL
	tq.AddSharedIndicator(time.Now().UTC())

	errc := make(chan error, 2)
	var servers []*http.Server
	for i, h := range []http.Handler{tc.Handler(), tq.Handler()} {
		name := []string{"threatconnect", "threatq"}[i]
		srv := &http.Server{Handler: logRequests(a.log.With("emulator", name), h), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func(ln net.Listener) { errc <- srv.Serve(ln) }(lns[i])
	}
	lns = nil // the servers own them now

	printEmulators(a.stdout, tcURL, tqURL)
	if ready != nil {
		ready(tcURL, tqURL)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(shut)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return a.fail(err)
	}
	fmt.Fprintln(a.stdout, "emulators stopped")
	return exitOK
}

func printEmulators(w io.Writer, tcURL, tqURL string) {
	fmt.Fprintf(w, "goshawk emulate: the built-in emulators, with their sample data\n")
	fmt.Fprintf(w, "  ThreatConnect  %s\n  ThreatQ        %s\n\n", tcURL, tqURL)
	fmt.Fprintf(w, "Assets for goshawk.yaml:\n\n")
	fmt.Fprintf(w, emulatorAssets, tcURL, tqURL, tqfake.DefaultEmail)
	fmt.Fprintf(w, "\nThe emulators' credentials, for the shell that runs goshawk:\n\n")
	for _, e := range emulatorEnv {
		fmt.Fprintf(w, "export %s=%s\n", e.name, shellQuote(e.value))
	}
	fmt.Fprintf(w, "\nTry: goshawk act tc hunt_ip ip=%s\n", tcfake.SeedIPv4)
	fmt.Fprintf(w, "Serving until Ctrl-C.\n")
}

// logRequests logs each request at debug level (goshawk -v emulate).
func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start).Round(time.Microsecond))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
