// Package watch reports changed files in a set of folders and of files; the
// engine uses it to hot-reload playbooks, scripts, plugins and its config.
//
// It watches folders, and single files named alone. Editors save
// atomically: some write a temporary file and rename it over the original,
// others rename the original away and write a new one. Both replace the
// file's inode, which silently ends a watch on the file itself, so a file
// watched alone is watched again at its path after every event, and its
// folder is watched while the file is missing. A file is watched alone
// rather than through its folder when the folder holds files that change
// all the time: the config file sits beside the SQLite store, whose every
// commit would otherwise wake the watcher (and cost the writer an event),
// twice per run. Events are debounced per path and a file is only reported
// when its content hash has changed, so a save that rewrites the same
// bytes, or a burst of writes, produces at most one change.
package watch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long a path must stay quiet before it is read.
const DefaultDebounce = 100 * time.Millisecond

// Options configure a Watcher.
type Options struct {
	// Debounce is how long a path must be quiet before it is read and
	// compared. Zero means DefaultDebounce. A file that disappears and
	// reappears within this window is reported as changed (or not at all),
	// never as removed.
	Debounce time.Duration
	// Match selects the files of the watched folders to report, given
	// their path. Nil matches all regular files. A file watched alone is
	// always reported.
	Match func(path string) bool
	// OnError, when set, receives errors that do not stop the watcher: an
	// unreadable file or an error from the operating system's notifier.
	OnError func(error)
}

// Change is one file that changed since the last report.
type Change struct {
	Path    string
	Removed bool
	Data    []byte // the new content; nil when Removed
	Hash    string // hex SHA-256 of Data; "" when Removed
}

// Watcher reports changes to the files in a set of folders. Files that exist
// when it starts are its baseline: they are not reported until they change.
type Watcher struct {
	opts     Options
	fsw      *fsnotify.Watcher
	events   chan []Change
	done     chan struct{}
	finished chan struct{}
	close    sync.Once

	hashes  map[string]string    // path -> hash last seen; owned by run
	pending map[string]time.Time // path -> when it has been quiet long enough; owned by run
	dirs    map[string]bool      // the folders watched for their files
	files   map[string]*alone    // the files watched alone, by path; owned by run
}

// alone is the watch of a file watched alone.
type alone struct {
	on     os.FileInfo // the file the watch is on; nil while there is none
	viaDir bool        // its folder is watched, for the file to appear
}

// New starts watching paths, which must exist: a folder for its files, a
// file alone (a file in a folder that is watched too is watched with it).
func New(paths []string, o Options) (*Watcher, error) {
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	if o.Match == nil {
		o.Match = func(string) bool { return true }
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch: start the file notifier: %w", err)
	}
	w := &Watcher{
		opts:     o,
		fsw:      fsw,
		events:   make(chan []Change),
		done:     make(chan struct{}),
		finished: make(chan struct{}),
		hashes:   make(map[string]string),
		pending:  make(map[string]time.Time),
		dirs:     make(map[string]bool),
		files:    make(map[string]*alone),
	}
	var files []string
	for _, p := range paths {
		p = filepath.Clean(p)
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			files = append(files, p)
		} else {
			w.dirs[p] = true
		}
	}
	for _, path := range files {
		if w.dirs[filepath.Dir(path)] {
			continue
		}
		w.files[path] = &alone{}
		if err := w.watchAlone(path, w.files[path]); err != nil {
			fsw.Close()
			return nil, fmt.Errorf("watch: %w", err)
		}
		if data, err := os.ReadFile(path); err == nil {
			w.hashes[path] = hash(data)
		}
	}
	for dir := range w.dirs {
		// Watch before reading the baseline, so that a file written in
		// between is reported rather than missed.
		if err := fsw.Add(dir); err != nil {
			fsw.Close()
			return nil, fmt.Errorf("watch: folder %s: %w; create it or fix the path in the config", dir, err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			fsw.Close()
			return nil, fmt.Errorf("watch: folder %s: %w", dir, err)
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if e.IsDir() || !o.Match(path) {
				continue
			}
			if data, err := os.ReadFile(path); err == nil {
				w.hashes[path] = hash(data)
			}
		}
	}
	go w.run()
	return w, nil
}

// Events delivers batches of changes: the paths that settled at about the
// same time. It is closed by Close. A slow reader does not lose changes; they
// are merged into the next batch, the latest state of each path winning.
func (w *Watcher) Events() <-chan []Change { return w.events }

// Close stops the watcher and closes the Events channel. It is safe to call
// more than once.
func (w *Watcher) Close() error {
	var err error
	w.close.Do(func() {
		close(w.done)
		<-w.finished
		err = w.fsw.Close()
	})
	return err
}

func (w *Watcher) run() {
	defer close(w.finished)
	defer close(w.events)

	var (
		ready []Change // settled changes the reader has not taken yet
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	defer timer.Stop()

	for {
		var out chan<- []Change
		if len(ready) > 0 {
			out = w.events
		}
		select {
		case <-w.done:
			return
		case out <- ready:
			ready = nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			if !w.reported(ev.Name) {
				continue
			}
			// Every kind of event, even a rename away or a removal, only
			// restarts the quiet period: what counts is the state of the
			// path once it has settled.
			w.pending[ev.Name] = time.Now().Add(w.opts.Debounce)
			w.arm(timer)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.report(fmt.Errorf("watch: %w", err))
		case now := <-timer.C:
			ready = merge(ready, w.settle(now))
			w.arm(timer)
		}
	}
}

// arm sets timer to the earliest pending deadline.
func (w *Watcher) arm(timer *time.Timer) {
	var first time.Time
	for _, at := range w.pending {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	if first.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(time.Until(first))
}

// settle reads every pending path that has been quiet long enough and
// returns those whose state differs from the last one reported.
func (w *Watcher) settle(now time.Time) []Change {
	var changes []Change
	for path, at := range w.pending {
		if at.After(now) {
			continue
		}
		delete(w.pending, path)
		if f := w.files[path]; f != nil {
			if err := w.watchAlone(path, f); err != nil {
				w.report(fmt.Errorf("watch: %w", err))
			}
		}
		if c, ok := w.check(path); ok {
			changes = append(changes, c)
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes
}

// reported tells whether an event of path may change what is reported:
// a file watched alone, or a file of a watched folder that Match selects.
// The others come from a folder watched while a file watched alone is
// missing.
func (w *Watcher) reported(path string) bool {
	if w.files[path] != nil {
		return true
	}
	return w.dirs[filepath.Dir(path)] && w.opts.Match(path)
}

// watchAlone puts the watch of a file watched alone on the file now at
// path, unless it is there already, or on the file's folder while there
// is none. It runs before the file is read, so that a write after the read
// has an event.
func (w *Watcher) watchAlone(path string, f *alone) error {
	info, err := os.Stat(path)
	if err == nil && f.on != nil && os.SameFile(info, f.on) {
		return nil
	}
	if f.on != nil {
		// The watch is on a file that was replaced or removed; the
		// notifier may have dropped it already.
		w.fsw.Remove(path)
		f.on = nil
	}
	dir := filepath.Dir(path)
	if err == nil && info.Mode().IsRegular() && w.fsw.Add(path) == nil {
		// The watch is on the file stated above or a newer one; if newer,
		// its next event finds it is not f.on and watches it again.
		f.on = info
		if f.viaDir {
			f.viaDir = false
			if !w.dirNeeded(dir) {
				w.fsw.Remove(dir)
			}
		}
		return nil
	}
	if !f.viaDir {
		if err := w.fsw.Add(dir); err != nil {
			return fmt.Errorf("folder %s of %s: %w", dir, path, err)
		}
		f.viaDir = true
	}
	return nil
}

// dirNeeded tells whether another file watched alone waits in dir.
func (w *Watcher) dirNeeded(dir string) bool {
	for path, f := range w.files {
		if f.viaDir && filepath.Dir(path) == dir {
			return true
		}
	}
	return false
}

func (w *Watcher) check(path string) (Change, bool) {
	last, known := w.hashes[path]
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !known {
			return Change{}, false // a temporary file that came and went
		}
		delete(w.hashes, path)
		return Change{Path: path, Removed: true}, true
	}
	if err != nil {
		w.report(fmt.Errorf("watch: %w", err))
		return Change{}, false
	}
	if !info.Mode().IsRegular() {
		return Change{}, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// Most likely removed between Stat and ReadFile; the removal has
		// its own event and will be reported when it settles.
		w.report(fmt.Errorf("watch: %w", err))
		return Change{}, false
	}
	h := hash(data)
	if known && h == last {
		return Change{}, false
	}
	w.hashes[path] = h
	return Change{Path: path, Data: data, Hash: h}, true
}

func (w *Watcher) report(err error) {
	if w.opts.OnError != nil {
		w.opts.OnError(err)
	}
}

// merge appends changes to ready, replacing an older change of the same path.
func merge(ready, changes []Change) []Change {
	for _, c := range changes {
		replaced := false
		for i := range ready {
			if ready[i].Path == c.Path {
				ready[i], replaced = c, true
				break
			}
		}
		if !replaced {
			ready = append(ready, c)
		}
	}
	return ready
}

func hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
