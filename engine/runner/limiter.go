package runner

import (
	"context"
	"fmt"
	"sync"
)

// limiter bounds the runs of one playbook: size run at once, up to queue
// more wait in arrival order, and any further one is refused.
type limiter struct {
	size, queue int
	slots       chan struct{}

	mu      sync.Mutex
	waiting int
}

func newLimiter(size, queue int) *limiter {
	if size < 1 {
		size = 1
	}
	return &limiter{size: size, queue: queue, slots: make(chan struct{}, size)}
}

// acquire takes a slot, waiting in the queue if need be. Closing stop
// (shutdown) releases the waiters with ErrShuttingDown.
func (l *limiter) acquire(ctx context.Context, stop <-chan struct{}) error {
	slot, err := l.reserve()
	if err != nil || slot {
		return err
	}
	return l.await(ctx, stop)
}

// reserve takes a free slot (slot true) or a place in the queue without
// waiting; a reserved place is then turned into a slot by await, or given
// back by leave.
func (l *limiter) reserve() (slot bool, err error) {
	select {
	case l.slots <- struct{}{}:
		return true, nil
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting >= l.queue {
		return false, fmt.Errorf("%w: %d runs running and %d waiting; raise concurrency or queue in the playbook, or retry later", ErrQueueFull, l.size, l.queue)
	}
	l.waiting++
	return false, nil
}

// await waits for the slot of a reserved place and leaves the queue.
// Closing stop (shutdown) gives the place up with ErrShuttingDown.
func (l *limiter) await(ctx context.Context, stop <-chan struct{}) error {
	defer l.leave()
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gave up waiting for a run slot: %w", ctx.Err())
	case <-stop:
		return ErrShuttingDown
	}
}

// leave gives back a reserved place in the queue.
func (l *limiter) leave() {
	l.mu.Lock()
	l.waiting--
	l.mu.Unlock()
}

func (l *limiter) release() { <-l.slots }

func (l *limiter) counts() (running, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.slots), l.waiting
}
