package store_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/store/storetest"
)

// TestSuite runs the behaviour every backend shares against SQLite; the
// PostgreSQL store runs the same suite in its own package.
func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(func() time.Time) storetest.Backend {
		path := filepath.Join(t.TempDir(), "goshawk.db")
		return func(now func() time.Time) storetest.Backend {
			s, err := store.Open(context.Background(), path, store.WithClock(now))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
}

// TestSuiteInMemory runs the suite against the private in-memory store
// (OpenMemory) that tests and one-off commands use. Its database lives as
// long as its one handle, so each test gets one store, which "reopening"
// hands out again with the clock asked for; the test's cleanup closes it.
func TestSuiteInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(func() time.Time) storetest.Backend {
		var clock atomic.Pointer[func() time.Time]
		now := func() time.Time { return storetest.Now }
		clock.Store(&now)
		s, err := store.OpenMemory(context.Background(), store.WithClock(func() time.Time { return (*clock.Load())() }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return func(now func() time.Time) storetest.Backend {
			clock.Store(&now)
			return memoryHandle{s}
		}
	})
}

// memoryHandle is a handle on the in-memory store whose Close leaves the
// database open, as closing a file store leaves its file.
type memoryHandle struct{ *store.SQLite }

func (memoryHandle) Close() error { return nil }
