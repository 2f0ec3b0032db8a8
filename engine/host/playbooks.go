package host

import (
	"os"
	"path/filepath"

	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/engine/playbook"
)

// loadPlaybooks loads every playbook file of the folder, keeping the last
// good version of a file that no longer loads. Every file is built and
// validated before the lock is taken, so runs keep finding their playbooks
// while a reload lints, and then all the new versions are swapped in at
// once.
//
// Names follow playbook.Names, claimed in this order: the playbooks being
// served that keep their name, then those renamed by an edit, then the
// files that were not serving, each group in file-name order. A new file
// that claims a served playbook's name is refused, whatever its file name;
// the served one keeps running.
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
		// lost is set when an edit renamed a served playbook to a taken
		// name and its old name went to another file meanwhile: the file
		// serves nothing until it is fixed.
		lost bool
	}
	results := make([]loaded, len(files))
	for i, f := range files {
		pb, diags := playbook.Load(f, env)
		results[i] = loaded{pb: pb, err: playbook.Error(diags)}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	served := make([]*playbook.Playbook, len(files))
	for i, f := range files {
		if b := h.books[f]; b != nil {
			served[i] = b.pb
		}
	}
	var names playbook.Names
	for i, old := range served {
		if old != nil && (results[i].err != nil || results[i].pb.Name == old.Name) {
			names.Claim(old)
		}
	}
	for _, renamed := range []bool{true, false} {
		for i, r := range results {
			old := served[i]
			if r.err != nil || (old != nil) != renamed || (old != nil && r.pb.Name == old.Name) {
				continue
			}
			if d := names.Claim(r.pb); d != nil {
				results[i].pb, results[i].err = nil, playbook.Error([]playbook.Diagnostic{*d})
				if old != nil && names.Claim(old) != nil {
					results[i].lost = true
				}
			}
		}
	}

	present := map[string]bool{}
	for i, f := range files {
		present[f] = true
		b := h.books[f]
		if b == nil {
			b = &book{file: f}
			h.books[f] = b
		}
		pb, err := results[i].pb, results[i].err
		if err != nil {
			if results[i].lost {
				h.o.Log.Error("playbook unloaded: its new name is taken and another file took its old one", "file", f, "playbook", b.pb.Name, "err", err)
				b.pb = nil
			} else if b.lastErr != err.Error() {
				if b.pb != nil {
					h.o.Log.Error("playbook not reloaded; the last good version keeps running", "file", f, "playbook", b.pb.Name, "version", b.pb.Version, "err", err)
				} else {
					h.o.Log.Error("playbook not loaded", "file", f, "err", err)
				}
				h.Metrics.Reloaded("playbook", err)
			}
			b.lastErr, b.lastDiags, b.lastReload = err.Error(), diag.From(err), now
			continue
		}
		if b.pb != nil && b.pb.Version == pb.Version {
			b.lastErr, b.lastDiags = "", nil // a broken edit undone
			continue
		}
		if b.pb == nil {
			h.o.Log.Info("playbook loaded", "file", f, "playbook", pb.Name, "version", pb.Version)
		} else {
			h.o.Log.Info("playbook reloaded", "file", f, "playbook", pb.Name, "version", pb.Version, "previous", b.pb.Version)
		}
		h.Metrics.Reloaded("playbook", nil)
		b.pb, b.lastReload, b.lastErr, b.lastDiags = pb, now, "", nil
	}
	for f, b := range h.books {
		if !present[f] {
			if b.pb != nil {
				h.o.Log.Info("playbook removed", "file", f, "playbook", b.pb.Name)
			} else {
				h.o.Log.Info("playbook removed", "file", f)
			}
			delete(h.books, f)
		}
	}
	h.byName = make(map[string]*playbook.Playbook, len(h.books))
	for _, b := range h.books {
		if b.pb != nil {
			h.byName[b.pb.Name] = b.pb
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
		if !e.IsDir() && playbook.IsFile(name) {
			files = append(files, filepath.Join(dir, name))
		}
	}
	return files // os.ReadDir sorts by name
}
