package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/config"
)

// TestStoreURL: a PostgreSQL URL is kept as written, with its variables
// resolved, not joined to the config's folder as a file path is.
func TestStoreURL(t *testing.T) {
	for _, tc := range []struct{ store, want string }{
		{"postgres://goshawk:${PW}@db:5432/goshawk?sslmode=require", "postgres://goshawk:pw-1@db:5432/goshawk?sslmode=require"},
		{"postgresql://db/goshawk", "postgresql://db/goshawk"},
		{"data/goshawk.db", "dir/data/goshawk.db"}, // a path: joined to the config's folder
	} {
		c, err := config.Parse("dir/goshawk.yaml", []byte("store: "+tc.store+"\n"), registry(t), env(map[string]string{"PW": "pw-1"}))
		if err != nil {
			t.Fatalf("%s: %v", tc.store, err)
		}
		if c.Store != tc.want && !(filepath.IsAbs(c.Store) && strings.HasSuffix(c.Store, tc.want)) {
			t.Errorf("store %s read as %q, want %q", tc.store, c.Store, tc.want)
		}
	}
}
