// Package fakekit is the test-control surface shared by goshawk's vendor
// emulators (tcfake, tqfake): a bounded request log, fault injection
// (forced statuses with Retry-After, connection resets before or after the
// request is handled, latency) and the request-body limit. An emulator
// embeds a Kit and routes every request through Kit.Serve, so its tests
// drive faults the same way whatever the vendor.
package fakekit

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxRecorded bounds the request log so long benchmarks run in flat memory;
// RequestCount keeps counting past it.
const MaxRecorded = 10_000

// Redacted replaces a secret in the request log.
const Redacted = "[REDACTED]"

// ErrBodyTooLarge is the body error of a request larger than Kit.MaxBody.
var ErrBodyTooLarge = errors.New("request body too large")

// Request is one request as the emulator received it, with secrets
// redacted: the Authorization and Cookie headers always, and whatever the
// emulator's Redact hook removes.
type Request struct {
	Method     string
	RequestURI string
	Path       string
	Header     http.Header
	Body       []byte
}

func (r Request) clone() Request {
	r.Header = r.Header.Clone()
	r.Body = slices.Clone(r.Body)
	return r
}

// Kit records requests and injects faults. Set its hooks before serving;
// its methods are safe for concurrent use.
type Kit struct {
	// MaxBody bounds a request body (1 MiB when zero).
	MaxBody int64
	// Redact, when set, removes the emulator's own secrets from a request
	// before it is recorded.
	Redact func(*Request)
	// Fail writes the body of a forced failure in the vendor's error shape.
	Fail func(w http.ResponseWriter, status int)

	count atomic.Int64

	mu         sync.Mutex
	requests   []Request
	failN      int
	failStatus int
	retryAfter string
	resetN     int
	loseN      int
	latency    time.Duration
}

// RequestCount reports how many requests reached the emulator, whatever
// their route or outcome.
func (k *Kit) RequestCount() int64 { return k.count.Load() }

// Requests returns the recorded requests, oldest first; only the most
// recent MaxRecorded are kept.
func (k *Kit) Requests() []Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	recent := k.requests[max(0, len(k.requests)-MaxRecorded):]
	out := make([]Request, len(recent))
	for i, r := range recent {
		out[i] = r.clone()
	}
	return out
}

// ResetRequests forgets the recorded requests and zeroes RequestCount.
func (k *Kit) ResetRequests() {
	k.mu.Lock()
	k.requests = nil
	k.count.Store(0)
	k.mu.Unlock()
}

// FailNext makes the next n requests answer status in the vendor's error
// shape, with a Retry-After header when retryAfter is not empty. Faults
// apply before authentication, as a proxy or rate limiter in front of the
// server would.
func (k *Kit) FailNext(n, status int, retryAfter string) {
	k.mu.Lock()
	k.failN, k.failStatus, k.retryAfter = max(n, 0), status, retryAfter
	k.mu.Unlock()
}

// SetLatency delays every following response by d (0 turns it off). A
// client that gives up earlier sees its own timeout.
func (k *Kit) SetLatency(d time.Duration) {
	k.mu.Lock()
	k.latency = d
	k.mu.Unlock()
}

// ResetNext makes the next n requests end with a reset connection before
// they are handled: the server never acts on them.
func (k *Kit) ResetNext(n int) {
	k.mu.Lock()
	k.resetN = max(n, 0)
	k.mu.Unlock()
}

// LoseResponseNext makes the next n requests be handled in full (a create
// creates) and then end with a reset connection: the client never sees the
// answer. It is how a test shows that a write is not sent twice.
func (k *Kit) LoseResponseNext(n int) {
	k.mu.Lock()
	k.loseN = max(n, 0)
	k.mu.Unlock()
}

// fault is what the armed knobs do to one request.
type fault struct {
	latency     time.Duration
	reset, lose bool
	status      int
	retryAfter  string
}

// take consumes one unit of the armed knobs: a reset first, then a lost
// response, then a forced status.
func (k *Kit) take() fault {
	k.mu.Lock()
	defer k.mu.Unlock()
	f := fault{latency: k.latency}
	switch {
	case k.resetN > 0:
		k.resetN--
		f.reset = true
	case k.loseN > 0:
		k.loseN--
		f.lose = true
	case k.failN > 0:
		k.failN--
		f.status, f.retryAfter = k.failStatus, k.retryAfter
	}
	return f
}

// Handler handles a request whose body the kit has read. bodyErr is
// ErrBodyTooLarge or the read error; the handler answers it in the
// vendor's words.
type Handler func(w http.ResponseWriter, r *http.Request, body []byte, bodyErr error)

// Serve reads and records the request, applies the faults, and passes
// what is left to next.
func (k *Kit) Serve(w http.ResponseWriter, r *http.Request, next Handler) {
	k.count.Add(1)
	limit := k.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	body, bodyErr := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if bodyErr == nil && int64(len(body)) > limit {
		body, bodyErr = body[:limit], ErrBodyTooLarge
	}
	k.record(r, body)

	f := k.take()
	if f.latency > 0 && !sleep(r, f.latency) {
		return
	}
	switch {
	case f.reset:
		ResetConnection(w)
	case f.lose:
		next(httptest.NewRecorder(), r, body, bodyErr)
		ResetConnection(w)
	case f.status != 0:
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		k.Fail(w, f.status)
	default:
		next(w, r, body, bodyErr)
	}
}

func (k *Kit) record(r *http.Request, body []byte) {
	h := r.Header.Clone()
	for _, name := range []string{"Authorization", "Cookie"} {
		if h.Get(name) != "" {
			h.Set(name, Redacted)
		}
	}
	req := Request{Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, Header: h, Body: slices.Clone(body)}
	if len(req.Body) == 0 {
		req.Body = nil
	}
	if k.Redact != nil {
		k.Redact(&req)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.requests = append(k.requests, req)
	// Trim in batches so recording stays amortised O(1).
	if len(k.requests) > 2*MaxRecorded {
		k.requests = slices.Clone(k.requests[len(k.requests)-MaxRecorded:])
	}
}

// sleep waits d or until the client goes away, reporting whether the full
// wait passed.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// ResetConnection drops the connection without a response. SO_LINGER 0
// makes the close send a TCP RST, which clients see as "connection reset",
// as when a proxy in front of the server crashes.
func ResetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 and recorders cannot hijack; aborting the handler is the
		// documented way to drop the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}
