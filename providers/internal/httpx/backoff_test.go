package httpx

import (
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	p := DefaultPolicy()
	c := &Client{Policy: p, Jitter: func(n time.Duration) time.Duration { return n - 1 }}
	for attempt, want := range map[int]time.Duration{1: p.Base - 1, 2: 2*p.Base - 1, 3: 4*p.Base - 1, 10: p.Cap - 1} {
		if got := c.backoff(attempt); got != want {
			t.Errorf("backoff(%d) upper bound = %v, want %v", attempt, got, want)
		}
	}
}
