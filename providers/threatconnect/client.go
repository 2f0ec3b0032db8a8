package threatconnect

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/providers/internal/httpx"
	"github.com/goshawk/goshawk/providers/redact"
)

// Client talks to one ThreatConnect instance with one set of credentials.
// Provider.Open builds one per asset; it is safe for concurrent use and keeps
// its connections alive between calls.
type Client struct {
	scheme, host string // of the API root, for request URLs and next-link checks
	rootPath     string // escaped path prefix of every request, "/v3" or "/api/v3"
	http         *httpx.Client
	signer       *signer
	rep          *redact.Replacer // of the secret key, for what the server sends back

	maxContainers int // new containers per poll
	intervalDays  int // how far back a first poll or a poll now looks
}

// signer is the HMAC auth hook: every attempt is signed afresh, since the
// signature covers the timestamp. A 401 is final: the key does not expire.
type signer struct {
	accessID, secretKey string
	// now stamps the Timestamp header; tests replace it.
	now func() time.Time
	// macs holds HMACs keyed with secretKey, so that a request does not
	// hash the key again.
	macs sync.Pool
}

func (s *signer) Authorize(_ context.Context, _ httpx.Env, req *http.Request, r *httpx.Request) error {
	ts := s.now().Unix()
	req.Header.Set("Authorization", s.sign(r, ts))
	req.Header.Set("Timestamp", strconv.FormatInt(ts, 10))
	return nil
}

func (s *signer) Renew(*http.Request) bool { return false }

// sign is Sign for r with the signer's key, with a pooled HMAC.
func (s *signer) sign(r *httpx.Request, ts int64) string {
	mac, _ := s.macs.Get().(hash.Hash)
	if mac == nil {
		mac = hmac.New(sha256.New, []byte(s.secretKey))
	} else {
		mac.Reset()
	}
	msg := make([]byte, 0, len(r.Path)+1+len(r.Query)+1+len(r.Method)+1+20)
	msg = append(msg, r.Path...)
	if r.Query != "" {
		msg = append(append(msg, '?'), r.Query...)
	}
	msg = append(append(append(msg, ':'), r.Method...), ':')
	mac.Write(strconv.AppendInt(msg, ts, 10))
	sig := mac.Sum(nil)
	s.macs.Put(mac)
	out := make([]byte, 0, len("TC :")+len(s.accessID)+base64.StdEncoding.EncodedLen(len(sig)))
	out = append(append(append(out, "TC "...), s.accessID...), ':')
	return string(base64.StdEncoding.AppendEncode(out, sig))
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
	sig := &signer{accessID: cfg.AccessID, secretKey: cfg.SecretKey, now: time.Now}
	policy := httpx.DefaultPolicy()
	// ThreatConnect's 500s are transient (a busy search backend), unlike
	// ThreatQ's, which answer a malformed query.
	policy.RetryStatus = append(policy.RetryStatus, http.StatusInternalServerError)
	return &Client{
		scheme:   u.Scheme,
		host:     u.Host,
		rootPath: u.EscapedPath(),
		signer:   sig,
		rep:      redact.NewMarked("[redacted]", cfg.SecretKey),
		http: httpx.New(httpx.Config{
			Name: "threatconnect", BaseURL: u, VerifyTLS: cfg.VerifyServerCert, IdlePerHost: 32,
			Timeout: cfg.Timeout, Auth: sig, Policy: policy,
			Header: http.Header{"User-Agent": {"goshawk"}},
		}),
		maxContainers: cfg.MaxContainers,
		intervalDays:  cfg.IntervalDays,
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
func (c *Client) Close() error { return c.http.Close() }

// APIRoot returns the API root for a configured base URL: the base without
// its trailing slashes, then "/api/v3" for the sandbox host and
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

// bodyJSON returns the decoded body of a refused answer, or nil when the
// body is not JSON.
func bodyJSON(resp *httpx.Response) any {
	if strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html") {
		return nil
	}
	v, err := decodeJSON(resp.Body)
	if err != nil {
		return nil
	}
	return v
}

// bodyText is the body for a message: as is when JSON, the visible text of
// HTML, or the status text when the body is empty.
func bodyText(resp *httpx.Response) string {
	s := strings.TrimSpace(string(resp.Body))
	if strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html") || strings.HasPrefix(s, "<") {
		s = htmlText(s)
	}
	if s == "" {
		s = http.StatusText(resp.Status)
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
func (c *Client) get(ctx context.Context, env httpx.Env, target string, v envelope) error {
	return c.call(ctx, env, http.MethodGet, target, nil, v)
}

// call sends one request and decodes a successful answer into v. GETs are
// retried after transient failures; a POST only when it was never sent,
// since ThreatConnect would create the indicator twice. An answer other
// than a 2xx with "status":"Success" is an *httpx.Error with its Response.
func (c *Client) call(ctx context.Context, env httpx.Env, method, target string, body []byte, v envelope) error {
	path, query, _ := strings.Cut(target, "?")
	r := &httpx.Request{Method: method, Path: path, Query: query, Body: body, Idempotent: method == http.MethodGet}
	resp, err := c.http.Do(ctx, env, r)
	if err != nil {
		return err
	}
	if !resp.OK() {
		return c.http.Refused(r, resp)
	}
	d := json.NewDecoder(bytes.NewReader(resp.Body))
	d.UseNumber() // TC ids exceed 2^53
	if err := d.Decode(v); err != nil {
		return errBadJSON
	}
	if !v.succeeded() {
		return c.http.Refused(r, resp)
	}
	return nil
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
