package store

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeFilter(t *testing.T) {
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	good := map[string]time.Time{
		"2024-03-04T10:00:00Z":      time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC),
		"2024-03-04T10:00:00+02:00": time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC),
		"2024-03-04":                time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC),
		"90m":                       now.Add(-90 * time.Minute),
		"24h":                       now.Add(-24 * time.Hour),
		"7d":                        now.Add(-7 * 24 * time.Hour),
		" 7d ":                      now.Add(-7 * 24 * time.Hour),
	}
	for in, want := range good {
		got, err := ParseTimeFilter("since", in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2024-13-01", "-5h", "7 days", "99999999d", "1e9h"} {
		_, err := ParseTimeFilter("until", in, now)
		if err == nil || !strings.HasPrefix(err.Error(), "until must be a time such as") {
			t.Errorf("%q: %v", in, err)
		}
	}
}
