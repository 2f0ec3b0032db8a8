package threatconnect

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffFullJitter(t *testing.T) {
	c := &Client{jitter: func(n time.Duration) time.Duration { return n - 1 }}
	for attempt, want := range map[int]time.Duration{1: backoffBase - 1, 2: 2*backoffBase - 1, 3: 4*backoffBase - 1, 10: backoffCap - 1} {
		if got := c.backoff(attempt); got != want {
			t.Errorf("backoff(%d) upper bound = %v, want %v", attempt, got, want)
		}
	}
}
