// Package sched fires the engine's timed work: playbooks with a schedule or
// every trigger, and the scheduled on_poll of assets. It knows nothing of
// playbooks; a job is a name, a Schedule and a function.
//
// Time comes from a Clock, so tests drive the scheduler with a FakeClock and
// never sleep.
package sched

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// FireFunc runs one fire of a job. at is the scheduled instant, not the
// moment the function happened to start. ctx is cancelled when the
// scheduler stops.
type FireFunc func(ctx context.Context, at time.Time)

// Options configure a Scheduler.
type Options struct {
	// Clock defaults to RealClock.
	Clock Clock
	// OnSkip, when set, is called for each fire that was skipped because
	// the previous fire of the same job was still running.
	OnSkip func(job string, at time.Time)
}

// ErrRunning is returned by Run when the scheduler is already running.
var ErrRunning = errors.New("sched: scheduler is already running; call Run once")

// Scheduler fires jobs on their schedules. Jobs can be set and removed at
// any time, also while Run is running. At most one fire of each job runs at
// a time: a fire that comes due while the previous one is still running is
// skipped and counted, so a slow job never piles up.
type Scheduler struct {
	clock  Clock
	onSkip func(string, time.Time)

	mu      sync.Mutex
	jobs    map[string]*job
	wake    chan struct{} // buffered(1): the job table changed
	running atomic.Bool
}

type job struct {
	sched Schedule
	fire  FireFunc
	next  time.Time // zero: never again
	guard *guard
}

// guard is shared by the versions of one job, so that replacing a job with
// Set while its fire is running still cannot start a second, overlapping
// fire.
type guard struct {
	busy    atomic.Bool
	skipped atomic.Int64
}

// New returns a Scheduler with no jobs.
func New(o Options) *Scheduler {
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	return &Scheduler{
		clock:  o.Clock,
		onSkip: o.OnSkip,
		jobs:   make(map[string]*job),
		wake:   make(chan struct{}, 1),
	}
}

// Set adds the job name, or atomically replaces it. Its next fire is
// computed from now with the new schedule.
func (s *Scheduler) Set(name string, sch Schedule, fire FireFunc) {
	s.mu.Lock()
	g := &guard{}
	if old, ok := s.jobs[name]; ok {
		g = old.guard
	}
	s.jobs[name] = &job{sched: sch, fire: fire, next: sch.Next(s.clock.Now()), guard: g}
	s.mu.Unlock()
	s.poke()
}

// Remove deletes the job name. A fire already running finishes; no new one
// starts. Removing an unknown job does nothing.
func (s *Scheduler) Remove(name string) {
	s.mu.Lock()
	delete(s.jobs, name)
	s.mu.Unlock()
	s.poke()
}

// Next returns the next fire time of job name, and false when there is no
// such job or it never fires again.
func (s *Scheduler) Next(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[name]
	if !ok || j.next.IsZero() {
		return time.Time{}, false
	}
	return j.next, true
}

// JobState is one job as Jobs reports it.
type JobState struct {
	Name string
	Next time.Time // zero: it never fires again
	// Running says a fire of the job has not returned yet.
	Running bool
	Skipped int64
}

// Jobs returns every job, by name.
func (s *Scheduler) Jobs() []JobState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobState, 0, len(s.jobs))
	for name, j := range s.jobs {
		out = append(out, JobState{Name: name, Next: j.next, Running: j.guard.busy.Load(), Skipped: j.guard.skipped.Load()})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out
}

// Skipped returns how many fires of job name were skipped because the
// previous fire was still running.
func (s *Scheduler) Skipped(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, ok := s.jobs[name]; ok {
		return j.guard.skipped.Load()
	}
	return 0
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run fires jobs until ctx is cancelled. It then cancels the context of the
// fires still running, waits for them to return, and returns nil. It
// returns ErrRunning if another Run is in progress.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)

	var fires sync.WaitGroup
	defer fires.Wait()

	for {
		next, skipped := s.fireDue(ctx, &fires)
		if s.onSkip != nil {
			for _, sk := range skipped {
				s.onSkip(sk.name, sk.at)
			}
		}
		var timeout <-chan time.Time
		var timer Timer
		if !next.IsZero() {
			timer = s.clock.NewTimer(next.Sub(s.clock.Now()))
			timeout = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case <-s.wake:
			if timer != nil {
				timer.Stop()
			}
		case <-timeout:
		}
	}
}

type skip struct {
	name string
	at   time.Time
}

// fireDue starts every job that is due and returns the earliest next fire
// time over all jobs (zero when none is pending) and the fires it skipped.
// OnSkip is called by the caller, outside the lock, so that it may use the
// scheduler.
func (s *Scheduler) fireDue(ctx context.Context, fires *sync.WaitGroup) (time.Time, []skip) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()

	// Sorted names make the order of fires in one tick reproducible.
	names := make([]string, 0, len(s.jobs))
	for name := range s.jobs {
		names = append(names, name)
	}
	sort.Strings(names)

	var earliest time.Time
	var skipped []skip
	for _, name := range names {
		j := s.jobs[name]
		if !j.next.IsZero() && !j.next.After(now) {
			at := j.next
			if !start(ctx, fires, j, at) {
				skipped = append(skipped, skip{name, at})
			}
			// Advance from the scheduled instant so intervals don't drift by
			// the scheduler's latency; if we fell behind (host asleep), skip
			// the missed ticks rather than firing a burst.
			j.next = j.sched.Next(at)
			if !j.next.IsZero() && !j.next.After(now) {
				j.next = j.sched.Next(now)
			}
		}
		if !j.next.IsZero() && (earliest.IsZero() || j.next.Before(earliest)) {
			earliest = j.next
		}
	}
	return earliest, skipped
}

// start runs one fire of j in its own goroutine, unless the previous fire is
// still running; then it counts the skip and reports false.
func start(ctx context.Context, fires *sync.WaitGroup, j *job, at time.Time) bool {
	if !j.guard.busy.CompareAndSwap(false, true) {
		j.guard.skipped.Add(1)
		return false
	}
	fires.Go(func() {
		defer j.guard.busy.Store(false)
		j.fire(ctx, at)
	})
	return true
}
