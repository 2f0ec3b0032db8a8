package threatq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/goshawk/goshawk/providers/internal/httpx"
	"github.com/goshawk/goshawk/providers/redact"
)

// tokenMargin is how long before expiry a token stops being handed out, so
// that a call never starts with a token about to lapse in flight.
const tokenMargin = 60 * time.Second

// authError is a token request the server refused.
type authError struct {
	status int
	detail string
}

func (e *authError) Error() string {
	if e.detail == "" {
		return fmt.Sprintf("threatq: sign in: %d %s; check the email, password and client_id of the asset", e.status, http.StatusText(e.status))
	}
	return fmt.Sprintf("threatq: sign in: %d %s; check the email, password and client_id of the asset", e.status, e.detail)
}

// message is the user-facing text, "Authentication failed: <status> <detail>",
// the Swimlane connector's wording.
func (e *authError) message() string {
	if e.detail == "" {
		return fmt.Sprintf("Authentication failed: %d %s", e.status, http.StatusText(e.status))
	}
	return fmt.Sprintf("Authentication failed: %d %s", e.status, e.detail)
}

// bearer returns a valid access token, fetching one when the cache is empty
// or stale. Concurrent callers share one fetch. A caller whose shared fetch
// failed only because the fetching caller gave up fetches again itself.
func (c *client) bearer(ctx context.Context, env httpx.Env) (string, error) {
	for {
		c.mu.Lock()
		if c.token != "" && env.Time().Before(c.expires) {
			tok := c.token
			c.mu.Unlock()
			return tok, nil
		}
		if f := c.fetching; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", ctx.Err()
			}
			if f.err != nil && isContextError(f.err) && ctx.Err() == nil {
				continue
			}
			return f.token, f.err
		}
		f := &tokenFetch{done: make(chan struct{})}
		c.fetching = f
		c.mu.Unlock()

		tok, lifetime, err := c.fetchToken(ctx, env)

		c.mu.Lock()
		c.fetching = nil
		if err == nil {
			// A token that lives no longer than the margin expires now: the
			// callers of this fetch use it once and the next call fetches again.
			c.token, c.expires = tok, env.Time().Add(lifetime-tokenMargin)
		}
		f.token, f.err = tok, err
		close(f.done)
		c.mu.Unlock()
		return tok, err
	}
}

// dropToken forgets tok if it is still the cached token; a newer token that
// another caller fetched meanwhile is kept.
func (c *client) dropToken(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token, c.expires = "", time.Time{}
	}
	c.mu.Unlock()
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fetchToken performs the password grant. The standard encoding puts
// grant_type and client_id in the query string and the credentials in a JSON
// body; beta sends all four in the body.
func (c *client) fetchToken(ctx context.Context, env httpx.Env) (string, time.Duration, error) {
	r := request{method: http.MethodPost, path: "/token", idempotent: true, noAuth: true}
	body := map[string]string{"email": c.email, "password": c.password}
	if c.beta {
		body["grant_type"] = "password"
		body["client_id"] = c.clientID
	} else {
		r.query = url.Values{"grant_type": {"password"}, "client_id": {c.clientID}}
	}
	r.body = body
	resp, err := c.do(ctx, env, r)
	if err != nil {
		return "", 0, err
	}
	if !resp.OK() {
		// Redact before authDetail cuts a long body, so that a cut can never
		// leave a prefix of the password behind.
		return "", 0, &authError{status: resp.Status, detail: authDetail([]byte(c.redact(string(resp.Body))))}
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.Body, &tr); err != nil || tr.AccessToken == "" {
		return "", 0, &authError{status: resp.Status, detail: "the token response has no access_token; check that url points at a ThreatQ server"}
	}
	env.Logger().Debug("threatq: signed in", "expires_in", string(tr.ExpiresIn))
	return tr.AccessToken, parseExpiresIn(tr.ExpiresIn), nil
}

// parseExpiresIn accepts expires_in as a number or a numeric string. A
// missing or unreadable value gives 0, so the token is used once.
func parseExpiresIn(raw json.RawMessage) time.Duration {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	var secs float64
	if _, err := fmt.Sscanf(s, "%g", &secs); err != nil || secs <= 0 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

// authDetail picks the OAuth error fields of a refused token request:
// error, error_description and message, in that order, without repeats.
func authDetail(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return truncate(strings.TrimSpace(string(body)), 200)
	}
	var parts []string
	for _, k := range []string{"error", "error_description", "message"} {
		s, _ := m[k].(string)
		s = strings.TrimSpace(s)
		if s == "" || slices.Contains(parts, s) {
			continue
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return serverDetails(body)
	}
	return strings.Join(parts, ": ")
}

// replacer removes the password and the cached token, in every encoding
// package redact knows, from text that came from the server, in case a
// server echoes what it was sent. It is rebuilt when the token changes.
func (c *client) replacer() *redact.Replacer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rep == nil || c.repToken != c.token {
		c.rep, c.repToken = redact.NewMarked("[redacted]", c.password, c.token), c.token
	}
	return c.rep
}

// redact applies replacer to s.
func (c *client) redact(s string) string { return c.replacer().String(s) }

// redactValue redacts every string of a decoded JSON value, in place, so
// that an echoed secret cannot reach json_body either.
func redactValue(v any, rep *redact.Replacer) any {
	switch x := v.(type) {
	case string:
		return rep.String(x)
	case map[string]any:
		for k, e := range x {
			x[k] = redactValue(e, rep)
		}
	case []any:
		for i, e := range x {
			x[i] = redactValue(e, rep)
		}
	}
	return v
}
