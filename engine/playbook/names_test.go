package playbook

import (
	"path/filepath"
	"testing"
)

// TestNamesFirstClaimKeepsTheName is the rule serve and validate share: the
// first claim holds a name whatever the file names, a file may claim its
// own name again, and a refusal is located at the refused file's name:.
func TestNamesFirstClaimKeepsTheName(t *testing.T) {
	dir := t.TempDir()
	served := &Playbook{Name: "other", File: filepath.Join(dir, "other.yaml"), nameLine: 1, nameCol: 7}
	newcomer := &Playbook{Name: "other", File: filepath.Join(dir, "aa_dup.yaml"), nameLine: 3, nameCol: 7}
	fromFileName := &Playbook{Name: "other", File: filepath.Join(dir, "zz.yaml")}

	var n Names
	if d := n.Claim(served); d != nil {
		t.Fatalf("first claim refused: %v", d)
	}
	if d := n.Claim(served); d != nil {
		t.Fatalf("a file claiming its own name again is refused: %v", d)
	}
	d := n.Claim(newcomer)
	if d == nil {
		t.Fatal("a second file took a held name")
	}
	if d.File != newcomer.File || d.Line != 3 || d.Col != 7 || d.Message != `playbook name "other" is already used by other.yaml; names must be unique, so rename one` {
		t.Fatalf("refusal: %+v", *d)
	}
	if d := n.Claim(fromFileName); d == nil || d.Line != 1 || d.Col != 1 {
		t.Fatalf("a name from the file name is refused at 1:1: %+v", d)
	}
	if f, ok := n.Holder("other"); !ok || f != served.File {
		t.Fatalf("holder %q, %v", f, ok)
	}
}
