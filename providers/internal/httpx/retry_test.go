package httpx_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/internal/httpx"
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
		{"99999999999999999", (1 << 20) * time.Second, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := httpx.ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffCeiling(t *testing.T) {
	base, limit := 500*time.Millisecond, 8*time.Second
	for attempt, want := range map[int]time.Duration{1: base, 2: 2 * base, 3: 4 * base, 5: limit, 10: limit, 100: limit} {
		if got := httpx.BackoffCeiling(base, limit, attempt); got != want {
			t.Errorf("BackoffCeiling(attempt %d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestSleepContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := httpx.SleepContext(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("a cancelled sleep returned %v", err)
	}
	if err := httpx.SleepContext(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
}
