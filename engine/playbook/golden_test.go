package playbook

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const brokenDir = "../../testdata/playbooks-broken"

// TestBrokenFolder lints a folder of deliberately broken playbooks and
// compares every diagnostic with expected.txt, with paths relative to the
// folder.
func TestBrokenFolder(t *testing.T) {
	playbooks, diags := LoadDir(brokenDir, testEnv(t))
	var lines []string
	for _, d := range diags {
		rel, err := filepath.Rel(brokenDir, d.File)
		if err != nil {
			t.Fatal(err)
		}
		d.File = filepath.ToSlash(rel)
		lines = append(lines, d.String())
	}
	got := strings.Join(lines, "\n") + "\n"

	golden := filepath.Join(brokenDir, "expected.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("diagnostics differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
	}

	// Only the first of the two playbooks sharing a name survives; every
	// other file in the folder is broken.
	if len(playbooks) != 1 || playbooks["triage"] == nil {
		t.Fatalf("LoadDir kept %d playbooks %v, want only triage", len(playbooks), keys(playbooks))
	}
	if f := filepath.Base(playbooks["triage"].File); f != "same_name_a.yaml" {
		t.Fatalf("triage comes from %s, want same_name_a.yaml", f)
	}
}

func keys(m map[string]*Playbook) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
