package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// PruneQuery is what retention removes. A zero time prunes nothing of that
// kind.
type PruneQuery struct {
	// RunsBefore removes the runs that finished before it, with their
	// steps and logs. A run still running is never removed, however old.
	RunsBefore time.Time
	// ContainersBefore removes the containers created before it, with
	// their artifacts, unless a run that is kept (running or not yet old
	// enough) names the container.
	ContainersBefore time.Time
	// KeepAfter keeps, per asset, the containers with an id above the
	// given one: those not yet dispatched to their on_poll playbooks.
	KeepAfter map[string]int64
	// DryRun counts what would be removed and removes nothing.
	DryRun bool
}

// PruneResult counts what Prune removed (or would remove, on a dry run).
type PruneResult struct {
	Runs       int `json:"runs"`
	Containers int `json:"containers"`
}

// Pruner removes old history. Every backend implements it with the same
// rules, so that retention means the same on each.
type Pruner interface {
	Prune(ctx context.Context, q PruneQuery) (PruneResult, error)
}

var _ Pruner = (*SQLite)(nil)

// pruneBatch bounds the rows one transaction deletes, so that runs and
// polls are never held up behind a long prune.
const pruneBatch = 500

// Prune removes old runs, then old containers that no remaining run names,
// in small transactions. See PruneQuery.
func (s *SQLite) Prune(ctx context.Context, q PruneQuery) (PruneResult, error) {
	var res PruneResult
	runCond, runArgs := q.runCond("c")
	contCond, contArgs := q.containerCond()
	count := func(table, cond string, args []any) (int, error) {
		var n int
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE `+cond, args...).Scan(&n)
		return n, err
	}
	if q.DryRun {
		var err error
		if res.Runs, err = count("runs c", runCond, runArgs); err != nil {
			return res, fmt.Errorf("store: prune: count runs: %w", err)
		}
		if res.Containers, err = count("containers c", contCond, contArgs); err != nil {
			return res, fmt.Errorf("store: prune: count containers: %w", err)
		}
		return res, nil
	}
	del := func(table, cond string, args []any, n *int) error {
		for {
			var deleted int64
			err := s.write(ctx, func(tx *sql.Tx) error {
				r, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id IN (SELECT id FROM `+table+` c WHERE `+cond+` LIMIT ?)`,
					append(slices.Clone(args), pruneBatch)...)
				if err != nil {
					return err
				}
				deleted, err = r.RowsAffected()
				return err
			})
			if err != nil {
				return err
			}
			*n += int(deleted)
			if deleted < pruneBatch {
				return nil
			}
		}
	}
	if err := del("runs", runCond, runArgs, &res.Runs); err != nil {
		return res, fmt.Errorf("store: prune runs: %w", err)
	}
	if err := del("containers", contCond, contArgs, &res.Containers); err != nil {
		return res, fmt.Errorf("store: prune containers: %w", err)
	}
	return res, nil
}

// runCond selects the runs to prune, the runs table being alias r:
// finished before RunsBefore.
func (q PruneQuery) runCond(r string) (string, []any) {
	if q.RunsBefore.IsZero() {
		return `0 = 1`, nil
	}
	return fmt.Sprintf(`%[1]s.status <> 'running' AND %[1]s.finished IS NOT NULL AND julianday(%[1]s.finished) < julianday(?)`, r),
		[]any{formatTime(q.RunsBefore)}
}

// containerCond selects the containers to prune (alias c): created before
// ContainersBefore, not kept by KeepAfter, and named by no run that stays.
func (q PruneQuery) containerCond() (string, []any) {
	if q.ContainersBefore.IsZero() {
		return `0 = 1`, nil
	}
	conds := []string{`julianday(c.created) < julianday(?)`}
	args := []any{formatTime(q.ContainersBefore)}
	// A run that stays is one the run condition does not select.
	runCond, runArgs := q.runCond("r")
	conds = append(conds, `NOT EXISTS (SELECT 1 FROM runs r WHERE r.container_id = c.id AND NOT (`+runCond+`))`)
	args = append(args, runArgs...)
	for _, asset := range slices.Sorted(maps.Keys(q.KeepAfter)) {
		conds = append(conds, `NOT (c.asset = ? AND c.id > ?)`)
		args = append(args, asset, q.KeepAfter[asset])
	}
	return strings.Join(conds, ` AND `), args
}
