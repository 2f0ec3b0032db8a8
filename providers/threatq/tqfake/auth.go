package tqfake

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// RevokeTokens invalidates every access and refresh token issued so far, as
// an administrator logging all sessions out would.
func (s *Server) RevokeTokens() {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	clear(s.tokens)
	clear(s.refreshes)
}

// TokenCount reports how many tokens the server has issued, across every
// grant. Tests use it to check that clients cache tokens and re-authenticate
// only when they must.
func (s *Server) TokenCount() int {
	s.authMu.Lock()
	defer s.authMu.Unlock()
	return s.issued
}

// oauthError is the OAuth-server style body ThreatQ's Passport backend
// sends for a failed token request.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{
		"error":             code,
		"error_description": description,
		"message":           description,
	})
}

// tokenParams merges the query string and the body, body first, the way
// Laravel's request input does. Clients disagree on where they put the grant
// fields (query, JSON or form), and the real server accepts all of them.
func tokenParams(r *http.Request) (map[string]string, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return params, nil
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("parse form body: %w", err)
		}
		for k, v := range form {
			if len(v) > 0 {
				params[k] = v[0]
			}
		}
		return params, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("parse JSON body: %w", err)
	}
	for k, v := range doc {
		switch x := v.(type) {
		case string:
			params[k] = x
		case float64:
			params[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			params[k] = strconv.FormatBool(x)
		}
	}
	return params, nil
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	params, err := tokenParams(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is malformed; send JSON or a form.")
		return
	}
	switch params["grant_type"] {
	case "password":
		s.passwordGrant(w, params)
	case "refresh_token":
		s.refreshGrant(w, params)
	case "client_credentials":
		s.clientCredentialsGrant(w, r, params)
	case "":
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant_type parameter is required.")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
	}
}

func equalSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (s *Server) passwordGrant(w http.ResponseWriter, params map[string]string) {
	if params["client_id"] != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if params["email"] == "" || params["password"] == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request is missing the email or password parameter.")
		return
	}
	if !strings.EqualFold(params["email"], s.opts.Email) || !equalSecret(params["password"], s.opts.Password) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The user credentials were incorrect.")
		return
	}
	s.issueToken(w)
}

func (s *Server) refreshGrant(w http.ResponseWriter, params map[string]string) {
	if id := params["client_id"]; id != "" && id != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	refresh := params["refresh_token"]
	s.authMu.Lock()
	access, ok := s.refreshes[refresh]
	if ok {
		// A refresh token is single use, and refreshing retires the access
		// token it came with.
		delete(s.refreshes, refresh)
		delete(s.tokens, access)
	}
	s.authMu.Unlock()
	if refresh == "" || !ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The refresh token is invalid.")
		return
	}
	s.issueToken(w)
}

func (s *Server) clientCredentialsGrant(w http.ResponseWriter, r *http.Request, params map[string]string) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = params["client_id"], params["client_secret"]
	}
	if id != s.opts.ClientID || !equalSecret(secret, s.opts.ClientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	s.issueToken(w)
}

func (s *Server) issueToken(w http.ResponseWriter) {
	access, refresh := randomToken(32), randomToken(32)
	s.authMu.Lock()
	s.tokens[access] = s.now().Add(s.opts.TokenLifetime)
	s.refreshes[refresh] = access
	s.issued++
	s.authMu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  access,
		"token_type":    "Bearer",
		"expires_in":    int64(math.Ceil(s.opts.TokenLifetime.Seconds())),
		"refresh_token": refresh,
	})
}

// validToken reports whether the request carries a live bearer token.
func (s *Server) validToken(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	token = strings.TrimSpace(token)
	s.authMu.Lock()
	expires, ok := s.tokens[token]
	s.authMu.Unlock()
	return ok && s.now().Before(expires)
}

func (s *Server) requireToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.validToken(r) {
			writeErrors(w, http.StatusUnauthorized, "Unauthenticated.")
			return
		}
		h(w, r)
	}
}
