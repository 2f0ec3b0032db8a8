package pgstore

import (
	"fmt"
	"strings"

	"github.com/goshawk/goshawk/engine/store"
)

// conds builds a WHERE clause with numbered placeholders.
type conds struct {
	parts []string
	args  []any
}

func (c *conds) add(cond string, arg any) {
	c.args = append(c.args, arg)
	c.parts = append(c.parts, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(c.args))))
}

func (c *conds) sql() string {
	if len(c.parts) == 0 {
		return `true`
	}
	return strings.Join(c.parts, ` AND `)
}

// runWhere is the condition of a run query and its arguments, without the
// limit (the next placeholder is $len(args)+1).
func runWhere(q store.RunQuery) (string, []any) {
	var c conds
	if q.Playbook != "" {
		c.add(`playbook = ?`, q.Playbook)
	}
	if q.Status != "" {
		c.add(`status = ?`, q.Status)
	}
	if q.Trigger != "" {
		c.add(`trigger = ?`, q.Trigger)
	}
	if q.ContainerID != 0 {
		c.add(`container_id = ?`, q.ContainerID)
	}
	if !q.Since.IsZero() {
		c.add(`started >= ?`, q.Since.UTC())
	}
	if !q.Until.IsZero() {
		c.add(`started < ?`, q.Until.UTC())
	}
	if q.BeforeID > 0 {
		c.add(`id < ?`, q.BeforeID)
	}
	return c.sql(), c.args
}

func containerWhere(q store.ContainerQuery) (string, []any) {
	var c conds
	c.add(`id > ?`, q.AfterID)
	if q.Asset != "" {
		c.add(`asset = ?`, q.Asset)
	}
	if q.Severity != "" {
		c.add(`severity = ?`, q.Severity)
	}
	if q.Status != "" {
		c.add(`status = ?`, q.Status)
	}
	if !q.Since.IsZero() {
		c.add(`created >= ?`, q.Since.UTC())
	}
	if !q.Until.IsZero() {
		c.add(`created < ?`, q.Until.UTC())
	}
	return c.sql(), c.args
}
