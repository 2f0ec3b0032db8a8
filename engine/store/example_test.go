package store_test

import (
	"context"
	"fmt"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// An on_poll action ingests through the asset's sink; playbooks then read
// and triage the containers.
func Example() {
	ctx := context.Background()
	s, err := store.OpenMemory(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	sink := s.AssetSink("tc")
	batch := []cef.Container{{
		Name: "123.23.124.32", Label: "threatconnect", SourceDataIdentifier: "1111799822086111",
		Artifacts: []cef.Artifact{{
			Name: "IP Artifact", Label: "event", Type: "Address", SourceDataIdentifier: "1111799822086111",
			CEF:      map[string]any{"deviceAddress": "123.23.124.32"},
			CEFTypes: map[string][]string{"deviceAddress": {"ip"}},
		}},
	}}
	checkpoint := "2025-03-08T09:35:46Z 1111799822086111"
	created, duplicates, err := sink.Ingest(ctx, batch, &checkpoint)
	fmt.Println(created, duplicates, err)
	created, duplicates, err = sink.Ingest(ctx, batch, &checkpoint)
	fmt.Println(created, duplicates, err)

	high := "high"
	c, err := s.UpdateContainer(ctx, batch[0].ID, store.ContainerUpdate{Severity: &high, AddTags: []string{"triaged"}})
	fmt.Println(c.Name, c.Severity, c.Status, c.Tags, c.Artifacts[0].CEF["deviceAddress"], err)
	// Output:
	// 1 0 <nil>
	// 0 1 <nil>
	// 123.23.124.32 high new [triaged] 123.23.124.32 <nil>
}
