// Package server is the HTTP API of `goshawk serve`: health, metrics,
// playbooks, plugins, webhook runs, run history and containers. Write routes need the
// bearer token whenever one is configured; when the API listens beyond
// loopback, every /api route does.
package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/engine/console"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/metrics"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers/cef"
)

// MaxBody is the largest request body accepted: inputs are small, and a
// bound keeps one client from exhausting memory.
const MaxBody = 1 << 20

// Options configures the API.
type Options struct {
	Host *host.Host
	// Token is the bearer token; "" disables auth (loopback only).
	Token string
	// ProtectReads also requires the token on read routes.
	ProtectReads bool
	Log          *slog.Logger
}

// New returns the API handler.
func New(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.read(o.Host.Metrics.Handler()))
	mux.Handle("GET /api/playbooks", s.read(params(nil, s.playbooks)))
	mux.Handle("GET /api/plugins", s.read(params(nil, s.plugins)))
	mux.Handle("GET /api/cluster", s.read(params(nil, s.clusterStatus)))
	mux.Handle("POST /api/playbooks/{name}/run", s.write(http.HandlerFunc(s.runPlaybook)))
	mux.Handle("GET /api/runs", s.read(params(runParams, s.runs)))
	mux.Handle("GET /api/runs/{id}", s.read(params(nil, s.run)))
	mux.Handle("GET /api/containers", s.read(params(containerParams, s.containers)))
	mux.Handle("GET /api/containers/{id}", s.read(params(nil, s.container)))
	// The web console's pages, under the same token rules as the reads.
	console.Mount(mux, console.Options{Host: o.Host, Redact: o.Host.Redactor(), Log: o.Log, Token: o.Token, Protect: o.ProtectReads})
	s.mux = mux
	return s
}

type server struct {
	o   Options
	mux *http.ServeMux
}

// ServeHTTP routes the request. A path no route has is a 404; a path that
// has routes for other methods is a 405 with Allow, both with a JSON
// error body.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	// No route matched: the mux's own answer says which of the two it is.
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, allow))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s; see the HTTP API in the README", r.Method, r.URL.Path))
}

// statusProbe records the status and headers a handler writes, and drops
// its body.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }
func (p *statusProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *statusProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func (s *server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.o.Token == "" {
		return true
	}
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || h == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="goshawk"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <api_token>")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.o.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="goshawk", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "wrong bearer token: check api_token in goshawk.yaml")
		return false
	}
	return true
}

func (s *server) write(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(w, r) {
			next.ServeHTTP(w, r)
		} else if r.Method == http.MethodPost { // the webhook, the one write route
			s.o.Host.Metrics.WebhookRejected(metrics.RejectAuth)
		}
	})
}

func (s *server) read(next http.Handler) http.Handler {
	if !s.o.ProtectReads {
		return next
	}
	return s.write(next)
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) playbooks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.o.Host.PlaybookInfos())
}

// plugins lists every plugin file with the version that serves calls and
// the error of its last load or reload.
func (s *server) plugins(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.o.Host.PluginStatus())
}

// runPlaybook starts a run from a webhook: the JSON body is the inputs.
func (s *server) runPlaybook(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pb, ok := s.o.Host.Playbook(name)
	if !ok {
		writeError(w, http.StatusNotFound, s.o.Host.UnknownPlaybook(name).Error())
		return
	}
	if !pb.Trigger.Webhook {
		writeError(w, http.StatusForbidden, fmt.Sprintf("playbook %s does not accept webhooks; add webhook: true under its trigger", name))
		return
	}
	if err := checkParams(r, []string{"wait"}); err != nil {
		s.o.Host.Metrics.WebhookRejected(metrics.RejectBadInput)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	wait := false
	if v := r.URL.Query().Get("wait"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.o.Host.Metrics.WebhookRejected(metrics.RejectBadInput)
			writeError(w, http.StatusBadRequest, fmt.Sprintf("query parameter wait must be true or false, got %q", v))
			return
		}
		wait = b
	}
	inputs, status, err := decodeInputs(w, r)
	if err != nil {
		s.o.Host.Metrics.WebhookRejected(metrics.RejectBadInput)
		writeError(w, status, err.Error())
		return
	}
	if s.o.Host.Cluster != nil {
		s.runQueued(w, r, pb, inputs, wait)
		return
	}
	// Without ?wait the run is recorded and answered at once, queued when
	// every slot is busy; only a full queue refuses it.
	req := runner.Request{Playbook: pb, Inputs: inputs, Trigger: "webhook", Queue: !wait}
	var rec *store.Run
	if wait {
		// The handler waits for the run anyway, so the run goes on in its
		// goroutine, whose stack has grown already; a fresh goroutine per
		// run grew a stack each time.
		rec, err = s.o.Host.Runner.Run(r.Context(), req)
	} else {
		rec, _, err = s.o.Host.Runner.Start(r.Context(), req)
	}
	switch {
	case errors.Is(err, runner.ErrBadInput):
		s.o.Host.Metrics.WebhookRejected(metrics.RejectBadInput)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, runner.ErrShuttingDown):
		s.o.Host.Metrics.WebhookRejected(metrics.RejectShuttingDown)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case errors.Is(err, runner.ErrQueueFull):
		s.o.Host.Metrics.WebhookRejected(metrics.RejectQueueFull)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case err != nil:
		s.o.Log.Error("webhook run not started", "playbook", name, "err", err)
		writeError(w, http.StatusInternalServerError, "the run could not be started: "+err.Error())
		return
	}
	if !wait {
		writeJSON(w, http.StatusAccepted, map[string]any{"id": rec.ID, "playbook": name, "status": runner.StatusRunning})
		return
	}
	writeOutcome(w, rec)
}

// decodeInputs reads the body as a JSON object of inputs. An empty body is
// no inputs.
func decodeInputs(w http.ResponseWriter, r *http.Request) (map[string]any, int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes; send only the playbook inputs", MaxBody)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("malformed JSON body: %v; send a JSON object of inputs such as {\"ip\": \"1.2.3.4\"}", err)
	}
	if dec.More() {
		return nil, http.StatusBadRequest, errors.New("malformed JSON body: trailing data after the object")
	}
	inputs, ok := v.(map[string]any)
	if !ok {
		return nil, http.StatusBadRequest, errors.New("the JSON body must be an object of inputs such as {\"ip\": \"1.2.3.4\"}")
	}
	return inputs, 0, nil
}

func queryInt(r *http.Request, name string, def, max int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("query parameter %s must be an integer from 0 to %d, got %q", name, max, v)
	}
	return n, nil
}

func pathID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("id must be a positive integer, got %q", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

// The query parameters of the list routes.
var (
	runParams       = []string{"cursor", "limit", "playbook", "since", "status", "trigger", "until"}
	containerParams = []string{"after", "asset", "limit", "severity", "since", "status", "until"}
)

// params answers 400 to a query parameter the route does not take (see
// checkParams), and passes the others on.
func params(known []string, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkParams(r, known); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		next(w, r)
	})
}

// checkParams refuses a query parameter the route does not take, or one
// given twice, naming the ones it takes.
func checkParams(r *http.Request, known []string) error {
	for name, values := range r.URL.Query() {
		if !slices.Contains(known, name) {
			takes := "no query parameters"
			if len(known) > 0 {
				takes = strings.Join(known, ", ")
			}
			return fmt.Errorf("unknown query parameter %q%s; %s %s takes %s", name, hint.DidYouMean(name, known), r.Method, r.URL.Path, takes)
		}
		if len(values) > 1 {
			return fmt.Errorf("query parameter %s is given %d times; give it once", name, len(values))
		}
	}
	return nil
}

// timeRange reads the since and until parameters.
func (s *server) timeRange(r *http.Request) (since, until time.Time, err error) {
	now := s.o.Host.Now()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		if v := r.URL.Query().Get(p.name); v != "" {
			if *p.dst, err = store.ParseTimeFilter("query parameter "+p.name, v, now); err != nil {
				return since, until, err
			}
		}
	}
	return since, until, nil
}

// runs lists runs, newest first, filtered by playbook, status, trigger and
// start time. A full page comes with the cursor of the next one, in the
// X-Next-Cursor header and a Link header with rel="next".
func (s *server) runs(w http.ResponseWriter, r *http.Request) {
	q, err := s.runQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is a next page
	runs, err := s.o.Host.Store.ListRuns(r.Context(), q)
	if runs == nil {
		runs = []store.Run{} // an empty list, not null
	}
	if len(runs) > limit {
		runs = runs[:limit]
		next := strconv.FormatInt(runs[limit-1].ID, 10)
		u := *r.URL
		v := u.Query()
		v.Set("cursor", next)
		u.RawQuery = v.Encode()
		w.Header().Set("X-Next-Cursor", next)
		w.Header().Set("Link", "<"+u.RequestURI()+`>; rel="next"`)
	}
	s.respond(w, runs, err)
}

func (s *server) runQuery(r *http.Request) (store.RunQuery, error) {
	limit, err := queryInt(r, "limit", 50, 1000)
	if err != nil {
		return store.RunQuery{}, err
	}
	if limit == 0 {
		return store.RunQuery{}, errors.New("query parameter limit must be from 1 to 1000, got 0")
	}
	var cursor int64
	if v := r.URL.Query().Get("cursor"); v != "" {
		if cursor, err = strconv.ParseInt(v, 10, 64); err != nil || cursor <= 0 {
			return store.RunQuery{}, fmt.Errorf("query parameter cursor must be the X-Next-Cursor of a previous page, got %q", v)
		}
	}
	since, until, err := s.timeRange(r)
	if err != nil {
		return store.RunQuery{}, err
	}
	get := r.URL.Query().Get
	q := store.RunQuery{Playbook: get("playbook"), Status: get("status"), Trigger: get("trigger"),
		Since: since, Until: until, BeforeID: cursor, Limit: int(limit)}
	if err := q.Check(); err != nil {
		return store.RunQuery{}, fmt.Errorf("query parameter %w", err)
	}
	return q, nil
}

func (s *server) run(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathID(w, r); ok {
		run, err := s.o.Host.Store.GetRun(r.Context(), id)
		s.respond(w, run, err)
	}
}

// containers lists containers by ascending id, filtered by asset,
// severity, status and creation time; after pages on.
func (s *server) containers(w http.ResponseWriter, r *http.Request) {
	q, err := s.containerQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cs, err := s.o.Host.Store.ListContainers(r.Context(), q)
	if cs == nil {
		cs = []cef.Container{}
	}
	s.respond(w, cs, err)
}

func (s *server) containerQuery(r *http.Request) (store.ContainerQuery, error) {
	limit, err := queryInt(r, "limit", 100, 1000)
	if err != nil {
		return store.ContainerQuery{}, err
	}
	after, err := queryInt(r, "after", 0, 1<<62)
	if err != nil {
		return store.ContainerQuery{}, err
	}
	since, until, err := s.timeRange(r)
	if err != nil {
		return store.ContainerQuery{}, err
	}
	get := r.URL.Query().Get
	q := store.ContainerQuery{Asset: get("asset"), Severity: get("severity"), Status: get("status"),
		Since: since, Until: until, AfterID: after, Limit: int(limit)}
	if err := q.Check(); err != nil {
		return store.ContainerQuery{}, fmt.Errorf("query parameter %w", err)
	}
	return q, nil
}

func (s *server) container(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathID(w, r); ok {
		c, err := s.o.Host.Store.Container(r.Context(), id)
		s.respond(w, c, err)
	}
}

func (s *server) respond(w http.ResponseWriter, v any, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case err != nil:
		s.o.Log.Error("api", "err", err)
		writeError(w, http.StatusInternalServerError, "store error: "+err.Error())
	default:
		writeJSON(w, http.StatusOK, v)
	}
}
