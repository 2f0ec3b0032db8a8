package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Group commit of run records.
//
// Every run writes two records: its start (which must be durable before
// the run is reported started, so that a crash leaves it to be marked
// interrupted) and its finish (which must be durable before the run is
// reported finished: a webhook's ?wait=true answer comes after it). Each
// was a transaction of its own, and a SQLite commit costs far more than
// the rows it writes: the lock, then one write to the WAL per page touched,
// and the runs table's pages are the same ones run after run.
//
// So the run records of a store are committed in groups. A caller that
// finds no commit under way commits its own write at once, in its own
// goroutine: alone, a write costs what it did before. Writes that arrive
// while a commit is under way queue up; when that commit ends, the first
// of them is woken to commit the whole queue (up to maxGroup) in one
// transaction, and so on. Every caller returns only after the transaction
// holding its write has committed, with its own result. Nothing is
// deferred past its caller's return, and nothing is acknowledged before
// it is committed: the durability of each record is that of its own
// transaction before.

// maxGroup bounds the writes of one transaction, so that a burst cannot
// hold the write lock for long.
const maxGroup = 128

// groupWrite is one caller's write, run inside the group's transaction.
type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	err  error
	done chan struct{} // closed once committed, or to make the write lead
	lead bool          // set before done is closed: commit the queue
}

// groupWriter commits the run records of a store in groups.
type groupWriter struct {
	s *SQLite

	mu      sync.Mutex
	shut    bool
	leading bool          // a caller is committing a group
	queue   []*groupWrite // writes waiting for the next group; the first leads it
	active  sync.WaitGroup

	// solo, set by benchmarks before any write, commits each write in a
	// transaction of its own: the store before group commit.
	solo bool
}

func newGroupWriter(s *SQLite) *groupWriter { return &groupWriter{s: s} }

// errClosed is returned for a write that arrives after Close.
var errClosed = errors.New("the store is closed")

// write runs fn in a write transaction shared with other callers' writes
// and returns once that transaction has committed (fn's error, or the
// commit's). fn runs exactly one statement, prepared with s.stmt(ctx, tx,
// query): when the write is alone in its group, tx is nil and the statement
// commits by itself, which saves the BEGIN and COMMIT statements of a
// transaction (most records in serve are alone: the runs between two
// records take longer than a commit). fn must leave nothing behind when it
// fails: it either returns an error before writing, or one that fails the
// whole group, which is then retried write by write (see commit).
func (g *groupWriter) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := &groupWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	if g.shut {
		g.mu.Unlock()
		return errClosed
	}
	g.active.Add(1)
	defer g.active.Done()
	g.queue = append(g.queue, w)
	if g.leading {
		g.mu.Unlock()
		// The caller waits for the commit even if ctx ends meanwhile:
		// its write may be committed, and it must know.
		<-w.done
		if !w.lead {
			return w.err
		}
		g.mu.Lock()
	}
	// This write leads: it is the first of the queue. It takes the queue
	// as its group, commits it, and hands the lead to the first write
	// that queued meanwhile.
	g.leading = true
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = append([]*groupWrite(nil), g.queue[n:]...)
	g.mu.Unlock()

	g.commit(group)

	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		next.lead = true
		close(next.done)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, o := range group[1:] {
		close(o.done)
	}
	return w.err
}

// close waits for the writes under way and refuses new ones.
func (g *groupWriter) close() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
	g.active.Wait()
}

// quiet reports whether err is a write's own answer that wrote nothing (a
// duplicate start, a finish of an unknown run), which the others of its
// group need not share.
func quiet(err error) bool {
	return errors.Is(err, ErrDuplicateRun) || errors.Is(err, ErrNotFound)
}

// commit runs the group's writes in one transaction. When one fails in a
// way that may have left part of it written, or the commit fails, nothing
// of the group is committed; each write then goes again in a transaction
// of its own, so that it fails alone.
func (g *groupWriter) commit(group []*groupWrite) {
	if g.solo {
		g.each(group)
		return
	}
	// A write whose caller has gone is skipped; one that runs is not
	// interrupted, so its statement runs with a context that cannot end:
	// it is one short statement, and the driver watches a context that can
	// end from a goroutine of its own, started for every statement.
	if len(group) == 1 {
		w := group[0]
		if w.err = w.ctx.Err(); w.err == nil {
			w.err = g.s.alone(context.WithoutCancel(w.ctx), w.fn)
		}
		return
	}
	err := g.s.write(context.Background(), func(tx *sql.Tx) error {
		for _, w := range group {
			if w.err = w.ctx.Err(); w.err != nil {
				continue
			}
			if w.err = w.fn(context.WithoutCancel(w.ctx), tx); w.err != nil && !quiet(w.err) {
				return w.err
			}
		}
		return nil
	})
	if err != nil {
		g.each(group)
	}
}

// each commits every write of group in a transaction of its own.
func (g *groupWriter) each(group []*groupWrite) {
	for _, w := range group {
		w.err = g.s.write(w.ctx, func(tx *sql.Tx) error { return w.fn(w.ctx, tx) })
	}
}
