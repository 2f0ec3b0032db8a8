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
const checkpointEvery = 250 * time.Millisecond

type checkpointer struct {
	db      *sql.DB
	commits *atomic.Uint64 // incremented by the writer after each commit
	stop    chan struct{}
	halted  sync.Once
	done    sync.WaitGroup
	ran     atomic.Uint64 // checkpoints run, for tests
}

func startCheckpointer(db *sql.DB, commits *atomic.Uint64) *checkpointer {
	c := &checkpointer{db: db, commits: commits, stop: make(chan struct{})}
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
		c.checkpoint(context.Background())
		c.ran.Add(1)
	}
}

// checkpoint copies into the database file what the log holds and no
// reader still needs. It reports the pages in the log and those copied.
func (c *checkpointer) checkpoint(ctx context.Context) (logged, copied int, err error) {
	var busy int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied)
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
