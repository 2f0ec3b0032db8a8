package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// testRunQueries checks every run filter and the paging cursor.
func testRunQueries(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	type spec struct {
		pb, trigger, status string
		at                  time.Duration // after Now
	}
	var ids []int64
	for _, r := range []spec{
		{"a", "manual", store.RunSuccess, 0},
		{"a", "webhook", store.RunFailed, time.Minute},
		{"b", "schedule", store.RunSuccess, 2 * time.Minute},
		{"a", "webhook", store.RunSuccess, 3*time.Minute + 500*time.Millisecond},
		{"b", "manual", store.RunRunning, 4 * time.Minute},
	} {
		rec := &store.Run{Playbook: r.pb, Trigger: r.trigger, Status: store.RunRunning, Started: Now.Add(r.at)}
		if err := s.StartRun(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if r.status != store.RunRunning {
			fin := rec.Started.Add(time.Second)
			rec.Status, rec.Finished = r.status, &fin
			if err := s.FinishRun(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, rec.ID)
	}
	for _, tc := range []struct {
		name string
		q    store.RunQuery
		want []int64
	}{
		{"status", store.RunQuery{Status: store.RunSuccess}, []int64{ids[3], ids[2], ids[0]}},
		{"trigger", store.RunQuery{Trigger: "webhook"}, []int64{ids[3], ids[1]}},
		{"playbook and status", store.RunQuery{Playbook: "a", Status: store.RunFailed}, []int64{ids[1]}},
		{"since", store.RunQuery{Since: Now.Add(3 * time.Minute)}, []int64{ids[4], ids[3]}},
		{"since with a fraction", store.RunQuery{Since: Now.Add(3*time.Minute + 500*time.Millisecond)}, []int64{ids[4], ids[3]}},
		{"until", store.RunQuery{Until: Now.Add(time.Minute)}, []int64{ids[0]}},
		{"window", store.RunQuery{Since: Now.Add(time.Minute), Until: Now.Add(3 * time.Minute)}, []int64{ids[2], ids[1]}},
		{"page 1", store.RunQuery{Limit: 2}, []int64{ids[4], ids[3]}},
		{"page 2", store.RunQuery{Limit: 2, BeforeID: ids[3]}, []int64{ids[2], ids[1]}},
		{"page 3", store.RunQuery{Limit: 2, BeforeID: ids[1]}, []int64{ids[0]}},
		{"nothing", store.RunQuery{Status: store.RunTimeout}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.q.Check(); err != nil {
				t.Fatal(err)
			}
			runs, err := s.ListRuns(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range runs {
				got = append(got, r.ID)
			}
			if !equalIDs(got, tc.want) {
				t.Fatalf("ListRuns(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	for _, q := range []store.RunQuery{{Status: "done"}, {Trigger: "cron"}, {Since: Now, Until: Now}} {
		if err := q.Check(); err == nil {
			t.Errorf("Check(%+v) accepted a query that matches nothing", q)
		}
	}
}

// testContainerQueries checks the container filters.
func testContainerQueries(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	s := open(fixedClock)
	batch := []cef.Container{Container("1"), Container("2"), Container("3")}
	batch[0].Severity, batch[1].Severity, batch[2].Severity = "high", "low", "high"
	if _, _, err := s.Ingest(ctx, "tc", batch[:2], nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Ingest(ctx, "tq", batch[2:], nil); err != nil {
		t.Fatal(err)
	}
	closed := "closed"
	if _, err := s.UpdateContainer(ctx, batch[2].ID, store.ContainerUpdate{Status: &closed}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		q    store.ContainerQuery
		want []int64
	}{
		{"severity", store.ContainerQuery{Severity: "high"}, []int64{batch[0].ID, batch[2].ID}},
		{"asset and severity", store.ContainerQuery{Asset: "tc", Severity: "high"}, []int64{batch[0].ID}},
		{"status", store.ContainerQuery{Status: "closed"}, []int64{batch[2].ID}},
		{"since", store.ContainerQuery{Since: Now}, []int64{batch[0].ID, batch[1].ID, batch[2].ID}},
		{"until", store.ContainerQuery{Until: Now}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := s.ListContainers(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, c := range cs {
				got = append(got, c.ID)
			}
			if !equalIDs(got, tc.want) {
				t.Fatalf("ListContainers(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	for _, q := range []store.ContainerQuery{{Severity: "critical"}, {Status: "done"}} {
		if err := q.Check(); err == nil {
			t.Errorf("Check(%+v) accepted a query that matches nothing", q)
		}
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
