package threatconnect

import (
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	c := &Client{jitter: func(n time.Duration) time.Duration { return n - 1 }}
	for attempt, want := range map[int]time.Duration{1: backoffBase - 1, 2: 2*backoffBase - 1, 3: 4*backoffBase - 1, 10: backoffCap - 1} {
		if got := c.backoff(attempt); got != want {
			t.Errorf("backoff(%d) upper bound = %v, want %v", attempt, got, want)
		}
	}
}
