// Package storetest is the behaviour every store backend must have, as one
// test suite: the SQLite store and the PostgreSQL store (pgstore) both run
// it, so that a playbook sees the same containers, dedup, checkpoints, kv
// data and run records on either.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// Backend is a store as the engine uses it.
type Backend = store.Backend

// Opener prepares a fresh, empty database for one test and returns a
// function that opens a handle on it: calling it again opens the same
// database again, as a restarted process or a second node would. Handles
// are closed by the test's cleanup (closing one twice must be harmless).
type Opener func(t *testing.T) func(now func() time.Time) Backend

// Now is the clock the suite gives the store.
var Now = time.Date(2025, 3, 8, 9, 35, 46, 0, time.UTC)

func fixedClock() time.Time { return Now }

// Run runs the suite as subtests of t.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(func() time.Time) Backend)
	}{
		{"IngestAndRead", testIngestAndRead},
		{"IngestDefaultsAndValidation", testIngestDefaultsAndValidation},
		{"IngestCancelled", testIngestCancelled},
		{"AssetSink", testAssetSink},
		{"UpdateContainer", testUpdateContainer},
		{"KV", testKV},
		{"Runs", testRuns},
		{"ListRuns", testListRuns},
		{"RunQueries", testRunQueries},
		{"ContainerQueries", testContainerQueries},
		{"RunRecordDetails", testRunRecordDetails},
		{"RunOncePerContainer", testRunOncePerContainer},
		{"RunOncePerContainerConcurrent", testRunOncePerContainerConcurrent},
		{"ReopenKeepsData", testReopenKeepsData},
		{"ConcurrentHandles", testConcurrentHandles},
		{"LastContainerID", testLastContainerID},
		{"Prune", testPrune},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Container is the suite's sample container, identified by sdi.
func Container(sdi string) cef.Container {
	return cef.Container{
		Name: "1.2.3." + sdi, Label: "threatconnect", Severity: "medium", Status: "new",
		Description: "Ingested indicator from ThreatConnect", SourceDataIdentifier: sdi,
		Artifacts: []cef.Artifact{{
			Name: "IP Artifact", Label: "event", Type: "Address", SourceDataIdentifier: sdi,
			CEF:      map[string]any{"deviceAddress": "1.2.3." + sdi, "rating": 3.5},
			CEFTypes: map[string][]string{"deviceAddress": {"ip"}},
		}},
	}
}

// Containers returns sample containers from..to-1.
func Containers(from, to int) []cef.Container {
	var out []cef.Container
	for i := from; i < to; i++ {
		out = append(out, Container(strconv.Itoa(i)))
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// counts returns how many containers and artifacts the store holds.
func counts(t *testing.T, s Backend) (containers, artifacts int) {
	t.Helper()
	cs, err := s.ListContainers(context.Background(), store.ContainerQuery{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		artifacts += len(c.Artifacts)
	}
	return len(cs), artifacts
}

func testIngestAndRead(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	batch := Containers(1, 4)
	created, dups, err := s.Ingest(ctx, "tc", batch, ptr("cp-3"))
	if err != nil || created != 3 || dups != 0 {
		t.Fatalf("Ingest = %d, %d, %v; want 3, 0, nil", created, dups, err)
	}
	for i, c := range batch {
		if c.ID == 0 || c.Asset != "tc" || !c.Created.Equal(Now) || c.Artifacts[0].ID == 0 {
			t.Errorf("batch[%d] not updated after commit: %+v", i, c)
		}
	}
	got, err := s.Container(ctx, batch[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	want := batch[1]
	want.Tags, want.Notes = []string{}, []cef.Note{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Container(%d) =\n%+v\nwant\n%+v", want.ID, got, want)
	}

	// Re-ingesting overlaps: the known ones are duplicates and keep ID 0.
	again := Containers(3, 6)
	created, dups, err = s.Ingest(ctx, "tc", again, nil)
	if err != nil || created != 2 || dups != 1 {
		t.Fatalf("second Ingest = %d, %d, %v; want 2, 1, nil", created, dups, err)
	}
	if again[0].ID != 0 || again[1].ID == 0 {
		t.Errorf("IDs after dedupe: %d, %d", again[0].ID, again[1].ID)
	}
	// The same identifier from another asset is another container.
	if created, _, err := s.Ingest(ctx, "tc2", Containers(1, 2), nil); err != nil || created != 1 {
		t.Fatalf("Ingest for another asset = %d, %v", created, err)
	}
	if cp, err := s.Checkpoint(ctx, "tc"); err != nil || cp != "cp-3" {
		t.Errorf("checkpoint = %q, %v; want the one of the first batch, as the second passed nil", cp, err)
	}

	all, err := s.ListContainers(ctx, store.ContainerQuery{Asset: "tc"})
	if err != nil {
		t.Fatal(err)
	}
	var sdis []string
	for _, c := range all {
		sdis = append(sdis, c.SourceDataIdentifier)
		if len(c.Artifacts) != 1 || c.Artifacts[0].SourceDataIdentifier != c.SourceDataIdentifier {
			t.Errorf("container %s has artifacts %+v", c.SourceDataIdentifier, c.Artifacts)
		}
	}
	if want := []string{"1", "2", "3", "4", "5"}; !slices.Equal(sdis, want) {
		t.Errorf("ListContainers(tc) = %v, want %v", sdis, want)
	}
	page, err := s.ListContainers(ctx, store.ContainerQuery{Asset: "tc", AfterID: all[1].ID, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
		t.Errorf("page after %d = %+v", all[1].ID, page)
	}
	every, err := s.ListContainers(ctx, store.ContainerQuery{})
	if err != nil || len(every) != 6 {
		t.Errorf("ListContainers(all assets) = %d containers, %v; want 6", len(every), err)
	}
	if _, err := s.Container(ctx, 9999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Container(9999) error = %v, want ErrNotFound", err)
	}
}

func testIngestDefaultsAndValidation(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	c := Container("1")
	c.Severity, c.Status = "", ""
	batch := []cef.Container{c}
	if _, _, err := s.Ingest(ctx, "tc", batch, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Container(ctx, batch[0].ID)
	if err != nil || got.Severity != "medium" || got.Status != "new" {
		t.Errorf("defaults: %+v, %v", got, err)
	}
	cases := map[string]func(*cef.Container){
		"bad severity": func(c *cef.Container) { c.Severity = "urgent" },
		"bad status":   func(c *cef.Container) { c.Status = "done" },
		"no sdi":       func(c *cef.Container) { c.SourceDataIdentifier = "" },
		"bad cef":      func(c *cef.Container) { c.Artifacts[0].CEF["x"] = make(chan int) },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			batch := Containers(10, 13)
			breakIt(&batch[1])
			_, _, err := s.Ingest(ctx, "tc", batch, ptr("moved"))
			if err == nil {
				t.Fatal("invalid batch accepted")
			}
			if !strings.Contains(err.Error(), "nothing from this batch was stored") {
				t.Errorf("error %q does not say the batch was not stored", err)
			}
			if n, _ := counts(t, s); n != 1 {
				t.Errorf("%d containers stored, want only the first test's one", n)
			}
			if cp, _ := s.Checkpoint(ctx, "tc"); cp != "" {
				t.Errorf("checkpoint moved to %q", cp)
			}
		})
	}
	if _, _, err := s.Ingest(ctx, "", Containers(1, 2), nil); err == nil {
		t.Error("ingest without an asset accepted")
	}
}

func testIngestCancelled(t *testing.T, open func(func() time.Time) Backend) {
	s := open(fixedClock)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Ingest(ctx, "tc", Containers(0, 5), ptr("4")); err == nil {
		t.Fatal("Ingest with a cancelled context succeeded")
	}
	if n, _ := counts(t, s); n != 0 {
		t.Errorf("%d containers stored", n)
	}
	if cp, _ := s.Checkpoint(context.Background(), "tc"); cp != "" {
		t.Errorf("checkpoint moved to %q", cp)
	}
}

func testAssetSink(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	sink := s.AssetSink("tc")
	if cp, err := sink.Checkpoint(ctx); err != nil || cp != "" {
		t.Fatalf("fresh checkpoint = %q, %v", cp, err)
	}
	if created, dups, err := sink.Ingest(ctx, Containers(0, 3), ptr("2025-03-08T09:35:46Z,3")); err != nil || created != 3 || dups != 0 {
		t.Fatalf("Ingest = %d, %d, %v", created, dups, err)
	}
	if cp, err := sink.Checkpoint(ctx); err != nil || cp != "2025-03-08T09:35:46Z,3" {
		t.Errorf("checkpoint = %q, %v", cp, err)
	}
	if cp, _ := s.Checkpoint(ctx, "other"); cp != "" {
		t.Errorf("another asset sees checkpoint %q", cp)
	}
	if _, dups, _ := sink.Ingest(ctx, Containers(0, 3), nil); dups != 3 {
		t.Errorf("re-ingest counted %d duplicates, want 3", dups)
	}
}

func testUpdateContainer(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	batch := Containers(1, 2)
	if _, _, err := s.Ingest(ctx, "tc", batch, nil); err != nil {
		t.Fatal(err)
	}
	id := batch[0].ID
	got, err := s.UpdateContainer(ctx, id, store.ContainerUpdate{Severity: ptr("high"), Status: ptr("open"),
		AddTags: []string{"phishing", " triaged ", "phishing"}, AddNote: ptr("looks bad")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Severity != "high" || got.Status != "open" || !slices.Equal(got.Tags, []string{"phishing", "triaged"}) ||
		len(got.Notes) != 1 || got.Notes[0].Text != "looks bad" || !got.Notes[0].Created.Equal(Now) || len(got.Artifacts) != 1 {
		t.Errorf("after update: %+v", got)
	}
	stored, err := s.Container(ctx, id)
	if err != nil || !reflect.DeepEqual(stored, got) {
		t.Errorf("stored %+v, %v; want what UpdateContainer returned", stored, err)
	}
	// An empty update changes nothing; a repeated tag is not added twice.
	if again, err := s.UpdateContainer(ctx, id, store.ContainerUpdate{AddTags: []string{"triaged"}}); err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("repeat tag: %+v, %v", again, err)
	}
	bad := map[string]store.ContainerUpdate{
		"severity":  {Severity: ptr("critical")},
		"status":    {Status: ptr("resolved")},
		"empty tag": {AddTags: []string{"  "}},
		"long tag":  {AddTags: []string{strings.Repeat("x", 129)}}, // tags are at most 128 bytes
		"no note":   {AddNote: ptr(" ")},
	}
	for name, u := range bad {
		if _, err := s.UpdateContainer(ctx, id, u); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if after, _ := s.Container(ctx, id); !reflect.DeepEqual(after, got) {
		t.Errorf("rejected updates changed the container: %+v", after)
	}
	if _, err := s.UpdateContainer(ctx, id+100, store.ContainerUpdate{Status: ptr("closed")}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing container: %v, want ErrNotFound", err)
	}
}

func testKV(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	if _, ok, err := s.KVGet(ctx, "pb", "k"); ok || err != nil {
		t.Fatalf("missing key: %v, %v", ok, err)
	}
	if err := s.KVSet(ctx, "pb", "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "pb", "k", "v2"); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "other", "k", "theirs"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.KVGet(ctx, "pb", "k"); v != "v2" || !ok || err != nil {
		t.Errorf("KVGet = %q, %v, %v; want v2", v, ok, err)
	}
	if err := s.KVDelete(ctx, "pb", "k"); err != nil {
		t.Fatal(err)
	}
	if err := s.KVDelete(ctx, "pb", "k"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, ok, _ := s.KVGet(ctx, "pb", "k"); ok {
		t.Error("deleted key still set")
	}
	if v, _, _ := s.KVGet(ctx, "other", "k"); v != "theirs" {
		t.Errorf("other namespace = %q", v)
	}
	if err := s.KVSet(ctx, "", "k", "v"); err == nil {
		t.Error("empty namespace accepted")
	}
	if err := s.KVSet(ctx, "pb", "", "v"); err == nil {
		t.Error("empty key accepted")
	}
	big := strings.Repeat("s3cr3t", store.MaxKVValueLen/6+1)
	err := s.KVSet(ctx, "pb", "big", big)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("oversized value: %v (it must be refused without echoing the value)", err)
	}
}

func testRuns(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	r := &store.Run{Playbook: "hunt", Version: "abc123", Trigger: "manual", Inputs: map[string]any{"ip": "1.2.3.4"}}
	if err := s.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.ID == 0 || r.Status != store.RunRunning || !r.Started.Equal(Now) {
		t.Fatalf("after StartRun: %+v", r)
	}
	got, err := s.GetRun(ctx, r.ID)
	if err != nil || got.Status != store.RunRunning || got.Finished != nil || got.Result != nil || len(got.Steps) != 0 {
		t.Fatalf("running run = %+v, %v", got, err)
	}

	r.Status, r.Error = store.RunSuccess, ""
	r.Result = map[string]any{"verdict": "malicious", "score": 87.5}
	r.Steps = []store.Step{
		{Asset: "tc", Action: "hunt_ip", Status: "success", Message: "Found 1 indicator(s)", DurationMS: 12.5},
		{Asset: "tq", Action: "lookup", Status: "failed", Message: "boom", DurationMS: 3},
	}
	if err := s.FinishRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := *r; !reflect.DeepEqual(got, want) {
		t.Errorf("GetRun =\n%+v\nwant\n%+v", got, want)
	}
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"id":`, `"playbook":"hunt"`, `"version":"abc123"`, `"trigger":"manual"`, `"status":"success"`,
		`"inputs":{"ip":"1.2.3.4"}`, `"result":{`, `"error":""`, `"steps":[{"asset":"tc","action":"hunt_ip","status":"success","message":"Found 1 indicator(s)","duration_ms":12.5}`,
		`"started":"2025-03-08T09:35:46Z"`, `"finished":"2025-03-08T09:35:46Z"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("run JSON %s lacks %s", raw, key)
		}
	}
	if strings.Contains(string(raw), "container_id") {
		t.Errorf("run JSON of a manual run has container_id: %s", raw)
	}

	// Finishing again replaces the steps rather than appending.
	r.Steps = r.Steps[:1]
	if err := s.FinishRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetRun(ctx, r.ID); len(got.Steps) != 1 {
		t.Errorf("%d steps after refinishing with 1", len(got.Steps))
	}
	if err := s.FinishRun(ctx, &store.Run{ID: r.ID, Status: "running"}); err == nil {
		t.Error("FinishRun accepted a non-final status")
	}
	if err := s.FinishRun(ctx, &store.Run{ID: 999, Status: store.RunFailed}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun(999) = %v, want ErrNotFound", err)
	}
	odd := &store.Run{ID: r.ID, Status: store.RunFailed, Error: "script error", Result: map[string]any{"f": func() {}}}
	if err := s.FinishRun(ctx, odd); err != nil {
		t.Fatalf("FinishRun with a result that cannot be encoded: %v", err)
	}
	if got, _ := s.GetRun(ctx, r.ID); got.Status != store.RunFailed || got.Result != nil ||
		!strings.HasPrefix(got.Error, "script error; the result could not be stored: ") || got.Error != odd.Error {
		t.Errorf("run with an unencodable result recorded as %+v", got)
	}
	if _, err := s.GetRun(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun(999) = %v, want ErrNotFound", err)
	}
	if err := s.StartRun(ctx, &store.Run{}); err == nil {
		t.Error("StartRun without a playbook accepted")
	}
	// A string holding a NUL, which some databases refuse in JSON columns,
	// round-trips.
	nul := &store.Run{Playbook: "hunt", Inputs: map[string]any{"text": "a\x00b"}}
	if err := s.StartRun(ctx, nul); err != nil {
		t.Fatal(err)
	}
	nul.Status, nul.Result = store.RunSuccess, "c\x00d"
	if err := s.FinishRun(ctx, nul); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRun(ctx, nul.ID); err != nil || got.Inputs["text"] != "a\x00b" || got.Result != "c\x00d" {
		t.Errorf("NUL in inputs and result: %+v, %v", got, err)
	}
}

func testListRuns(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	var ids []int64
	for i, pb := range []string{"a", "b", "a", "a"} {
		r := &store.Run{Playbook: pb, Trigger: "schedule"}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status, r.Steps = store.RunFailed, []store.Step{{Asset: "tc", Action: "act" + strconv.Itoa(i)}}
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	runs, err := s.ListRuns(ctx, store.RunQuery{Playbook: "a", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != ids[3] || runs[1].ID != ids[2] {
		t.Fatalf("ListRuns(a, 2) = %+v, want runs %d and %d", runs, ids[3], ids[2])
	}
	if runs[0].Steps[0].Action != "act3" || runs[1].Steps[0].Action != "act2" {
		t.Errorf("steps attached to the wrong runs: %+v", runs)
	}
	all, err := s.ListRuns(ctx, store.RunQuery{})
	if err != nil || len(all) != 4 || all[0].ID != ids[3] || all[3].ID != ids[0] {
		t.Errorf("ListRuns() = %+v, %v", all, err)
	}
}

// testRunOncePerContainer checks the exactly-once guard of on_poll runs,
// including after the store is reopened.
func testRunOncePerContainer(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	if err := s.StartRun(ctx, &store.Run{Playbook: "triage", Trigger: "on_poll", ContainerID: 7}); err != nil {
		t.Fatal(err)
	}
	err := s.StartRun(ctx, &store.Run{Playbook: "triage", Trigger: "on_poll", ContainerID: 7})
	if !errors.Is(err, store.ErrDuplicateRun) {
		t.Fatalf("second run for container 7 = %v, want ErrDuplicateRun", err)
	}
	if err := s.StartRun(ctx, &store.Run{Playbook: "enrich", Trigger: "on_poll", ContainerID: 7}); err != nil {
		t.Errorf("another playbook on the same container: %v", err)
	}
	for range 2 {
		if err := s.StartRun(ctx, &store.Run{Playbook: "triage"}); err != nil {
			t.Errorf("manual run: %v", err)
		}
	}
	// Runs by hand on the container (goshawk run --container) name it,
	// as often as wanted, and leave the dispatched run's guard alone.
	for range 2 {
		r := &store.Run{Playbook: "triage", Trigger: "manual", ContainerID: 7}
		if err := s.StartRun(ctx, r); err != nil {
			t.Errorf("manual run on container 7: %v", err)
		} else if got, err := s.GetRun(ctx, r.ID); err != nil || got.ContainerID != 7 {
			t.Errorf("manual run on container 7 reads back with container %d, %v", got.ContainerID, err)
		}
	}
	if err := s.StartRun(ctx, &store.Run{Playbook: "enrich", Trigger: "manual", ContainerID: 8}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartRun(ctx, &store.Run{Playbook: "enrich", Trigger: "on_poll", ContainerID: 8}); err != nil {
		t.Errorf("the dispatched run after a manual one on container 8: %v", err)
	}
	s.Close()

	s2 := open(fixedClock)
	if err := s2.StartRun(ctx, &store.Run{Playbook: "triage", Trigger: "on_poll", ContainerID: 7}); !errors.Is(err, store.ErrDuplicateRun) {
		t.Errorf("after reopening: %v, want ErrDuplicateRun", err)
	}
	if got, _ := s2.ListRuns(ctx, store.RunQuery{Playbook: "triage"}); len(got) != 5 {
		t.Errorf("%d triage runs, want 5", len(got))
	}
}

// testRunOncePerContainerConcurrent starts the same (playbook, container)
// run from two handles at once, as two processes or nodes would: exactly
// one start wins each time.
func testRunOncePerContainerConcurrent(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	a, b := open(fixedClock), open(fixedClock)
	const n = 50
	var won, dup atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, s := range []Backend{a, b} {
		wg.Go(func() {
			for c := range n {
				err := s.StartRun(ctx, &store.Run{Playbook: "triage", Trigger: "on_poll", ContainerID: int64(c + 1)})
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, store.ErrDuplicateRun):
					dup.Add(1)
				default:
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if won.Load() != n || dup.Load() != n {
		t.Errorf("%d starts won and %d refused as duplicates; want %d each", won.Load(), dup.Load(), n)
	}
}

func testReopenKeepsData(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	if _, _, err := s.Ingest(ctx, "tc", Containers(0, 3), ptr("2")); err != nil {
		t.Fatal(err)
	}
	if err := s.KVSet(ctx, "pb", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := open(fixedClock)
	if cp, _ := s2.Checkpoint(ctx, "tc"); cp != "2" {
		t.Errorf("checkpoint after reopen = %q", cp)
	}
	if cs, _ := s2.ListContainers(ctx, store.ContainerQuery{}); len(cs) != 3 {
		t.Errorf("%d containers after reopen", len(cs))
	}
	if v, ok, _ := s2.KVGet(ctx, "pb", "k"); !ok || v != "v" {
		t.Errorf("kv after reopen = %q, %v", v, ok)
	}
}

// testConcurrentHandles writes from two handles on one database at once,
// as the CLI and serve, or two nodes, do: every write lands.
func testConcurrentHandles(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	a, b := open(fixedClock), open(fixedClock)
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for w, s := range []Backend{a, b} {
		wg.Go(func() {
			for i := range 20 {
				sdi := fmt.Sprintf("%d-%d", w, i)
				if _, _, err := s.Ingest(ctx, "tc", []cef.Container{Container(sdi)}, ptr(sdi)); err != nil {
					errs <- err
				}
				if err := s.KVSet(ctx, "pb", sdi, "v"); err != nil {
					errs <- err
				}
				// Both handles also ingest one shared identifier: one
				// creates it, the other counts a duplicate.
				if _, _, err := s.Ingest(ctx, "tc", []cef.Container{Container("shared-" + strconv.Itoa(i))}, nil); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, arts := counts(t, b); n != 60 || arts != 60 {
		t.Errorf("%d containers and %d artifacts; want 60 of each", n, arts)
	}
}

func testLastContainerID(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	if id, err := s.LastContainerID(ctx, "tc"); err != nil || id != 0 {
		t.Fatalf("LastContainerID of an empty asset = %d, %v", id, err)
	}
	batch := Containers(0, 3)
	if _, _, err := s.Ingest(ctx, "tc", batch, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Ingest(ctx, "other", Containers(0, 1), nil); err != nil {
		t.Fatal(err)
	}
	if id, err := s.LastContainerID(ctx, "tc"); err != nil || id != batch[2].ID {
		t.Errorf("LastContainerID(tc) = %d, %v; want %d", id, err, batch[2].ID)
	}
}

// testRunRecordDetails round-trips what a run record keeps beyond its
// outcome: each step's start, parameters, whole result and truncation, and
// the run's log lines.
func testRunRecordDetails(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	r := &store.Run{Playbook: "hunt", Trigger: "manual"}
	if err := s.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	started := time.Date(2025, 3, 8, 9, 35, 46, 123456789, time.UTC)
	r.Status = store.RunSuccess
	r.Steps = []store.Step{
		{Asset: "tc", Action: "hunt_ip", Status: "success", Message: "found 1", DurationMS: 1.5, Started: started,
			Params: json.RawMessage(`{"ip":"1.2.3.4"}`),
			Result: &store.StepResult{Status: "success", Message: "found 1", Summary: json.RawMessage(`{"total":1}`), Data: json.RawMessage(`[{"id":7}]`)}},
		{Asset: "tc", Action: "hunt_ip", Status: "success", Message: "big", Started: started,
			Result:    &store.StepResult{Status: "success", Message: "big", Summary: json.RawMessage(`{"total":900}`), Data: json.RawMessage(`[{"id":1}]`)},
			Truncated: &store.Truncation{Bytes: 70000, Limit: 65536, Omitted: []string{"params", "data[1:]"}}},
		{Asset: "tc", Action: "bad_call", Status: "failed", Message: "malformed"}, // no params, no result
	}
	r.Log = []store.LogLine{
		{Time: started, Level: "INFO", Message: "hunting", Fields: json.RawMessage(`{"fields":{"ip":"1.2.3.4"}}`)},
		{Time: started.Add(time.Millisecond), Level: "WARN", Message: "slow"},
	}
	if err := s.FinishRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Steps, r.Steps) {
		t.Errorf("steps =\n%+v\nwant\n%+v", got.Steps, r.Steps)
	}
	if !reflect.DeepEqual(got.Log, r.Log) {
		t.Errorf("log =\n%+v\nwant\n%+v", got.Log, r.Log)
	}
	listed, err := s.ListRuns(ctx, store.RunQuery{Playbook: "hunt"})
	if err != nil || len(listed) != 1 || !reflect.DeepEqual(listed[0].Steps, r.Steps) || !reflect.DeepEqual(listed[0].Log, r.Log) {
		t.Errorf("ListRuns = %+v, %v; want the same record as GetRun", listed, err)
	}
}
