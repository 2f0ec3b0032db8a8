package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// childGoshawk returns a command that runs goshawk (this test binary, see
// TestMain) with the fixture's config and secrets.
func (f *fixture) childGoshawk(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"--config", f.cfg}, args...)...)
	cmd.Env = append(os.Environ(), "GOSHAWK_TEST_MAIN=1")
	for k, v := range f.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// TestPollSurvivesSIGKILL kills goshawk poll processes at random moments of
// a large poll, while they fetch or while they commit, then polls to the
// end: every indicator is stored exactly once.
func TestPollSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const n = 3000
	f := newFixture(t, tcfake.Options{Empty: true}, "")
	for _, ind := range tcfake.GenerateIndicators(n, 400, time.Now().UTC().Add(-72*time.Hour)) {
		f.tc.AddIndicator(ind)
	}
	// max_containers large enough that one poll would take everything.
	f.rewriteMaxContainers(t, n)
	f.tc.SetLatency(2 * time.Millisecond)

	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same kill schedule every run
	for i := 0; i < 12; i++ {
		cmd := f.childGoshawk("poll", "tc")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	f.tc.SetLatency(0)
	for i := 0; ; i++ {
		out, errOut, code := f.run("poll", "tc", "--json")
		if code != exitOK {
			t.Fatalf("poll after the crashes: %s", errOut)
		}
		var s map[string]any
		json.Unmarshal([]byte(out), &s)
		if s["containers_created"] == float64(0) {
			break
		}
		if i > 5 {
			t.Fatalf("polls keep creating containers: %v", s)
		}
	}
	out, _, _ := f.run("containers", "--json", "--limit", "1000", "--after", "0")
	seen := map[string]int{}
	after := int64(0)
	for {
		var cs []struct {
			ID  int64  `json:"id"`
			SDI string `json:"source_data_identifier"`
		}
		if err := json.Unmarshal([]byte(out), &cs); err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		for _, c := range cs {
			seen[c.SDI]++
			after = c.ID
		}
		out, _, _ = f.run("containers", "--json", "--limit", "1000", "--after", itoa(after))
	}
	if len(seen) != n {
		t.Fatalf("%d distinct indicators stored, want %d", len(seen), n)
	}
	for sdi, c := range seen {
		if c != 1 {
			t.Fatalf("indicator %s stored %d times", sdi, c)
		}
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func (f *fixture) rewriteMaxContainers(t *testing.T, n int) {
	t.Helper()
	b, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "max_containers: 100", "max_containers: "+itoa(int64(n)), 1))
	if err := os.WriteFile(f.cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
