package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

func runDemo(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"demo"}, args...), &out, &errb, noEnv)
	checkNoDemoSecrets(t, out.String(), errb.String())
	return out.String(), errb.String(), code
}

// TestDemoHintsWorkWhenPasted runs the demo with an empty environment and
// then each command its closing hint prints, also with an empty
// environment: they read the store and need no secret. The export lines,
// run by a shell, set the emulators' credentials without showing them.
func TestDemoHintsWorkWhenPasted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	dir := t.TempDir()
	out, errOut, code := runDemo(t, "--dir", dir)
	if code != exitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	hints := regexp.MustCompile(`(?m)^   \S.* --config (\S+) (.+)$`).FindAllStringSubmatch(out, -1)
	if len(hints) < 4 {
		t.Fatalf("the demo printed %d commands to paste:\n%s", len(hints), out)
	}
	for _, h := range hints {
		args := append([]string{"--config", h[1]}, strings.Fields(h[2])...)
		o, e, code := runCLI(args...)
		if code != exitOK || strings.TrimSpace(o) == "" {
			t.Errorf("pasted `goshawk %s`: exit %d\n%s%s", strings.Join(args, " "), code, o, e)
		}
	}
	exports := regexp.MustCompile(`(?m)^   (export \w+=.*)$`).FindAllStringSubmatch(out, -1)
	if len(exports) != 2 {
		t.Fatalf("want 2 export lines:\n%s", out)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run the export lines")
	}
	script := exports[0][1] + "\n" + exports[1][1] + "\n" +
		`[ "$GOSHAWK_DEMO_TC_SECRET" = "$1" ] && [ "$GOSHAWK_DEMO_TQ_PASSWORD" = "$2" ]`
	cmd := exec.Command("sh", "-c", script, "sh", tcfake.DefaultSecretKey, tqfake.DefaultPassword)
	cmd.Env = []string{}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the export lines do not set the demo's credentials: %v %s", err, b)
	}
}

// TestDemoKeepsChangedFiles: a second demo in the same folder rewrites
// what it wrote, keeps a playbook the user changed unless --force, and
// refuses to overwrite a changed config.
func TestDemoKeepsChangedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	dir := t.TempDir()
	if _, errOut, code := runDemo(t, "--dir", dir); code != exitOK {
		t.Fatalf("first demo: %s", errOut)
	}
	script := filepath.Join(dir, "playbooks", "poll_triage.lua")
	edited := "-- my change\n" + readFile(t, script)
	writeTestFile(t, script, edited)

	out, errOut, code := runDemo(t, "--dir", dir)
	if code != exitOK || !strings.Contains(out, "kept your changed playbooks/poll_triage.lua (goshawk demo --force overwrites it)") {
		t.Fatalf("second demo: exit %d\n%s\n%s", code, out, errOut)
	}
	if readFile(t, script) != edited {
		t.Fatal("the demo overwrote a changed playbook")
	}
	// Kept again the time after: the record still has the demo's version.
	if out, _, _ := runDemo(t, "--dir", dir); !strings.Contains(out, "kept your changed playbooks/poll_triage.lua") || readFile(t, script) != edited {
		t.Fatalf("third demo:\n%s", out)
	}

	cfg := filepath.Join(dir, "goshawk.yaml")
	writeTestFile(t, cfg, readFile(t, cfg)+"# mine\n")
	_, errOut, code = runDemo(t, "--dir", dir)
	if code != exitUsage || !strings.Contains(errOut, cfg+" was changed since the demo wrote it") || !strings.Contains(errOut, "--force") {
		t.Fatalf("demo over a changed config: exit %d\n%s", code, errOut)
	}
	if !strings.HasSuffix(readFile(t, cfg), "# mine\n") {
		t.Fatal("the refused demo changed the config")
	}

	out, errOut, code = runDemo(t, "--dir", dir, "--force")
	if code != exitOK || strings.Contains(out, "kept your changed") {
		t.Fatalf("demo --force: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(readFile(t, script), "my change") || strings.Contains(readFile(t, cfg), "# mine") {
		t.Fatal("demo --force left the changed files")
	}
}

// TestDemoServeChecksTheAddressFirst: a busy or non-loopback --listen
// fails before the demo runs anything.
func TestDemoServeChecksTheAddressFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct{ listen, want string }{
		{ln.Addr().String(), "; choose another address with --listen"},
		{"0.0.0.0:8470", "the demo serves without an API token, so only on a loopback address"},
	} {
		dir := t.TempDir()
		out, errOut, code := runDemo(t, "--serve", "--listen", c.listen, "--dir", dir)
		if code != exitUsage || !strings.Contains(errOut, "--listen "+c.listen) || !strings.Contains(errOut, c.want) {
			t.Errorf("demo --serve --listen %s: exit %d, %q", c.listen, code, errOut)
		}
		if out != "" {
			t.Errorf("the demo ran before the address was checked:\n%s", out)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("the demo wrote its folder before the address was checked")
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
