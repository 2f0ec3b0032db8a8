package watch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func yamlOnly(path string) bool { return strings.HasSuffix(path, ".yaml") }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, dir string, o Options) *Watcher {
	t.Helper()
	o.OnError = func(err error) { t.Errorf("watcher error: %v", err) }
	w, err := New([]string{dir}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func next(t *testing.T, w *Watcher) []Change {
	t.Helper()
	select {
	case batch, ok := <-w.Events():
		if !ok {
			t.Fatal("events channel closed")
		}
		return batch
	case <-time.After(30 * time.Second): // a hang guard, generous for a loaded machine
		t.Fatal("no change reported within 30s")
		return nil
	}
}

// expectOnly checks that batch holds exactly one change, of path, with the
// given content ("" and removed for a removal).
func expectOnly(t *testing.T, batch []Change, path, content string, removed bool) {
	t.Helper()
	if len(batch) != 1 {
		t.Fatalf("got %d changes %+v, want 1 for %s", len(batch), batch, path)
	}
	c := batch[0]
	if c.Path != path || c.Removed != removed || string(c.Data) != content {
		t.Fatalf("got change {%s removed=%v data=%q}, want {%s removed=%v data=%q}", c.Path, c.Removed, c.Data, path, removed, content)
	}
	if removed != (c.Hash == "") {
		t.Fatalf("change of %s has hash %q with removed=%v", path, c.Hash, removed)
	}
	if !removed && c.Hash != hash([]byte(content)) {
		t.Fatalf("change of %s has hash %s, want the SHA-256 of its data", path, c.Hash)
	}
}

func TestWriteTempThenRenameOver(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hunt.yaml")
	write(t, path, "v1")
	w := start(t, dir, Options{Match: yamlOnly})

	tmp := filepath.Join(dir, ".hunt.yaml.swp")
	write(t, tmp, "v2")
	rename(t, tmp, path)
	expectOnly(t, next(t, w), path, "v2", false)
}

func TestRenameAwayThenWriteNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hunt.yaml")
	write(t, path, "v1")
	// A generous quiet period: the path is missing only for the few
	// microseconds between the rename and the write below.
	w := start(t, dir, Options{Match: yamlOnly, Debounce: 500 * time.Millisecond})

	rename(t, path, path+"~")
	write(t, path, "v2")
	// The first report must be the new content, never a removal.
	expectOnly(t, next(t, w), path, "v2", false)
}

func TestUnchangedRewriteReportsNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hunt.yaml")
	write(t, path, "same")
	w := start(t, dir, Options{Match: yamlOnly})

	write(t, path, "same")
	// A later, real change to another file is the witness: had the rewrite
	// been reported, it would come before or with it.
	other := filepath.Join(dir, "other.yaml")
	write(t, other, "new")
	expectOnly(t, next(t, w), other, "new", false)
}

func TestCreateChangeRemove(t *testing.T) {
	dir := t.TempDir()
	w := start(t, dir, Options{Match: yamlOnly})
	path := filepath.Join(dir, "new.yaml")

	write(t, path, "one")
	expectOnly(t, next(t, w), path, "one", false)
	write(t, path, "two")
	expectOnly(t, next(t, w), path, "two", false)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expectOnly(t, next(t, w), path, "", true)
}

func TestUnmatchedFilesAreIgnored(t *testing.T) {
	dir := t.TempDir()
	w := start(t, dir, Options{Match: yamlOnly})
	write(t, filepath.Join(dir, "notes.txt"), "ignored")
	path := filepath.Join(dir, "b.yaml")
	write(t, path, "seen")
	expectOnly(t, next(t, w), path, "seen", false)
}

func TestMissingFolder(t *testing.T) {
	_, err := New([]string{filepath.Join(t.TempDir(), "absent")}, Options{})
	if err == nil {
		t.Fatal("New succeeded on a missing folder")
	}
	if !strings.Contains(err.Error(), "create it or fix the path") {
		t.Fatalf("error %q does not say what to do", err)
	}
}

func TestCloseClosesEvents(t *testing.T) {
	w, err := New([]string{t.TempDir()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Events(); ok {
		t.Fatal("events channel still open after Close")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// aloneFile writes dir/goshawk.yaml ("v1") and watches it alone.
func aloneFile(t *testing.T) (dir, path string, w *Watcher) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "goshawk.yaml")
	write(t, path, "v1")
	return dir, path, startAlone(t, path)
}

// startAlone watches the file path alone.
func startAlone(t *testing.T, path string) *Watcher {
	t.Helper()
	w, err := New([]string{path}, Options{Match: yamlOnly, OnError: func(err error) { t.Errorf("watcher error: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// TestFileAloneIgnoresItsSiblings: a file watched alone is watched, not
// its folder, so files changing beside it (a database's log) reach
// nothing; its own edits are reported.
func TestFileAloneIgnoresItsSiblings(t *testing.T) {
	dir, path, w := aloneFile(t)
	if got := w.fsw.WatchList(); len(got) != 1 || got[0] != path {
		t.Fatalf("watching %v, want only %s", got, path)
	}
	write(t, filepath.Join(dir, "goshawk.db-wal"), "frames")
	write(t, filepath.Join(dir, "other.yaml"), "not watched")
	write(t, path, "v2")
	expectOnly(t, next(t, w), path, "v2", false)
}

// TestFileAloneFollowsReplacements: saves that replace the file's inode
// (a rename over it, a rename away and a new file) are reported, and so is
// a later edit in place, which only a watch on the new file sees.
func TestFileAloneFollowsReplacements(t *testing.T) {
	dir, path, w := aloneFile(t)

	tmp := filepath.Join(dir, ".goshawk.yaml.swp")
	write(t, tmp, "v2")
	rename(t, tmp, path)
	expectOnly(t, next(t, w), path, "v2", false)
	write(t, path, "v3")
	expectOnly(t, next(t, w), path, "v3", false)

	rename(t, path, path+"~")
	write(t, path, "v4")
	expectOnly(t, next(t, w), path, "v4", false)
	write(t, path+"~", "the old file, renamed away")
	write(t, path, "v5")
	expectOnly(t, next(t, w), path, "v5", false)
}

// TestFileAloneRemovedThenRecreated: a removal is reported; while the file
// is missing its folder is watched, so that it is seen again when it is
// written anew, and then the watch is back on the file alone.
func TestFileAloneRemovedThenRecreated(t *testing.T) {
	_, path, w := aloneFile(t)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expectOnly(t, next(t, w), path, "", true)
	write(t, path, "v2")
	expectOnly(t, next(t, w), path, "v2", false)
	write(t, path, "v3")
	expectOnly(t, next(t, w), path, "v3", false)
	// The watch is the run loop's: read it from there once it has settled.
	if got := w.fsw.WatchList(); len(got) != 1 || got[0] != path {
		t.Fatalf("watching %v after the file came back, want only %s", got, path)
	}
}

// TestFileAloneThroughSwappedLinks: a config mounted as Kubernetes mounts
// a ConfigMap (goshawk.yaml -> ..data/goshawk.yaml, ..data -> a dated
// folder, swapped by renaming a new link over ..data and removing the old
// folder) is reported when the link is swapped, and edits after it too.
func TestFileAloneThroughSwappedLinks(t *testing.T) {
	dir := t.TempDir()
	for i, v := range []string{"v1", "v2"} {
		sub := filepath.Join(dir, "..2026_"+string(rune('a'+i)))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(sub, "goshawk.yaml"), v)
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link("..2026_a", "..data")
	link(filepath.Join("..data", "goshawk.yaml"), "goshawk.yaml")
	path := filepath.Join(dir, "goshawk.yaml")
	w := startAlone(t, path)

	link("..2026_b", "..data_tmp")
	rename(t, filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data"))
	if err := os.RemoveAll(filepath.Join(dir, "..2026_a")); err != nil {
		t.Fatal(err)
	}
	expectOnly(t, next(t, w), path, "v2", false)
	write(t, filepath.Join(dir, "..2026_b", "goshawk.yaml"), "v3")
	expectOnly(t, next(t, w), path, "v3", false)
}
