package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/internal/httpx"
)

// TestRequestAsSent checks what reaches the server: the escaped path and
// the query byte for byte, the Host, Accept and, with a body,
// Content-Type, and the client's own headers.
func TestRequestAsSent(t *testing.T) {
	type seen struct{ uri, host, accept, ctype, extra string }
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.RequestURI, r.Host, r.Header.Get("Accept"), r.Header.Get("Content-Type"), r.Header.Get("X-Extra")}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, _ := newClient(t, srv.URL)
	c.Header = http.Header{"X-Extra": {"yes"}}
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, r := range []*httpx.Request{
		{Method: "GET", Path: "/v3/indicators/a%2Fb%20c", Query: "tql=summary%20CONTAINS%20%271.2.3.4%27&x=1"},
		{Method: "POST", Path: "/v3/indicators", Body: []byte(`{"ip":"1.2.3.4"}`)},
	} {
		resp, err := c.Do(context.Background(), httpx.Env{}, r)
		if err != nil || resp.Status != 200 {
			t.Fatalf("%s %s: %v %+v", r.Method, r.Path, err, resp)
		}
		s := <-got
		ctype := ""
		if r.Body != nil {
			ctype = "application/json"
		}
		if s.uri != r.Target() || s.host != host || s.accept != "application/json" || s.ctype != ctype || s.extra != "yes" {
			t.Fatalf("%s %s: the server saw %+v", r.Method, r.Target(), s)
		}
	}
}

// TestMalformedPathIsRefusedUnsent: a path net/url cannot read is an error
// naming the escape, and nothing is sent.
func TestMalformedPathIsRefusedUnsent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a malformed request reached the server: %s", r.RequestURI)
	}))
	defer srv.Close()
	c, _ := newClient(t, srv.URL)
	for _, path := range []string{"/a%zz", "/a\x7fb", "/a\nb"} {
		_, err := c.Do(context.Background(), httpx.Env{}, &httpx.Request{Method: "GET", Path: path})
		var e *httpx.Error
		if !errors.As(err, &e) || e.Sent || e.Err == nil {
			t.Fatalf("path %q: %v, want an unsent *Error", path, err)
		}
		if path == "/a%zz" && !strings.Contains(err.Error(), "invalid URL escape") {
			t.Fatalf("path %q: %v", path, err)
		}
	}
}
