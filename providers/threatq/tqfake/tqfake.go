// Package tqfake is an in-process, faithful emulator of the ThreatQuotient
// ThreatQ REST API. The threatq provider's tests run against it over real
// HTTP, and `goshawk demo` mounts its handler so the shipped playbooks have
// something to talk to.
//
// It implements the OAuth password, refresh and client-credentials grants,
// the bearer check on every other route, the list conventions (limit, offset,
// sort, with and `%` filters), the indicator query language, indicator and
// event creation, and the import-session staging routes the Swimlane
// connector uses. Fault knobs (latency, forced statuses, connection resets,
// token revocation) let client tests exercise retries and re-authentication
// without timing luck.
//
// Where the vendor's behaviour is undocumented, the emulator makes a choice
// and the comment of each route says which.
package tqfake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/providers/fakekit"
)

// Default credentials accepted by a Server whose Options leave them empty.
const (
	DefaultEmail        = "analyst@example.com"
	DefaultPassword     = "correct horse battery staple"
	DefaultClientID     = "goshawk-client"
	DefaultClientSecret = "goshawk-client-secret"
)

// DefaultTokenLifetime is how long an access token lives when
// Options.TokenLifetime is zero.
const DefaultTokenLifetime = time.Hour

// maxBodyBytes bounds a request body; anything larger is refused with 413 so
// a runaway client cannot exhaust memory.
const maxBodyBytes = 8 << 20

// Options configure a Server. The zero value is usable.
type Options struct {
	// Email, Password and ClientID are the credentials of the password grant;
	// the Default* constants are used when empty.
	Email, Password, ClientID string
	// ClientSecret is the secret of the client-credentials grant
	// (DefaultClientSecret when empty).
	ClientSecret string
	// TokenLifetime is how long issued access tokens stay valid, measured
	// against Now (DefaultTokenLifetime when zero). Tests set one second and
	// advance the clock to force re-authentication.
	TokenLifetime time.Duration
	// Now is the clock used for token expiry, timestamps and seed dates
	// (time.Now when nil).
	Now func() time.Time
	// Empty starts the server without indicators, events, sources or import
	// sessions. Statuses, indicator types and event types are always present.
	Empty bool
}

// Server is a running (New) or mountable (NewHandler) ThreatQ emulator. All
// methods are safe for concurrent use. The request log and the fault knobs
// (FailNext, ResetNext, LoseResponseNext, SetLatency) are fakekit's.
type Server struct {
	// URL is the base URL of a server started by New, such as
	// http://127.0.0.1:PORT; configure the client's url with it. It is empty
	// for NewHandler.
	URL string

	fakekit.Kit

	opts Options
	now  func() time.Time
	ts   *httptest.Server
	mux  *http.ServeMux

	authMu    sync.Mutex
	tokens    map[string]time.Time // access token -> expiry
	refreshes map[string]string    // refresh token -> access token it was issued with
	issued    int

	mu   sync.RWMutex
	data *dataset
}

// Request is one request as the server received it, with secrets redacted:
// the Authorization and Cookie headers, and password, client_secret and token
// fields in the query string or body.
type Request = fakekit.Request

// New builds a Server and starts it on a loopback port. Call Close when done.
func New(opts Options) *Server {
	s := NewHandler(opts)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// NewHandler builds a Server without starting a listener; mount Handler()
// wherever the API should be served.
func NewHandler(opts Options) *Server {
	if opts.Email == "" {
		opts.Email = DefaultEmail
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Server{
		opts:      opts,
		now:       func() time.Time { return now().UTC() },
		tokens:    map[string]time.Time{},
		refreshes: map[string]string{},
	}
	s.Kit.MaxBody = maxBodyBytes
	s.Kit.Redact = s.redact
	s.Kit.Fail = func(w http.ResponseWriter, status int) {
		s.setCommonHeaders(w)
		writeErrors(w, status, failureText(status))
	}
	s.data = newDataset(s.now().Truncate(time.Second), !opts.Empty)
	s.mux = s.routes()
	return s
}

// Handler returns the HTTP handler serving the API under /api/.
func (s *Server) Handler() http.Handler { return s }

// Close stops a server started by New. It is a no-op for NewHandler.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// ServeHTTP records the request, applies the fault knobs and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Kit.Serve(w, r, s.serve)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte, err error) {
	if errors.Is(err, fakekit.ErrBodyTooLarge) {
		writeErrors(w, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return
	} else if err != nil {
		writeErrors(w, http.StatusBadRequest, "The request body could not be read.")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mux.ServeHTTP(w, r)
}

// failureText is the body of a forced failure, worded as Laravel words it.
func failureText(status int) string {
	if status == http.StatusTooManyRequests {
		return "Too Many Attempts."
	}
	if text := http.StatusText(status); text != "" {
		return text
	}
	return fmt.Sprintf("Error %d", status)
}

// secretKeys are request fields whose values never reach the request log.
var secretKeys = map[string]bool{
	"password":      true,
	"client_secret": true,
	"refresh_token": true,
	"access_token":  true,
}

const redacted = fakekit.Redacted

// redact removes the grant's secrets from a recorded request.
func (s *Server) redact(req *Request) {
	req.RequestURI = redactURI(req.RequestURI)
	req.Body = s.redactBody(req.Body, req.Header.Get("Content-Type"))
}

func redactURI(uri string) string {
	path, query, ok := strings.Cut(uri, "?")
	if !ok {
		return uri
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return path + "?" + redacted
	}
	changed := false
	for k := range values {
		if secretKeys[strings.ToLower(k)] {
			values[k] = []string{redacted}
			changed = true
		}
	}
	if !changed {
		return uri
	}
	return path + "?" + values.Encode()
}

// redactBody removes secrets by field name, then, as a backstop for bodies
// that are neither JSON nor a form, by the configured secret values.
func (s *Server) redactBody(body []byte, contentType string) []byte {
	if len(body) == 0 {
		return nil
	}
	out := body
	var doc any
	if !mayHoldSecretKey(body) {
		// Most bodies are queries and indicators; skip re-parsing them.
	} else if json.Unmarshal(body, &doc) == nil {
		if redactJSON(doc) {
			if b, err := json.Marshal(doc); err == nil {
				out = b
			}
		}
	} else if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		out = []byte(redactURI("?" + string(body))[1:])
	}
	for _, secret := range []string{s.opts.Password, s.opts.ClientSecret} {
		out = bytes.ReplaceAll(out, []byte(secret), []byte(redacted))
	}
	return append([]byte(nil), out...)
}

// mayHoldSecretKey is a cheap pre-check for redactBody: every name in
// secretKeys contains one of these, in any case.
func mayHoldSecretKey(body []byte) bool {
	lower := bytes.ToLower(body)
	return bytes.Contains(lower, []byte("password")) || bytes.Contains(lower, []byte("secret")) ||
		bytes.Contains(lower, []byte("_token"))
}

func redactJSON(v any) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if secretKeys[strings.ToLower(k)] {
				x[k] = redacted
				changed = true
				continue
			}
			changed = redactJSON(child) || changed
		}
	case []any:
		for _, child := range x {
			changed = redactJSON(child) || changed
		}
	}
	return changed
}

// setCommonHeaders adds the headers a real ThreatQ appliance (Apache in front
// of Laravel) sends, including the session cookie clients must not echo.
func (s *Server) setCommonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Server", "Apache")
	h.Set("Vary", "Authorization")
	h.Set("Cache-Control", "no-cache, private")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("X-Xss-Protection", "1; mode=block")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "frame-ancestors 'self';")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains; preload")
	expires := s.now().Add(time.Hour).Format("Mon, 02-Jan-2006 15:04:05 GMT")
	h.Add("Set-Cookie", "threatq_api="+url.QueryEscape(sessionValue())+
		"; expires="+expires+"; Max-Age=3600; path=/api/; secure; HttpOnly; SameSite=Strict")
}

// sessionValue imitates Laravel's encrypted session cookie: base64 JSON.
func sessionValue() string {
	payload := fmt.Sprintf(`{"iv":"%s","value":"%s","mac":"%s"}`, randomToken(16), randomToken(32), randomToken(32))
	return base64.StdEncoding.EncodeToString([]byte(payload))
}

// randomToken returns n random bytes, hex encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails on supported platforms.
	_, _ = rand.Read(b)
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 2*n)
	for i, c := range b {
		out[2*i], out[2*i+1] = hexdigits[c>>4], hexdigits[c&0xf]
	}
	return string(out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// writeErrors writes the list form of a ThreatQ error: {"errors":[...]}.
func writeErrors(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, map[string]any{"errors": msgs})
}

// validationErrors is the body of a 400 from Laravel validation:
// {"data":{"errors":{"field":["message", ...]}}}.
type validationErrors map[string][]string

func (v validationErrors) add(field, msg string) { v[field] = append(v[field], msg) }

func (v validationErrors) write(w http.ResponseWriter) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"data": map[string]any{"errors": map[string][]string(v)}})
}

func writeNotFound(w http.ResponseWriter) {
	writeErrors(w, http.StatusNotFound, "Object not found")
}

// routes builds the mux. Routes other than the token endpoint require a
// valid bearer token; unknown routes answer 404 without one, as Laravel
// matches routes before it runs authentication middleware.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.withHeaders(s.requireToken(h)))
	}
	mux.Handle("POST /api/token", s.withHeaders(http.HandlerFunc(s.handleToken)))

	handle("GET /api/indicators", s.handleListIndicators)
	handle("POST /api/indicators", s.handleCreateIndicators)
	handle("POST /api/indicators/query", s.handleQueryIndicators)
	handle("GET /api/indicators/search", s.handleSearchIndicators)
	handle("GET /api/indicators/{id}", s.handleGetIndicator)
	handle("DELETE /api/indicators/{id}", s.handleDeleteIndicator)

	handle("GET /api/events", s.handleListEvents)
	handle("POST /api/events", s.handleCreateEvent)
	handle("GET /api/events/{id}", s.handleGetEvent)

	handle("GET /api/imports/{id}/events", s.handleListStagedEvents)
	handle("GET /api/imports/{id}/indicators", s.handleListStagedIndicators)
	handle("PUT /api/imports/{id}/indicators/{iid}", s.handleUpdateStagedIndicator)
	handle("DELETE /api/imports/{id}/indicators/{iid}", s.handleDeleteStagedIndicator)

	handle("GET /api/indicator/types", s.handleListIndicatorTypes)
	handle("GET /api/indicator/types/{id}", s.handleGetIndicatorType)
	handle("GET /api/indicator/statuses", s.handleListStatuses)
	handle("GET /api/indicator/statuses/{id}", s.handleGetStatus)
	handle("GET /api/event/types", s.handleListEventTypes)
	handle("GET /api/event/types/{id}", s.handleGetEventType)

	mux.Handle("/", s.withHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, "Not found.")
	})))
	return mux
}

func (s *Server) withHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.setCommonHeaders(w)
		h.ServeHTTP(w, r)
	})
}
