// Package httpx is the one HTTP transport of goshawk's connectors: a
// request as data, one retry loop (exponential backoff with full jitter,
// honouring Retry-After), one debug log line per attempt, an auth hook that
// signs or carries a token and may renew it after a 401, and one error type.
//
// The rule for retries: a failed attempt is repeated only when the failure
// is transient (no answer at all, or a status the connector declares
// retryable) and repeating cannot do a write twice. A request that is not
// idempotent is repeated only when it never left this process, so that a
// create whose response was lost is reported, not sent again.
package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Request is one API call, as data.
type Request struct {
	Method string
	// Path is the escaped path from the host, such as /v3/indicators; it is
	// sent byte for byte, so that a signature over it holds.
	Path string
	// Query is the encoded query string without "?", sent byte for byte.
	Query string
	// Body is sent as application/json when non-nil.
	Body []byte
	// Idempotent calls are retried after any transient failure; other calls
	// only when the request was never sent.
	Idempotent bool
	// NoAuth sends the call without the client's Auth: a sign-in request.
	NoAuth bool
}

// Target is the request target as sent: the path and, when there is one,
// "?" and the query.
func (r *Request) Target() string {
	if r.Query == "" {
		return r.Path
	}
	return r.Path + "?" + r.Query
}

// Response is an answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports whether the status is 2xx.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// Env is what one call borrows from the action that makes it.
type Env struct {
	Log *slog.Logger
	// Now is the caller's clock, for Retry-After dates and token expiry.
	Now func() time.Time
}

var discard = slog.New(slog.DiscardHandler)

// Logger is e.Log, or a logger that discards.
func (e Env) Logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return discard
}

// Time reads e.Now, or the wall clock.
func (e Env) Time() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Auth sets the credentials of each attempt.
type Auth interface {
	// Authorize adds credentials to req, one attempt of r. It runs before
	// every attempt, so a signature can cover the attempt's own timestamp.
	// An error ends the call and is returned as is.
	Authorize(ctx context.Context, env Env, req *http.Request, r *Request) error
	// Renew is told that the server answered 401 to req. It reports
	// whether the call should be made once more with fresh credentials
	// (a token that expired early); the second answer is final.
	Renew(req *http.Request) bool
}

// Policy is the retry discipline of a client.
type Policy struct {
	// Attempts is the most attempts of one call, the first included.
	Attempts int
	// Base and Cap bound the full-jitter backoff: the wait after attempt n
	// is uniform in [0, min(Cap, Base*2^(n-1))).
	Base, Cap time.Duration
	// MaxRetryAfter is the longest Retry-After waited for; a longer one
	// ends the retries at once.
	MaxRetryAfter time.Duration
	// RetryStatus lists the statuses worth another attempt.
	RetryStatus []int
}

// DefaultPolicy is the policy both connectors use: three attempts, backoff
// from 500ms up to 8s, Retry-After up to a minute, on 429, 502, 503, 504.
func DefaultPolicy() Policy {
	return Policy{
		Attempts: 3, Base: 500 * time.Millisecond, Cap: 8 * time.Second, MaxRetryAfter: time.Minute,
		RetryStatus: []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
	}
}

// MaxBodyBytes bounds a response body; a larger one is an error, never
// retried, since asking again would get the same answer.
const MaxBodyBytes = 64 << 20

// Client sends requests to one server. Its fields are set once, before the
// first call; it is then safe for concurrent use.
type Client struct {
	// Name prefixes log messages, such as "threatq".
	Name string
	// Scheme and Host address the server.
	Scheme, Host string
	HTTP         *http.Client
	// Timeout bounds each attempt, from dial to the last byte of the body.
	Timeout time.Duration
	Auth    Auth
	Policy  Policy
	// Header is added to every request.
	Header http.Header

	// Sleep waits between attempts and Jitter draws a duration in [0, n).
	// Tests replace them to check the schedule without sleeping.
	Sleep  func(ctx context.Context, d time.Duration) error
	Jitter func(n time.Duration) time.Duration
}

// Config builds a Client.
type Config struct {
	Name        string
	BaseURL     *url.URL // scheme and host; its path is the connector's business
	VerifyTLS   bool
	IdlePerHost int
	Proxy       func(*http.Request) (*url.URL, error) // nil: the environment's
	Timeout     time.Duration
	Auth        Auth
	Policy      Policy
	Header      http.Header
}

// New returns a client for cfg. It does no network I/O. Redirects are never
// followed: a signature or a token must not travel to another URL.
func New(cfg Config) *Client {
	return &Client{
		Name:   cfg.Name,
		Scheme: cfg.BaseURL.Scheme,
		Host:   cfg.BaseURL.Host,
		HTTP: &http.Client{
			Transport:     NewTransport(cfg.VerifyTLS, cfg.IdlePerHost, cfg.Proxy),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout: cfg.Timeout,
		Auth:    cfg.Auth,
		Policy:  cfg.Policy,
		Header:  cfg.Header,
		Sleep:   SleepContext,
		Jitter:  func(n time.Duration) time.Duration { return rand.N(n) },
	}
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.HTTP.CloseIdleConnections()
	return nil
}

// Error is a call that got no usable answer: no response at all (Err is
// set: unreachable, reset, TLS, timeout, a body too large) or an answer
// the connector refuses (Response is set).
type Error struct {
	Method string
	// URL is scheme, host and path, never the query: it may carry values
	// an error message has no business repeating.
	URL  string
	Path string
	// Err is the cause when there was no usable response.
	Err error
	// Response is the refused answer.
	Response *Response
	// Sent reports whether the request left this process (a response may
	// have been lost on the way back).
	Sent bool
}

func (e *Error) Error() string {
	if e.Response != nil {
		return fmt.Sprintf("%s %s: server answered status %d", e.Method, e.URL, e.Response.Status)
	}
	return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Refused returns the *Error for a response the connector does not accept.
func (c *Client) Refused(r *Request, resp *Response) *Error {
	return &Error{Method: r.Method, URL: c.Scheme + "://" + c.Host + r.Path, Path: r.Path, Response: resp, Sent: true}
}

// Do sends r, retrying transient failures under c.Policy, and returns the
// last response whatever its status. The error is an *Error when no
// response came, or the Auth's own error.
func (c *Client) Do(ctx context.Context, env Env, r *Request) (*Response, error) {
	resp, req, err := c.send(ctx, env, r)
	if err != nil || resp.Status != http.StatusUnauthorized || r.NoAuth || c.Auth == nil || req == nil || !c.Auth.Renew(req) {
		return resp, err
	}
	env.Logger().Info(c.Name+": credentials rejected, signing in again", "method", r.Method, "path", r.Path)
	resp, _, err = c.send(ctx, env, r)
	return resp, err
}

// send performs r with retries and returns the last response and the
// request of the last attempt.
func (c *Client) send(ctx context.Context, env Env, r *Request) (*Response, *http.Request, error) {
	log := env.Logger()
	for attempt := 1; ; attempt++ {
		start := time.Now()
		resp, req, err := c.attempt(ctx, env, r)
		wait, retry := c.retryWait(ctx, env, r, resp, err, attempt)
		// The line's fields are built only for a logger that keeps it.
		if log.Enabled(ctx, slog.LevelDebug) {
			args := []any{"method", r.Method, "path", r.Path, "attempt", attempt}
			if resp != nil {
				args = append(args, "status", resp.Status)
			} else {
				args = append(args, "status", 0)
			}
			args = append(args, "duration", time.Since(start))
			if err != nil {
				args = append(args, "error", err.Error())
			}
			if retry {
				args = append(args, "retry_in", wait)
			}
			log.Debug(c.Name+": request", args...)
		}
		if !retry {
			return resp, req, err
		}
		if c.Sleep(ctx, wait) != nil {
			if resp != nil {
				return resp, req, nil
			}
			return nil, req, err
		}
	}
}

// retryWait reports whether another attempt is worth making, and how long
// to wait first.
func (c *Client) retryWait(ctx context.Context, env Env, r *Request, resp *Response, err error, attempt int) (time.Duration, bool) {
	if attempt >= c.Policy.Attempts || ctx.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Err == nil || isTLSError(err) || errors.Is(err, errTooLarge) {
			return 0, false
		}
		if e.Sent && !r.Idempotent {
			return 0, false // the server may have acted on it
		}
		wait = c.backoff(attempt)
	} else {
		if !c.retryable(resp.Status) || !r.Idempotent {
			return 0, false
		}
		wait = c.backoff(attempt)
		if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), env.Time()); ok {
			if d > c.Policy.MaxRetryAfter {
				return 0, false
			}
			wait = d
		}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return 0, false // the answer would come too late anyway
	}
	return wait, true
}

func (c *Client) retryable(status int) bool {
	for _, s := range c.Policy.RetryStatus {
		if s == status {
			return true
		}
	}
	return false
}

// backoff is "full jitter": uniform in [0, min(cap, base*2^(attempt-1))).
func (c *Client) backoff(attempt int) time.Duration {
	return c.Jitter(BackoffCeiling(c.Policy.Base, c.Policy.Cap, attempt))
}

var errTooLarge = errors.New("response too large")

// attempt sends r once, under the per-attempt timeout, and reads the whole
// body, so that a stalled body counts against the same timeout.
func (c *Client) attempt(ctx context.Context, env Env, r *Request) (*Response, *http.Request, error) {
	u := &url.URL{Scheme: c.Scheme, Host: c.Host, RawQuery: r.Query}
	fail := func(sent bool, err error) *Error {
		return &Error{Method: r.Method, URL: c.Scheme + "://" + c.Host + r.Path, Path: r.Path, Err: err, Sent: sent}
	}
	// Path and RawPath together keep the escaped path byte for byte, also
	// in the absolute form a proxy receives; Opaque is the fallback for a
	// path net/url would not keep as given.
	p, perr := url.PathUnescape(r.Path)
	if perr == nil {
		u.Path, u.RawPath = p, r.Path
	}
	if u.EscapedPath() != r.Path {
		u.Path, u.RawPath, u.Opaque = "", "", r.Path
	}

	actx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var sent atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }})
	var rd io.Reader
	if r.Body != nil {
		rd = bytes.NewReader(r.Body)
	}
	// The URL is built above; parsing it from text as well is left to a
	// path net/url may refuse, for the error it gives.
	target := ""
	if perr != nil || !plainPath(r.Path) {
		target = c.Scheme + "://" + c.Host + r.Path
	}
	req, err := http.NewRequestWithContext(actx, r.Method, target, rd)
	if err != nil {
		return nil, nil, fail(false, err)
	}
	// The Host NewRequest sets: without the colon of an empty port.
	req.URL, req.Host = u, strings.TrimSuffix(c.Host, ":")
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	req.Header["Accept"] = jsonType
	if r.Body != nil {
		req.Header["Content-Type"] = jsonType
	}
	if c.Auth != nil && !r.NoAuth {
		if err := c.Auth.Authorize(ctx, env, req, r); err != nil {
			return nil, nil, err
		}
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, req, fail(sent.Load(), c.cause(ctx, actx, err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, req, fail(true, c.cause(ctx, actx, err))
	}
	if len(data) > MaxBodyBytes {
		return nil, req, fail(true, fmt.Errorf("the response exceeds %d MiB; ask for fewer results or narrow the query: %w", MaxBodyBytes>>20, errTooLarge))
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, req, nil
}

// jsonType is the value of the Accept and Content-Type headers, shared by
// every request: header values are replaced, never written in place.
var jsonType = []string{"application/json"}

// plainPath reports whether net/url parses scheme://host+path without
// an error, given that its escapes are well formed: an absolute path
// without a control character.
func plainPath(path string) bool {
	if !strings.HasPrefix(path, "/") {
		return false
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// cause strips the *url.Error wrapper, whose text repeats the URL with its
// query, and names a per-attempt timeout plainly.
func (c *Client) cause(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the %s timeout; check the server or raise timeout in the asset config: %w", c.Timeout, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTLSError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
