package store

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseTimeFilter reads the bound of a since or until filter, as
// `goshawk runs` and GET /api/runs take it: an RFC 3339 time
// (2024-03-04T10:00:00Z), a date (2024-03-04, midnight UTC), or an age
// before now (90m, 24h, 7d). what names the filter in the error.
func ParseTimeFilter(what, s string, now time.Time) (time.Time, error) {
	v := strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.UTC(), nil
	}
	if m := ageDays.FindStringSubmatch(v); m != nil {
		if days, err := strconv.Atoi(m[1]); err == nil && days <= maxAgeDays {
			return now.Add(-time.Duration(days) * 24 * time.Hour).UTC(), nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= 0 && d <= maxAgeDays*24*time.Hour {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%s must be a time such as 2024-03-04T10:00:00Z, a date such as 2024-03-04, or an age such as 24h or 7d, got %q", what, s)
}

var ageDays = regexp.MustCompile(`^(\d+)d$`)

// maxAgeDays keeps an age far from overflowing a Duration.
const maxAgeDays = 100 * 365
