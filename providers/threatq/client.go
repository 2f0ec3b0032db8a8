package threatq

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/providers/internal/httpx"
	"github.com/goshawk/goshawk/providers/redact"
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

// client is the connection of one asset: the transport, the cached OAuth
// token and the cached indicator type ids.
type client struct {
	base     string // normalised, without the trailing /api
	prefix   string // escaped path of base, before /api
	email    string
	password string
	clientID string
	beta     bool
	timeout  time.Duration
	http     *httpx.Client

	mu       sync.Mutex
	token    string
	expires  time.Time
	fetching *tokenFetch
	typeIDs  map[string]int64 // lower-cased indicator type name -> id
	rep      *redact.Replacer // of password and token; see replacer
	repToken string           // the token rep was built with
}

// tokenFetch is one token request in flight, shared by every caller that
// needs a token while it runs.
type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

func newClient(cfg clientConfig) (*client, error) {
	u, err := baseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	base := u.String()
	proxy := http.ProxyFromEnvironment
	if strings.TrimSpace(cfg.HTTPProxy) != "" {
		pu, err := parseProxyURL(cfg.HTTPProxy)
		if err != nil {
			return nil, err
		}
		proxy = http.ProxyURL(pu)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	c := &client{
		base:     base,
		prefix:   u.EscapedPath(),
		email:    cfg.Email,
		password: cfg.Password,
		clientID: cfg.ClientID,
		beta:     cfg.Beta,
		timeout:  timeout,
		typeIDs:  map[string]int64{},
	}
	// 500 is not retried: ThreatQ answers a malformed query with 500, and
	// repeating it cannot help.
	c.http = httpx.New(httpx.Config{
		Name: "threatq", BaseURL: u, VerifyTLS: cfg.VerifySSL, IdlePerHost: 16, Proxy: proxy,
		Timeout: timeout, Auth: (*bearerAuth)(c), Policy: httpx.DefaultPolicy(),
	})
	return c, nil
}

// Close releases the idle connections of the asset.
func (c *client) Close() error { return c.http.Close() }

// String names the client without its credentials, so that printing or
// logging a connection by mistake cannot reveal the password or the token.
func (c *client) String() string { return "threatq client for " + c.base }

// GoString is String, for %#v.
func (c *client) GoString() string { return c.String() }

// request is one API call as an action builds it. path is relative to
// {url}/api.
type request struct {
	method string
	path   string
	query  url.Values
	body   any // sent as JSON when non-nil
	// idempotent calls may be retried; POST /api/events may not, since a
	// retry after a lost response would create the event twice.
	idempotent bool
	noAuth     bool
}

// do sends r with a bearer token; see bearerAuth for 401 handling.
func (c *client) do(ctx context.Context, env httpx.Env, r request) (*httpx.Response, error) {
	hr := &httpx.Request{Method: r.method, Path: c.prefix + "/api" + r.path, Idempotent: r.idempotent, NoAuth: r.noAuth}
	if len(r.query) > 0 {
		hr.Query = r.query.Encode()
	}
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("threatq: encode %s /api%s body: %w", r.method, r.path, err)
		}
		hr.Body = b
	}
	return c.http.Do(ctx, env, hr)
}

// bearerAuth is the client as the transport's auth hook. Each attempt
// carries the cached token; a 401 means it expired or was revoked early,
// so the token is dropped and the call is repeated once with a fresh one,
// and a second 401 reaches the caller.
type bearerAuth client

func (a *bearerAuth) Authorize(ctx context.Context, env httpx.Env, req *http.Request, _ *httpx.Request) error {
	tok, err := (*client)(a).bearer(ctx, env)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

func (a *bearerAuth) Renew(req *http.Request) bool {
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if ok {
		(*client)(a).dropToken(tok)
	}
	return ok
}
