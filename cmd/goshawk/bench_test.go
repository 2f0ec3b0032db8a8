package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// BenchmarkPollEndToEnd10k is one `goshawk poll tc` of 10,000 indicators
// from tcfake on loopback into a fresh SQLite file: config load, paging
// through the API, CEF mapping, and the transactional commits.
func BenchmarkPollEndToEnd10k(b *testing.B) {
	const n = 10000
	f := newFixture(b, tcfake.Options{Empty: true}, "")
	for _, ind := range tcfake.GenerateIndicators(n, 0, time.Now().UTC().Add(-96*time.Hour)) {
		f.tc.AddIndicator(ind)
	}
	cfg, _ := os.ReadFile(f.cfg)
	os.WriteFile(f.cfg, []byte(strings.Replace(string(cfg), "max_containers: 100", "max_containers: 10000", 1)), 0o644)
	for b.Loop() {
		b.StopTimer()
		os.Remove(filepath.Join(f.dir, "goshawk.db"))
		os.Remove(filepath.Join(f.dir, "goshawk.db-wal"))
		os.Remove(filepath.Join(f.dir, "goshawk.db-shm"))
		b.StartTimer()
		out, errOut, code := f.run("poll", "tc", "--json")
		if code != exitOK || !strings.Contains(out, `"containers_created": 10000`) {
			b.Fatalf("poll: %d %s %s", code, out, errOut)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "indicators/s")
}
