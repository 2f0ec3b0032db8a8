package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

var testNow = time.Date(2025, 3, 8, 9, 35, 46, 0, time.UTC)

func fixedClock() time.Time { return testNow }

func openFile(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := Open(context.Background(), path, WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTest(t *testing.T) *SQLite {
	t.Helper()
	return openFile(t, filepath.Join(t.TempDir(), "goshawk.db"))
}

func container(sdi string) cef.Container {
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

func containers(from, to int) []cef.Container {
	var out []cef.Container
	for i := from; i < to; i++ {
		out = append(out, container(strconv.Itoa(i)))
	}
	return out
}

func countRows(t *testing.T, s *SQLite, table string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

func TestIngestAndRead(t *testing.T) {
	ctx := context.Background()
	for name, s := range map[string]*SQLite{"file": openTest(t), "memory": openMemory(t)} {
		t.Run(name, func(t *testing.T) {
			batch := containers(1, 4)
			created, dups, err := s.Ingest(ctx, "tc", batch, ptr("cp-3"))
			if err != nil || created != 3 || dups != 0 {
				t.Fatalf("Ingest = %d, %d, %v; want 3, 0, nil", created, dups, err)
			}
			for i, c := range batch {
				if c.ID == 0 || c.Asset != "tc" || !c.Created.Equal(testNow) || c.Artifacts[0].ID == 0 {
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
			again := containers(3, 6)
			created, dups, err = s.Ingest(ctx, "tc", again, nil)
			if err != nil || created != 2 || dups != 1 {
				t.Fatalf("second Ingest = %d, %d, %v; want 2, 1, nil", created, dups, err)
			}
			if again[0].ID != 0 || again[1].ID == 0 {
				t.Errorf("IDs after dedupe: %d, %d", again[0].ID, again[1].ID)
			}
			// The same identifier from another asset is another container.
			if created, _, err := s.Ingest(ctx, "tc2", containers(1, 2), nil); err != nil || created != 1 {
				t.Fatalf("Ingest for another asset = %d, %v", created, err)
			}
			if cp, err := s.Checkpoint(ctx, "tc"); err != nil || cp != "cp-3" {
				t.Errorf("checkpoint = %q, %v; want the one of the first batch, as the second passed nil", cp, err)
			}

			all, err := s.ListContainers(ctx, ContainerQuery{Asset: "tc"})
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
			page, err := s.ListContainers(ctx, ContainerQuery{Asset: "tc", AfterID: all[1].ID, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
				t.Errorf("page after %d = %+v", all[1].ID, page)
			}
			every, err := s.ListContainers(ctx, ContainerQuery{})
			if err != nil || len(every) != 6 {
				t.Errorf("ListContainers(all assets) = %d containers, %v; want 6", len(every), err)
			}
			if _, err := s.Container(ctx, 9999); !errors.Is(err, ErrNotFound) {
				t.Errorf("Container(9999) error = %v, want ErrNotFound", err)
			}
		})
	}
}

func openMemory(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenMemory(context.Background(), WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestIngestDefaultsAndValidation(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	c := container("1")
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
			batch := containers(10, 13)
			breakIt(&batch[1])
			_, _, err := s.Ingest(ctx, "tc", batch, ptr("moved"))
			if err == nil {
				t.Fatal("invalid batch accepted")
			}
			if !strings.Contains(err.Error(), "nothing from this batch was stored") {
				t.Errorf("error %q does not say the batch was not stored", err)
			}
			if n := countRows(t, s, "containers"); n != 1 {
				t.Errorf("%d containers stored, want only the first test's one", n)
			}
			if cp, _ := s.Checkpoint(ctx, "tc"); cp != "" {
				t.Errorf("checkpoint moved to %q", cp)
			}
		})
	}
	if _, _, err := s.Ingest(ctx, "", containers(1, 2), nil); err == nil {
		t.Error("ingest without an asset accepted")
	}
}

// TestIngestFailureMidBatch breaks an Ingest between two of its writes and
// checks that nothing of the batch, nor its checkpoint, is committed.
func TestIngestFailureMidBatch(t *testing.T) {
	ctx := context.Background()
	for _, point := range []string{"artifacts", "checkpoint"} {
		t.Run(point, func(t *testing.T) {
			s := openTest(t)
			if _, _, err := s.Ingest(ctx, "tc", containers(0, 2), ptr("1")); err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected failure")
			calls := 0
			s.failAt = func(p string) error {
				if p != point {
					return nil
				}
				if calls++; point == "checkpoint" || calls == 3 {
					return injected
				}
				return nil
			}
			batch := containers(2, 10)
			created, dups, err := s.Ingest(ctx, "tc", batch, ptr("9"))
			if !errors.Is(err, injected) || created != 0 || dups != 0 {
				t.Fatalf("Ingest = %d, %d, %v; want 0, 0 and the injected error", created, dups, err)
			}
			for _, c := range batch {
				if c.ID != 0 {
					t.Fatalf("container %s got ID %d from a rolled-back transaction", c.SourceDataIdentifier, c.ID)
				}
			}
			if n := countRows(t, s, "containers"); n != 2 {
				t.Errorf("%d containers after the failed batch, want the 2 committed before", n)
			}
			if n := countRows(t, s, "artifacts"); n != 2 {
				t.Errorf("%d artifacts after the failed batch, want 2", n)
			}
			if cp, _ := s.Checkpoint(ctx, "tc"); cp != "1" {
				t.Errorf("checkpoint = %q, want the previous one", cp)
			}

			// The retry of the same batch commits all of it.
			s.failAt = nil
			if created, _, err := s.Ingest(ctx, "tc", batch, ptr("9")); err != nil || created != 8 {
				t.Fatalf("retry = %d, %v", created, err)
			}
		})
	}
}

func TestIngestCancelled(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Ingest(ctx, "tc", containers(0, 5), ptr("4")); err == nil {
		t.Fatal("Ingest with a cancelled context succeeded")
	}
	if n := countRows(t, s, "containers"); n != 0 {
		t.Errorf("%d containers stored", n)
	}
}

func TestAssetSink(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var sink cef.Sink = s.AssetSink("tc")
	if cp, err := sink.Checkpoint(ctx); err != nil || cp != "" {
		t.Fatalf("fresh checkpoint = %q, %v", cp, err)
	}
	if created, dups, err := sink.Ingest(ctx, containers(0, 3), ptr("2025-03-08T09:35:46Z,3")); err != nil || created != 3 || dups != 0 {
		t.Fatalf("Ingest = %d, %d, %v", created, dups, err)
	}
	if cp, err := sink.Checkpoint(ctx); err != nil || cp != "2025-03-08T09:35:46Z,3" {
		t.Errorf("checkpoint = %q, %v", cp, err)
	}
	if cp, _ := s.Checkpoint(ctx, "other"); cp != "" {
		t.Errorf("another asset sees checkpoint %q", cp)
	}
	if _, dups, _ := sink.Ingest(ctx, containers(0, 3), nil); dups != 3 {
		t.Errorf("re-ingest counted %d duplicates, want 3", dups)
	}
}

func TestUpdateContainer(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	batch := containers(1, 2)
	if _, _, err := s.Ingest(ctx, "tc", batch, nil); err != nil {
		t.Fatal(err)
	}
	id := batch[0].ID
	got, err := s.UpdateContainer(ctx, id, ContainerUpdate{Severity: ptr("high"), Status: ptr("open"),
		AddTags: []string{"phishing", " triaged ", "phishing"}, AddNote: ptr("looks bad")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Severity != "high" || got.Status != "open" || !slices.Equal(got.Tags, []string{"phishing", "triaged"}) ||
		len(got.Notes) != 1 || got.Notes[0].Text != "looks bad" || !got.Notes[0].Created.Equal(testNow) || len(got.Artifacts) != 1 {
		t.Errorf("after update: %+v", got)
	}
	stored, err := s.Container(ctx, id)
	if err != nil || !reflect.DeepEqual(stored, got) {
		t.Errorf("stored %+v, %v; want what UpdateContainer returned", stored, err)
	}
	// An empty update changes nothing; a repeated tag is not added twice.
	if again, err := s.UpdateContainer(ctx, id, ContainerUpdate{AddTags: []string{"triaged"}}); err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("repeat tag: %+v, %v", again, err)
	}

	bad := map[string]ContainerUpdate{
		"severity":  {Severity: ptr("critical")},
		"status":    {Status: ptr("resolved")},
		"empty tag": {AddTags: []string{"  "}},
		"long tag":  {AddTags: []string{strings.Repeat("x", maxTagLen+1)}},
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
	if _, err := s.UpdateContainer(ctx, id+100, ContainerUpdate{Status: ptr("closed")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing container: %v, want ErrNotFound", err)
	}
}

func TestKV(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
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
	big := strings.Repeat("s3cr3t", maxKVValueLen/6+1)
	err := s.KVSet(ctx, "pb", "big", big)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("oversized value: %v (it must be refused without echoing the value)", err)
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	r := &Run{Playbook: "hunt", Version: "abc123", Trigger: "manual", Inputs: map[string]any{"ip": "1.2.3.4"}}
	if err := s.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.ID == 0 || r.Status != RunRunning || !r.Started.Equal(testNow) {
		t.Fatalf("after StartRun: %+v", r)
	}
	got, err := s.GetRun(ctx, r.ID)
	if err != nil || got.Status != RunRunning || got.Finished != nil || got.Result != nil || len(got.Steps) != 0 {
		t.Fatalf("running run = %+v, %v", got, err)
	}

	r.Status, r.Error = RunSuccess, ""
	r.Result = map[string]any{"verdict": "malicious", "score": 87.5}
	r.Steps = []Step{
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
	want := *r
	if !reflect.DeepEqual(got, want) {
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

	if err := s.FinishRun(ctx, &Run{ID: r.ID, Status: "running"}); err == nil {
		t.Error("FinishRun accepted a non-final status")
	}
	if err := s.FinishRun(ctx, &Run{ID: 999, Status: RunFailed}); !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishRun(999) = %v, want ErrNotFound", err)
	}
	odd := &Run{ID: r.ID, Status: RunFailed, Error: "script error", Result: map[string]any{"f": func() {}}}
	if err := s.FinishRun(ctx, odd); err != nil {
		t.Fatalf("FinishRun with a result that cannot be encoded: %v", err)
	}
	if got, _ := s.GetRun(ctx, r.ID); got.Status != RunFailed || got.Result != nil ||
		!strings.HasPrefix(got.Error, "script error; the result could not be stored: ") || got.Error != odd.Error {
		t.Errorf("run with an unencodable result recorded as %+v", got)
	}
	if _, err := s.GetRun(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRun(999) = %v, want ErrNotFound", err)
	}
	if err := s.StartRun(ctx, &Run{}); err == nil {
		t.Error("StartRun without a playbook accepted")
	}
}

func TestListRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	var ids []int64
	for i, pb := range []string{"a", "b", "a", "a"} {
		r := &Run{Playbook: pb, Trigger: "schedule"}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status, r.Steps = RunFailed, []Step{{Asset: "tc", Action: "act" + strconv.Itoa(i)}}
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	runs, err := s.ListRuns(ctx, RunQuery{Playbook: "a", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != ids[3] || runs[1].ID != ids[2] {
		t.Fatalf("ListRuns(a, 2) = %+v, want runs %d and %d", runs, ids[3], ids[2])
	}
	if runs[0].Steps[0].Action != "act3" || runs[1].Steps[0].Action != "act2" {
		t.Errorf("steps attached to the wrong runs: %+v", runs)
	}
	all, err := s.ListRuns(ctx, RunQuery{})
	if err != nil || len(all) != 4 || all[0].ID != ids[3] || all[3].ID != ids[0] {
		t.Errorf("ListRuns() = %+v, %v", all, err)
	}
}

// TestRunOncePerContainer checks the exactly-once guard of on_poll runs,
// including after the store is reopened.
func TestRunOncePerContainer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s := openFile(t, path)
	if err := s.StartRun(ctx, &Run{Playbook: "triage", Trigger: "on_poll", ContainerID: 7}); err != nil {
		t.Fatal(err)
	}
	err := s.StartRun(ctx, &Run{Playbook: "triage", Trigger: "on_poll", ContainerID: 7})
	if !errors.Is(err, ErrDuplicateRun) {
		t.Fatalf("second run for container 7 = %v, want ErrDuplicateRun", err)
	}
	if err := s.StartRun(ctx, &Run{Playbook: "enrich", Trigger: "on_poll", ContainerID: 7}); err != nil {
		t.Errorf("another playbook on the same container: %v", err)
	}
	// Runs without a container never collide.
	for range 2 {
		if err := s.StartRun(ctx, &Run{Playbook: "triage"}); err != nil {
			t.Errorf("manual run: %v", err)
		}
	}
	s.Close()

	s2 := openFile(t, path)
	if err := s2.StartRun(ctx, &Run{Playbook: "triage", Trigger: "on_poll", ContainerID: 7}); !errors.Is(err, ErrDuplicateRun) {
		t.Errorf("after reopening: %v, want ErrDuplicateRun", err)
	}
	if got, _ := s2.ListRuns(ctx, RunQuery{Playbook: "triage"}); len(got) != 3 {
		t.Errorf("%d triage runs, want 3", len(got))
	}
}

// TestInterruptedRuns checks that Open closes the runs of processes that are
// gone and leaves those of live processes, such as a serve sharing the file.
func TestInterruptedRuns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s := openFile(t, path)
	me := self()
	owners := map[string]string{
		"this process":         me.String(),
		"another host":         owner{host: me.host + "-elsewhere", pid: 4242, nonce: "t1"}.String(),
		"exited process":       owner{host: me.host, pid: 1<<31 - 1, nonce: "t1"}.String(),
		"reused pid":           owner{host: me.host, pid: me.pid, nonce: me.nonce + "-before"}.String(),
		"garbled owner":        "garbage",
		"finished long before": me.String(),
	}
	wantStatus := map[string]string{
		"this process":         RunRunning,
		"another host":         RunRunning,
		"exited process":       RunInterrupted,
		"reused pid":           RunInterrupted,
		"garbled owner":        RunInterrupted,
		"finished long before": RunSuccess,
	}
	ids := map[string]int64{}
	for name, o := range owners {
		r := &Run{Playbook: name}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if name == "finished long before" {
			r.Status = RunSuccess
			if err := s.FinishRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.w.Exec(`UPDATE runs SET owner = ? WHERE id = ?`, o, r.ID); err != nil {
			t.Fatal(err)
		}
		ids[name] = r.ID
	}
	s.Close()

	s2 := openFile(t, path)
	for name, id := range ids {
		r, err := s2.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != wantStatus[name] {
			t.Errorf("%s: status %s, want %s", name, r.Status, wantStatus[name])
		}
		if r.Status == RunInterrupted && (r.Finished == nil || !strings.Contains(r.Error, "stopped before the run finished")) {
			t.Errorf("%s: interrupted run lacks finish time or reason: %+v", name, r)
		}
	}
}

func TestOwnerRoundTrip(t *testing.T) {
	me := self()
	if me.pid <= 0 || me.nonce == "" || me.host == "" {
		t.Fatalf("self() = %+v", me)
	}
	o, ok := parseOwner(me.String())
	if !ok || o != me {
		t.Errorf("parseOwner(%q) = %+v, %v", me.String(), o, ok)
	}
	if !processAlive(me.pid, me.nonce) {
		t.Error("this process is reported dead")
	}
	for _, bad := range []string{"", "host", "host|x|n", "host|-1|n", "host|12"} {
		if _, ok := parseOwner(bad); ok {
			t.Errorf("parseOwner(%q) accepted", bad)
		}
	}
}

func TestSchemaNewerThanKnown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s := openFile(t, path)
	if _, err := s.w.Exec(`UPDATE schema_version SET version = ?`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this goshawk supports") || !strings.Contains(err.Error(), "upgrade goshawk") {
		t.Fatalf("Open of a newer schema = %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s := openFile(t, path)
	if _, _, err := s.Ingest(ctx, "tc", containers(0, 3), ptr("2")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openFile(t, path)
	var version int
	if err := s2.r.QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	if cp, _ := s2.Checkpoint(ctx, "tc"); cp != "2" {
		t.Errorf("checkpoint after reopen = %q", cp)
	}
	if cs, _ := s2.ListContainers(ctx, ContainerQuery{}); len(cs) != 3 {
		t.Errorf("%d containers after reopen", len(cs))
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "a?b.db", "file:x.db", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// TestSharedFile has two stores on one file, as the CLI and serve do, and
// writes from both at once: every write lands, none fails on the lock.
func TestSharedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "goshawk.db")
	a, b := openFile(t, path), openFile(t, path)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w, s := range []*SQLite{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				sdi := fmt.Sprintf("%d-%d", w, i)
				if _, _, err := s.Ingest(ctx, "tc", []cef.Container{container(sdi)}, ptr(sdi)); err != nil {
					errs <- err
				}
				if err := s.KVSet(ctx, "pb", sdi, "v"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if cs, err := b.ListContainers(ctx, ContainerQuery{}); err != nil || len(cs) != 40 {
		t.Errorf("%d containers, %v; want 40", len(cs), err)
	}
}

func TestLimits(t *testing.T) {
	for in, want := range map[int]int{0: DefaultLimit, -5: DefaultLimit, 7: 7, MaxLimit + 1: MaxLimit} {
		if got := clampLimit(in); got != want {
			t.Errorf("clampLimit(%d) = %d, want %d", in, got, want)
		}
	}
}
