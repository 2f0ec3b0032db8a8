package sched

import (
	"strings"
	"testing"
	"time"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestParseCronNext(t *testing.T) {
	tests := []struct {
		name, expr, tz, from, want string
	}{
		{"every quarter hour", "*/15 * * * *", "", "2025-03-10T10:07:00Z", "2025-03-10T10:15:00Z"},
		{"on the boundary is strictly after", "*/15 * * * *", "", "2025-03-10T10:15:00Z", "2025-03-10T10:30:00Z"},
		{"daily in UTC", "30 2 * * *", "UTC", "2025-03-10T10:00:00Z", "2025-03-11T02:30:00Z"},
		{"weekdays only", "0 9 * * 1-5", "", "2025-03-08T00:00:00Z", "2025-03-10T09:00:00Z"},
		{"zone in winter", "0 9 * * *", "America/New_York", "2025-01-15T00:00:00Z", "2025-01-15T14:00:00Z"},
		{"zone in summer", "0 9 * * *", "America/New_York", "2025-07-15T00:00:00Z", "2025-07-15T13:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseCron(tt.expr, tt.tz)
			if err != nil {
				t.Fatalf("ParseCron(%q, %q): %v", tt.expr, tt.tz, err)
			}
			got := s.Next(mustTime(t, tt.from))
			if want := mustTime(t, tt.want); !got.Equal(want) {
				t.Fatalf("Next(%s) = %s, want %s", tt.from, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestParseCronErrors(t *testing.T) {
	tests := []struct {
		name, expr, tz, want string
	}{
		{"six fields", "0 */15 * * * *", "", `has 6 fields; want 5`},
		{"four fields", "* * * *", "", `has 4 fields; want 5`},
		{"empty", "", "", `has 0 fields; want 5`},
		{"minute out of range", "61 * * * *", "", `cron expression "61 * * * *": end of range (61) above maximum (59)`},
		{"garbage", "every monday", "", `has 2 fields`},
		{"bad step", "*/0 * * * *", "", `cron expression "*/0 * * * *"`},
		{"descriptor", "@hourly", "", `descriptors are not supported`},
		{"zone prefix", "TZ=UTC", "", `set trigger.timezone instead`},
		{"unknown zone", "* * * * *", "Mars/Olympus", `unknown time zone "Mars/Olympus"`},
		{"host zone", "* * * * *", "Local", `depends on the host`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCron(tt.expr, tt.tz)
			if err == nil {
				t.Fatalf("ParseCron(%q, %q) succeeded, want an error containing %q", tt.expr, tt.tz, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseCron(%q, %q) error %q, want it to contain %q", tt.expr, tt.tz, err, tt.want)
			}
		})
	}
}

func TestEvery(t *testing.T) {
	s, err := Every(10 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	from := mustTime(t, "2025-03-10T10:07:30Z")
	if got, want := s.Next(from), mustTime(t, "2025-03-10T10:17:30Z"); !got.Equal(want) {
		t.Fatalf("Next = %s, want %s", got, want)
	}
	for _, d := range []time.Duration{0, -time.Minute, 999 * time.Millisecond} {
		if _, err := Every(d); err == nil {
			t.Errorf("Every(%s) succeeded, want an error", d)
		}
	}
}
