package sched

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// The binary must resolve IANA zone names on hosts without a zoneinfo
	// database (minimal containers, Windows), so the database is embedded.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// Schedule says when a job fires next.
type Schedule interface {
	// Next returns the first fire time strictly after t, or the zero time
	// when the schedule never fires again.
	Next(t time.Time) time.Time
}

// MinEvery is the shortest interval Every accepts. Shorter intervals are
// almost always a unit mistake (10 instead of 10m) and would hammer the
// vendor APIs.
const MinEvery = time.Second

// cronParser accepts exactly the five classic fields (minute, hour, day of
// month, month, day of week), the form DESIGN.md promises.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// ParseCron parses a five-field cron expression evaluated in the IANA time
// zone tz ("" means UTC).
func ParseCron(expr, tz string) (Schedule, error) {
	loc, err := LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return nil, errors.New("cron expression must not carry a time zone prefix; set trigger.timezone instead")
	}
	if strings.HasPrefix(expr, "@") {
		return nil, fmt.Errorf("cron expression %q: descriptors are not supported; write the 5 fields (minute hour day-of-month month day-of-week), or use every: for a fixed interval", expr)
	}
	if n := len(strings.Fields(expr)); n != 5 {
		return nil, fmt.Errorf("cron expression %q has %d fields; want 5 (minute hour day-of-month month day-of-week)", expr, n)
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %w", expr, err)
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron expression %q: unexpected schedule type %T", expr, s)
	}
	spec.Location = loc
	return spec, nil
}

// LoadLocation resolves an IANA time zone name; "" means UTC. "Local" is
// refused because a schedule must mean the same on every host.
func LoadLocation(tz string) (*time.Location, error) {
	if tz == "" || tz == "UTC" {
		return time.UTC, nil
	}
	if tz == "Local" {
		return nil, errors.New(`time zone "Local" depends on the host; name the zone, e.g. "Europe/Berlin"`)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q; use an IANA name such as \"UTC\" or \"America/New_York\"", tz)
	}
	return loc, nil
}

// Every returns a schedule that fires every d. It refuses intervals shorter
// than MinEvery.
func Every(d time.Duration) (Schedule, error) {
	if d < MinEvery {
		return nil, fmt.Errorf("interval %s is too short; use at least %s", d, MinEvery)
	}
	return every(d), nil
}

type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }
