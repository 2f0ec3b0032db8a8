package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/playbooks"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// waitUntil polls cond until it holds. The bound only keeps a broken
// build from hanging the suite; no test depends on how fast cond holds.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) writePlaybook(t testing.TB, name, body string) {
	t.Helper()
	writeTestFile(t, filepath.Join(f.dir, "playbooks", name), body)
}

// openHost opens the fixture's config in-process, as goshawk serve does.
func (f *fixture) openHost(t *testing.T) *host.Host {
	t.Helper()
	reg, err := providers.NewRegistry(builtinProviders()...)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := f.vars[k]; return v, ok }
	cfg, err := config.Load(f.cfg, reg, lookup)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.Open(context.Background(), host.Options{Config: cfg, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range h.PlaybookInfos() {
		if info.LastError != "" {
			h.Close(context.Background())
			t.Fatalf("%s: %s", info.File, info.LastError)
		}
	}
	return h
}

// serveHost runs Serve without HTTP until the returned stop is called;
// stop waits for the graceful shutdown.
func serveHost(t *testing.T, h *host.Host) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		served <- h.Serve(ctx, host.ServeOptions{Ready: func(string) { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
}

// onPollRuns returns the on_poll runs of a playbook by container id.
func onPollRuns(t *testing.T, h *host.Host, playbook string) map[int64][]store.Run {
	t.Helper()
	runs, err := h.Store.ListRuns(context.Background(), store.RunQuery{Playbook: playbook, Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]store.Run{}
	for _, r := range runs {
		out[r.ContainerID] = append(out[r.ContainerID], r)
	}
	return out
}

// TestOnPollRunsOncePerContainerAcrossRestarts stops goshawk in the middle
// of dispatching a poll's containers to an on_poll playbook, then starts it
// again on the same store: every container starts the playbook exactly
// once, none twice and none never.
func TestOnPollRunsOncePerContainerAcrossRestarts(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, "shutdown_grace: 1m\n")
	start := time.Now().UTC().Add(-24 * time.Hour)
	for _, ind := range tcfake.GenerateIndicators(30, 0, start) {
		f.tc.AddIndicator(ind)
	}
	// Runs block until the test sets the playbook's kv flag "go", so the
	// dispatch can be caught half way.
	f.writePlaybook(t, "seen.yaml", `trigger: {on_poll: tc}
concurrency: 2
queue: 1
lua: |
  while kv.get("go") ~= "yes" do end
  return {container = container.id}
`)

	h := f.openHost(t)
	stop := serveHost(t, h)
	pollCtx, cancelPoll := context.WithCancel(context.Background())
	polled := make(chan *providers.Result, 1)
	go func() {
		res, err := h.PollAsset(pollCtx, "tc", false, 0)
		if err != nil {
			t.Error(err)
		}
		polled <- res
	}()
	waitUntil(t, "two runs going and the dispatch waiting for a slot", func() bool {
		r, w := h.Runner.Busy("seen")
		return r == 2 && w == 1
	})
	// Shut down mid-dispatch: the poll's dispatch gives up, the two runs
	// going finish within the grace period.
	cancelPoll()
	if res := <-polled; res == nil || res.Summary["containers_created"] != 30 {
		t.Fatalf("poll: %+v", res)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	if err := h.Store.KVSet(context.Background(), "seen", "go", "yes"); err != nil {
		t.Fatal(err)
	}
	<-stopped
	if n := len(onPollRuns(t, h, "seen")); n != 2 {
		t.Fatalf("%d containers dispatched before the shutdown, want 2", n)
	}
	h.Close(context.Background())

	// The restart catches up with the 28 containers left.
	h = f.openHost(t)
	defer h.Close(context.Background())
	stop = serveHost(t, h)
	defer stop()
	waitUntil(t, "all 30 containers dispatched", func() bool { return len(onPollRuns(t, h, "seen")) == 30 })

	// A later poll dispatches exactly its new containers.
	for _, ind := range tcfake.GenerateIndicators(35, 0, start)[30:] {
		f.tc.AddIndicator(ind)
	}
	res, err := h.PollAsset(context.Background(), "tc", false, 0)
	if err != nil || res.Summary["containers_created"] != 5 {
		t.Fatalf("second poll: %+v, %v", res, err)
	}
	if err := h.Runner.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	byContainer := onPollRuns(t, h, "seen")
	cs, err := h.Store.ListContainers(context.Background(), store.ContainerQuery{Asset: "tc", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 35 || len(byContainer) != 35 {
		t.Fatalf("%d containers, %d of them with runs; want 35 and 35", len(cs), len(byContainer))
	}
	for _, c := range cs {
		runs := byContainer[c.ID]
		if len(runs) != 1 {
			t.Fatalf("container %d started %d runs, want 1", c.ID, len(runs))
		}
		r := runs[0]
		if r.Status != "success" || r.Trigger != "on_poll" || r.Result.(map[string]any)["container"] != float64(c.ID) {
			t.Fatalf("container %d: run %+v", c.ID, r)
		}
	}
}

// TestServeRefusesAnOpenListenWithoutToken: an API reachable beyond
// loopback needs a token, and saying so is a config error.
func TestServeRefusesAnOpenListenWithoutToken(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "listen: 0.0.0.0:8470\n")
	b, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg, []byte(strings.Replace(string(b), "api_token: ${API_TOKEN}\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := f.run("serve")
	if code != exitUsage || !strings.Contains(errOut, "refusing to serve the HTTP API on a non-loopback address without api_token") ||
		!strings.Contains(errOut, "0.0.0.0:8470") || !strings.Contains(errOut, "set api_token") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

var servingRE = regexp.MustCompile(`msg=serving listen=(\S+)`)

// startServe starts `goshawk serve` on a config as a child process (this
// test binary, see init) and returns it with the address of its HTTP
// API once it serves. Its log collects in logs until logsDone closes.
func startServe(t testing.TB, cfgPath string, env map[string]string) (cmd *exec.Cmd, addr string, logs *strings.Builder, logsDone <-chan struct{}) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(exe, "--config", cfgPath, "serve")
	cmd.Env = append(os.Environ(), "GOSHAWK_TEST_MAIN=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	found := make(chan string, 1)
	done := make(chan struct{})
	logs = &strings.Builder{}
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			if m := servingRE.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	addr, ok := <-found
	if !ok {
		<-done
		t.Fatalf("goshawk serve did not start:\n%s", logs.String())
	}
	return cmd, addr, logs, done
}

// TestServeSIGTERMLetsTheRunFinish sends SIGTERM to a real goshawk serve
// while a webhook run waits on a slow ThreatConnect: the run finishes, is
// recorded as a success, and the process exits 0.
func TestServeSIGTERMLetsTheRunFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	f := newFixture(t, tcfake.Options{}, "listen: 127.0.0.1:0\nshutdown_grace: 30s\n")
	f.writePlaybook(t, "slow.yaml", `trigger: {webhook: true}
assets: [tc]
lua: |
  local r = tc.hunt_ip{ip = "`+tcfake.SeedIPv4+`"}
  return {status = r.status, found = #r.data[1].data}
`)
	f.tc.SetLatency(time.Second)
	cmd, addr, logs, logsDone := startServe(t, f.cfg, f.vars)

	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/playbooks/slow/run", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+testAPIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var accepted struct{ ID int64 }
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &accepted) != nil || accepted.ID == 0 {
		t.Fatalf("webhook: %d %s", resp.StatusCode, body)
	}
	waitUntil(t, "the run calling ThreatConnect", func() bool { return f.tc.RequestCount() > 0 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	<-logsDone
	if err != nil || cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("goshawk serve after SIGTERM: %v\n%s", err, logs.String())
	}
	out, errOut, code := f.run("runs", "show", strconv.FormatInt(accepted.ID, 10), "--json")
	var rec store.Run
	if code != exitOK || json.Unmarshal([]byte(out), &rec) != nil {
		t.Fatalf("runs show: %d %s %s", code, out, errOut)
	}
	if rec.Status != "success" || len(rec.Steps) != 1 || rec.Steps[0].Status != "success" {
		t.Fatalf("the run interrupted by SIGTERM should finish within the grace period: %s\n%s", out, logs.String())
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Fatalf("no shutdown in the log:\n%s", logs.String())
	}
}

// BenchmarkServeIdleRSS starts goshawk serve with 50 playbooks (copies of
// the shipped hunt_enrich_post, each with its own script) and both
// emulators as assets, waits until GET /api/playbooks lists them all
// loaded, and reports the resident memory of the idle process. The target
// is 80 MB or less.
func BenchmarkServeIdleRSS(b *testing.B) {
	yamlSrc, err := playbooks.FS.ReadFile("hunt_enrich_post.yaml")
	if err != nil {
		b.Fatal(err)
	}
	luaSrc, err := playbooks.FS.ReadFile("hunt_enrich_post.lua")
	if err != nil {
		b.Fatal(err)
	}
	tc := tcfake.New(tcfake.Options{})
	defer tc.Close()
	tq := tqfake.New(tqfake.Options{})
	defer tq.Close()
	env := map[string]string{"GOSHAWK_DEMO_TC_SECRET": tcfake.DefaultSecretKey, "GOSHAWK_DEMO_TQ_PASSWORD": tqfake.DefaultPassword}
	var peak float64
	for range b.N {
		// The demo's folder: its config points at the emulators.
		dir := b.TempDir()
		folder, err := writeDemoFolder(dir, "127.0.0.1:0", tc.URL, tq.URL, false)
		if err != nil {
			b.Fatal(err)
		}
		cfgPath := folder.config
		pbDir := filepath.Join(dir, "playbooks")
		if err := os.RemoveAll(pbDir); err != nil {
			b.Fatal(err)
		}
		for i := range 50 {
			name := fmt.Sprintf("hunt_%02d", i)
			y := strings.Replace(string(yamlSrc), "name: hunt_enrich_post", "name: "+name, 1)
			y = strings.Replace(y, "script: hunt_enrich_post.lua", "script: "+name+".lua", 1)
			writeTestFile(b, filepath.Join(pbDir, name+".yaml"), y)
			writeTestFile(b, filepath.Join(pbDir, name+".lua"), fmt.Sprintf("-- copy %d\n%s", i, luaSrc))
		}
		cmd, addr, logs, logsDone := startServe(b, cfgPath, env)
		resp, err := http.Get("http://" + addr + "/api/playbooks")
		if err != nil {
			b.Fatal(err)
		}
		var infos []host.PlaybookInfo
		err = json.NewDecoder(resp.Body).Decode(&infos)
		resp.Body.Close()
		loaded := 0
		for _, in := range infos {
			if in.Version != "" && in.LastError == "" {
				loaded++
			}
		}
		if err != nil || loaded != 50 {
			b.Fatalf("%d of 50 playbooks loaded (%v):\n%s", loaded, err, logs.String())
		}
		peak = max(peak, vmRSS(b, cmd.Process.Pid))
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Fatalf("goshawk serve: %v\n%s", err, logs.String())
		}
		<-logsDone
	}
	b.ReportMetric(peak, "rss-MB")
}

func writeTestFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// vmRSS reads the resident set size of a process, in MB, from /proc.
func vmRSS(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc on this system: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc status")
	return 0
}
