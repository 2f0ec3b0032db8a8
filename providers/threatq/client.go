package threatq

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/providers"
)

// clientConfig is the validated config of one asset.
type clientConfig struct {
	URL       string
	Email     string
	Password  string
	ClientID  string
	Beta      bool
	VerifySSL bool
	HTTPProxy string
	Timeout   time.Duration
}

// The retry policy of reference §9.8: three attempts with exponential backoff
// and full jitter. A Retry-After longer than maxRetryAfter is not waited for.
const (
	maxAttempts   = 3
	backoffBase   = 500 * time.Millisecond
	backoffCap    = 8 * time.Second
	maxRetryAfter = time.Minute
	maxBodyBytes  = 64 << 20
)

// client is the connection of one asset: one http.Client with keep-alive,
// the cached OAuth token and the cached indicator type ids.
type client struct {
	base     string // normalised, without the trailing /api
	email    string
	password string
	clientID string
	beta     bool
	timeout  time.Duration
	http     *http.Client

	// backoff and sleep are fields so that tests can make retries instant
	// and observe the waits without a real clock.
	backoff time.Duration
	sleep   func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	token    string
	expires  time.Time
	fetching *tokenFetch
	typeIDs  map[string]int64 // lower-cased indicator type name -> id
}

// tokenFetch is one token request in flight, shared by every caller that
// needs a token while it runs.
type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

func newClient(cfg clientConfig) (*client, error) {
	base, err := normaliseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	proxy := http.ProxyFromEnvironment
	if strings.TrimSpace(cfg.HTTPProxy) != "" {
		u, err := parseProxyURL(cfg.HTTPProxy)
		if err != nil {
			return nil, err
		}
		proxy = http.ProxyURL(u)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := providers.NewTransport(cfg.VerifySSL, 16, proxy)
	return &client{
		base:     base,
		email:    cfg.Email,
		password: cfg.Password,
		clientID: cfg.ClientID,
		beta:     cfg.Beta,
		timeout:  timeout,
		http: &http.Client{
			Transport: tr,
			// A redirect would resend the bearer token to wherever the
			// server points; ThreatQ's API never redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		backoff: backoffBase,
		sleep:   providers.SleepContext,
		typeIDs: map[string]int64{},
	}, nil
}

// Close releases the idle connections of the asset.
func (c *client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// request is one API call. path is relative to {url}/api.
type request struct {
	method string
	path   string
	query  url.Values
	body   any // sent as JSON when non-nil
	// idempotent calls may be retried; POST /api/events may not, since a
	// retry after a lost response would create the event twice.
	idempotent bool
}

// response is what the server answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

// callEnv is what a call borrows from the action's environment.
type callEnv struct {
	log *slog.Logger
	now func() time.Time
}

// do sends r with a bearer token. A 401 means the token expired or was
// revoked early: the token is dropped and the call is repeated once with a
// fresh one, so a second 401 reaches the caller.
func (c *client) do(ctx context.Context, env callEnv, r request) (*response, error) {
	tok, err := c.bearer(ctx, env)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, env, r, tok)
	if err != nil || resp.status != http.StatusUnauthorized {
		return resp, err
	}
	env.log.Info("threatq: token rejected, signing in again", "method", r.method, "path", "/api"+r.path)
	c.dropToken(tok)
	if tok, err = c.bearer(ctx, env); err != nil {
		return nil, err
	}
	return c.send(ctx, env, r, tok)
}

// send performs r with retries on transient failures.
func (c *client) send(ctx context.Context, env callEnv, r request, bearer string) (*response, error) {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return nil, fmt.Errorf("threatq: encode %s /api%s body: %w", r.method, r.path, err)
		}
	}
	apiPath := "/api" + r.path
	target := c.base + apiPath
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	for attempt := 1; ; attempt++ {
		start := time.Now()
		resp, err := c.attempt(ctx, r.method, target, body, bearer)
		if err != nil {
			env.log.Debug("threatq: request failed", "method", r.method, "path", apiPath, "attempt", attempt, "error", err.Error())
		} else {
			env.log.Debug("threatq: request", "method", r.method, "path", apiPath, "status", resp.status, "attempt", attempt, "duration", time.Since(start))
		}
		if !r.idempotent || attempt >= maxAttempts || ctx.Err() != nil || !retryable(resp, err) {
			return resp, err
		}
		wait := c.backoffFor(attempt)
		if resp != nil {
			if ra, ok := providers.ParseRetryAfter(resp.header.Get("Retry-After"), env.now()); ok {
				wait = ra
			}
		}
		if wait > maxRetryAfter || pastDeadline(ctx, wait) {
			return resp, err
		}
		var reason string
		if err != nil {
			reason = err.Error()
		} else {
			reason = strconv.Itoa(resp.status) + " " + http.StatusText(resp.status)
		}
		env.log.Warn("threatq: retrying", "method", r.method, "path", apiPath, "attempt", attempt, "reason", reason, "wait", wait)
		if err := c.sleep(ctx, wait); err != nil {
			if resp != nil {
				return resp, nil
			}
			return nil, &connError{method: r.method, path: apiPath, err: err}
		}
	}
}

// attempt performs one HTTP exchange under the per-request timeout and reads
// the whole body, so that a stalled body counts against the same timeout.
func (c *client) attempt(ctx context.Context, method, target string, body []byte, bearer string) (*response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("threatq: build %s request: %w", method, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	path := req.URL.Path
	res, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, actx, method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBodyBytes+1))
	if err != nil {
		return nil, c.transportError(ctx, actx, method, path, err)
	}
	if len(data) > maxBodyBytes {
		return nil, fmt.Errorf("threatq: %s %s: the response is larger than %d MiB; ask for fewer results with limit", method, path, maxBodyBytes>>20)
	}
	return &response{status: res.StatusCode, header: res.Header, body: data}, nil
}

// transportError turns a failed exchange into a connError that names the
// call but not the query string, and says when the per-request timeout hit.
func (c *client) transportError(ctx, actx context.Context, method, path string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no response within %s; raise the asset's timeout or check the server: %w", c.timeout, context.DeadlineExceeded)
	}
	return &connError{method: method, path: path, err: err}
}

// connError is a request that got no HTTP response.
type connError struct {
	method, path string
	err          error
}

func (e *connError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.method, e.path, e.err)
}

func (e *connError) Unwrap() error { return e.err }

// retryable reports whether a failure is transient. 500 is not: ThreatQ
// answers a malformed query with 500, and repeating it cannot help. A TLS
// verification failure is not either.
func retryable(resp *response, err error) bool {
	if err != nil {
		var ce *connError
		if !errors.As(err, &ce) || errors.Is(err, context.Canceled) {
			return false
		}
		var (
			unknownAuthority x509.UnknownAuthorityError
			hostname         x509.HostnameError
			invalid          x509.CertificateInvalidError
			verify           *tls.CertificateVerificationError
		)
		return !errors.As(err, &unknownAuthority) && !errors.As(err, &hostname) &&
			!errors.As(err, &invalid) && !errors.As(err, &verify)
	}
	switch resp.status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoffFor returns the full-jitter wait after the given failed attempt:
// uniform in [0, min(cap, base*2^(attempt-1))].
func (c *client) backoffFor(attempt int) time.Duration {
	return rand.N(providers.BackoffCeiling(c.backoff, backoffCap, attempt) + 1)
}

func pastDeadline(ctx context.Context, wait time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < wait
}
