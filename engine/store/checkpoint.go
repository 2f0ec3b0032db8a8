package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints off the write path.
//
// Under WAL, committed pages go to the write-ahead log and a checkpoint
// copies them back into the database file, with an fsync of each. SQLite
// runs it by default inside the commit that takes the log past 1,000 pages,
// so every few hundred runs one run record waited for a checkpoint of a few
// milliseconds, and every record queued behind it waited too: the slowest
// one percent of webhook answers were mostly those.
//
// So the writer connection turns automatic checkpoints off, and a goroutine
// of the store checkpoints on a connection of its own every
// checkpointEvery, when anything was committed meanwhile. The checkpoint is
// PASSIVE, the kind SQLite runs automatically: it copies what no reader
// still needs and never blocks a writer or a reader. Other processes that
// open the file (the CLI) keep SQLite's automatic checkpoints.
//
// The log starts over from its beginning only when a write begins with
// every page of the log copied. Under steady writes that never happens by
// itself: commits go on during the checkpoint, which copies the log as it
// was when it began, so the next write always finds pages left, and the
// log grew without end (555 MB after 20,000 webhook runs, beside a 44 MB
// database), every commit writing to new pages of the file. So when the
// log has grown past restartAfter pages, the round copies the rest on the
// writer's connection, where no commit of this store runs meanwhile: only
// the pages committed during the first pass (a few milliseconds' worth)
// are copied while writes wait, and the next write starts the log over.
const checkpointEvery = 250 * time.Millisecond

// restartAfter is the size of the log, in pages, past which a round
// copies it whole so that it starts over (4,096 pages: 16 MB).
const restartAfter = 4096

type checkpointer struct {
	db      *sql.DB
	w       *sql.DB        // the writer, for the rest of a long log
	restart int            // restartAfter, or a test's
	commits *atomic.Uint64 // incremented by the writer after each commit
	stop    chan struct{}
	halted  sync.Once
	done    sync.WaitGroup
	ran     atomic.Uint64 // checkpoints run, for tests

	// afterFirst, set by a test, runs between a round's two passes.
	afterFirst func()
}

func startCheckpointer(db, w *sql.DB, commits *atomic.Uint64) *checkpointer {
	c := &checkpointer{db: db, w: w, restart: restartAfter, commits: commits, stop: make(chan struct{})}
	c.done.Add(1)
	go c.loop()
	return c
}

func (c *checkpointer) loop() {
	defer c.done.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		n := c.commits.Load()
		if n == seen {
			continue
		}
		seen = n
		// A failure (the file locked by another process's checkpoint, say)
		// leaves the pages in the log for the next tick; nothing is lost.
		c.round(context.Background())
		c.ran.Add(1)
	}
}

// round checkpoints the log, and copies the rest of a long one on the
// writer's connection so that the next write starts it over.
func (c *checkpointer) round(ctx context.Context) error {
	logged, _, err := c.checkpoint(ctx)
	if err != nil || logged < c.restart {
		return err
	}
	if c.afterFirst != nil {
		c.afterFirst()
	}
	_, _, err = checkpointOn(ctx, c.w)
	return err
}

// checkpoint copies into the database file what the log holds and no
// reader still needs. It reports the pages in the log and those copied.
func (c *checkpointer) checkpoint(ctx context.Context) (logged, copied int, err error) {
	return checkpointOn(ctx, c.db)
}

func checkpointOn(ctx context.Context, db *sql.DB) (logged, copied int, err error) {
	var busy int
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied)
	return logged, copied, err
}

// close stops the goroutine and closes its connection. SQLite checkpoints
// the log when the last connection to the file closes.
func (c *checkpointer) close() error {
	c.halt()
	return c.db.Close()
}

// halt stops the goroutine and waits for it to end.
func (c *checkpointer) halt() {
	c.halted.Do(func() { close(c.stop) })
	c.done.Wait()
}
