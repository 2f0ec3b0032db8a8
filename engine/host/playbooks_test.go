package host_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/host"
)

const otherYAML = "name: other\ntrigger: {webhook: true}\nlua: |\n  return {from = \"other.yaml\"}\n"

// TestNewFileCannotTakeAServedPlaybooksName adds a file that sorts before
// the served one and claims its name: the served playbook keeps the name
// and keeps running; the newcomer is refused, with its file:line:col in
// GET /api/playbooks and in the log, and the served file shows no error.
func TestNewFileCannotTakeAServedPlaybooksName(t *testing.T) {
	hs := start(t, setup{files: map[string]string{"other.yaml": otherYAML}})
	served := hs.playbook("other")

	saveRenameOver(t, filepath.Join(hs.pbDir, "aa_dup.yaml"), "trigger: {webhook: true}\nname: other\nlua: |\n  return {from = \"aa_dup.yaml\"}\n")
	var dup host.PlaybookInfo
	eventually(t, "the newcomer refused in GET /api/playbooks", func() bool {
		var ok bool
		dup, ok = hs.lookup("aa_dup")
		return ok && dup.LastError != ""
	})
	if !strings.Contains(dup.LastError, `aa_dup.yaml:2:7: playbook name "other" is already used by other.yaml`) {
		t.Fatalf("the newcomer's error does not locate its name: at aa_dup.yaml:2:7: %q", dup.LastError)
	}
	if dup.Version != "" {
		t.Fatalf("the refused newcomer is listed with a version: %+v", dup)
	}
	if len(dup.Diagnostics) != 1 || filepath.Base(dup.Diagnostics[0].File) != "aa_dup.yaml" || dup.Diagnostics[0].Line != 2 || dup.Diagnostics[0].Col != 7 {
		t.Fatalf("the newcomer's diagnostics: %#v", dup.Diagnostics)
	}
	if info := hs.playbook("other"); info.LastError != "" || info.Version != served.Version || info.File != "other.yaml" {
		t.Fatalf("the served playbook changed or got the newcomer's error: %+v", info)
	}
	if !strings.Contains(hs.log.String(), `aa_dup.yaml:2:7: playbook name \"other\" is already used by other.yaml`) {
		t.Fatalf("the log does not report the refused newcomer:\n%s", hs.log.String())
	}
	for range 3 {
		rec, err := hs.runWait("other", "{}")
		if err != nil || rec.Version != served.Version || rec.Result.(map[string]any)["from"] != "other.yaml" {
			t.Fatalf("POST /api/playbooks/other/run must run other.yaml: %+v, %v", rec, err)
		}
	}
	if code, _ := hs.do(http.MethodPost, "/api/playbooks/aa_dup/run", "{}"); code != http.StatusNotFound {
		t.Fatalf("the refused newcomer runs under its file name: %d", code)
	}

	// Once the served file is gone, the name is free and the newcomer
	// takes it.
	if err := os.Remove(filepath.Join(hs.pbDir, "other.yaml")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the newcomer serving once the name is free", func() bool {
		rec, err := hs.runWait("other", "{}")
		return err == nil && rec.Result.(map[string]any)["from"] == "aa_dup.yaml"
	})
}

// TestRenamedPlaybookCannotTakeAServedName edits a served playbook to take
// another served playbook's name: the edit is refused and the file keeps
// serving its last good version under its old name.
func TestRenamedPlaybookCannotTakeAServedName(t *testing.T) {
	hs := start(t, setup{files: map[string]string{
		"other.yaml": otherYAML,
		"aa.yaml":    "trigger: {webhook: true}\nlua: |\n  return {from = \"aa.yaml\"}\n",
	}})
	aa := hs.playbook("aa")
	saveRenameOver(t, filepath.Join(hs.pbDir, "aa.yaml"), "name: other\ntrigger: {webhook: true}\nlua: |\n  return {from = \"aa.yaml, renamed\"}\n")
	var info host.PlaybookInfo
	eventually(t, "the rename refused", func() bool {
		info = hs.playbook("aa")
		return info.LastError != ""
	})
	if info.Version != aa.Version || !strings.Contains(info.LastError, `aa.yaml:1:7: playbook name "other" is already used by other.yaml`) {
		t.Fatalf("the refused rename: %+v", info)
	}
	rec, err := hs.runWait("other", "{}")
	if err != nil || rec.Result.(map[string]any)["from"] != "other.yaml" {
		t.Fatalf("other must stay with other.yaml: %+v, %v", rec, err)
	}
	rec, err = hs.runWait("aa", "{}")
	if err != nil || rec.Version != aa.Version {
		t.Fatalf("aa must keep serving its last good version: %+v, %v", rec, err)
	}
}

// logLines returns the lines of the log that carry msg and mention file.
func logLines(log, msg, file string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, `msg="`+msg+`"`) && strings.Contains(line, file) {
			n++
		}
	}
	return n
}

// TestPlaybookLoadReloadRemoveLoggedOnce adds, edits and removes a
// playbook while serving, with unrelated reloads in between: each step is
// logged exactly once.
func TestPlaybookLoadReloadRemoveLoggedOnce(t *testing.T) {
	hs := start(t, setup{files: map[string]string{"echo.yaml": echoYAML, "echo.lua": echoLua(1)}})
	if n := logLines(hs.log.String(), "playbook loaded", "echo.yaml"); n != 1 {
		t.Fatalf("a playbook present at start is logged as loaded %d times, want 1:\n%s", n, hs.log.String())
	}
	fresh := filepath.Join(hs.pbDir, "fresh.yaml")
	touch := func(gen int) {
		// An unrelated edit makes the host reload every playbook file.
		saveRenameOver(t, filepath.Join(hs.pbDir, "echo.lua"), echoLua(gen))
		eventually(t, "the unrelated edit served", func() bool {
			rec, err := hs.runWait("echo", "{}")
			return err == nil && generationOf(rec) == gen
		})
	}

	saveRenameOver(t, fresh, "trigger: {webhook: true}\nlua: |\n  return 1\n")
	eventually(t, "fresh loaded", func() bool { _, ok := hs.lookup("fresh"); return ok })
	touch(2)
	if n := logLines(hs.log.String(), "playbook loaded", "fresh.yaml"); n != 1 {
		t.Fatalf("a new playbook is logged as loaded %d times, want 1:\n%s", n, hs.log.String())
	}

	before := hs.playbook("fresh").Version
	saveRenameOver(t, fresh, "trigger: {webhook: true}\nlua: |\n  return 2\n")
	eventually(t, "fresh reloaded", func() bool { return hs.playbook("fresh").Version != before })
	touch(3)
	if n := logLines(hs.log.String(), "playbook reloaded", "fresh.yaml"); n != 1 {
		t.Fatalf("an edited playbook is logged as reloaded %d times, want 1:\n%s", n, hs.log.String())
	}

	if err := os.Remove(fresh); err != nil {
		t.Fatal(err)
	}
	eventually(t, "fresh removed", func() bool { _, ok := hs.lookup("fresh"); return !ok })
	touch(4)
	if n := logLines(hs.log.String(), "playbook removed", "fresh.yaml"); n != 1 {
		t.Fatalf("a removed playbook is logged %d times, want 1:\n%s", n, hs.log.String())
	}
	if n := logLines(hs.log.String(), "playbook loaded", "fresh.yaml"); n != 1 {
		t.Fatalf("the removed playbook was logged as loaded again:\n%s", hs.log.String())
	}
}
