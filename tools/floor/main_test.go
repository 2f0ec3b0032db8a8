package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/store"
)

// apiServer answers the three calls as the peer benchmark's API server
// does, and refuses a post whose rating is not 3.5; fail makes the search
// answer 500.
func apiServer(t *testing.T, fail bool) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v3/indicators", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Query().Get("tql"), "198.51.100.7") {
			http.Error(w, "bad tql", http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"status":"Success","data":[{"summary":"198.51.100.7","rating":3.00}]}`)
	})
	mux.HandleFunc("GET /api/indicators/search", func(w http.ResponseWriter, r *http.Request) {
		if fail {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"total":1,"data":[{"value":"198.51.100.7","score":7}]}`)
	})
	mux.HandleFunc("POST /v3/indicators", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Rating float64 }
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.Rating != 3.5 {
			http.Error(w, "rating must be 3.5", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"status":"Success"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunRecordsTheWorkflow(t *testing.T) {
	for _, fail := range []bool{false, true} {
		api := apiServer(t, fail)
		s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "goshawk.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		h := &host{api: api.URL, client: api.Client(), store: s}
		rr := httptest.NewRecorder()
		h.run(rr, httptest.NewRequest("POST", "/run", strings.NewReader(`{"ip":"198.51.100.7"}`)))
		want, wantStatus, wantSteps := http.StatusOK, store.RunSuccess, 3
		if fail {
			want, wantStatus, wantSteps = http.StatusBadGateway, store.RunFailed, 2
		}
		if rr.Code != want {
			t.Fatalf("fail=%v: answer %d %s, want %d", fail, rr.Code, rr.Body, want)
		}
		if !fail && !strings.Contains(rr.Body.String(), `"rating":3.5`) {
			t.Errorf("answer %s, want rating 3.5", rr.Body)
		}
		run, err := s.GetRun(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != wantStatus || len(run.Steps) != wantSteps {
			t.Errorf("fail=%v: recorded %s with %d steps, want %s with %d", fail, run.Status, len(run.Steps), wantStatus, wantSteps)
		}
	}
}

func TestRunRefusesABodyWithoutIP(t *testing.T) {
	h := &host{api: "http://127.0.0.1:1", client: http.DefaultClient}
	rr := httptest.NewRecorder()
	h.run(rr, httptest.NewRequest("POST", "/run", strings.NewReader(`{"host":"x"}`)))
	if rr.Code != http.StatusBadRequest || !strings.Contains(rr.Body.String(), `{"ip"`) {
		t.Errorf("answer %d %s, want 400 naming the ip field", rr.Code, rr.Body)
	}
}
