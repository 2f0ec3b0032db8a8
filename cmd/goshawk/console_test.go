package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// hostileText is an indicator a malicious feed could carry: as text on a
// page it is harmless, as markup it would run.
const hostileText = `<script>window.__pwned=1</script>`

// chromium finds Debian's Chromium. In CI (.ci/run installs it) a missing
// browser fails the test; elsewhere the test is skipped with the fix.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed; .ci/run installs it with apt-get install -y chromium")
	}
	t.Skip("Chromium is not installed: apt-get install -y chromium, then run this test again")
	return ""
}

// artifactDir is where the browser tests save their screenshots:
// $GOSHAWK_TEST_ARTIFACTS when set, else a temporary folder.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("GOSHAWK_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// consoleSite runs goshawk demo --serve in its own folder, adds two
// playbooks (one fails its step on purpose, one makes 50 calls) and a
// container with hostile values, and returns the base URL.
type consoleSite struct {
	base   string
	failed int64 // the failed run
	fifty  int64 // the 50-step run
	hostID int64 // the hostile container
}

func startConsoleSite(t *testing.T) *consoleSite {
	t.Helper()
	dir := t.TempDir()
	s := &consoleSite{base: "http://" + startDemoServe(t, dir).addr}

	books := map[string]string{
		"fails_on_purpose.yaml": "trigger: {webhook: true}\ninputs:\n  ip: {type: string}\nassets: [tc]\nlua: |\n" +
			"  log.info(\"about to hunt\", {ip = input.ip})\n" +
			"  local r = tc.hunt_ip{ip = input.ip}\n" +
			"  if r.status ~= \"success\" then error(\"hunt failed: \" .. r.message) end\n",
		"fifty_steps.yaml": "trigger: {webhook: true}\nassets: [tc]\nlua: |\n" +
			"  for i = 1, 50 do\n    local r = tc.hunt_ip{ip = \"123.23.124.32\"}\n    log.info(\"hunted\", {i = i, found = r.summary.total_objects})\n  end\n  return {done = 50}\n",
	}
	for name, body := range books {
		if err := os.WriteFile(filepath.Join(dir, "playbooks", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the added playbooks loaded", func() bool {
		_, body := httpGet(t, s.base+"/api/playbooks")
		return strings.Contains(body, `"fails_on_purpose"`) && strings.Contains(body, `"fifty_steps"`) && strings.Count(body, `"version":""`) == 0
	})
	s.failed = webhookRun(t, s.base, "fails_on_purpose", `{"ip": "`+strings.ReplaceAll(hostileText, `"`, `\"`)+`"}`, "failed")
	s.fifty = webhookRun(t, s.base, "fifty_steps", `{}`, "success")

	// A container whose values are hostile, as a feed could send them.
	st, err := store.Open(context.Background(), filepath.Join(dir, "goshawk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	batch := []cef.Container{{
		Name: "Address " + hostileText, Label: "threatconnect", Severity: "high", Status: "new",
		SourceDataIdentifier: "hostile-1",
		Artifacts: []cef.Artifact{{
			Name: "URL Artifact", Label: "event", Type: "URL", SourceDataIdentifier: "hostile-1",
			CEF:      map[string]any{"requestURL": `http://x.example/"onmouseover="window.__pwned=2`, "cs1": hostileText, "rating": 5},
			CEFTypes: map[string][]string{"requestURL": {"url"}},
		}},
	}}
	if _, _, err := st.Ingest(context.Background(), "tc", batch, nil); err != nil {
		t.Fatal(err)
	}
	s.hostID = batch[0].ID
	return s
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func webhookRun(t *testing.T, base, playbook, body, wantStatus string) int64 {
	t.Helper()
	resp, err := http.Post(base+"/api/playbooks/"+playbook+"/run?wait=true", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rec store.Run
	if err := json.Unmarshal(b, &rec); err != nil || rec.Status != wantStatus {
		t.Fatalf("run of %s: %d %s (want status %s)", playbook, resp.StatusCode, b, wantStatus)
	}
	return rec.ID
}

// browser starts headless Chromium with the flags this machine needs: no
// sandbox as root, and no background networking (nothing outside loopback
// answers).
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// TestConsoleInBrowser loads every page of the console in headless
// Chromium against a serve with the emulators, checks what matters on each,
// and saves a screenshot of each.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo and a browser")
	}
	chromium(t)
	site := startConsoleSite(t)
	ctx := browser(t)
	shots := artifactDir(t)
	nav := func(path string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(site.base+path), chromedp.WaitReady(chromedp.CSS("main"))); err != nil {
			t.Fatalf("loading %s: %v", path, err)
		}
	}

	t.Run("playbooks", func(t *testing.T) {
		nav("/")
		body := text(t, ctx, "main")
		for _, want := range []string{"hunt_enrich_post", "poll_triage", "fails_on_purpose", "on_poll: tc", "webhook"} {
			if !strings.Contains(body, want) {
				t.Errorf("the playbooks page lacks %q", want)
			}
		}
		screenshot(t, ctx, shots, "console-playbooks.png")
	})

	t.Run("runs", func(t *testing.T) {
		nav("/runs?playbook=fails_on_purpose")
		if row := text(t, ctx, "#runs tbody tr"); !strings.Contains(row, fmt.Sprintf("#%d", site.failed)) || !strings.Contains(row, "failed") {
			t.Errorf("the failed run's row: %q", row)
		}
		nav("/runs")
		screenshot(t, ctx, shots, "console-runs.png")
		// The list refreshes itself: a run started now appears without a
		// reload.
		id := webhookRun(t, site.base, "hunt_enrich_post", `{"ip": "123.23.124.32"}`, "success")
		link := chromedp.CSS(fmt.Sprintf(`#runs a[href="/runs/%d"]`, id))
		wait, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(wait, chromedp.WaitVisible(link)); err != nil {
			t.Fatalf("run %d never appeared in the live list: %v", id, err)
		}
		if eval[string](t, ctx, `performance.getEntriesByType("navigation")[0].type`) != "navigate" {
			t.Error("the page reloaded instead of refreshing in place")
		}
	})

	t.Run("failed run", func(t *testing.T) {
		nav(fmt.Sprintf("/runs/%d", site.failed))
		_, raw := httpGet(t, fmt.Sprintf("%s/api/runs/%d", site.base, site.failed))
		var rec store.Run
		if err := json.Unmarshal([]byte(raw), &rec); err != nil || len(rec.Steps) != 1 {
			t.Fatalf("the record: %v %s", err, raw)
		}
		if !eval[bool](t, ctx, `document.querySelector("details.step.failed").open`) {
			t.Error("the failed step is not shown open")
		}
		step := text(t, ctx, "details.step.failed")
		if !strings.Contains(step, rec.Steps[0].Message) || !strings.Contains(step, "about to hunt") {
			t.Errorf("the failed step lacks its message %q or the log line before it:\n%s", rec.Steps[0].Message, step)
		}
		if !eval[bool](t, ctx, `!!document.querySelector(".timeline .bar.failed")`) {
			t.Error("the timeline has no failed bar")
		}
		if !strings.Contains(text(t, ctx, "main"), hostileText) {
			t.Error("the hostile input is not shown as text")
		}
		if eval[bool](t, ctx, `window.__pwned !== undefined`) {
			t.Fatal("a hostile value ran as script")
		}
		// Without a mouse: the first Tab reaches the skip link, and Enter
		// on a step's summary opens it.
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		if got := eval[string](t, ctx, `document.activeElement.className`); got != "skip" {
			t.Errorf("the first Tab focuses %q, want the skip link", got)
		}
		screenshot(t, ctx, shots, "console-run-failed.png")
	})

	t.Run("fifty steps", func(t *testing.T) {
		nav(fmt.Sprintf("/runs/%d", site.fifty))
		if n := eval[int](t, ctx, `document.querySelectorAll(".timeline .lane").length`); n != 50 {
			t.Errorf("the timeline has %d lanes, want 50", n)
		}
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("#step-3 summary")), chromedp.KeyEvent(kb.Enter)); err != nil {
			t.Fatal(err)
		}
		if !eval[bool](t, ctx, `document.getElementById("step-3").open`) {
			t.Error("Enter on a step's summary does not open it")
		}
		load := eval[float64](t, ctx, `(() => { const n = performance.getEntriesByType("navigation")[0]; return n.loadEventEnd - n.startTime })()`)
		size := eval[float64](t, ctx, `performance.getEntriesByType("resource").reduce((s, r) => s + r.transferSize, performance.getEntriesByType("navigation")[0].transferSize)`)
		t.Logf("run page of 50 steps in Chromium: loaded in %.1f ms, %.0f bytes transferred", load, size)
		screenshot(t, ctx, shots, "console-run-50-steps.png")
	})

	t.Run("containers", func(t *testing.T) {
		nav("/containers?severity=high")
		if !strings.Contains(text(t, ctx, "#containers"), hostileText) {
			t.Error("the hostile container is not listed as text")
		}
		screenshot(t, ctx, shots, "console-containers.png")
		nav(fmt.Sprintf("/containers/%d", site.hostID))
		cefTable := text(t, ctx, "table.cef")
		for _, want := range []string{"requestURL", `http://x.example/"onmouseover="window.__pwned=2`, "url", "cs1", hostileText} {
			if !strings.Contains(cefTable, want) {
				t.Errorf("the CEF table lacks %q:\n%s", want, cefTable)
			}
		}
		if eval[bool](t, ctx, `window.__pwned !== undefined`) {
			t.Fatal("a hostile value ran as script")
		}
		screenshot(t, ctx, shots, "console-container.png")
	})

	t.Run("narrow and dark", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))); err != nil {
			t.Fatal(err)
		}
		dark := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, dark); err != nil {
			t.Fatal(err)
		}
		nav(fmt.Sprintf("/runs/%d", site.failed))
		if over := eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`); over {
			t.Error("the run page scrolls sideways on a narrow window")
		}
		bg := eval[string](t, ctx, `getComputedStyle(document.documentElement).backgroundColor`)
		if !strings.Contains(bg, "13, 17, 23") {
			t.Errorf("dark mode background is %s", bg)
		}
		screenshot(t, ctx, shots, "console-run-narrow-dark.png")
	})

	if dir := os.Getenv("GOSHAWK_TEST_ARTIFACTS"); dir != "" {
		var list bytes.Buffer
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			fmt.Fprintln(&list, e.Name())
		}
		t.Logf("screenshots in %s:\n%s", dir, list.String())
	}
}
