package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goshawk/goshawk/engine/playbook"
)

// loadPlaybooks loads every playbook file of the folder, keeping the last
// good version of a file that no longer loads. Every file is built and
// validated before the lock is taken, so runs keep finding their playbooks
// while a reload lints, and then all the new versions are swapped in at
// once.
func (h *Host) loadPlaybooks() {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	dir := h.Config().Playbooks
	files := playbookFiles(dir)
	env := h.LintEnv()
	now := h.o.Clock.Now()
	type loaded struct {
		pb  *playbook.Playbook
		err error
	}
	results := make([]loaded, len(files))
	for i, f := range files {
		pb, diags := playbook.Load(f, env)
		results[i] = loaded{pb, diagError(diags)}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	present := map[string]bool{}
	names := map[string]string{} // playbook name -> file, to refuse duplicates
	for i, f := range files {
		present[f] = true
		b := h.books[f]
		if b == nil {
			b = &book{file: f}
			h.books[f] = b
		}
		pb, err := results[i].pb, results[i].err
		if err == nil {
			if other, dup := names[pb.Name]; dup {
				// As in playbook.LoadDir, the file that sorts first keeps
				// the name, so a name always resolves to one playbook.
				err = fmt.Errorf("%s:1:1: playbook name %q is already used by %s; set another name: in one of them", f, pb.Name, filepath.Base(other))
				b.pb = nil
			}
		}
		if err != nil {
			if b.lastErr != err.Error() {
				if b.pb != nil {
					h.o.Log.Error("playbook not reloaded; the last good version keeps running", "file", f, "version", b.pb.Version, "err", err)
				} else {
					h.o.Log.Error("playbook not loaded", "file", f, "err", err)
				}
				h.Metrics.Reloaded("playbook", err)
			}
			b.lastErr, b.lastReload = err.Error(), now
			if b.pb != nil {
				names[b.pb.Name] = f
			}
			continue
		}
		names[pb.Name] = f
		if b.pb != nil && b.pb.Version == pb.Version && b.lastErr == "" {
			continue
		}
		if b.pb == nil || b.pb.Version != pb.Version {
			if b.pb != nil {
				h.o.Log.Info("playbook reloaded", "playbook", pb.Name, "version", pb.Version)
			}
			h.Metrics.Reloaded("playbook", nil)
			b.pb, b.lastReload = pb, now
		}
		b.lastErr = ""
	}
	for f, b := range h.books {
		if !present[f] {
			if b.pb != nil {
				h.o.Log.Info("playbook removed", "playbook", b.pb.Name)
			}
			delete(h.books, f)
		}
	}
}

// playbookFiles lists the playbooks of dir as playbook.LoadDir does: the
// *.yaml files, without the dot files editors leave behind while saving.
func playbookFiles(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && strings.HasSuffix(name, playbook.Ext) && !strings.HasPrefix(name, ".") {
			files = append(files, filepath.Join(dir, name))
		}
	}
	return files // os.ReadDir sorts by name
}

// diagError joins error diagnostics into one error, or nil.
func diagError(diags []playbook.Diagnostic) error {
	var lines []string
	for _, d := range diags {
		lines = append(lines, d.String())
	}
	if len(lines) == 0 {
		return nil
	}
	return errors.New(strings.Join(lines, "\n"))
}
