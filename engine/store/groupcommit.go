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
// So one goroutine writes the run records of the whole store. Callers hand
// it their write and wait; it takes every write queued at that moment into
// one transaction, commits, and only then lets each caller go on with its
// own result. Under load, the writes that arrive while a commit is under
// way share the next one; alone, a write is committed at once. Nothing is
// deferred past its caller's return, and nothing is acknowledged before it
// is committed: the durability of each record is that of its own
// transaction before.

// maxGroup bounds the writes of one transaction, so that a burst cannot
// hold the write lock for long.
const maxGroup = 128

// groupWrite is one caller's write, run inside the group's transaction.
type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	err  error
	done chan struct{}
}

// groupWriter is the goroutine that commits run records in groups.
type groupWriter struct {
	s     *SQLite
	mu    sync.RWMutex // held for reading while queueing; closing takes it for writing
	shut  bool
	queue chan *groupWrite
	idle  chan struct{} // closed when the goroutine has ended

	// solo, set by benchmarks before any write, commits each write in a
	// transaction of its own: the store before group commit.
	solo bool
}

func newGroupWriter(s *SQLite) *groupWriter {
	g := &groupWriter{s: s, queue: make(chan *groupWrite, maxGroup), idle: make(chan struct{})}
	go g.loop()
	return g
}

// errClosed is returned for a write that arrives after Close.
var errClosed = errors.New("the store is closed")

// write runs fn in a write transaction shared with other callers' writes
// and returns once that transaction has committed (fn's error, or the
// commit's). fn must leave nothing behind when it fails: it either returns
// an error before writing, or one that fails the whole group, which is
// then retried write by write (see commit).
func (g *groupWriter) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	w := &groupWrite{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.RLock()
	if g.shut {
		g.mu.RUnlock()
		return errClosed
	}
	g.queue <- w
	g.mu.RUnlock()
	// The caller waits for the commit even if ctx ends meanwhile: its
	// write may be committed, and it must know.
	<-w.done
	return w.err
}

// close lets the queued writes commit and stops the goroutine.
func (g *groupWriter) close() {
	g.mu.Lock()
	if !g.shut {
		g.shut = true
		close(g.queue)
	}
	g.mu.Unlock()
	<-g.idle
}

func (g *groupWriter) loop() {
	defer close(g.idle)
	group := make([]*groupWrite, 0, maxGroup)
	for w := range g.queue {
		group = append(group[:0], w)
	gather:
		for len(group) < maxGroup {
			select {
			case w, ok := <-g.queue:
				if !ok {
					break gather
				}
				group = append(group, w)
			default:
				break gather
			}
		}
		g.commit(group)
		for _, w := range group {
			close(w.done)
		}
		clear(group)
	}
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
	if len(group) == 1 || g.solo {
		g.each(group)
		return
	}
	err := g.s.write(context.Background(), func(tx *sql.Tx) error {
		for _, w := range group {
			if w.err = w.ctx.Err(); w.err != nil {
				continue
			}
			if w.err = w.fn(w.ctx, tx); w.err != nil && !quiet(w.err) {
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
