package store_test

import (
	"context"
	"path/filepath"
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
