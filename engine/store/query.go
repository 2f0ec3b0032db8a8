package store

import (
	"fmt"
	"strings"
)

// The run statuses and triggers a query may filter on.
var (
	RunStatuses = []string{RunRunning, RunSuccess, RunFailed, RunTimeout, RunInterrupted}
	RunTriggers = []string{"manual", "webhook", "schedule", "every", "on_poll", "test"}
)

// Check reports a query that can match nothing because a value is not one
// the store knows, naming the field and the values it takes.
func (q RunQuery) Check() error {
	if q.Status != "" && !oneOf(q.Status, RunStatuses) {
		return fmt.Errorf("status %q is not a run status; use one of %s", q.Status, strings.Join(RunStatuses, ", "))
	}
	if q.Trigger != "" && !oneOf(q.Trigger, RunTriggers) {
		return fmt.Errorf("trigger %q is not a trigger; use one of %s", q.Trigger, strings.Join(RunTriggers, ", "))
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return fmt.Errorf("since (%s) must be before until (%s)", q.Since.UTC().Format(timeLayout), q.Until.UTC().Format(timeLayout))
	}
	return nil
}

// where is the SQL condition of the query and its arguments, without the
// limit. Times compare as instants (julianday), not as text: stored
// RFC 3339 text with trimmed fractions does not sort.
func (q RunQuery) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) { conds = append(conds, cond); args = append(args, arg) }
	if q.Playbook != "" {
		add(`playbook = ?`, q.Playbook)
	}
	if q.Status != "" {
		add(`status = ?`, q.Status)
	}
	if q.Trigger != "" {
		add(`trigger = ?`, q.Trigger)
	}
	if q.ContainerID != 0 {
		add(`container_id = ?`, q.ContainerID)
	}
	if !q.Since.IsZero() {
		add(`julianday(started) >= julianday(?)`, formatTime(q.Since))
	}
	if !q.Until.IsZero() {
		add(`julianday(started) < julianday(?)`, formatTime(q.Until))
	}
	if q.BeforeID > 0 {
		add(`id < ?`, q.BeforeID)
	}
	if len(conds) == 0 {
		return `1 = 1`, nil
	}
	return strings.Join(conds, ` AND `), args
}

// Check reports a container query that can match nothing because a value
// is not one the store knows.
func (q ContainerQuery) Check() error {
	if q.Severity != "" && !oneOf(q.Severity, []string{"low", "medium", "high"}) {
		return fmt.Errorf("severity %q is not a severity; use low, medium or high", q.Severity)
	}
	if q.Status != "" && !oneOf(q.Status, []string{"new", "open", "closed"}) {
		return fmt.Errorf("status %q is not a container status; use new, open or closed", q.Status)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return fmt.Errorf("since (%s) must be before until (%s)", q.Since.UTC().Format(timeLayout), q.Until.UTC().Format(timeLayout))
	}
	return nil
}

func (q ContainerQuery) where() (string, []any) {
	conds, args := []string{`id > ?`}, []any{q.AfterID}
	add := func(cond string, arg any) { conds = append(conds, cond); args = append(args, arg) }
	if q.Asset != "" {
		add(`asset = ?`, q.Asset)
	}
	if q.Severity != "" {
		add(`severity = ?`, q.Severity)
	}
	if q.Status != "" {
		add(`status = ?`, q.Status)
	}
	if !q.Since.IsZero() {
		add(`julianday(created) >= julianday(?)`, formatTime(q.Since))
	}
	if !q.Until.IsZero() {
		add(`julianday(created) < julianday(?)`, formatTime(q.Until))
	}
	return strings.Join(conds, ` AND `), args
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
