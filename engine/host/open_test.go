package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/providers"
)

// TestStoreThatDoesNotOpenIsAClearError opens hosts whose store cannot
// open: a PostgreSQL URL with a password, and a path that is a folder.
// Open returns an error that names the store without its password and
// matches host.ErrStore (serve exits 2 on it); it never panics while
// cleaning up, and leaves no folder behind for a URL.
func TestStoreThatDoesNotOpenIsAClearError(t *testing.T) {
	const password = "Tr0ub4dor-pw-91"
	cases := []struct {
		name, store, want string
	}{
		{"postgres URL", "postgres://goshawk:" + password + "@127.0.0.1:5432/goshawk?sslmode=disable", "goshawk:xxxxx@127.0.0.1:5432/goshawk?sslmode=disable does not open"},
		{"postgres URL without a query", "postgresql://goshawk:" + password + "@db.example/goshawk", "goshawk:xxxxx@db.example/goshawk does not open"},
		{"a folder", "data", "data does not open"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
				t.Fatal(err)
			}
			cfgPath := filepath.Join(dir, "goshawk.yaml")
			writeFile(t, cfgPath, "store: \""+c.store+"\"\n")
			reg, err := providers.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(cfgPath, reg, func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			redact := logx.NewRedactor()
			h, err := host.Open(context.Background(), host.Options{
				Config: cfg, Registry: reg, Redact: redact,
				Log:         logx.New(&logs, "text", slog.LevelDebug, redact),
				PluginCache: filepath.Join(dir, "cache"),
			})
			if err == nil {
				h.Close(context.Background())
				t.Fatalf("store %q opened", c.store)
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, host.ErrStore) {
				t.Errorf("the error does not match host.ErrStore: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("the error does not name the store as %q: %v", c.want, err)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(logs.String(), password) {
				t.Errorf("the password leaked: %v\n%s", err, logs.String())
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ":") {
					t.Errorf("a URL store left the folder %s behind", e.Name())
				}
			}
		})
	}
}
