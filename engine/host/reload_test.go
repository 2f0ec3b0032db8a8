package host_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/store"
)

const echoYAML = `trigger: {webhook: true}
script: echo.lua
concurrency: 16
`

func echoLua(generation int) string {
	return fmt.Sprintf("-- generation %d\nreturn {generation = %d}\n", generation, generation)
}

// load keeps webhook runs of a playbook going until stop is called, and
// collects every run record and every failure.
type load struct {
	mu       sync.Mutex
	records  []store.Run
	failures []string

	done chan struct{}
	wg   sync.WaitGroup
}

func startLoad(hs *harness, name string, workers int) *load {
	l := &load{done: make(chan struct{})}
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.done:
					return
				default:
				}
				rec, err := hs.runWait(name, "{}")
				l.mu.Lock()
				switch {
				case err != nil:
					l.failures = append(l.failures, err.Error())
				case rec.Status != "success":
					l.failures = append(l.failures, fmt.Sprintf("run %d: %s: %s", rec.ID, rec.Status, rec.Error))
				default:
					l.records = append(l.records, rec)
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) stop() {
	close(l.done)
	l.wg.Wait()
}

// served reports whether a run of the given generation has finished.
func (l *load) served(generation int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if generationOf(r) == generation {
			return true
		}
	}
	return false
}

func generationOf(r store.Run) int {
	m, ok := r.Result.(map[string]any)
	if !ok {
		return -1
	}
	g, ok := m["generation"].(float64)
	if !ok {
		return -1
	}
	return int(g)
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// TestReloadUnderLoad rewrites a playbook's script 20 times while webhook
// runs keep going, in both ways editors save files. No run may fail, every
// run must name a version that was loaded when it started and run that
// version's script, and every version must come to serve.
func TestReloadUnderLoad(t *testing.T) {
	saves := []struct {
		name string
		save func(testing.TB, string, string)
	}{
		{"rename-over", saveRenameOver},
		{"rename-away", saveRenameAway},
	}
	for _, sv := range saves {
		t.Run(sv.name, func(t *testing.T) {
			hs := start(t, setup{files: map[string]string{"echo.yaml": echoYAML, "echo.lua": echoLua(0)}})
			script := filepath.Join(hs.pbDir, "echo.lua")

			type version struct {
				generation int
				loaded     time.Time // last_reload: the swap happened after it
				written    time.Time
			}
			first := hs.playbook("echo")
			versions := map[string]version{first.Version: {0, first.LastReload, time.Time{}}}

			l := startLoad(hs, "echo", 4)
			for gen := 1; gen <= 20; gen++ {
				prev := hs.playbook("echo").Version
				written := time.Now()
				sv.save(t, script, echoLua(gen))
				var info = hs.playbook("echo")
				eventually(t, fmt.Sprintf("generation %d showing in GET /api/playbooks", gen), func() bool {
					info = hs.playbook("echo")
					return info.Version != prev
				})
				if info.LastError != "" {
					t.Fatalf("generation %d: last_error %q", gen, info.LastError)
				}
				versions[info.Version] = version{gen, info.LastReload, written}
				eventually(t, fmt.Sprintf("a run of generation %d", gen), func() bool { return l.served(gen) })
			}
			l.stop()

			if len(l.failures) > 0 {
				t.Fatalf("%d runs failed during the reloads, the first: %s", len(l.failures), l.failures[0])
			}
			firstRun := map[string]time.Time{}
			for _, r := range l.records {
				v, ok := versions[r.Version]
				if !ok {
					t.Fatalf("run %d names version %s, which was never loaded", r.ID, r.Version)
				}
				if g := generationOf(r); g != v.generation {
					t.Fatalf("run %d of version %s ran generation %d's script, want %d", r.ID, r.Version, g, v.generation)
				}
				if r.Started.Before(v.loaded) {
					t.Fatalf("run %d started at %s on version %s, loaded only at %s", r.ID, r.Started, r.Version, v.loaded)
				}
				if at, seen := firstRun[r.Version]; !seen || r.Started.Before(at) {
					firstRun[r.Version] = r.Started
				}
			}
			// The store holds the same story as the responses.
			for _, r := range hs.runs("echo") {
				if _, ok := versions[r.Version]; !ok || r.Status != "success" {
					t.Fatalf("stored run %d: version %s, status %s", r.ID, r.Version, r.Status)
				}
			}
			var lat []time.Duration
			for v, info := range versions {
				if info.generation > 0 {
					lat = append(lat, firstRun[v].Sub(info.written))
				}
			}
			slices.Sort(lat)
			t.Logf("%s: %d runs; write to first run on the new version: p50 %s, p99 %s, max %s",
				sv.name, len(l.records), percentile(lat, 50), percentile(lat, 99), lat[len(lat)-1])
		})
	}
}

var located = func(file string) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta(file) + `:\d+:\d+: `)
}

// TestBrokenFilesKeepTheLastGoodVersion breaks the YAML, then the Lua, of
// a serving playbook: the old version keeps serving, the error is located
// in GET /api/playbooks and in the log, and fixing the file reloads it.
func TestBrokenFilesKeepTheLastGoodVersion(t *testing.T) {
	hs := start(t, setup{files: map[string]string{"echo.yaml": echoYAML, "echo.lua": echoLua(1)}})
	yamlPath := filepath.Join(hs.pbDir, "echo.yaml")
	luaPath := filepath.Join(hs.pbDir, "echo.lua")

	cases := []struct {
		name, path, broken, fixed, where string
		fixedGen                         int
	}{
		{"yaml", yamlPath, echoYAML + "concurrency: [\n", echoYAML + "timeout: 5s\n", "echo.yaml", 1},
		{"yaml-unknown-key", yamlPath, echoYAML + "concurency: 2\n", echoYAML, "echo.yaml", 1},
		{"lua", luaPath, "return {generation = \n", echoLua(2), "echo.lua", 2},
		{"lua-undeclared-asset", luaPath, "return tc.hunt_ip{ip = '1.2.3.4'}\n", echoLua(3), "echo.lua", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			good := hs.playbook("echo")
			logged := len(hs.log.String())
			saveRenameOver(t, c.path, c.broken)
			var info = good
			eventually(t, "last_error for the broken "+c.name, func() bool {
				info = hs.playbook("echo")
				return info.LastError != ""
			})
			t.Logf("last_error: %s", info.LastError)
			where := located(c.where).FindString(info.LastError)
			if where == "" {
				t.Fatalf("last_error does not locate the error in %s as file:line:col: %q", c.where, info.LastError)
			}
			if info.Version != good.Version {
				t.Fatalf("the broken file replaced version %s with %s", good.Version, info.Version)
			}
			rec, err := hs.runWait("echo", "{}")
			if err != nil || rec.Status != "success" || rec.Version != good.Version {
				t.Fatalf("with a broken file, the last good version should serve: %+v, %v", rec, err)
			}
			logs := hs.log.String()[logged:]
			if !strings.Contains(logs, "last good version keeps running") || !strings.Contains(logs, where) {
				t.Fatalf("the log does not report the error at %s:\n%s", where, logs)
			}

			saveRenameOver(t, c.path, c.fixed)
			eventually(t, "the fixed "+c.name+" loading", func() bool {
				info = hs.playbook("echo")
				return info.LastError == "" && info.Version != good.Version
			})
			eventually(t, "the fixed version serving", func() bool {
				rec, err := hs.runWait("echo", "{}")
				return err == nil && rec.Version == info.Version && generationOf(rec) == c.fixedGen
			})
		})
	}

	// A playbook that never loaded is listed with its error and not
	// served; fixing it makes it available.
	saveRenameOver(t, filepath.Join(hs.pbDir, "fresh.yaml"), "trigger: {webhook: true}\nlua: |\n  return {ok = \n")
	var fresh host.PlaybookInfo
	eventually(t, "the broken new playbook listed", func() bool {
		var ok bool
		fresh, ok = hs.lookup("fresh")
		return ok
	})
	if !located("fresh.yaml").MatchString(fresh.LastError) || fresh.Version != "" {
		t.Fatalf("broken new playbook: %+v", fresh)
	}
	if code, b := hs.do(http.MethodPost, "/api/playbooks/fresh/run", "{}"); code != http.StatusNotFound {
		t.Fatalf("a playbook that never loaded ran: %d %s", code, b)
	}
	saveRenameOver(t, filepath.Join(hs.pbDir, "fresh.yaml"), "trigger: {webhook: true}\nlua: |\n  return {ok = true}\n")
	eventually(t, "the fixed new playbook serving", func() bool {
		_, err := hs.runWait("fresh", "{}")
		return err == nil
	})
}

// TestPlaybooksComeGoAndKeepUniqueNames adds, duplicates and removes
// playbook files while serving.
func TestPlaybooksComeGoAndKeepUniqueNames(t *testing.T) {
	hs := start(t, setup{files: map[string]string{"echo.yaml": echoYAML, "echo.lua": echoLua(1)}})
	echo := hs.playbook("echo")

	// A second file claiming the name is refused; the first keeps it.
	saveRenameOver(t, filepath.Join(hs.pbDir, "more.yaml"), "name: echo\ntrigger: {webhook: true}\nlua: |\n  return {generation = 99}\n")
	var more host.PlaybookInfo
	eventually(t, "the duplicate name reported", func() bool {
		var ok bool
		more, ok = hs.lookup("more")
		return ok && more.LastError != ""
	})
	if !located("more.yaml").MatchString(more.LastError) || !strings.Contains(more.LastError, `name "echo" is already used by echo.yaml`) {
		t.Fatalf("duplicate name: %q", more.LastError)
	}
	for range 5 {
		rec, err := hs.runWait("echo", "{}")
		if err != nil || rec.Version != echo.Version || generationOf(rec) != 1 {
			t.Fatalf("echo should stay with echo.yaml: %+v, %v", rec, err)
		}
	}

	// Giving it its own name makes it a playbook of its own.
	saveRenameOver(t, filepath.Join(hs.pbDir, "more.yaml"), "trigger: {webhook: true}\nlua: |\n  return {generation = 99}\n")
	eventually(t, "more serving", func() bool {
		rec, err := hs.runWait("more", "{}")
		return err == nil && generationOf(rec) == 99
	})

	// A removed file stops serving; editor dot files are not playbooks.
	writeFile(t, filepath.Join(hs.pbDir, ".more.yaml"), "trigger: {webhook: true}\nlua: |\n  return 1\n")
	if err := os.Remove(filepath.Join(hs.pbDir, "more.yaml")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "more gone", func() bool {
		code, _ := hs.do(http.MethodPost, "/api/playbooks/more/run", "{}")
		return code == http.StatusNotFound
	})
	for _, in := range hs.playbooks() {
		if in.Name != "echo" {
			t.Fatalf("only echo should be listed, found %+v", in)
		}
	}
}

// TestConfigEdits reloads goshawk.yaml: a broken edit is refused with its
// location and the running config stays; a good one is applied; a change
// that needs a restart says so.
func TestConfigEdits(t *testing.T) {
	hs := start(t, setup{files: map[string]string{"echo.yaml": echoYAML, "echo.lua": echoLua(1)}})
	cfgPath := filepath.Join(hs.dir, "goshawk.yaml")
	base := "listen: 127.0.0.1:0\napi_token: " + testToken + "\n"

	saveRenameOver(t, cfgPath, base+"shutdown_grac: 5s\n")
	eventually(t, "the broken config reported", func() bool {
		return strings.Contains(hs.log.String(), "config not reloaded")
	})
	if !strings.Contains(hs.log.String(), `goshawk.yaml:3:1: unknown key \"shutdown_grac\"; did you mean \"shutdown_grace\"?`) {
		t.Fatalf("the log does not locate the config error:\n%s", hs.log.String())
	}
	if _, err := hs.runWait("echo", "{}"); err != nil {
		t.Fatalf("a broken config edit stopped the playbooks: %v", err)
	}

	saveRenameOver(t, cfgPath, base+"shutdown_grace: 5s\n")
	eventually(t, "the config reloading", func() bool { return hs.h.Config().ShutdownGrace == 5*time.Second })

	saveRenameOver(t, cfgPath, "listen: 127.0.0.1:0\napi_token: another-token-0000\nshutdown_grace: 5s\n")
	eventually(t, "the restart warning", func() bool {
		return strings.Contains(hs.log.String(), "need a restart") && strings.Contains(hs.log.String(), "api_token")
	})
	if hs.h.Config().APIToken != testToken {
		t.Fatal("the API token changed without a restart")
	}
	if strings.Contains(hs.log.String(), "another-token-0000") {
		t.Fatalf("the new token leaked into the log:\n%s", hs.log.String())
	}
	if _, err := hs.runWait("echo", "{}"); err != nil {
		t.Fatalf("the old token should still work until a restart: %v", err)
	}
}
