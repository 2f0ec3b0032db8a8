package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/store"
)

const hostile = `<script>window.__pwned=1</script>"onmouseover="x`

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// recordRun stores a finished run of n steps, the last one failed, with
// parameters, results and log lines that carry hostile text.
func recordRun(t testing.TB, st store.Store, n int) int64 {
	t.Helper()
	ctx := context.Background()
	rec := &store.Run{Playbook: "hunt", Version: "v1", Trigger: "webhook", Status: store.RunRunning, Inputs: map[string]any{"ip": hostile}, Started: t0}
	if err := st.StartRun(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		status, msg := "success", fmt.Sprintf("Found %d indicator(s)", i)
		if i == n-1 {
			status, msg = "failed", "Invalid IP: "+hostile
		}
		params, _ := json.Marshal(map[string]any{"ip": hostile, "n": i})
		data, _ := json.Marshal([]any{map[string]any{"data": []any{map[string]any{"id": i, "summary": "198.51.100." + fmt.Sprint(i), "rating": 3.5}}}})
		rec.Steps = append(rec.Steps, store.Step{
			Asset: "tc", Action: "hunt_ip", Status: status, Message: msg, DurationMS: 2,
			Started: t0.Add(time.Duration(i) * 3 * time.Millisecond),
			Params:  params,
			Result:  &store.StepResult{Status: status, Message: msg, Summary: json.RawMessage(`{"total_objects":1}`), Data: data},
		})
		rec.Log = append(rec.Log, store.LogLine{Time: t0.Add(time.Duration(i)*3*time.Millisecond + time.Millisecond), Level: "INFO", Message: "hunted " + hostile, Fields: json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`)})
	}
	fin := t0.Add(time.Duration(n) * 3 * time.Millisecond)
	rec.Status, rec.Finished, rec.Error = store.RunFailed, &fin, "hunt.lua:3: hunt failed: "+hostile
	if err := st.FinishRun(ctx, rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

// runConsole serves the run and container pages over a store; those pages
// need no host.
func runConsole(t testing.TB, o Options) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	Mount(mux, o)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func openStore(t testing.TB) *store.SQLite {
	t.Helper()
	st, err := store.OpenMemory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestRunPageEscapesAndShowsTheFailedStep(t *testing.T) {
	st := openStore(t)
	id := recordRun(t, st, 5)
	srv := runConsole(t, Options{Store: st, Now: func() time.Time { return t0.Add(time.Hour) }})
	code, body := get(t, fmt.Sprintf("%s/runs/%d", srv.URL, id))
	if code != http.StatusOK {
		t.Fatalf("GET run: %d\n%s", code, body)
	}
	if strings.Contains(body, "<script>window") || strings.Contains(body, `"onmouseover="`) {
		t.Fatal("a hostile value reached the page unescaped")
	}
	for _, want := range []string{
		`&lt;script&gt;window.__pwned=1&lt;/script&gt;`,               // escaped, shown as text
		`<details id="step-5" class="step failed" open>`,              // the failed step is open
		`Invalid IP: &lt;script&gt;`,                                  // with its message
		`class="bar failed"`,                                          // red on the timeline
		`hunted &lt;script&gt;`,                                       // the log lines beside it
		`<script src="/static/console.js" defer></script>`,            // the one script
		`data-live="done"`,                                            // a finished run stops refreshing
		`hunt.lua:3: hunt failed: &lt;script&gt;window.__pwned=1&lt;`, // the error
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the run page lacks %s", want)
		}
	}
}

func TestPagesRedactSecrets(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	secret := "Tr0ub4dor&3-secret"
	rec := &store.Run{Playbook: "p", Trigger: "manual", Status: store.RunRunning, Inputs: map[string]any{"note": "pw " + secret}, Started: t0}
	if err := st.StartRun(ctx, rec); err != nil {
		t.Fatal(err)
	}
	srv := runConsole(t, Options{Store: st, Redact: logx.NewRedactor(secret)})
	_, body := get(t, fmt.Sprintf("%s/runs/%d", srv.URL, rec.ID))
	if strings.Contains(body, "Tr0ub4dor") || !strings.Contains(body, logx.Redacted) {
		t.Fatalf("the page does not redact the secret:\n%s", body)
	}
	if !strings.Contains(body, `data-live="on"`) {
		t.Error("a running run's page does not refresh itself")
	}
}

func TestBadRequestsAreClear(t *testing.T) {
	st := openStore(t)
	srv := runConsole(t, Options{Store: st})
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/runs/abc", 400, "run id must be a positive integer"},
		{"/runs/42", 404, "no run 42"},
		{"/containers/0", 400, "container id must be a positive integer"},
		{"/containers/42", 404, "no container 42"},
	} {
		code, body := get(t, srv.URL+tc.path)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, want %d with %q", tc.path, code, tc.code, tc.want)
		}
	}
}

func TestLoginProtectsPages(t *testing.T) {
	st := openStore(t)
	id := recordRun(t, st, 1)
	srv := runConsole(t, Options{Store: st, Token: "tok-123456", Protect: true})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := fmt.Sprintf("%s/runs/%d", srv.URL, id)
	resp, err := client.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("an unauthenticated page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = client.PostForm(srv.URL+"/login", url.Values{"token": {"wrong"}, "next": {"/runs"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %d", resp.StatusCode)
	}
	resp, err = client.PostForm(srv.URL+"/login", url.Values{"token": {"tok-123456"}, "next": {"//evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("login: %d %q %+v", resp.StatusCode, resp.Header.Get("Location"), cookies)
	}
	req, _ := http.NewRequest("GET", page, nil)
	req.AddCookie(cookies[0])
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the cookie: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", page, nil)
	req.Header.Set("Authorization", "Bearer tok-123456")
	if resp, err = client.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("with the bearer token: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestRunPageWeight checks the run page of a 50-step run stays small; its
// time is measured by BenchmarkRunPage50Steps, not asserted.
func TestRunPageWeight(t *testing.T) {
	st := openStore(t)
	id := recordRun(t, st, 50)
	srv := runConsole(t, Options{Store: st})
	_, body := get(t, fmt.Sprintf("%s/runs/%d", srv.URL, id))
	_, css := get(t, srv.URL+"/static/console.css")
	_, js := get(t, srv.URL+"/static/console.js")
	total := len(body) + len(css) + len(js)
	t.Logf("run page of 50 steps: %d bytes of HTML, %d of CSS, %d of JS, %d in all", len(body), len(css), len(js), total)
	if total > 200<<10 {
		t.Fatalf("the run page of 50 steps weighs %d bytes, over 200 KB", total)
	}
}

func BenchmarkRunPage50Steps(b *testing.B) {
	st := openStore(b)
	id := recordRun(b, st, 50)
	srv := runConsole(b, Options{Store: st})
	u := fmt.Sprintf("%s/runs/%d", srv.URL, id)
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		b.SetBytes(n)
	}
}
