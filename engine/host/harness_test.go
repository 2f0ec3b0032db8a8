package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/server"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers"
)

// testToken is the API token of every test host; it must never show up in
// a log.
const testToken = "host-test-token-7f3a9c"

// syncBuffer is a log sink that tests read while the host writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// setup describes a test host: extra config lines and the files of its
// playbooks folder.
type setup struct {
	config string            // appended to goshawk.yaml
	files  map[string]string // playbooks/<name> -> content
	clock  sched.Clock
	noHTTP bool
	// providers registered for the config's assets; none by default.
	providers []*providers.Provider
	// plugins are written to plugins/<name> before the host opens.
	plugins map[string][]byte
}

// harness is a host serving on loopback, as `goshawk serve` runs it.
type harness struct {
	t     testing.TB
	dir   string
	pbDir string
	h     *host.Host
	url   string
	log   *syncBuffer

	stop      context.CancelFunc
	served    chan error
	serveOnce sync.Once
	closeOnce sync.Once
}

// start writes the config and playbooks, opens the host and serves it
// until the test ends.
func start(t testing.TB, s setup) *harness {
	t.Helper()
	dir := t.TempDir()
	pbDir := filepath.Join(dir, "playbooks")
	if err := os.MkdirAll(pbDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range s.files {
		writeFile(t, filepath.Join(pbDir, name), body)
	}
	cfgPath := filepath.Join(dir, "goshawk.yaml")
	writeFile(t, cfgPath, "listen: 127.0.0.1:0\napi_token: "+testToken+"\n"+s.config)
	if len(s.plugins) > 0 {
		if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, wasm := range s.plugins {
			if err := os.WriteFile(filepath.Join(dir, "plugins", name), wasm, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	reg, err := providers.NewRegistry(s.providers...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	redact := logx.NewRedactor()
	hs := &harness{t: t, dir: dir, pbDir: pbDir, log: logs, served: make(chan error, 1)}
	hs.h, err = host.Open(context.Background(), host.Options{
		Config: cfg, Registry: reg, Redact: redact, Clock: s.clock,
		Log:         logx.New(logs, "text", slog.LevelInfo, redact),
		PluginCache: filepath.Join(dir, "cache"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range hs.h.PlaybookInfos() {
		if info.LastError != "" {
			hs.h.Close(context.Background())
			t.Fatalf("test playbook %s does not load: %s", info.File, info.LastError)
		}
	}
	var handler http.Handler
	if !s.noHTTP {
		handler = server.New(server.Options{Host: hs.h, Token: testToken})
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs.stop = cancel
	ready := make(chan string, 1)
	go func() {
		hs.served <- hs.h.Serve(ctx, host.ServeOptions{Handler: handler, Ready: func(addr string) { ready <- addr }})
	}()
	select {
	case addr := <-ready:
		hs.url = "http://" + addr
	case err := <-hs.served:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		hs.shutdown()
		if strings.Contains(logs.String(), testToken) {
			t.Errorf("the API token leaked into the log:\n%s", logs.String())
		}
	})
	return hs
}

// stopServing stops Serve, as SIGTERM does, and waits for it to return.
// The host stays open, so tests can read the store afterwards.
func (hs *harness) stopServing() {
	hs.serveOnce.Do(func() {
		hs.stop()
		if err := <-hs.served; err != nil {
			hs.t.Errorf("serve returned %v", err)
		}
	})
}

// shutdown stops Serve and closes the host.
func (hs *harness) shutdown() {
	hs.stopServing()
	hs.closeOnce.Do(func() { hs.h.Close(context.Background()) })
}

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// saveRenameOver saves as most editors do: write a temporary file, then
// rename it over the original.
func saveRenameOver(t testing.TB, path, body string) {
	t.Helper()
	tmp := path + ".tmp~"
	writeFile(t, tmp, body)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// saveRenameAway saves as vim does by default: rename the original to a
// backup, write a new file, then delete the backup.
func saveRenameAway(t testing.TB, path, body string) {
	t.Helper()
	backup := path + "~"
	if err := os.Rename(path, backup); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, body)
	if err := os.Remove(backup); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds. The bound only keeps a broken
// build from hanging; no test depends on how fast cond becomes true.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// do sends a request with the token and returns the status and body.
func (hs *harness) do(method, path, body string) (int, []byte) {
	hs.t.Helper()
	req, err := http.NewRequest(method, hs.url+path, strings.NewReader(body))
	if err != nil {
		hs.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		hs.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		hs.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// runWait runs a playbook through its webhook and waits for the record.
// It does not fail the test itself, so that load generators can call it
// from their own goroutines.
func (hs *harness) runWait(name, inputs string) (store.Run, error) {
	req, err := http.NewRequest(http.MethodPost, hs.url+"/api/playbooks/"+name+"/run?wait=true", strings.NewReader(inputs))
	if err != nil {
		return store.Run{}, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		return store.Run{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return store.Run{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return store.Run{}, fmt.Errorf("POST %s: %d %s", name, resp.StatusCode, b)
	}
	var rec store.Run
	if err := json.Unmarshal(b, &rec); err != nil {
		return store.Run{}, fmt.Errorf("POST %s: %w: %s", name, err, b)
	}
	return rec, nil
}

// playbooks returns GET /api/playbooks.
func (hs *harness) playbooks() []host.PlaybookInfo {
	hs.t.Helper()
	code, b := hs.do(http.MethodGet, "/api/playbooks", "")
	if code != http.StatusOK {
		hs.t.Fatalf("GET /api/playbooks: %d %s", code, b)
	}
	var infos []host.PlaybookInfo
	if err := json.Unmarshal(b, &infos); err != nil {
		hs.t.Fatal(err)
	}
	return infos
}

// playbook returns the state GET /api/playbooks reports for name.
func (hs *harness) playbook(name string) host.PlaybookInfo {
	hs.t.Helper()
	info, ok := hs.lookup(name)
	if !ok {
		hs.t.Fatalf("GET /api/playbooks does not list %s", name)
	}
	return info
}

func (hs *harness) lookup(name string) (host.PlaybookInfo, bool) {
	hs.t.Helper()
	for _, in := range hs.playbooks() {
		if in.Name == name {
			return in, true
		}
	}
	return host.PlaybookInfo{}, false
}

// runs returns the recorded runs of a playbook, newest first.
func (hs *harness) runs(name string) []store.Run {
	hs.t.Helper()
	runs, err := hs.h.Store.ListRuns(context.Background(), store.RunQuery{Playbook: name, Limit: store.MaxLimit})
	if err != nil {
		hs.t.Fatal(err)
	}
	return runs
}
