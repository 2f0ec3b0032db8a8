package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The garbage collector of goshawk serve.
//
// serve keeps little live memory (runs are short, their records go to the
// store), so with Go's default GOGC of 100 it collected every few dozen
// runs. A fixed higher GOGC saves CPU at a small heap but multiplies a large
// one: at 400, a serve holding 200 MB live would grow to 1 GB before
// collecting. So serve sizes GOGC to the live heap after every collection:
// the next collection comes once the heap reaches heapGoal, or twice the
// live heap when that is more (GOGC never below Go's default of 100).
//
// GOGC is at most maxPercent, since Go's smallest heap goal is 4 MB times
// GOGC/100 however little is live. Under the peer benchmark (3 to 5 MB
// live) the tuner settles at 600, a heap goal of 24 MB: 3% less CPU per run
// than the fixed GOGC of 400 it replaces, at a peak resident size of 62 MB
// instead of 56 (about 30 MB of it is outside the Go heap: SQLite's page
// caches, code). More than twice the live heap is never kept, whatever it
// grows to, where a fixed 400 kept five times.
const (
	heapGoal   = 32 << 20
	minPercent = 100
	maxPercent = 600
)

// gcPercentFor is the GOGC that puts the next collection at heapGoal for a
// live heap of live bytes, between minPercent and maxPercent.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := int64(heapGoal)*100/int64(live) - 100
	return int(max(minPercent, min(maxPercent, p)))
}

// tuneGC starts sizing serve's GC target unless GOGC or GOMEMLIMIT is set,
// so an operator's own setting always wins. stop ends the tuning (tests).
func tuneGC(lookupEnv func(string) (string, bool)) (stop func()) {
	if _, ok := lookupEnv("GOGC"); ok {
		return func() {}
	}
	if _, ok := lookupEnv("GOMEMLIMIT"); ok {
		return func() {}
	}
	t := &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.percent = gcPercentFor(0)
	// One tuner per process: a serve started again in the same process
	// (the tests do) takes over from the last one.
	if old := activeTuner.Swap(t); old != nil {
		old.stopped.Store(true)
	}
	debug.SetGCPercent(t.percent)
	t.arm()
	return func() { t.stopped.Store(true) }
}

var activeTuner atomic.Pointer[gcTuner]

// gcTuner resets GOGC after each collection. It learns of one from a
// finalizer: the runtime runs it once the collection has found its sentinel
// unreachable, and the finalizer sets a new sentinel for the next one.
type gcTuner struct {
	sample  []metrics.Sample
	percent int
	stopped atomic.Bool
}

type gcSentinel struct{ t *gcTuner }

func (t *gcTuner) arm() {
	s := &gcSentinel{t: t}
	runtime.SetFinalizer(s, func(s *gcSentinel) { s.t.collected() })
}

func (t *gcTuner) collected() {
	if t.stopped.Load() {
		return
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := gcPercentFor(t.sample[0].Value.Uint64()); p != t.percent {
			t.percent = p
			debug.SetGCPercent(p)
		}
	}
	t.arm()
}
