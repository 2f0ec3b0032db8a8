package threatq

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/internal/httpx"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// TestResultGolden renders recorded responses as action results. Each
// testdata/results/NAME.json holds a status, headers and a body (or
// raw_body); NAME.golden is the expected result. Run with -update to
// rewrite the golden files after a deliberate change.
func TestResultGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "results", "*.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	c := &client{password: "golden-test-password"}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var tc struct {
				Status     int             `json:"status"`
				Headers    http.Header     `json:"headers"`
				Body       json.RawMessage `json:"body"`
				RawBody    string          `json:"raw_body"`
				CheckItems bool            `json:"check_items"`
			}
			if err := json.Unmarshal(raw, &tc); err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			body := []byte(tc.RawBody)
			if len(tc.Body) > 0 {
				body = tc.Body
			}
			res := c.result(&httpx.Response{Status: tc.Status, Header: tc.Headers, Body: body}, tc.CheckItems)
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestResultGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("result differs from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
			if bytes.Contains(got, []byte(c.password)) {
				t.Fatal("the password reached the result")
			}
		})
	}
}
