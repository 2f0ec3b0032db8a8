package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/goshawk/goshawk/engine/server"
)

// TestClusterSingleNode: a host on SQLite is no cluster; GET /api/cluster
// says so with an empty list rather than an error.
func TestClusterSingleNode(t *testing.T) {
	_, srv := api(t, server.Options{})
	resp, err := http.Get(srv.URL + "/api/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Clustered bool              `json:"clustered"`
		Nodes     []json.RawMessage `json:"nodes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || got.Clustered || got.Nodes == nil || len(got.Nodes) != 0 {
		t.Errorf("GET /api/cluster = %d %+v; want 200, not clustered, nodes []", resp.StatusCode, got)
	}
}
