package host_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkReload measures hot reload end to end: each iteration saves a
// new version of a script (temp file renamed over the original) and waits
// until a webhook run on loopback executes it. The latency includes the
// watcher's 100 ms debounce.
func BenchmarkReload(b *testing.B) {
	hs := start(b, setup{files: map[string]string{"echo.yaml": echoYAML, "echo.lua": echoLua(0)}})
	script := filepath.Join(hs.pbDir, "echo.lua")
	var lat []time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		written := time.Now()
		saveRenameOver(b, script, echoLua(i))
		for {
			rec, err := hs.runWait("echo", "{}")
			if err != nil {
				b.Fatal(err)
			}
			if generationOf(rec) == i {
				break
			}
		}
		lat = append(lat, time.Since(written))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(percentile(lat, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 99).Microseconds())/1000, "p99-ms")
}

// BenchmarkWebhook measures webhook-to-result throughput: POST
// ?wait=true of a trivial playbook over HTTP on loopback, from parallel
// clients; each operation is one recorded run.
func BenchmarkWebhook(b *testing.B) {
	hs := start(b, setup{files: map[string]string{
		"echo.yaml": "trigger: {webhook: true}\nconcurrency: 64\nqueue: 1000\ninputs:\n  n: {type: integer}\nlua: |\n  return {n = input.n}\n",
	}})
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec, err := hs.runWait("echo", `{"n": 7}`)
			if err != nil {
				b.Error(err)
				return
			}
			if rec.Status != "success" {
				b.Errorf("run %d: %s %s", rec.ID, rec.Status, rec.Error)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}
