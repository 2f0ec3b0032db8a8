package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestGCPercentFor(t *testing.T) {
	cases := []struct {
		live uint64
		want int
	}{
		{0, maxPercent},
		{1 << 20, maxPercent},   // 32x the live heap: capped
		{8 << 20, 300},          // the peer benchmark's case
		{16 << 20, 100},         // goal = twice live
		{200 << 20, minPercent}, // a large live heap: Go's default
		{heapGoal / 11, maxPercent},
	}
	for _, c := range cases {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// gcPercent reads GOGC as the runtime has it.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

func TestServeGCTarget(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	env := func(set map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := set[k]; return v, ok }
	}
	// The operator's setting, applied by the runtime, stays.
	for _, set := range []map[string]string{{"GOGC": "50"}, {"GOMEMLIMIT": "1GiB"}} {
		debug.SetGCPercent(100)
		stop := tuneGC(env(set))
		runtime.GC()
		stop()
		if got := gcPercent(); got != 100 {
			t.Errorf("env %v: GC percent %d, want the operator's", set, got)
		}
	}

	debug.SetGCPercent(100)
	stop := tuneGC(env(nil))
	defer stop()
	if got := gcPercent(); got != maxPercent {
		t.Fatalf("GC percent %d before any collection, want %d", got, maxPercent)
	}
	// Hold a live heap the tuner must see after a collection: with 8 MB
	// live it sets about 300 (less with the test's own heap).
	live := make([]byte, 8<<20)
	for gcPercent() == maxPercent {
		runtime.GC()
		runtime.Gosched()
	}
	got := gcPercent()
	runtime.KeepAlive(live)
	if got < minPercent || got >= maxPercent {
		t.Errorf("GC percent %d after a collection with 8 MB live, want between %d and %d", got, minPercent, maxPercent)
	}
}

// TestOneGCTunerPerProcess: a serve started again in the same process
// takes over from the last one's tuner rather than adding a second.
func TestOneGCTunerPerProcess(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	none := func(string) (string, bool) { return "", false }
	stop1 := tuneGC(none)
	defer stop1()
	first := activeTuner.Load()
	stop2 := tuneGC(none)
	defer stop2()
	if second := activeTuner.Load(); second == first || !first.stopped.Load() || second.stopped.Load() {
		t.Fatalf("after a second tuneGC: first stopped %v, second stopped %v", first.stopped.Load(), second.stopped.Load())
	}
}
