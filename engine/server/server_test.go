package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/server"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

const token = "server-test-token-41c7e2"

var testPlaybooks = map[string]string{
	"lookup.yaml": `description: Looks an IP up.
trigger: {webhook: true}
inputs:
  ip: {type: string, contains: [ip], required: true}
  limit: {type: integer, default: 5}
lua: |
  return {ip = input.ip, limit = input.limit}
`,
	"manual.yaml": "lua: |\n  return 1\n",
}

// api opens a host on a temporary folder and serves its API from an
// httptest server.
func api(t *testing.T, o server.Options) (*host.Host, *httptest.Server) {
	t.Helper()
	return apiWith(t, o, nil)
}

// apiWith is api with more playbook files.
func apiWith(t *testing.T, o server.Options, more map[string]string) (*host.Host, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	pbDir := filepath.Join(dir, "playbooks")
	if err := os.MkdirAll(pbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range testPlaybooks {
		if _, replaced := more[name]; replaced {
			continue
		}
		if err := os.WriteFile(filepath.Join(pbDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range more {
		if err := os.WriteFile(filepath.Join(pbDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(dir, "goshawk.yaml")
	if err := os.WriteFile(cfgPath, []byte("api_token: "+token+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := providers.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.Open(context.Background(), host.Options{Config: cfg, Registry: reg, PluginCache: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Runner.Wait(context.Background())
		h.Close(context.Background())
	})
	for _, info := range h.PlaybookInfos() {
		if info.LastError != "" {
			t.Fatalf("%s: %s", info.File, info.LastError)
		}
	}
	o.Host = h
	srv := httptest.NewServer(server.New(o))
	t.Cleanup(srv.Close)
	return h, srv
}

type call struct {
	method, path, auth, body string
}

type reply struct {
	code int
	body string
	hdr  http.Header
}

func send(t *testing.T, srv *httptest.Server, c call) reply {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, string(b), resp.Header}
}

// errorOf decodes the JSON error body every failure has.
func errorOf(t *testing.T, r reply) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
		t.Fatalf("status %d without a JSON error body: %q", r.code, r.body)
	}
	return e.Error
}

const bearer = "Bearer " + token

func TestRefusedRequests(t *testing.T) {
	_, srv := api(t, server.Options{Token: token})
	run := "/api/playbooks/lookup/run"
	cases := []struct {
		name string
		call
		code int
		want string
	}{
		{"missing token", call{"POST", run, "", `{"ip": "1.2.3.4"}`}, 401, "missing bearer token"},
		{"not a bearer token", call{"POST", run, "Basic " + token, `{"ip": "1.2.3.4"}`}, 401, "missing bearer token"},
		{"wrong token", call{"POST", run, "Bearer nope", `{"ip": "1.2.3.4"}`}, 401, "wrong bearer token"},
		{"unknown playbook", call{"POST", "/api/playbooks/lookpu/run", bearer, `{}`}, 404, `no playbook "lookpu"; did you mean "lookup"?`},
		{"no webhook trigger", call{"POST", "/api/playbooks/manual/run", bearer, `{}`}, 403, "add webhook: true"},
		{"malformed JSON", call{"POST", run, bearer, `{"ip": `}, 400, "malformed JSON body"},
		{"trailing data", call{"POST", run, bearer, `{"ip": "1.2.3.4"} {}`}, 400, "trailing data"},
		{"not an object", call{"POST", run, bearer, `["1.2.3.4"]`}, 400, "must be an object of inputs"},
		{"oversized body", call{"POST", run, bearer, `{"ip": "` + strings.Repeat("1", server.MaxBody) + `"}`}, 413, "exceeds"},
		{"bad input", call{"POST", run, bearer, `{"ip": "not-an-ip"}`}, 400, "ip"},
		{"missing input", call{"POST", run, bearer, `{}`}, 400, "ip"},
		{"wrong input type", call{"POST", run, bearer, `{"ip": "1.2.3.4", "limit": "many"}`}, 400, "limit"},
		{"unknown input", call{"POST", run, bearer, `{"ip": "1.2.3.4", "lmit": 3}`}, 400, "lmit"},
		{"bad wait", call{"POST", run + "?wait=soon", bearer, `{"ip": "1.2.3.4"}`}, 400, "wait must be true or false"},
		{"unknown run", call{"GET", "/api/runs/999", "", ""}, 404, "not found"},
		{"bad run id", call{"GET", "/api/runs/x", "", ""}, 400, "positive integer"},
		{"unknown container", call{"GET", "/api/containers/999", "", ""}, 404, "not found"},
		{"bad limit", call{"GET", "/api/runs?limit=-1", "", ""}, 400, "limit"},
		{"unknown route", call{"GET", "/api/nothing", "", ""}, 404, "no route"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, srv, c.call)
			if r.code != c.code {
				t.Fatalf("status %d, want %d: %s", r.code, c.code, r.body)
			}
			if msg := errorOf(t, r); !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not say %q", msg, c.want)
			}
			if strings.Contains(r.body, token) {
				t.Fatalf("the token is in the response: %s", r.body)
			}
			if c.code == 401 && r.hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("a 401 without WWW-Authenticate")
			}
		})
	}
}

func TestWebhookRuns(t *testing.T) {
	h, srv := api(t, server.Options{Token: token})

	r := send(t, srv, call{"POST", "/api/playbooks/lookup/run", bearer, `{"ip": "1.2.3.4"}`})
	if r.code != http.StatusAccepted {
		t.Fatalf("without wait: %d %s", r.code, r.body)
	}
	var accepted struct {
		ID       int64  `json:"id"`
		Playbook string `json:"playbook"`
		Status   string `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.body), &accepted); err != nil || accepted.ID == 0 || accepted.Playbook != "lookup" || accepted.Status != "running" {
		t.Fatalf("202 body %s (%v)", r.body, err)
	}

	r = send(t, srv, call{"POST", "/api/playbooks/lookup/run?wait=true", bearer, `{"ip": "5.6.7.8", "limit": 2}`})
	if r.code != http.StatusOK {
		t.Fatalf("with wait: %d %s", r.code, r.body)
	}
	var rec store.Run
	if err := json.Unmarshal([]byte(r.body), &rec); err != nil {
		t.Fatal(err)
	}
	pb, _ := h.Playbook("lookup")
	want := map[string]any{"ip": "5.6.7.8", "limit": float64(2)}
	if rec.Status != "success" || rec.Trigger != "webhook" || rec.Version != pb.Version || rec.Finished == nil ||
		rec.Result.(map[string]any)["ip"] != want["ip"] || rec.Result.(map[string]any)["limit"] != want["limit"] {
		t.Fatalf("run record %s", r.body)
	}

	if err := h.Runner.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = send(t, srv, call{"GET", "/api/runs/" + strconv.FormatInt(accepted.ID, 10), "", ""})
	var first store.Run
	if err := json.Unmarshal([]byte(r.body), &first); r.code != 200 || err != nil || first.Status != "success" || first.Inputs["limit"] != float64(5) {
		t.Fatalf("GET the 202's run: %d %s", r.code, r.body)
	}
	r = send(t, srv, call{"GET", "/api/runs?playbook=lookup&limit=10", "", ""})
	var runs []store.Run
	if err := json.Unmarshal([]byte(r.body), &runs); r.code != 200 || err != nil || len(runs) != 2 || runs[0].ID != rec.ID || runs[1].ID != accepted.ID {
		t.Fatalf("GET /api/runs: %d %s", r.code, r.body)
	}
	r = send(t, srv, call{"GET", "/api/runs?playbook=manual", "", ""})
	if r.code != 200 || strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("no runs should be an empty list: %d %s", r.code, r.body)
	}
}

func TestReadRoutes(t *testing.T) {
	h, srv := api(t, server.Options{Token: token})
	if r := send(t, srv, call{"GET", "/healthz", "", ""}); r.code != 200 || !strings.Contains(r.body, `"ok"`) {
		t.Fatalf("healthz: %d %s", r.code, r.body)
	}
	if r := send(t, srv, call{"GET", "/api/containers", "", ""}); r.code != 200 || strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("no containers should be an empty list: %d %s", r.code, r.body)
	}
	batch := []cef.Container{{Name: "Address 198.51.100.7", Label: "threatconnect", Severity: "medium", Status: "new",
		SourceDataIdentifier: "tc-1", Artifacts: []cef.Artifact{{Name: "Address Artifact", Label: "artifact", Type: "network",
			SourceDataIdentifier: "tc-1", CEF: map[string]any{"sourceAddress": "198.51.100.7"}, CEFTypes: map[string][]string{"sourceAddress": {"ip"}}}}}}
	if _, _, err := h.Store.Ingest(context.Background(), "tc", batch, nil); err != nil {
		t.Fatal(err)
	}
	r := send(t, srv, call{"GET", "/api/containers?asset=tc", "", ""})
	var cs []cef.Container
	if err := json.Unmarshal([]byte(r.body), &cs); r.code != 200 || err != nil || len(cs) != 1 || len(cs[0].Artifacts) != 1 {
		t.Fatalf("GET /api/containers: %d %s", r.code, r.body)
	}
	r = send(t, srv, call{"GET", "/api/containers/" + strconv.FormatInt(cs[0].ID, 10), "", ""})
	var c cef.Container
	if err := json.Unmarshal([]byte(r.body), &c); r.code != 200 || err != nil || c.Artifacts[0].CEF["sourceAddress"] != "198.51.100.7" {
		t.Fatalf("GET /api/containers/{id}: %d %s", r.code, r.body)
	}

	r = send(t, srv, call{"GET", "/api/playbooks", "", ""})
	var infos []host.PlaybookInfo
	if err := json.Unmarshal([]byte(r.body), &infos); r.code != 200 || err != nil || len(infos) != 2 {
		t.Fatalf("GET /api/playbooks: %d %s", r.code, r.body)
	}
	if lk := infos[0]; lk.Name != "lookup" || lk.Version == "" || lk.Triggers["webhook"] != true || lk.LastReload.IsZero() || lk.Description == "" {
		t.Fatalf("lookup: %+v", lk)
	}

	// A run, so that the run metrics have a sample.
	if r := send(t, srv, call{"POST", "/api/playbooks/lookup/run?wait=true", bearer, `{"ip": "1.2.3.4"}`}); r.code != 200 {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	r = send(t, srv, call{"GET", "/metrics", "", ""})
	for _, name := range []string{
		`goshawk_runs_total{playbook="lookup",status="success"} 1`,
		"goshawk_run_duration_seconds_bucket",
		"goshawk_reloads_total",
		"go_goroutines",
	} {
		if !strings.Contains(r.body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestProtectedReads is the API beyond loopback: every route but /healthz
// needs the token.
func TestProtectedReads(t *testing.T) {
	_, srv := api(t, server.Options{Token: token, ProtectReads: true})
	for _, path := range []string{"/api/playbooks", "/api/runs", "/api/runs/1", "/api/containers", "/api/containers/1", "/metrics"} {
		if r := send(t, srv, call{"GET", path, "", ""}); r.code != 401 {
			t.Errorf("GET %s without the token: %d", path, r.code)
		}
		if r := send(t, srv, call{"GET", path, "Bearer wrong", ""}); r.code != 401 {
			t.Errorf("GET %s with a wrong token: %d", path, r.code)
		}
	}
	if r := send(t, srv, call{"GET", "/api/playbooks", bearer, ""}); r.code != 200 {
		t.Fatalf("GET /api/playbooks with the token: %d %s", r.code, r.body)
	}
	if r := send(t, srv, call{"GET", "/healthz", "", ""}); r.code != 200 {
		t.Fatalf("healthz must stay open for probes: %d", r.code)
	}
}
