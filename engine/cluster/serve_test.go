package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goshawk/goshawk/internal/pgtest"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestThreeServeNodes is the cluster as it is deployed: three `goshawk
// serve` processes on one PostgreSQL, with the ThreatConnect emulator. For
// 30 s a playbook fires every second while node 3 is killed with SIGKILL at
// 10 s; 300 webhook runs go to the nodes in turn; a poll ingests 1,000
// indicators. Every instant fires exactly once, every webhook run and every
// triage run is recorded once, and the run node 3 had in flight is marked
// interrupted, naming node 3, within its timeout plus 30 s.
func TestThreeServeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three goshawk serve processes for about a minute")
	}
	ctx := context.Background()
	url := pgtest.DB(t)

	tc := tcfake.New(tcfake.Options{Empty: true})
	t.Cleanup(tc.Close)
	added := time.Now().UTC().Add(-time.Hour)
	const indicators = 1000
	for i := range indicators {
		ip := fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256)
		tc.AddIndicator(tcfake.Indicator{Type: "Address", Summary: ip, IP: ip, DateAdded: added, LastModified: added, Active: true})
	}

	bin := buildGoshawk(t)
	type node struct {
		url  string
		cmd  *exec.Cmd
		name string
		dead bool
	}
	nodes := make([]*node, 3)
	for i := range nodes {
		books := map[string]string{
			"tick.yaml":   "trigger: {every: 1s}\nlua: return 1\n",
			"echo.yaml":   "trigger: {webhook: true}\ninputs:\n  n: {type: integer}\nlua: return {n = input.n}\nconcurrency: 16\nqueue: 1000\n",
			"triage.yaml": "trigger: {on_poll: tc}\nassets: [tc]\nlua: return {container = container.id}\nconcurrency: 16\n",
		}
		if i == 2 {
			// Only node 3 serves spin (a drifted folder), so its run is
			// in flight there when node 3 dies.
			books["spin.yaml"] = "trigger: {webhook: true}\ntimeout: 60s\nlua: while true do end\n"
		}
		port := freePort(t)
		dir := t.TempDir()
		writeFiles(t, filepath.Join(dir, "playbooks"), books)
		cfg := fmt.Sprintf(`store: ${GOSHAWK_TEST_STORE}
listen: 127.0.0.1:%d
shutdown_grace: 2s
assets:
  tc: {provider: threatconnect, base_url: %q, access_id: %q, secret_key: %q, poll: 2s, max_containers: %d}
`, port, tc.URL, tcfake.DefaultAccessID, tcfake.DefaultSecretKey, indicators)
		writeFiles(t, dir, map[string]string{"goshawk.yaml": cfg})
		cmd, logs := startServe(t, bin, dir, url)
		n := &node{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd}
		nodes[i] = n
		t.Cleanup(func() {
			if !n.dead {
				n.cmd.Process.Signal(syscall.SIGTERM)
			}
			n.cmd.Wait()
			if t.Failed() {
				t.Logf("node %d log:\n%s", i+1, tail(logs.String(), 40))
			}
		})
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	for i, n := range nodes {
		waitFor(t, fmt.Sprintf("node %d to serve", i+1), func() (bool, error) {
			var st struct {
				Clustered bool
				Nodes     []struct {
					ID   string
					Self bool
				}
			}
			if err := getJSON(client, n.url+"/api/cluster", &st); err != nil {
				return false, nil
			}
			for _, s := range st.Nodes {
				if s.Self {
					n.name = s.ID
				}
			}
			return st.Clustered && n.name != "", nil
		})
	}
	start := time.Now()

	// Only node 3 has spin: the others show it as drifted.
	var st struct {
		Nodes []struct {
			ID        string
			Playbooks map[string]string
			Drifted   []string
		}
	}
	if err := getJSON(client, nodes[0].url+"/api/cluster", &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 {
		t.Errorf("GET /api/cluster lists %d nodes, want 3: %+v", len(st.Nodes), st.Nodes)
	}
	for _, n := range st.Nodes {
		_, hasSpin := n.Playbooks["spin"]
		if drifted := len(n.Drifted) == 1 && n.Drifted[0] == "spin"; hasSpin == drifted || n.Playbooks["echo"] == "" {
			t.Errorf("node %s: playbooks %v, drifted %v; want spin drifted exactly where it is missing", n.ID, n.Playbooks, n.Drifted)
		}
	}

	// 300 webhook runs from 10 clients, sent to the live nodes in turn.
	var sent atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	runIDs := make(chan int64, 300)
	for range 10 {
		wg.Go(func() {
			for {
				k := sent.Add(1)
				if k > 300 {
					return
				}
				for try := 0; ; try++ {
					n := nodes[(int(k)+try)%3]
					var rec struct {
						ID     int64
						Status string
						Node   string
					}
					err := postJSON(client, n.url+"/api/playbooks/echo/run?wait=true", fmt.Sprintf(`{"n": %d}`, k), &rec)
					if err != nil && try < 5 {
						continue // that node is down: the next one, as a load balancer would
					}
					if err != nil || rec.Status != "success" {
						errs <- fmt.Errorf("webhook %d: %+v, %v", k, rec, err)
					} else {
						runIDs <- rec.ID
					}
					break
				}
				time.Sleep(50 * time.Millisecond) // spread over the 30 s
			}
		})
	}

	// A run in flight on node 3, which is then killed at 10 s.
	var spin struct{ Job int64 }
	if err := postJSON(client, nodes[2].url+"/api/playbooks/spin/run", `{}`, &spin); err != nil || spin.Job == 0 {
		t.Fatalf("spin run: %+v, %v", spin, err)
	}
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var spinRun int64
	waitFor(t, "the spin run to start on node 3", func() (bool, error) {
		err := db.QueryRow(ctx, `SELECT id FROM goshawk_runs WHERE job_id = $1`, spin.Job).Scan(&spinRun)
		if err == pgx.ErrNoRows {
			return false, nil
		}
		return err == nil, err
	})
	time.Sleep(time.Until(start.Add(10 * time.Second)))
	nodes[2].cmd.Process.Signal(syscall.SIGKILL)
	nodes[2].dead = true
	killed := time.Now()

	var status, errText string
	waitFor(t, "the spin run to be interrupted", func() (bool, error) {
		err := db.QueryRow(ctx, `SELECT status, error FROM goshawk_runs WHERE id = $1`, spinRun).Scan(&status, &errText)
		return status != "running", err
	})
	took := time.Since(killed)
	if status != "interrupted" || !bytes.Contains([]byte(errText), []byte("node "+nodes[2].name)) {
		t.Errorf("node 3's run: %s %q; want interrupted naming node %s", status, errText, nodes[2].name)
	}
	if bound := 60*time.Second + 30*time.Second; took > bound {
		t.Errorf("interrupted %s after the kill; the bound is the timeout plus 30 s (%s)", took, bound)
	}
	t.Logf("death to interrupted: %s", took.Round(time.Millisecond))

	time.Sleep(time.Until(start.Add(30 * time.Second)))
	wg.Wait()
	close(errs)
	close(runIDs)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int64]bool{}
	for id := range runIDs {
		if seen[id] {
			t.Errorf("run %d answered two webhooks", id)
		}
		seen[id] = true
	}
	var echoRuns, echoNodes int
	if err := db.QueryRow(ctx, `SELECT count(*), count(DISTINCT node) FROM goshawk_runs WHERE playbook = 'echo'`).Scan(&echoRuns, &echoNodes); err != nil {
		t.Fatal(err)
	}
	if echoRuns != 300 || len(seen) != 300 {
		t.Errorf("%d echo runs recorded, %d answered; want 300 of each", echoRuns, len(seen))
	}
	if echoNodes < 2 {
		t.Errorf("the webhook runs ran on %d node(s); want them spread", echoNodes)
	}

	// Every instant from the first to the last fired exactly once, and
	// each fired instant queued one run.
	rows, err := db.Query(ctx, `SELECT at FROM goshawk_fires WHERE playbook = 'tick' ORDER BY at`)
	if err != nil {
		t.Fatal(err)
	}
	at, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		t.Fatal(err)
	}
	if len(at) < 25 {
		t.Errorf("%d instants fired in 30 s of an every-second schedule", len(at))
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d != time.Second {
			t.Errorf("instants %s and %s are %s apart: one was lost", at[i-1].Format(time.TimeOnly), at[i].Format(time.TimeOnly), d)
		}
	}
	var tickJobs, tickRuns, tickDistinct int
	err = db.QueryRow(ctx, `SELECT (SELECT count(*) FROM river_job WHERE kind = 'goshawk_run' AND args->>'playbook' = 'tick'),
		(SELECT count(*) FROM goshawk_runs WHERE playbook = 'tick'),
		(SELECT count(DISTINCT job_id) FROM goshawk_runs WHERE playbook = 'tick')`).Scan(&tickJobs, &tickRuns, &tickDistinct)
	if err != nil {
		t.Fatal(err)
	}
	var skipped int
	db.QueryRow(ctx, `SELECT count(*) FROM goshawk_fires WHERE playbook = 'tick' AND outcome <> 'fired'`).Scan(&skipped)
	if tickJobs+skipped != len(at) || tickRuns != tickDistinct {
		t.Errorf("%d instants (%d skipped) queued %d runs, recorded as %d runs of %d jobs; want one run per fired instant", len(at), skipped, tickJobs, tickRuns, tickDistinct)
	}

	// The poll: 1,000 containers, and one triage run each.
	var containers, triage, distinct int
	waitFor(t, "1,000 triage runs", func() (bool, error) {
		err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM goshawk_containers),
			(SELECT count(*) FROM goshawk_runs WHERE playbook = 'triage' AND status = 'success'),
			(SELECT count(DISTINCT container_id) FROM goshawk_runs WHERE playbook = 'triage')`).Scan(&containers, &triage, &distinct)
		return triage >= indicators, err
	})
	var triageAll int
	db.QueryRow(ctx, `SELECT count(*) FROM goshawk_runs WHERE playbook = 'triage'`).Scan(&triageAll)
	t.Logf("%d instants fired once each (%d not run: skipped or missed); %d webhook runs on %d nodes; %d containers, %d triage runs", len(at), skipped, echoRuns, echoNodes, containers, triageAll)
	if containers != indicators || triageAll != indicators || distinct != indicators {
		t.Errorf("%d containers, %d triage runs for %d containers; want %d of each", containers, triageAll, distinct, indicators)
	}
}

// buildGoshawk builds the goshawk binary into a temporary folder.
func buildGoshawk(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "goshawk")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/goshawk")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func getJSON(c *http.Client, url string, v any) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func postJSON(c *http.Client, url, body string, v any) error {
	resp, err := c.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// startServe starts goshawk serve on dir's goshawk.yaml, with the test
// database as GOSHAWK_TEST_STORE, and collects its output.
func startServe(t *testing.T, bin, dir, url string) (*exec.Cmd, *syncWriter) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", filepath.Join(dir, "goshawk.yaml"))
	cmd.Env = append(os.Environ(), "GOSHAWK_TEST_STORE="+url)
	logs := &syncWriter{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, logs
}

// syncWriter is a buffer that a child's stdout and stderr share.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func tail(s string, lines int) string {
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if n++; n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}

// TestServeLosesDatabase takes the database away from a serving node:
// webhooks are refused with 503 meanwhile, and served again once the
// database returns, without restarting the node.
func TestServeLosesDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts goshawk serve")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		pgtest.Unavailable(t, err)
	}
	t.Cleanup(srv.Stop)
	url, err := srv.CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildGoshawk(t)
	dir := t.TempDir()
	port := freePort(t)
	writeFiles(t, filepath.Join(dir, "playbooks"), map[string]string{"echo.yaml": "trigger: {webhook: true}\nlua: return 1\n"})
	writeFiles(t, dir, map[string]string{"goshawk.yaml": fmt.Sprintf("store: ${GOSHAWK_TEST_STORE}\nlisten: 127.0.0.1:%d\nshutdown_grace: 2s\n", port)})
	cmd, sw := startServe(t, bin, dir, url)
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("node log:\n%s", tail(sw.String(), 40))
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 30 * time.Second}
	status := func() int {
		resp, err := client.Post(base+"/api/playbooks/echo/run?wait=true", "application/json", nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "the node to serve", func() (bool, error) { return status() == http.StatusOK, nil })

	logged := func(what string) func() (bool, error) {
		return func() (bool, error) { return bytes.Contains([]byte(sw.String()), []byte(what)), nil }
	}
	srv.Pause()
	waitFor(t, "the node to log losing the database", logged("lost the PostgreSQL database"))
	if got := status(); got != http.StatusServiceUnavailable {
		t.Errorf("a webhook while the database is away = %d, want 503", got)
	}
	if err := srv.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to log the database's return", logged("PostgreSQL database reachable again"))
	waitFor(t, "webhooks served again", func() (bool, error) { return status() == http.StatusOK, nil })
}
