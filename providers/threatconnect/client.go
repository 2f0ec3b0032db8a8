package threatconnect

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/providers"
)

// Retry policy (reference §8.1). Three attempts in all; between them an
// exponential backoff with full jitter, unless the server says how long to
// wait with Retry-After.
const (
	maxAttempts   = 3
	backoffBase   = 500 * time.Millisecond
	backoffCap    = 8 * time.Second
	maxRetryAfter = time.Minute // a longer Retry-After ends the retries at once
	maxBodyBytes  = 64 << 20
)

// Client talks to one ThreatConnect instance with one set of credentials.
// Provider.Open builds one per asset; it is safe for concurrent use and keeps
// its connections alive between calls.
type Client struct {
	scheme, host string // of the API root, for request URLs and next-link checks
	rootPath     string // escaped path prefix of every request, "/v3" or "/api/v3"
	accessID     string
	secretKey    string
	httpc        *http.Client
	timeout      time.Duration // per attempt

	maxContainers int // new containers per poll
	intervalDays  int // how far back a first poll or a poll now looks

	// now stamps the Timestamp header. sleep waits between attempts and
	// jitter picks a duration in [0, n). Tests replace them to check the
	// retry schedule without sleeping.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(n time.Duration) time.Duration
}

// ClientConfig holds what NewClient needs.
type ClientConfig struct {
	BaseURL   string
	AccessID  string
	SecretKey string
	// VerifyServerCert turns TLS certificate verification on.
	VerifyServerCert bool
	// Timeout bounds each attempt, from dial to the last byte of the body.
	Timeout time.Duration
	// MaxContainers caps the new containers of one poll.
	MaxContainers int
	// IntervalDays is how far back a first poll, or a poll now, looks.
	IntervalDays int
}

// NewClient builds a client for cfg. It does no network I/O.
func NewClient(cfg ClientConfig) (*Client, error) {
	root, err := APIRoot(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(root)
	if err != nil {
		return nil, fmt.Errorf("threatconnect: base_url: %w", err)
	}
	if cfg.AccessID == "" || cfg.SecretKey == "" {
		return nil, errors.New("threatconnect: access_id and secret_key are required; set both in the asset config")
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("threatconnect: timeout must be positive, such as 30s")
	}
	if cfg.MaxContainers < 1 || cfg.IntervalDays < 1 {
		return nil, errors.New("threatconnect: max_containers and interval_days must be positive integers")
	}
	tr := providers.NewTransport(cfg.VerifyServerCert, 32, nil)
	return &Client{
		scheme:    u.Scheme,
		host:      u.Host,
		rootPath:  u.EscapedPath(),
		accessID:  cfg.AccessID,
		secretKey: cfg.SecretKey,
		timeout:   cfg.Timeout,

		maxContainers: cfg.MaxContainers,
		intervalDays:  cfg.IntervalDays,
		httpc: &http.Client{
			Transport: tr,
			// A redirect would carry a signature made for another path;
			// report it as the server's answer instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now:    time.Now,
		sleep:  providers.SleepContext,
		jitter: func(n time.Duration) time.Duration { return rand.N(n) },
	}, nil
}

// String names the client without its credentials, so that printing or
// logging a connection by mistake cannot reveal the secret key.
func (c *Client) String() string {
	return "threatconnect client for " + c.scheme + "://" + c.host + c.rootPath
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.httpc.CloseIdleConnections()
	return nil
}

// APIRoot returns the API root for a configured base URL (reference §2): the
// base without its trailing slashes, then "/api/v3" for the sandbox host and
// "/v3" otherwise, so tenants configure "https://tenant.threatconnect.com/api".
func APIRoot(baseURL string) (string, error) {
	// The messages never echo the value: a mistyped URL may carry a password.
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	u, err := url.Parse(base)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
		return "", errors.New("threatconnect: base_url must be an https:// (or http://) URL such as https://api.threatconnect.com")
	case u.Host == "":
		return "", errors.New("threatconnect: base_url has no host; use a URL such as https://api.threatconnect.com")
	case u.User != nil:
		return "", errors.New("threatconnect: base_url must not carry credentials; use access_id and secret_key")
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("threatconnect: base_url must not have a query or fragment; give the base such as https://api.threatconnect.com")
	}
	if strings.Contains(base, "sandbox.threatconnect.com") {
		return base + "/api/v3", nil
	}
	return base + "/v3", nil
}

// ConnectError reports a request that got no HTTP response: the host is
// unreachable, the connection broke, the TLS handshake failed or the attempt
// timed out.
type ConnectError struct {
	Method, URL string // URL without its query
	Err         error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("threatconnect: %s %s: %v", e.Method, e.URL, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// ServerError reports a response that is not a success: a status outside
// 2xx, or a 2xx whose envelope does not say "Success".
type ServerError struct {
	StatusCode  int
	ContentType string
	Body        []byte
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("threatconnect: server answered status %d: %s", e.StatusCode, e.text())
}

// JSON returns the decoded body, or nil when the body is not JSON.
func (e *ServerError) JSON() any {
	if strings.Contains(strings.ToLower(e.ContentType), "html") {
		return nil
	}
	v, err := decodeJSON(e.Body)
	if err != nil {
		return nil
	}
	return v
}

// text is the body for a message: as is when JSON, the visible text of HTML,
// or the status text when the body is empty.
func (e *ServerError) text() string {
	s := strings.TrimSpace(string(e.Body))
	if strings.Contains(strings.ToLower(e.ContentType), "html") || strings.HasPrefix(s, "<") {
		s = htmlText(s)
	}
	if s == "" {
		s = http.StatusText(e.StatusCode)
	}
	return s
}

// errBadJSON reports a success response whose body does not decode.
var errBadJSON = errors.New("threatconnect: unable to parse response as JSON")

// envelope is a v3 response body: a list or single envelope, or an error.
type envelope interface {
	// succeeded reports whether the status field says "Success".
	succeeded() bool
}

// object is a response body decoded as a generic JSON object.
type object map[string]any

func (o *object) succeeded() bool { return (*o)["status"] == "Success" }

// listPage is one page of a list envelope, its items decoded as T.
type listPage[T any] struct {
	Status string `json:"status"`
	Next   string `json:"next"`
	Data   []T    `json:"data"`
}

func (p *listPage[T]) succeeded() bool { return p.Status == "Success" }

// get sends a GET for target, the escaped path and raw query, and decodes
// the envelope of a successful answer into v.
func (c *Client) get(ctx context.Context, target string, v envelope) error {
	return c.call(ctx, http.MethodGet, target, nil, v)
}

// call sends one request with retries and decodes a successful answer into
// v. Any response other than a 2xx with "status":"Success" is a
// *ServerError; no response at all is a *ConnectError.
func (c *Client) call(ctx context.Context, method, target string, body []byte, v envelope) error {
	resp, err := c.do(ctx, method, target, body)
	if err != nil {
		return err
	}
	serverErr := &ServerError{StatusCode: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: resp.body}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return serverErr
	}
	d := json.NewDecoder(bytes.NewReader(resp.body))
	d.UseNumber() // TC ids exceed 2^53
	if err := d.Decode(v); err != nil {
		return errBadJSON
	}
	if !v.succeeded() {
		return serverErr
	}
	return nil
}

// response is an HTTP response with its body read.
type response struct {
	*http.Response
	body []byte
}

// do sends the request, retrying transient failures: connection errors and
// timeouts, 429, 500, 502, 503 and 504. It never retries another status or a
// TLS failure. Each attempt is signed afresh, since the signature covers the
// timestamp. It returns the last response, whatever its status.
func (c *Client) do(ctx context.Context, method, target string, body []byte) (*response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, method, target, body)
		wait, retry := c.retryWait(ctx, resp, err, attempt)
		if !retry || attempt == maxAttempts {
			return resp, err
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return resp, err // the answer would come too late anyway
		}
		if c.sleep(ctx, wait) != nil {
			return resp, err
		}
	}
}

// retryWait reports whether the outcome of an attempt is worth another one,
// and how long to wait first.
func (c *Client) retryWait(ctx context.Context, resp *response, err error, attempt int) (time.Duration, bool) {
	if err != nil {
		var ce *ConnectError
		if !errors.As(err, &ce) || ctx.Err() != nil || isTLSError(err) {
			return 0, false
		}
		return c.backoff(attempt), true
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return 0, false
	}
	if d, ok := providers.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		return d, d <= maxRetryAfter
	}
	return c.backoff(attempt), true
}

// backoff is "full jitter": uniform in [0, min(cap, base*2^(attempt-1))).
func (c *Client) backoff(attempt int) time.Duration {
	return c.jitter(providers.BackoffCeiling(backoffBase, backoffCap, attempt))
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

// attempt sends the request once, under the per-attempt timeout, and reads
// the whole body.
func (c *Client) attempt(ctx context.Context, method, target string, body []byte) (*response, error) {
	path, query, _ := strings.Cut(target, "?")
	// Opaque carries the escaped path so that the request line is target,
	// byte for byte, with no re-encoding by net/url.
	u := &url.URL{Scheme: c.scheme, Host: c.host, Opaque: path, RawQuery: query}
	printable := c.scheme + "://" + c.host + path

	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, printable, rd)
	if err != nil {
		return nil, &ConnectError{Method: method, URL: printable, Err: err}
	}
	req.URL = u
	ts := c.now().Unix()
	req.Header.Set("Authorization", Sign(c.accessID, c.secretKey, target, method, ts))
	req.Header.Set("Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "goshawk")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.httpc.Do(req)
	if err != nil {
		return nil, &ConnectError{Method: method, URL: printable, Err: c.transportCause(ctx, actx, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, &ConnectError{Method: method, URL: printable, Err: c.transportCause(ctx, actx, err)}
	}
	if len(data) > maxBodyBytes {
		// Not a ConnectError: asking again would get the same answer.
		return nil, fmt.Errorf("threatconnect: %s %s: the response exceeds %d MiB; lower max_results or narrow the query", method, printable, maxBodyBytes>>20)
	}
	return &response{Response: resp, body: data}, nil
}

// transportCause strips the *url.Error wrapper, whose text repeats the URL,
// and names a per-attempt timeout plainly.
func (c *Client) transportCause(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the %s timeout; check the server or raise timeout in the asset config: %w", c.timeout, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeJSON decodes one JSON value with numbers kept as json.Number.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// htmlText returns the visible text of an HTML page with white space
// collapsed, for error messages.
func htmlText(s string) string {
	var b strings.Builder
	inTag := false
	for _, r := range s {
		switch {
		case r == '<':
			inTag = true
			b.WriteByte(' ')
		case r == '>':
			inTag = false
		case !inTag:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
