package fakekit_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/goshawk/goshawk/providers/fakekit"
)

func newServer(t *testing.T) (*fakekit.Kit, *atomic.Int64, *httptest.Server) {
	k := &fakekit.Kit{MaxBody: 8, Fail: func(w http.ResponseWriter, status int) {
		w.WriteHeader(status)
		io.WriteString(w, "forced")
	}}
	k.Redact = func(r *fakekit.Request) { r.Body = []byte(strings.ReplaceAll(string(r.Body), "pw", fakekit.Redacted)) }
	var handled atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.Serve(w, r, func(w http.ResponseWriter, r *http.Request, body []byte, err error) {
			if errors.Is(err, fakekit.ErrBodyTooLarge) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				return
			}
			handled.Add(1)
			w.Write(body)
		})
	}))
	t.Cleanup(srv.Close)
	return k, &handled, srv
}

func post(t *testing.T, url, body string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodPost, url+"/x?q=1", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	return http.DefaultClient.Do(req)
}

func TestRecordsAndRedacts(t *testing.T) {
	k, _, srv := newServer(t)
	resp, err := post(t, srv.URL, "pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs := k.Requests()
	if len(reqs) != 1 || k.RequestCount() != 1 {
		t.Fatalf("requests %v, count %d", reqs, k.RequestCount())
	}
	r := reqs[0]
	if r.Method != "POST" || r.RequestURI != "/x?q=1" || r.Path != "/x" || r.Header.Get("Authorization") != fakekit.Redacted || string(r.Body) != fakekit.Redacted {
		t.Fatalf("recorded %+v", r)
	}
	k.ResetRequests()
	if len(k.Requests()) != 0 || k.RequestCount() != 0 {
		t.Fatal("ResetRequests kept something")
	}
}

func TestFaults(t *testing.T) {
	k, handled, srv := newServer(t)
	k.FailNext(1, http.StatusTooManyRequests, "7")
	resp, err := post(t, srv.URL, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || string(b) != "forced" || handled.Load() != 0 {
		t.Fatalf("forced failure: %d %q %q, handled %d", resp.StatusCode, resp.Header.Get("Retry-After"), b, handled.Load())
	}

	k.ResetNext(1)
	if _, err := post(t, srv.URL, "a"); err == nil || handled.Load() != 0 {
		t.Fatalf("reset: err %v, handled %d; want an error and nothing handled", err, handled.Load())
	}

	k.LoseResponseNext(1)
	if _, err := post(t, srv.URL, "a"); err == nil || handled.Load() != 1 {
		t.Fatalf("lost response: err %v, handled %d; want an error after the handler ran", err, handled.Load())
	}

	resp, err = post(t, srv.URL, "123456789")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: status %d", resp.StatusCode)
	}
	if k.RequestCount() != 4 {
		t.Fatalf("count = %d, want every request counted", k.RequestCount())
	}
}
