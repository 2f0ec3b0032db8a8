package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/internal/cputime"
)

// benchSteps are four steps shaped like hunt_enrich_post's: small
// parameters, a summary, and about 1.5 kB of data each.
func benchSteps() []Step {
	steps := make([]Step, 4)
	for i := range steps {
		item := fmt.Sprintf(`{"id":%d,"summary":"192.0.2.%d","rating":4,"confidence":70,"ownerName":"Example Org","tags":{"data":[{"name":"malware"},{"name":"c2"}]},"attributes":{"data":[{"type":"Description","value":%q}]}}`,
			11111797252348111+i, i, strings.Repeat("seen beaconing from the lab ", 40))
		steps[i] = Step{
			Asset: "tc", Action: "hunt_ip", Status: "success", Message: "found 1 indicator", DurationMS: 2.5,
			Started: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
			Params:  json.RawMessage(`{"attribute":true,"ip":"192.0.2.7","tag":true}`),
			Result: &StepResult{Status: "success", Message: "found 1 indicator",
				Summary: json.RawMessage(`{"total":1}`), Data: json.RawMessage(`[` + item + `]`)},
		}
	}
	return steps
}

// BenchmarkRunRecords writes the two records of a run, its start and its
// finish with four steps and a log line, as the runner does, from eight
// goroutines at once over a store file. One op is one run. "group" is the
// store as it is; "solo" commits each record in a transaction of its own,
// as the store did before group commit.
func BenchmarkRunRecords(b *testing.B) {
	for _, solo := range []bool{false, true} {
		name := "group"
		if solo {
			name = "solo"
		}
		b.Run(name, func(b *testing.B) { benchRunRecords(b, solo, 8) })
	}
	// One goroutine: every record finds no commit under way, as most do in
	// serve, where the runs between two records take longer than a commit.
	b.Run("serial", func(b *testing.B) { benchRunRecords(b, false, 1) })
}

func benchRunRecords(b *testing.B, solo bool, writers int) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "goshawk.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	s.runs.solo = solo
	ctx := context.Background()
	steps := benchSteps()
	logLines := []LogLine{{Time: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), Level: "INFO", Message: "hunting", Fields: json.RawMessage(`{"fields":{"ip":"192.0.2.7"}}`)}}
	b.ReportAllocs()
	b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
	if writers == 1 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	cpu0, _ := cputime.Process()
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			r := &Run{Playbook: "hunt_enrich_post", Version: "v1", Trigger: "webhook", Inputs: map[string]any{"ip": "192.0.2.7"}}
			if err := s.StartRun(ctx, r); err != nil {
				b.Error(err)
				return
			}
			r.Status, r.Result, r.Steps, r.Log = RunSuccess, map[string]any{"verdict": "malicious"}, steps, logLines
			if err := s.FinishRun(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	if cpu1, ok := cputime.Process(); ok && cpu1 > cpu0 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/run")
	}
}
