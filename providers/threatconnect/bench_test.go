package threatconnect

import (
	"context"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// BenchmarkHuntIP measures one hunt_ip action against tcfake on loopback:
// parameter binding, signing, the HTTP round trip over a kept-alive
// connection and decoding, end to end.
func BenchmarkHuntIP(b *testing.B) {
	f := newFixture(b, tcfake.Options{}, nil)
	env := f.env(nil, time.Time{})
	params := map[string]any{"ip": tcfake.SeedIPv4, "tag": true, "attribute": true}
	run := func(b *testing.B) {
		r, err := f.asset.Invoke(context.Background(), "hunt_ip", params, env)
		if err != nil || !r.OK() {
			b.Errorf("hunt_ip: %v %v", err, r) // Errorf, not Fatalf: RunParallel goroutines call it
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			run(b)
		}
	})
	b.Run("parallel8", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				run(b)
			}
		})
	})
}
