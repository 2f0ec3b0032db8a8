package threatq

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/internal/httpx"
)

func TestServerDetails(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"field map sorted", `{"data":{"errors":{"test":["test_error1","test_error2"],"name":["The name has already been taken."]}}}`,
			"name: The name has already been taken.; test: test_error1, test_error2"},
		{"nested list", `{"errors":["First Error",["Second error - part 1","Second error - part 2"]]}`,
			"First Error; Second error - part 1; Second error - part 2"},
		{"unauthenticated", `{"errors":["Unauthenticated."]}`, "Unauthenticated."},
		{"message", `{"message":"Server Error"}`, "Server Error"},
		{"oauth fields", `{"error":"invalid_client","error_description":"Client authentication failed"}`, "Client authentication failed"},
		{"not json", `<html>Bad Gateway</html>`, "<html>Bad Gateway</html>"},
		{"json without reasons", `{"foo":1}`, `{"foo":1}`},
		{"empty", ``, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := serverDetails([]byte(tc.body)); got != tc.want {
				t.Fatalf("serverDetails = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestServerDetailsTruncatesRawBody(t *testing.T) {
	got := serverDetails([]byte(strings.Repeat("é", 2000)))
	if len(got) > maxDetail+len("...") || !strings.HasSuffix(got, "...") {
		t.Fatalf("raw body not cut at %d bytes: len %d", maxDetail, len(got))
	}
	if !strings.HasPrefix(got, "éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("cut split a UTF-8 sequence: %q", got[len(got)-8:])
	}
}

func TestServerErrorMessage(t *testing.T) {
	msg := serverErrorMessage(&httpx.Response{Status: 404, Body: []byte(`{"errors":["Object not found"]}`)})
	if want := "Error from server, Status Code: 404: Object not found"; msg != want {
		t.Fatalf("message = %q, want %q", msg, want)
	}
	msg = serverErrorMessage(&httpx.Response{Status: 502})
	if want := "Error from server, Status Code: 502: Bad Gateway"; msg != want {
		t.Fatalf("message = %q, want %q", msg, want)
	}
}

func TestAuthDetail(t *testing.T) {
	cases := map[string]string{
		`{"error":"invalid_grant","error_description":"The user credentials were incorrect.","message":"The user credentials were incorrect."}`: "invalid_grant: The user credentials were incorrect.",
		`{"error":"invalid_client"}`:      "invalid_client",
		`{"errors":["Unauthenticated."]}`: "Unauthenticated.",
		`nope`:                            "nope",
	}
	for body, want := range cases {
		if got := authDetail([]byte(body)); got != want {
			t.Errorf("authDetail(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestItemErrors(t *testing.T) {
	body := decodeJSONValue(t, `{"total":3,"data":[{"id":1,"value":"a.example","existing":"N"},{"value":"b.example","error":"Unknown type Foo"},{"value":7,"error":["x","y"]}]}`)
	got := itemErrors(body)
	want := []string{"item 1 (b.example): Unknown type Foo", "item 2 (7): x, y"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("itemErrors = %q, want %q", got, want)
	}
	if got := itemErrors(decodeJSONValue(t, `{"data":{"id":1}}`)); len(got) != 0 {
		t.Fatalf("single object: itemErrors = %q, want none", got)
	}
}

func TestResponseHeadersRedactCookie(t *testing.T) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Add("Set-Cookie", "threatq_api=eyJpdiI6SECRETSESSION; expires=Wed, 30 Aug 2023 11:44:30 GMT; Max-Age=3600; path=/api/; secure; HttpOnly; SameSite=Strict")
	h.Set("Authorization", "Bearer leaked")
	got := responseHeaders(h)
	if got["content-type"] != "application/json" {
		t.Errorf("content-type = %v", got["content-type"])
	}
	if _, ok := got["authorization"]; ok {
		t.Error("authorization header carried into the result")
	}
	cookie, _ := got["set-cookie"].(string)
	if strings.Contains(cookie, "SECRETSESSION") || !strings.HasPrefix(cookie, "threatq_api=[redacted];") || !strings.Contains(cookie, "HttpOnly") {
		t.Errorf("set-cookie = %q, want the value redacted and the attributes kept", cookie)
	}
}

// The retry policy: three attempts with full-jitter backoff from 500ms up
// to 8s, and 500 not retried (ThreatQ answers a malformed query with it).
func TestRetryPolicy(t *testing.T) {
	c, err := newClient(clientConfig{URL: "https://tq.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	p := c.http.Policy
	if p.Attempts != 3 || p.Base != 500*time.Millisecond || p.Cap != 8*time.Second || slices.Contains(p.RetryStatus, 500) {
		t.Fatalf("policy = %+v", p)
	}
}

func TestTypeRef(t *testing.T) {
	cases := []struct {
		in   any
		id   int64
		name string
	}{
		{15.0, 15, ""},
		{"15", 15, ""},
		{" 15 ", 15, ""},
		{"IP Address", 0, "IP Address"},
		{map[string]any{"name": "FQDN"}, 0, "FQDN"},
		{map[string]any{"id": "11"}, 11, ""},
		{1.5, 0, ""},
		{nil, 0, ""},
	}
	for _, tc := range cases {
		id, name := typeRef(tc.in)
		if id != tc.id || name != tc.name {
			t.Errorf("typeRef(%#v) = %d, %q; want %d, %q", tc.in, id, name, tc.id, tc.name)
		}
	}
}
