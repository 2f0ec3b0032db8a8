package threatq

import (
	"encoding/json"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

func TestAPITypeEncodings(t *testing.T) {
	cases := []struct {
		apiType    string
		wantQuery  bool
		bodyFields []string
	}{
		{"standard", true, []string{"email", "password"}},
		{"beta", false, []string{"client_id", "email", "grant_type", "password"}},
	}
	for _, tc := range cases {
		t.Run(tc.apiType, func(t *testing.T) {
			f := newFixture(t, tqfake.Options{}, func(cfg map[string]any) { cfg["api_type"] = tc.apiType })
			mustSucceed(t, f.invoke(t, "test_connectivity", nil))
			reqs := requestsTo(f, "POST", "/api/token")
			if len(reqs) != 1 {
				t.Fatalf("%d token requests, want 1", len(reqs))
			}
			uri := reqs[0].RequestURI
			inQuery := strings.Contains(uri, "grant_type=password") && strings.Contains(uri, "client_id="+tqfake.DefaultClientID)
			if inQuery != tc.wantQuery || (!tc.wantQuery && uri != "/api/token") {
				t.Fatalf("token request URI = %s", uri)
			}
			var b map[string]any
			if err := json.Unmarshal(reqs[0].Body, &b); err != nil {
				t.Fatalf("token body is not JSON: %v", err)
			}
			if keys := slices.Sorted(maps.Keys(b)); !slices.Equal(keys, tc.bodyFields) {
				t.Fatalf("token body fields = %v, want %v", keys, tc.bodyFields)
			}
			if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("content type = %q", ct)
			}
		})
	}
}

func TestTokenIsCached(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	for range 3 {
		mustSucceed(t, f.invoke(t, "get_event_list", map[string]any{"limit": 1}))
	}
	if n := f.fake.TokenCount(); n != 1 {
		t.Fatalf("%d tokens fetched for three calls, want 1", n)
	}
}

func TestConcurrentCallersShareOneTokenFetch(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	f.fake.SetLatency(20 * time.Millisecond)
	var wg sync.WaitGroup
	results := make([]string, 16)
	for i := range results {
		wg.Go(func() {
			res, err := f.asset.Invoke(t.Context(), "get_indicators_list", map[string]any{"limit": 1}, f.env)
			switch {
			case err != nil:
				results[i] = err.Error()
			case !res.OK():
				results[i] = res.Message
			}
		})
	}
	wg.Wait()
	for i, msg := range results {
		if msg != "" {
			t.Fatalf("call %d failed: %s", i, msg)
		}
	}
	if n := f.fake.TokenCount(); n != 1 {
		t.Fatalf("%d tokens fetched by 16 concurrent callers, want 1", n)
	}
}

// A one-second token is shorter than the renewal margin, so each is used
// once and calls across its lifetime never meet a 401.
func TestShortLivedTokenRenewsTransparently(t *testing.T) {
	clock := newFakeClock()
	f := newFixture(t, tqfake.Options{TokenLifetime: time.Second, Now: clock.Now}, nil)
	mustSucceed(t, f.invoke(t, "get_event_list", map[string]any{"limit": 1}))
	clock.Advance(2 * time.Second)
	mustSucceed(t, f.invoke(t, "get_event_list", map[string]any{"limit": 1}))
	if n := f.fake.TokenCount(); n != 2 {
		t.Fatalf("tokens = %d, want 2", n)
	}
	if n := f.fake.RequestCount(); n != 4 {
		t.Fatalf("requests = %d, want 4 (two tokens, two calls, no rejected call)", n)
	}
}

// When the server expires a token the client still thinks valid, the 401
// drops it, and the call is repeated once with a new token.
func TestExpiredTokenReauthenticatesOnce(t *testing.T) {
	serverClock := newFakeClock()
	f := newFixture(t, tqfake.Options{TokenLifetime: time.Hour, Now: serverClock.Now}, nil)
	f.env.Now = newFakeClock().Now // the client's clock stands still
	mustSucceed(t, f.invoke(t, "get_event_list", map[string]any{"limit": 1}))
	serverClock.Advance(2 * time.Hour)
	mustSucceed(t, f.invoke(t, "get_event_list", map[string]any{"limit": 1}))
	if n := f.fake.TokenCount(); n != 2 {
		t.Fatalf("tokens = %d, want 2", n)
	}
	if n := f.fake.RequestCount(); n != 5 {
		t.Fatalf("requests = %d, want 5 (token, call, rejected call, token, call)", n)
	}
}

func TestRevokedTokenReauthenticates(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	mustSucceed(t, f.invoke(t, "get_event_list", map[string]any{"limit": 1}))
	f.fake.RevokeTokens()
	mustSucceed(t, f.invoke(t, "get_event_list", map[string]any{"limit": 1}))
	if n := f.fake.TokenCount(); n != 2 {
		t.Fatalf("tokens = %d, want 2", n)
	}
}

// A server that rejects every token gets exactly one re-authentication and
// one repeat, never a loop.
func TestSecond401FailsTheAction(t *testing.T) {
	fake := tqfake.NewHandler(tqfake.Options{})
	var apiCalls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/token" {
			fake.Handler().ServeHTTP(w, r)
			return
		}
		mu.Lock()
		apiCalls++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errors":["Unauthenticated."]}`))
	}))
	defer srv.Close()
	f := newFixture(t, tqfake.Options{}, func(cfg map[string]any) { cfg["url"] = srv.URL })
	res := f.invoke(t, "get_event_list", nil)
	mustFail(t, res, "Error from server, Status Code: 401: Unauthenticated.")
	if apiCalls != 2 || fake.TokenCount() != 2 {
		t.Fatalf("api calls %d, tokens %d; want 2 and 2", apiCalls, fake.TokenCount())
	}
}

func TestBadCredentials(t *testing.T) {
	cases := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"wrong password", func(c map[string]any) { c["password"] = "not-the-password" }, "Authentication failed: 400 invalid_grant"},
		{"wrong password beta", func(c map[string]any) { c["password"] = "not-the-password"; c["api_type"] = "beta" }, "Authentication failed: 400 invalid_grant"},
		{"wrong email", func(c map[string]any) { c["email"] = "nobody@example.com" }, "Authentication failed: 400"},
		{"unknown client_id", func(c map[string]any) { c["client_id"] = "someone-else" }, "Authentication failed: 401 invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tqfake.Options{}, tc.edit)
			mustFail(t, f.invoke(t, "get_indicators_list", nil), tc.want)
			res := f.invoke(t, "test_connectivity", nil)
			mustFail(t, res, "Test Connectivity Failed: "+tc.want)
			if n := f.fake.RequestCount(); n != 2 {
				t.Fatalf("requests = %d, want one token request per action and nothing else", n)
			}
			if f.fake.TokenCount() != 0 {
				t.Fatal("a token was issued")
			}
		})
	}
}

func TestRetry503ThenSuccessHonoursRetryAfter(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
	before := f.fake.RequestCount()
	f.fake.FailNext(1, http.StatusServiceUnavailable, "2")
	res := f.invoke(t, "get_indicators_list", map[string]any{"limit": 3})
	mustSucceed(t, res)
	if n := f.fake.RequestCount() - before; n != 2 {
		t.Fatalf("requests = %d, want 2", n)
	}
	if w := f.recordedWaits(); len(w) != 1 || w[0] != 2*time.Second {
		t.Fatalf("waits = %v, want [2s] from Retry-After", w)
	}
}

func TestRetryGivesUpAfterThreeAttempts(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
	before := f.fake.RequestCount()
	f.fake.FailNext(10, http.StatusTooManyRequests, "")
	res := f.invoke(t, "indicators_query", map[string]any{"filters": map[string]any{"value": tqfake.SeedIP}})
	mustFail(t, res, "Error from server, Status Code: 429: Too Many Attempts.")
	if n := f.fake.RequestCount() - before; n != 3 {
		t.Fatalf("attempts = %d, want 3", n)
	}
	w := f.recordedWaits()
	if len(w) != 2 || w[0] > f.conn.http.Policy.Base || w[1] > 2*f.conn.http.Policy.Base {
		t.Fatalf("waits = %v, want two jittered backoffs within %v and %v", w, f.conn.http.Policy.Base, 2*f.conn.http.Policy.Base)
	}
}

func TestNoRetryOn500(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
	before := f.fake.RequestCount()
	f.fake.FailNext(1, http.StatusInternalServerError, "")
	res := f.invoke(t, "indicators_query", map[string]any{"criteria": map[string]any{"value": map[string]any{"+equals": tqfake.SeedIP}}})
	mustFail(t, res, "Error from server, Status Code: 500: Internal Server Error")
	if n := f.fake.RequestCount() - before; n != 1 {
		t.Fatalf("attempts = %d, want 1", n)
	}
}

func TestCreateEventIsNeverRetried(t *testing.T) {
	params := map[string]any{"title": "once only", "type": "Malware", "happened_at": "2024-01-02 03:04:05"}
	t.Run("503", func(t *testing.T) {
		f := newFixture(t, tqfake.Options{}, nil)
		mustSucceed(t, f.invoke(t, "test_connectivity", nil))
		before := f.fake.RequestCount()
		f.fake.FailNext(1, http.StatusServiceUnavailable, "1")
		mustFail(t, f.invoke(t, "create_event", params), "Error from server, Status Code: 503")
		if n := f.fake.RequestCount() - before; n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
	})
	t.Run("reset", func(t *testing.T) {
		f := newFixture(t, tqfake.Options{}, nil)
		mustSucceed(t, f.invoke(t, "test_connectivity", nil))
		before := f.fake.RequestCount()
		f.fake.ResetNext(1)
		mustFail(t, f.invoke(t, "create_event", params), "Error connecting: POST /api/events")
		if n := f.fake.RequestCount() - before; n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
	})
}

func TestConnectionResetIsRetried(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
	before := f.fake.RequestCount()
	f.fake.ResetNext(1)
	mustSucceed(t, f.invoke(t, "get_indicator_by_id", map[string]any{"id": "1"}))
	if n := f.fake.RequestCount() - before; n != 2 {
		t.Fatalf("attempts = %d, want 2", n)
	}
}

func TestTimeout(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, func(cfg map[string]any) { cfg["timeout"] = "100ms" })
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
	before := f.fake.RequestCount()
	f.fake.SetLatency(10 * time.Second)
	defer f.fake.SetLatency(0)
	res := f.invoke(t, "get_indicators_list", nil)
	mustFail(t, res, "Error connecting: GET /api/indicators: no answer within the 100ms timeout")
	if n := f.fake.RequestCount() - before; n != 3 {
		t.Fatalf("attempts = %d, want 3", n)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	f := newFixture(t, tqfake.Options{}, func(cfg map[string]any) { cfg["url"] = url })
	mustFail(t, f.invoke(t, "test_connectivity", nil), "Test Connectivity Failed: Error connecting: POST /api/token")
}

// TestSecretsNeverLeak drives successes and every kind of failure with a
// recognisable password, then looks for it and for every token the client
// held in all results and log lines.
func TestSecretsNeverLeak(t *testing.T) {
	const password = "Zq7-recognisable-PASSWORD-41c"
	opts := tqfake.Options{Password: password}
	f := newFixture(t, opts, func(cfg map[string]any) { cfg["timeout"] = "200ms" })
	var tokens []string
	step := func(action string, params map[string]any) {
		f.invoke(t, action, params)
		if tok := f.cachedToken(); tok != "" {
			tokens = append(tokens, tok)
		}
	}
	step("test_connectivity", nil)
	step("get_indicator_by_id", map[string]any{"id": "1", "with": "sources"})
	step("get_indicator_by_id", map[string]any{"id": "999999"})
	f.fake.RevokeTokens()
	step("get_event_list", map[string]any{"limit": 1})
	f.fake.FailNext(3, http.StatusServiceUnavailable, "")
	step("get_event_list", nil)
	f.fake.FailNext(1, http.StatusUnauthorized, "")
	step("get_event_list", nil)
	f.fake.ResetNext(3)
	step("get_event_list", nil)
	f.fake.SetLatency(time.Second)
	step("get_event_list", nil)
	f.fake.SetLatency(0)
	step("create_event", map[string]any{"type": "Malware"})

	wrong := newFixture(t, tqfake.Options{}, func(cfg map[string]any) { cfg["password"] = password })
	wrong.invoke(t, "test_connectivity", nil)
	wrong.invoke(t, "create_indicators", map[string]any{"indicators": []any{map[string]any{"value": "x.example", "type": "FQDN"}}})

	if len(tokens) < 2 {
		t.Fatalf("collected %d tokens, want the original and the renewed one", len(tokens))
	}
	for _, fx := range []*fixture{f, wrong} {
		fx.mu.Lock()
		texts := append([]string{fx.logs.String()}, fx.outputs...)
		fx.mu.Unlock()
		if len(texts) < 3 {
			t.Fatal("nothing was recorded")
		}
		for _, text := range texts {
			if strings.Contains(text, password) {
				t.Fatalf("the password leaked into: %.300s", text)
			}
			for _, tok := range tokens {
				if strings.Contains(text, tok) {
					t.Fatalf("a token leaked into: %.300s", text)
				}
			}
			if strings.Contains(strings.ToLower(text), "bearer ") {
				t.Fatalf("an authorization header leaked into: %.300s", text)
			}
		}
	}
}

func TestVerifySSL(t *testing.T) {
	fake := tqfake.NewHandler(tqfake.Options{})
	srv := httptest.NewUnstartedServer(fake.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()

	f := newFixture(t, tqfake.Options{}, func(cfg map[string]any) { cfg["url"] = srv.URL })
	mustFail(t, f.invoke(t, "test_connectivity", nil), "certificate")
	if w := f.recordedWaits(); len(w) != 0 {
		t.Fatalf("a certificate failure was retried: waits %v", w)
	}

	f = newFixture(t, tqfake.Options{}, func(cfg map[string]any) { cfg["url"] = srv.URL; cfg["verify_ssl"] = false })
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
}

// TestHTTPProxy sends every request, the token request included, through a
// forward proxy that serves them from tqfake; the configured url does not
// resolve, so a request that bypassed the proxy would fail.
func TestHTTPProxy(t *testing.T) {
	fake := tqfake.NewHandler(tqfake.Options{})
	var mu sync.Mutex
	var proxied []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied = append(proxied, r.Method+" "+r.URL.Host+r.URL.Path)
		mu.Unlock()
		fake.Handler().ServeHTTP(w, r)
	}))
	defer proxy.Close()
	f := newFixture(t, tqfake.Options{}, func(cfg map[string]any) {
		cfg["url"] = "http://threatq.invalid"
		cfg["http_proxy"] = proxy.URL
	})
	mustSucceed(t, f.invoke(t, "get_indicator_by_id", map[string]any{"id": "1"}))
	mu.Lock()
	defer mu.Unlock()
	want := []string{"POST threatq.invalid/api/token", "GET threatq.invalid/api/indicators/1"}
	if !slices.Equal(proxied, want) {
		t.Fatalf("proxied %v, want %v", proxied, want)
	}
}

// An event whose response was lost was created: create_event reports the
// failure and does not create it a second time.
func TestCreateEventIsNotResentAfterALostResponse(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
	before := f.fake.RequestCount()
	f.fake.LoseResponseNext(1)
	mustFail(t, f.invoke(t, "create_event", map[string]any{"title": "lost once", "type": "Malware", "happened_at": "2024-01-02 03:04:05"}), "Error connecting: POST /api/events")
	if n := f.fake.RequestCount() - before; n != 1 {
		t.Fatalf("attempts = %d, want 1", n)
	}
	created := 0
	for _, ev := range f.fake.Events() {
		if ev.Title == "lost once" {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("the event exists %d times, want once", created)
	}
}

func TestGetIsRetriedAfterALostResponse(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	mustSucceed(t, f.invoke(t, "test_connectivity", nil))
	before := f.fake.RequestCount()
	f.fake.LoseResponseNext(1)
	mustSucceed(t, f.invoke(t, "get_indicator_by_id", map[string]any{"id": "1"}))
	if n := f.fake.RequestCount() - before; n != 2 {
		t.Fatalf("attempts = %d, want 2", n)
	}
}
