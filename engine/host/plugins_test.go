package host_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/bindings/wasm"
	"github.com/goshawk/goshawk/bindings/wasm/wasmbuild"
)

// loopingStart is a WASM module with the exports of the plugin ABI whose
// start function never returns:
//
//	(module
//	  (memory (export "memory") 1)
//	  (func $spin (loop (br 0)))
//	  (func (export "goshawk_alloc") (param i32) (result i32) (i32.const 0))
//	  (func (export "goshawk_free") (param i32 i32))
//	  (func (export "goshawk_manifest") (result i64) (i64.const 0))
//	  (start $spin))
var loopingStart = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
	// types: () -> (), (i32) -> i32, (i32, i32) -> (), () -> i64
	0x01, 0x12, 0x04, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60, 0x00, 0x01, 0x7e,
	0x03, 0x05, 0x04, 0x00, 0x01, 0x02, 0x03, // functions
	0x05, 0x03, 0x01, 0x00, 0x01, // memory: 1 page
	0x07, 0x3c, 0x04, // exports
	0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,
	0x0d, 'g', 'o', 's', 'h', 'a', 'w', 'k', '_', 'a', 'l', 'l', 'o', 'c', 0x00, 0x01,
	0x0c, 'g', 'o', 's', 'h', 'a', 'w', 'k', '_', 'f', 'r', 'e', 'e', 0x00, 0x02,
	0x10, 'g', 'o', 's', 'h', 'a', 'w', 'k', '_', 'm', 'a', 'n', 'i', 'f', 'e', 's', 't', 0x00, 0x03,
	0x08, 0x01, 0x00, // start: function 0
	0x0a, 0x16, 0x04, // code
	0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0 end end
	0x04, 0x00, 0x41, 0x00, 0x0b, // i32.const 0
	0x02, 0x00, 0x0b,
	0x04, 0x00, 0x42, 0x00, 0x0b, // i64.const 0
}

// plugins returns GET /api/plugins.
func (hs *harness) plugins() []wasm.PluginStatus {
	hs.t.Helper()
	code, b := hs.do(http.MethodGet, "/api/plugins", "")
	if code != http.StatusOK {
		hs.t.Fatalf("GET /api/plugins: %d %s", code, b)
	}
	var out []wasm.PluginStatus
	if err := json.Unmarshal(b, &out); err != nil {
		hs.t.Fatalf("GET /api/plugins: %v: %s", err, b)
	}
	return out
}

func pluginError(list []wasm.PluginStatus, name string) string {
	for _, p := range list {
		if p.Name == name {
			return p.Error
		}
	}
	return ""
}

// TestPluginThatHangsAtLoadLeavesTheWatcherWorking drops a plugin whose
// start function loops into the plugins folder while serving: its load
// ends with an error that GET /api/plugins shows, later playbook changes
// still load, and shutdown is not held up (the harness stops serving at
// the end).
func TestPluginThatHangsAtLoadLeavesTheWatcherWorking(t *testing.T) {
	hs := start(t, setup{
		plugins: map[string][]byte{"broken.wasm": []byte("this is not a WASM module")},
		files:   map[string]string{"echo.yaml": echoYAML, "echo.lua": echoLua(1)},
	})
	if msg := pluginError(hs.plugins(), "broken"); msg == "" {
		t.Fatalf("GET /api/plugins does not show why broken.wasm did not load: %+v", hs.plugins())
	}

	writeFile(t, filepath.Join(hs.dir, "plugins", "spin_start.wasm"), string(loopingStart))
	eventually(t, "the looping plugin's load failing in GET /api/plugins", func() bool {
		return pluginError(hs.plugins(), "spin_start") != ""
	})
	t.Logf("spin_start: %s", pluginError(hs.plugins(), "spin_start"))

	saveRenameOver(t, filepath.Join(hs.pbDir, "fresh.yaml"), "trigger: {webhook: true}\nlua: |\n  return {fresh = true}\n")
	eventually(t, "a playbook added after the looping plugin serving", func() bool {
		_, err := hs.runWait("fresh", "{}")
		return err == nil
	})
	if !strings.Contains(hs.log.String(), "spin_start") {
		t.Fatalf("the log does not report the plugin:\n%s", hs.log.String())
	}
}

// TestPlaybooksShowTheirPluginsErrors breaks a plugin that a serving
// playbook uses: GET /api/playbooks shows the reload error on the
// playbook, which keeps running on the last good plugin version.
func TestPlaybooksShowTheirPluginsErrors(t *testing.T) {
	good := buildEcho(t)
	hs := start(t, setup{
		// A Go plugin starts its runtime when it loads, which takes a
		// while under the race detector: the generous timeout bounds
		// that, not the test.
		config:  "plugin_limits:\n  echo: {timeout: 30s}\n",
		plugins: map[string][]byte{"echo.wasm": good},
		files:   map[string]string{"rep.yaml": "trigger: {webhook: true}\nplugins: [echo]\nlua: |\n  return plugins.echo.echo({ok = true})\n"},
	})
	info := hs.playbook("rep")
	if len(info.Plugins) != 1 || info.Plugins[0].Name != "echo" || !info.Plugins[0].Running || info.Plugins[0].Error != "" {
		t.Fatalf("plugins of rep: %+v", info.Plugins)
	}
	writeFile(t, filepath.Join(hs.dir, "plugins", "echo.wasm"), "garbage")
	eventually(t, "the plugin's reload error on the playbook", func() bool {
		info = hs.playbook("rep")
		return len(info.Plugins) == 1 && info.Plugins[0].Error != ""
	})
	if !info.Plugins[0].Running {
		t.Fatalf("the last good plugin version should keep running: %+v", info.Plugins)
	}
	if rec, err := hs.runWait("rep", "{}"); err != nil || rec.Status != "success" {
		t.Fatalf("rep stopped serving: %+v, %v", rec, err)
	}
}

// buildEcho builds the echo test plugin.
func buildEcho(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "echo.wasm")
	if err := wasmbuild.Build(context.Background(), filepath.Join("..", "..", "testdata", "plugins", "echo"), out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
