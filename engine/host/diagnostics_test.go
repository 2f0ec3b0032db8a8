package host_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/host"
)

// TestPlaybookDiagnosticsInTheAPI guards that GET /api/playbooks carries a
// broken playbook's problems as diagnostics, each with its position, so a
// client never parses last_error to find them.
func TestPlaybookDiagnosticsInTheAPI(t *testing.T) {
	hs := start(t, setup{})
	saveRenameOver(t, filepath.Join(hs.pbDir, "broken.yaml"), "lua: return 1\ntrigger:\n  scedule: \"* * * * *\"\ntimeout: soon\n")
	var info host.PlaybookInfo
	eventually(t, "the broken playbook in GET /api/playbooks", func() bool {
		var ok bool
		info, ok = hs.lookup("broken")
		return ok && info.LastError != ""
	})
	if len(info.Diagnostics) != 2 {
		t.Fatalf("diagnostics: %+v", info.Diagnostics)
	}
	first, second := info.Diagnostics[0], info.Diagnostics[1]
	if first.Line != 3 || first.Col != 3 || first.Severity != "error" || !strings.HasSuffix(first.File, "broken.yaml") ||
		first.Message != `unknown key "scedule" in trigger; did you mean "schedule"?` {
		t.Fatalf("first diagnostic: %+v", first)
	}
	if second.Line != 4 || second.Col != 10 || !strings.HasPrefix(second.Message, "timeout must be a duration") {
		t.Fatalf("second diagnostic: %+v", second)
	}
	for _, d := range info.Diagnostics {
		if !strings.Contains(info.LastError, d.String()) {
			t.Errorf("last_error %q lacks %q", info.LastError, d)
		}
	}

	saveRenameOver(t, filepath.Join(hs.pbDir, "broken.yaml"), "lua: return 1\n")
	eventually(t, "the fixed playbook without diagnostics", func() bool {
		info, _ = hs.lookup("broken")
		return info.Version != "" && info.LastError == "" && len(info.Diagnostics) == 0
	})
}
