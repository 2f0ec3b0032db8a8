// Command floor is the least a Go host can do for the peer benchmark's
// hunt → enrich → post run: a net/http webhook, the three vendor calls
// with net/http's client, their JSON decoded, and (with -store) the run's
// start and finish written by goshawk's store, with the three answers as
// its steps. No Lua, no signing, no logging, no metrics. Its CPU per run is
// the floor that goshawk's own is measured against in docs/PERFORMANCE.md:
// what a Go host pays for net/http and for goshawk's run records alone.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/goshawk/goshawk/engine/store"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "webhook address")
	api := flag.String("api", "", "base URL of the peer benchmark's API server")
	st := flag.String("store", "", "goshawk store file for run records written by goshawk's store; none when empty")
	flag.Parse()
	if *api == "" {
		log.Fatal("floor: -api is required")
	}
	h := &host{api: *api, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}}
	if *st != "" {
		s, err := store.Open(context.Background(), *st)
		if err != nil {
			log.Fatal(err)
		}
		h.store = s
	}
	http.HandleFunc("POST /run", h.run)
	log.Fatal(http.ListenAndServe(*listen, nil))
}

type host struct {
	api    string
	client *http.Client
	store  *store.SQLite
}

func (h *host) run(w http.ResponseWriter, r *http.Request) {
	var in struct{ IP string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.IP == "" {
		http.Error(w, `the body must be a JSON object such as {"ip": "198.51.100.7"}`, http.StatusBadRequest)
		return
	}
	// As in goshawk, the records outlive a caller that leaves.
	ctx := context.WithoutCancel(r.Context())
	params, _ := json.Marshal(map[string]string{"ip": in.IP})
	rec := &store.Run{Playbook: "hunt-enrich-post", Trigger: "webhook", Inputs: map[string]any{"ip": in.IP}}
	if h.store != nil {
		if err := h.store.StartRun(ctx, rec); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	step := func(raw json.RawMessage, err error) error {
		st := store.Step{Asset: "api", Action: "call", Status: "success", Started: rec.Started, Params: params,
			Result: &store.StepResult{Status: "success", Summary: json.RawMessage(`{}`), Data: append(append(json.RawMessage(`[`), raw...), ']')}}
		if err != nil {
			st.Status, st.Message, st.Result = "failed", err.Error(), nil
		}
		rec.Steps = append(rec.Steps, st)
		return err
	}
	var (
		hunt   struct{ Data []struct{ Rating float64 } }
		search struct{ Data []struct{ Score float64 } }
		rating float64
	)
	tql := "typeName IN ('Address') AND summary CONTAINS '" + in.IP + "'"
	err := step(h.call(ctx, "GET", "/v3/indicators?tql="+url.QueryEscape(tql), nil, &hunt))
	if err == nil {
		err = step(h.call(ctx, "GET", "/api/indicators/search?value="+url.QueryEscape(in.IP), nil, &search))
	}
	if err == nil && (len(hunt.Data) == 0 || len(search.Data) == 0) {
		err = fmt.Errorf("no indicator for %s", in.IP)
	}
	if err == nil {
		rating = math.Min(5, math.Max(hunt.Data[0].Rating, search.Data[0].Score/2))
		body, _ := json.Marshal(map[string]any{"type": "Address", "ip": in.IP, "rating": rating})
		var post struct{ Status string }
		err = step(h.call(ctx, "POST", "/v3/indicators", body, &post))
	}
	rec.Status, rec.Result = store.RunSuccess, map[string]any{"rating": rating}
	if err != nil {
		rec.Status, rec.Result, rec.Error = store.RunFailed, nil, err.Error()
	}
	if h.store != nil {
		if err := h.store.FinishRun(ctx, rec); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":%d,"status":%q,"result":{"rating":%g}}`, rec.ID, rec.Status, rating)
}

// call sends one request and decodes its JSON answer into out; it returns
// the answer's bytes for the run record.
func (h *host) call(ctx context.Context, method, path string, body []byte, out any) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.api+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return b, nil
}
