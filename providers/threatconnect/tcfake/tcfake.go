// Package tcfake is an in-process emulator of the ThreatConnect v3 REST API,
// faithful to the parts goshawk uses: HMAC authentication, owners, indicator
// search with TQL, sorting and paging, and indicator create-or-update. The
// ThreatConnect provider's tests run against it over real HTTP, and
// `goshawk demo` mounts its handler to serve sample data.
//
// It checks requests the way TC does rather than the way the client is
// written: the signature is recomputed here from the raw request-target, so
// a signer that re-encodes a query fails against the emulator as it would
// against TC. Knobs inject latency, forced error statuses, connection resets
// and clock skew.
package tcfake

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/providers/fakekit"
)

// The credentials the emulator accepts unless Options says otherwise; they
// are the ones the golden signing vectors are computed with.
const (
	DefaultAccessID  = "12345678901234567890"
	DefaultSecretKey = "SECRETKEY"
)

// maxTimestampSkew is how far a request's Timestamp may be from the server
// clock, in seconds, before TC refuses it.
const maxTimestampSkew = 300

// maxBody bounds request bodies; TC's indicator bodies are a few kilobytes.
const maxBody = 1 << 20

// The authentication failure texts TC documents.
const (
	msgAccessDenied      = "Access Denied"
	msgSignatureMismatch = "Signature data did not match expected result"
	msgTimestampRange    = "Timestamp out of acceptable time range"
)

// Options configures a Server. The zero value gives the default credentials,
// the real clock and the seeded dataset.
type Options struct {
	AccessID, SecretKey string
	// Now is the server clock; it drives the Timestamp window, the dates
	// of new indicators and the seed's dates.
	Now func() time.Time
	// Empty starts the server with no indicators instead of the seed.
	Empty bool
}

// Request is one request as the emulator received it, with the
// Authorization header redacted.
type Request = fakekit.Request

// Server is the emulator. All its methods are safe for concurrent use. The
// request log and the fault knobs (FailNext, ResetNext, LoseResponseNext,
// SetLatency) are fakekit's.
type Server struct {
	fakekit.Kit

	// URL is the base a client configures: base_url = URL routes to /v3 and
	// base_url = URL+"/api" routes to /api/v3. It is empty for NewHandler
	// until SetURL is called.
	URL string

	accessID, secretKey string
	now                 func() time.Time
	user                User

	ts *httptest.Server

	mu   sync.RWMutex
	data *dataset

	knobMu sync.Mutex
	base   string
	skew   time.Duration
}

// New builds a Server and starts it on a loopback port.
func New(opts Options) *Server {
	s := NewHandler(opts)
	s.ts = httptest.NewServer(s)
	s.SetURL(s.ts.URL)
	return s
}

// NewHandler builds a Server without starting it, for mounting its Handler
// in another server. Call SetURL with the address it is reached at, so that
// next and prev links are absolute; without it they use the request's Host.
func NewHandler(opts Options) *Server {
	s := &Server{
		accessID:  cmp.Or(opts.AccessID, DefaultAccessID),
		secretKey: cmp.Or(opts.SecretKey, DefaultSecretKey),
		now:       opts.Now,
		data:      newDataset(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.Kit.MaxBody = maxBody
	s.Kit.Fail = func(w http.ResponseWriter, status int) {
		writeError(w, status, errCodeFor(status), http.StatusText(status))
	}
	s.user = User{ID: 2251700814002001, Owner: seedOwners[0].Name, UserName: s.accessID, FirstName: "API", LastName: "User", Pseudonym: "APIUserYSRPA"}
	if !opts.Empty {
		for _, ind := range seedIndicators(s.now().UTC().Truncate(time.Second)) {
			s.add(ind)
		}
	}
	return s
}

// Handler returns the HTTP handler serving the /v3 and /api/v3 routes.
func (s *Server) Handler() http.Handler { return s }

// SetURL sets the base URL that next and prev links start with; use the
// value clients configure as base_url without "/api".
func (s *Server) SetURL(u string) {
	u = strings.TrimRight(u, "/")
	s.knobMu.Lock()
	s.base = u
	s.URL = u
	s.knobMu.Unlock()
}

// Close stops the server started by New; it is a no-op for NewHandler.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// SetClockSkew moves the server clock by d relative to Options.Now.
func (s *Server) SetClockSkew(d time.Duration) {
	s.knobMu.Lock()
	s.skew = d
	s.knobMu.Unlock()
}

func (s *Server) clock() time.Time {
	s.knobMu.Lock()
	skew := s.skew
	s.knobMu.Unlock()
	return s.now().Add(skew)
}

// AddIndicator stores ind as given, for tests that plant data: it fills
// only what is zero (id, owner, summary or value fields, dates, the ids of
// tags, labels and attributes) and replaces an indicator with the same id.
// It does not validate, so tests can plant shapes TC would refuse to create.
// Active is stored as given: set it for an indicator searches should return.
func (s *Server) AddIndicator(ind Indicator) Indicator {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(ind.clone())
}

func (s *Server) add(ind Indicator) Indicator {
	if ind.OwnerID == 0 && ind.OwnerName == "" {
		ind.OwnerID, ind.OwnerName = seedOwners[0].ID, seedOwners[0].Name
	} else if o, ok := ownerByName(ind.OwnerName); ok && ind.OwnerID == 0 {
		ind.OwnerID = o.ID
	}
	// Planted data may be deliberately odd: keep it as given unless its
	// values and summary can be made to agree.
	if filled := ind.clone(); fillValues(&filled, false) == nil {
		ind = filled
	}
	if ind.ID == 0 {
		ind.ID = s.data.allocID()
	}
	if ind.DateAdded.IsZero() {
		ind.DateAdded = s.clock()
	}
	ind.DateAdded = ind.DateAdded.UTC().Truncate(time.Second)
	if ind.LastModified.IsZero() {
		ind.LastModified = ind.DateAdded
	}
	ind.LastModified = ind.LastModified.UTC().Truncate(time.Second)
	s.data.completeRefs(&ind, s.user)
	return s.data.put(ind).ind.clone()
}

// Indicators returns a snapshot of every indicator, active or not, by id.
func (s *Server) Indicators() []Indicator {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Indicator, len(s.data.order))
	for i, r := range s.data.order {
		out[i] = r.ind.clone()
	}
	return out
}

// Find returns the first indicator (by id, any owner, active or not) of
// type typ whose summary is summary; a File is also found by any one of its
// hashes. Case is ignored where TC ignores it.
func (s *Server) Find(typ, summary string) (Indicator, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.data.order {
		if !strings.EqualFold(r.ind.Type, typ) {
			continue
		}
		want := canonicalValue(r.ind.Type, summary)
		if canonicalValue(r.ind.Type, r.ind.Summary) == want {
			return r.ind.clone(), true
		}
		if r.ind.Type == "File" && want != "" && (r.ind.MD5 == want || r.ind.SHA1 == want || r.ind.SHA256 == want) {
			return r.ind.clone(), true
		}
	}
	return Indicator{}, false
}

// ServeHTTP applies the fault knobs, authenticates and routes one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Kit.Serve(w, r, s.serve)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte, readErr error) {
	if errors.Is(readErr, fakekit.ErrBodyTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "0x1001", "request body is larger than 1 MiB: send one indicator per request")
		return
	} else if readErr != nil {
		writeError(w, http.StatusBadRequest, "0x1001", "could not read the request body: send it again")
		return
	}
	if msg, ok := s.authenticate(r); !ok {
		writeError(w, http.StatusUnauthorized, "0x1002", msg)
		return
	}
	s.route(w, r, body)
}

// authenticate checks the TC HMAC scheme and returns the failure text TC
// would send.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "TC ")
	if !ok {
		return msgAccessDenied, false
	}
	id, sig, ok := strings.Cut(rest, ":")
	if !ok || id == "" || sig == "" {
		return msgAccessDenied, false
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.accessID)) != 1 {
		return msgAccessDenied, false
	}
	tsRaw := r.Header.Get("Timestamp")
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return msgTimestampRange, false
	}
	if d := s.clock().Unix() - ts; d > maxTimestampSkew || d < -maxTimestampSkew {
		return msgTimestampRange, false
	}
	// The raw RequestURI, never a re-encoded form: TC signs what was sent.
	want := signature(s.secretKey, r.RequestURI+":"+r.Method+":"+tsRaw)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return msgSignatureMismatch, false
	}
	return "", true
}

// signature is base64(HMAC-SHA256(secret, message)), TC's request signature.
func signature(secret, message string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(message))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// errCodeFor maps an HTTP status to the v3 errCode TC pairs with it.
func errCodeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "0x1001"
	case http.StatusUnauthorized:
		return "0x1002"
	case http.StatusForbidden:
		return "0x1003"
	case http.StatusNotFound:
		return "0x1004"
	case http.StatusMethodNotAllowed:
		return "0x1005"
	case http.StatusConflict:
		return "0x1006"
	}
	if status >= 500 {
		return "0x1007"
	}
	return "0x1001"
}

// writeError sends the v3 error envelope.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	o := objWriter{b: append(make([]byte, 0, 96+len(msg)), '{')}
	o.str("errCode", code)
	o.str("message", msg)
	o.str("status", "Error")
	writeJSON(w, status, append(o.b, '}'))
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
