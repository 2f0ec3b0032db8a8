package sched

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC)

type fire struct {
	job string
	at  time.Time
}

// recorder returns a FireFunc that reports each fire on ch.
func recorder(job string, ch chan<- fire) FireFunc {
	return func(_ context.Context, at time.Time) { ch <- fire{job, at} }
}

// startScheduler runs s until the test ends and returns a function that
// stops it and waits for Run to return.
func startScheduler(t *testing.T, s *Scheduler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(hangGuard):
			t.Fatal("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("no %s within %s", what, hangGuard)
		panic("unreachable")
	}
}

func mustEvery(t *testing.T, d time.Duration) Schedule {
	t.Helper()
	s, err := Every(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCronAndEveryFireAtExactTicks(t *testing.T) {
	clock := NewFakeClock(t0)
	s := New(Options{Clock: clock})
	fires := make(chan fire, 100)
	cronSched, err := ParseCron("*/15 * * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	s.Set("cron", cronSched, recorder("cron", fires))
	s.Set("every", mustEvery(t, 10*time.Minute), recorder("every", fires))
	stop := startScheduler(t, s)

	// Step five minutes at a time: every tick of both jobs lands on a step.
	for step := 1; step <= 12; step++ {
		clock.BlockUntil(1)
		clock.Advance(5 * time.Minute)
		now := t0.Add(time.Duration(step) * 5 * time.Minute)
		want := map[fire]bool{}
		if now.Minute()%15 == 0 {
			want[fire{"cron", now}] = true
		}
		if step%2 == 0 {
			want[fire{"every", now}] = true
		}
		for n := len(want); n > 0; n-- {
			got := receive(t, fires, fmt.Sprintf("fire at %s", now.Format("15:04")))
			if !want[got] {
				t.Fatalf("at %s got fire %s@%s, want one of %v", now.Format("15:04"), got.job, got.at.Format("15:04"), want)
			}
			delete(want, got)
		}
		// A fire that has sent its record may not have returned yet, and
		// the no-pile-up rule would rightly skip the next tick of a job
		// still running: advance only once every fire has returned.
		waitIdle(t, s)
	}
	stop()
	// Run has returned and waited for its fires, so anything left is extra.
	select {
	case f := <-fires:
		t.Fatalf("unexpected extra fire %s@%s", f.job, f.at.Format("15:04"))
	default:
	}
}

func TestOverlappingFiresAreSkipped(t *testing.T) {
	clock := NewFakeClock(t0)
	skips := make(chan fire, 100)
	s := New(Options{Clock: clock, OnSkip: func(job string, at time.Time) { skips <- fire{job, at} }})

	var running, maxRunning atomic.Int32
	started := make(chan time.Time, 100)
	release := make(chan struct{})
	s.Set("slow", mustEvery(t, time.Minute), func(_ context.Context, at time.Time) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		started <- at
		<-release
	})
	startScheduler(t, s)

	clock.BlockUntil(1)
	clock.Advance(time.Minute)
	if at := receive(t, started, "first fire"); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first fire at %s, want %s", at, t0.Add(time.Minute))
	}
	// The first fire is blocked: the next two ticks must be skipped.
	for i := 2; i <= 3; i++ {
		clock.BlockUntil(1)
		clock.Advance(time.Minute)
		got := receive(t, skips, "skip")
		if want := (fire{"slow", t0.Add(time.Duration(i) * time.Minute)}); got != want {
			t.Fatalf("skip %v, want %v", got, want)
		}
	}
	if n := s.Skipped("slow"); n != 2 {
		t.Fatalf("Skipped = %d, want 2", n)
	}
	close(release)

	// Once the first fire has returned, a later tick starts a new fire. How
	// many ticks that takes depends on goroutine scheduling, not on the
	// scheduler, so keep ticking until it happens.
	for i := 4; ; i++ {
		if i > 1000 {
			t.Fatal("no new fire after the slow one returned")
		}
		clock.BlockUntil(1)
		clock.Advance(time.Minute)
		select {
		case at := <-started:
			if want := t0.Add(time.Duration(i) * time.Minute); !at.Equal(want) {
				t.Fatalf("fire at %s, want %s", at, want)
			}
		case <-skips:
			continue
		case <-time.After(hangGuard):
			t.Fatal("tick neither fired nor skipped")
		}
		break
	}
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("up to %d fires of one job ran at once, want 1", m)
	}
}

func TestSetAndRemoveWhileRunning(t *testing.T) {
	clock := NewFakeClock(t0)
	s := New(Options{Clock: clock})
	fires := make(chan fire, 100)
	var goneFires atomic.Int32
	s.Set("job", mustEvery(t, time.Minute), recorder("job", fires))
	s.Set("gone", mustEvery(t, time.Minute), func(context.Context, time.Time) { goneFires.Add(1) })
	stop := startScheduler(t, s)

	clock.BlockUntil(1)
	clock.Advance(time.Minute)
	if got, want := receive(t, fires, "first fire"), (fire{"job", t0.Add(time.Minute)}); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}

	// Replace job with a slower schedule, drop gone, and add a per-minute
	// witness that proves each minute below was processed.
	s.Remove("gone")
	s.Set("job", mustEvery(t, 5*time.Minute), recorder("job", fires))
	s.Set("witness", mustEvery(t, time.Minute), recorder("witness", fires))
	if next, ok := s.Next("job"); !ok || !next.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("Next(job) = %v, %v; want %v", next, ok, t0.Add(6*time.Minute))
	}
	if _, ok := s.Next("gone"); ok {
		t.Fatal("Next(gone) reports a removed job")
	}

	for minute := 2; minute <= 6; minute++ {
		clock.BlockUntil(1)
		clock.Advance(time.Minute)
		now := t0.Add(time.Duration(minute) * time.Minute)
		want := map[fire]bool{{"witness", now}: true}
		if minute == 6 {
			want[fire{"job", now}] = true
		}
		for n := len(want); n > 0; n-- {
			got := receive(t, fires, "fire")
			if !want[got] {
				t.Fatalf("minute %d: got %s@%s, want one of %v", minute, got.job, got.at.Format("15:04"), want)
			}
			delete(want, got)
		}
		// A fire that has sent its record may not have returned yet, and
		// the no-pile-up rule would rightly skip the next tick of a job
		// still running: advance only once every fire has returned.
		waitIdle(t, s)
	}
	stop()
	if n := goneFires.Load(); n != 1 {
		t.Fatalf("removed job fired %d times, want 1 (only before Remove)", n)
	}
	select {
	case f := <-fires:
		t.Fatalf("unexpected extra fire %s@%s", f.job, f.at.Format("15:04"))
	default:
	}
}

func TestRunStopsCleanly(t *testing.T) {
	clock := NewFakeClock(t0)
	s := New(Options{Clock: clock})
	started := make(chan struct{})
	sawCancel := make(chan struct{})
	s.Set("job", mustEvery(t, time.Minute), func(ctx context.Context, _ time.Time) {
		close(started)
		<-ctx.Done()
		close(sawCancel)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	clock.BlockUntil(1)
	if err := s.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
	clock.Advance(time.Minute)
	receive(t, started, "fire")
	cancel()
	if err := receive(t, done, "Run to return"); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	// Run waits for its fires, so the fire has seen the cancellation.
	select {
	case <-sawCancel:
	default:
		t.Fatal("Run returned before its running fire did")
	}
}

func TestNeverFiringScheduleIsIdle(t *testing.T) {
	clock := NewFakeClock(t0)
	s := New(Options{Clock: clock})
	// February 30th never comes.
	never, err := ParseCron("0 0 30 2 *", "")
	if err != nil {
		t.Fatal(err)
	}
	s.Set("never", never, func(context.Context, time.Time) { t.Error("fired") })
	if _, ok := s.Next("never"); ok {
		t.Fatal("Next reports a fire time for a schedule that never fires")
	}
}

// hangGuard only keeps a broken scheduler from hanging the suite; no test
// depends on how fast anything happens, so it is generous enough for a
// loaded machine under the race detector.
const hangGuard = time.Minute

// waitIdle waits until no fire of s is running.
func waitIdle(t *testing.T, s *Scheduler) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		busy := false
		for _, j := range s.Jobs() {
			busy = busy || j.Running
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fires still running after %s", hangGuard)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestJobsReportsNextAndRunning lists the jobs with their next fire and
// whether a fire is still going.
func TestJobsReportsNextAndRunning(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := NewFakeClock(start)
	s := New(Options{Clock: clock})
	release := make(chan struct{})
	fired := make(chan struct{}, 1)
	every, _ := Every(time.Minute)
	s.Set("b", every, func(ctx context.Context, _ time.Time) { fired <- struct{}{}; <-release })
	s.Set("a", every, func(context.Context, time.Time) {})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { close(release); cancel(); <-done }()

	jobs := s.Jobs()
	if len(jobs) != 2 || jobs[0].Name != "a" || jobs[1].Name != "b" || !jobs[1].Next.Equal(start.Add(time.Minute)) || jobs[1].Running {
		t.Fatalf("jobs before any fire: %+v", jobs)
	}
	clock.BlockUntil(1)
	clock.Advance(time.Minute)
	<-fired
	jobs = s.Jobs()
	if !jobs[1].Running || !jobs[1].Next.Equal(start.Add(2*time.Minute)) {
		t.Fatalf("jobs while b fires: %+v", jobs)
	}
}
