package pgstore

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/goshawk/goshawk/engine/store"
)

var _ store.Pruner = (*Store)(nil)

// pruneBatch bounds the rows one statement deletes, so runs and polls are
// never held up behind a long prune.
const pruneBatch = 500

// Prune removes old runs, then old containers that no remaining run names,
// in small transactions, with the rules of the SQLite store (see
// store.PruneQuery).
func (s *Store) Prune(ctx context.Context, q store.PruneQuery) (store.PruneResult, error) {
	var res store.PruneResult
	var rc conds
	runCond := pruneRunCond(&rc, q, "c")
	var cc conds
	contCond := pruneContainerCond(&cc, q)
	if q.DryRun {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM goshawk_runs c WHERE `+runCond, rc.args...).Scan(&res.Runs); err != nil {
			return res, fmt.Errorf("store: prune: count runs: %w", err)
		}
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM goshawk_containers c WHERE `+contCond, cc.args...).Scan(&res.Containers); err != nil {
			return res, fmt.Errorf("store: prune: count containers: %w", err)
		}
		return res, nil
	}
	del := func(table, cond string, args []any, n *int) error {
		for {
			tag, err := s.pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %[1]s WHERE id IN (SELECT id FROM %[1]s c WHERE %[2]s LIMIT %[3]d)`, table, cond, pruneBatch), args...)
			if err != nil {
				return err
			}
			*n += int(tag.RowsAffected())
			if tag.RowsAffected() < pruneBatch {
				return nil
			}
		}
	}
	if err := del("goshawk_runs", runCond, rc.args, &res.Runs); err != nil {
		return res, fmt.Errorf("store: prune runs: %w", err)
	}
	if err := del("goshawk_containers", contCond, cc.args, &res.Containers); err != nil {
		return res, fmt.Errorf("store: prune containers: %w", err)
	}
	return res, nil
}

// pruneRunCond selects the runs to prune (alias r): finished before
// RunsBefore.
func pruneRunCond(c *conds, q store.PruneQuery, r string) string {
	if q.RunsBefore.IsZero() {
		return `false`
	}
	var sub conds
	sub.args = c.args
	sub.add(fmt.Sprintf(`%[1]s.status <> 'running' AND %[1]s.finished IS NOT NULL AND %[1]s.finished < ?`, r), q.RunsBefore.UTC())
	c.args = sub.args
	return sub.sql()
}

// pruneContainerCond selects the containers to prune (alias c): created
// before ContainersBefore, not kept by KeepAfter, and named by no run that
// stays.
func pruneContainerCond(c *conds, q store.PruneQuery) string {
	if q.ContainersBefore.IsZero() {
		return `false`
	}
	c.add(`c.created < ?`, q.ContainersBefore.UTC())
	runCond := pruneRunCond(c, q, "r")
	c.parts = append(c.parts, `NOT EXISTS (SELECT 1 FROM goshawk_runs r WHERE r.container_id = c.id AND NOT (`+runCond+`))`)
	for _, asset := range slices.Sorted(maps.Keys(q.KeepAfter)) {
		c.args = append(c.args, asset, q.KeepAfter[asset])
		c.parts = append(c.parts, fmt.Sprintf(`NOT (c.asset = $%d AND c.id > $%d)`, len(c.args)-1, len(c.args)))
	}
	return c.sql()
}
