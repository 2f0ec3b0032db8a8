package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// lockedBuffer is an output the CLI writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func checkNoDemoSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, s := range []string{tcfake.DefaultSecretKey, tqfake.DefaultPassword} {
			if strings.Contains(out, s) {
				t.Fatalf("the demo printed a secret:\n%s", out)
			}
		}
	}
}

// TestDemo runs `goshawk demo` in-process and checks its summary tells
// the whole story: the poll with container severities, the triage runs,
// the hunt-enrich-post runs with their steps, and what was posted back.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reputation plugin")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "--dir", t.TempDir()}, &out, &errb, os.LookupEnv)
	stdout := out.String()
	if code != exitOK {
		t.Fatalf("goshawk demo exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout, errb.String())
	}
	checkNoDemoSecrets(t, stdout, errb.String())
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`polled tc: fetched \d+, containers created [1-9]\d*, duplicates 0`),
		regexp.MustCompile(`poll_triage ran (\d+) times: success \d+ `),
		regexp.MustCompile(`container severities: (high|low|medium) \d+`),
		regexp.MustCompile(`ThreatQ indicators created for high-severity containers: [1-9]`),
		regexp.MustCompile(`run \d+ hunt_enrich_post ip=` + regexp.QuoteMeta(tcfake.SeedIPv4) + `: success`),
		regexp.MustCompile(`run \d+ hunt_enrich_post hash=\S+: success`),
		regexp.MustCompile(`run \d+ hunt_enrich_post domain=\S+: success`),
		regexp.MustCompile(`1\. tc\.hunt_ip +success`),
		regexp.MustCompile(`\d\. tq\.indicator_search_with_value +success`),
		regexp.MustCompile(`\d\. tc\.post_data +success`),
		regexp.MustCompile(`verdict malicious, rating \d, confidence \d+`),
		regexp.MustCompile(`(?s)posted back\n.*ThreatConnect +Address +` + regexp.QuoteMeta(tcfake.SeedIPv4) + ` +tag goshawk:`),
		regexp.MustCompile(`ThreatQ event +#\d+ "goshawk:`),
	} {
		if !want.MatchString(stdout) {
			t.Errorf("the demo summary lacks %s", want)
		}
	}
	// Every container the poll created ran the triage playbook once.
	created := regexp.MustCompile(`containers created (\d+)`).FindStringSubmatch(stdout)
	ran := regexp.MustCompile(`poll_triage ran (\d+) times: success (\d+)`).FindStringSubmatch(stdout)
	if created == nil || ran == nil || ran[1] != created[1] || ran[2] != created[1] {
		t.Errorf("containers created %v, triage runs %v: want one successful run per container", created, ran)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", stdout, errb.String())
	}
}

var demoServingRE = regexp.MustCompile(`serving the HTTP API on http://(\S+)`)

// TestDemoServe runs `goshawk demo --serve`, runs the shipped playbook
// through its webhook, and stops the demo as Ctrl-C does.
func TestDemoServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reputation plugin")
	}
	d := startDemoServe(t, t.TempDir())
	addr := d.addr
	resp, err := http.Post("http://"+addr+"/api/playbooks/hunt_enrich_post/run?wait=true", "application/json",
		strings.NewReader(`{"ip": "`+tcfake.SeedIPv4+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rec store.Run
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rec) != nil || rec.Status != "success" || rec.Trigger != "webhook" || rec.Result == nil {
		t.Fatalf("webhook run on the demo: %d %s", resp.StatusCode, body)
	}
	// The answer is the run's outcome; its steps are in the record.
	if bytes.Contains(body, []byte(`"steps"`)) {
		t.Fatalf("the webhook's answer carries the steps: %s", body)
	}
	resp, err = http.Get("http://" + addr + "/api/runs/" + strconv.FormatInt(rec.ID, 10))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var full store.Run
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &full) != nil || full.ID != rec.ID || len(full.Steps) == 0 || full.Steps[0].Result == nil {
		t.Fatalf("the run's record on the demo: %d %s", resp.StatusCode, body)
	}
	if code := d.stop(); code != exitOK {
		t.Fatalf("goshawk demo --serve exited %d after the interrupt\n%s", code, d.errb.String())
	}
	checkNoDemoSecrets(t, d.out.String(), d.errb.String())
}

// servingDemo is goshawk demo --serve running in-process.
type servingDemo struct {
	addr      string
	out, errb *lockedBuffer
	stop      func() int // interrupts the demo as Ctrl-C does; its exit code
}

// startDemoServe runs goshawk demo --serve in dir on a free loopback port
// and returns once it serves; the test's cleanup stops it if the test
// doesn't.
func startDemoServe(t *testing.T, dir string) *servingDemo {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &servingDemo{out: &lockedBuffer{}, errb: &lockedBuffer{}}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"demo", "--serve", "--listen", "127.0.0.1:0", "--dir", dir}, d.out, d.errb, os.LookupEnv)
	}()
	var once sync.Once
	code := 0
	d.stop = func() int {
		once.Do(func() { cancel(); code = <-exited })
		return code
	}
	t.Cleanup(func() { d.stop() })
	waitUntil(t, "the demo serving", func() bool {
		select {
		case c := <-exited:
			once.Do(func() { cancel(); code = c }) // stop must not wait for it again
			t.Fatalf("goshawk demo --serve exited %d before serving\n%s\n%s", c, d.out.String(), d.errb.String())
		default:
		}
		if m := demoServingRE.FindStringSubmatch(d.out.String()); m != nil {
			d.addr = m[1]
		}
		return d.addr != ""
	})
	return d
}
