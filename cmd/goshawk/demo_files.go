package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/playbooks"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// reputationWasm is the example reputation plugin (examples/plugins/
// reputation) compiled to WebAssembly, so the demo runs the plugin playbook
// from any binary, with no Go toolchain and no checkout.
// TestEmbeddedPluginIsReproducible rebuilds it from source and checks it
// is byte for byte the same; `go test ./cmd/goshawk -run
// TestEmbeddedPluginIsReproducible -update` regenerates it.
//
//go:embed assets/reputation.wasm
var reputationWasm []byte

// reputationBuildFlags are the build flags that make the plugin
// reproducible: no VCS stamp, no build id (wasmbuild adds -trimpath).
var reputationBuildFlags = []string{"-buildvcs=false", "-ldflags=-buildid="}

// demoManifest is the file in the demo folder that records what the demo
// wrote, so a later demo tells a file it wrote from one the user changed.
const demoManifest = ".goshawk-demo.json"

// demoSecrets are the emulators' demo credentials: the demo config reads
// them from these variables, as a real deployment reads its secrets. Each
// is also written to secrets/NAME (mode 0600), so the export lines the demo
// prints never show a value.
var demoSecrets = map[string]string{
	"GOSHAWK_DEMO_TC_SECRET":   tcfake.DefaultSecretKey,
	"GOSHAWK_DEMO_TQ_PASSWORD": tqfake.DefaultPassword,
}

// demoFile is one file the demo writes, relative to its folder.
type demoFile struct {
	rel  string
	data []byte
	mode os.FileMode
}

// demoFolder is the outcome of laying out the demo folder.
type demoFolder struct {
	dir, config string
	// kept lists the files the user changed since the demo wrote them,
	// left as they are.
	kept []string
}

// errDemoConfigChanged refuses to overwrite a demo config the user edited.
var errDemoConfigChanged = errors.New("was changed since the demo wrote it")

// writeDemoFolder lays out the demo folder: a config pointing at the
// emulators, a fresh store, the shipped playbooks, the reputation plugin and
// the secrets files. A file the user changed since the demo wrote it is
// kept, unless force; the config, which must point at this run's
// emulators, is refused instead.
func writeDemoFolder(dir, listen, tcURL, tqURL string, force bool) (*demoFolder, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	files := []demoFile{{
		rel:  config.FileName,
		data: fmt.Appendf(nil, demoConfig, listen, tcURL, tcfake.DefaultAccessID, tqURL, tqfake.DefaultEmail, tqfake.DefaultClientID),
		mode: 0o644,
	}}
	err = fs.WalkDir(playbooks.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := playbooks.FS.ReadFile(p)
		files = append(files, demoFile{rel: filepath.Join("playbooks", filepath.FromSlash(p)), data: b, mode: 0o644})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo folder: %w", err)
	}
	files = append(files, demoFile{rel: filepath.Join("plugins", "reputation.wasm"), data: reputationWasm, mode: 0o644})
	for _, name := range slices.Sorted(maps.Keys(demoSecrets)) {
		files = append(files, demoFile{rel: filepath.Join("secrets", name), data: []byte(demoSecrets[name] + "\n"), mode: 0o600})
	}

	manifest := readDemoManifest(abs)
	next := map[string]string{}
	out := &demoFolder{dir: abs, config: filepath.Join(abs, config.FileName)}
	var write []demoFile
	for _, f := range files {
		cur, err := os.ReadFile(filepath.Join(abs, f.rel))
		switch {
		case errors.Is(err, os.ErrNotExist):
			write = append(write, f)
		case err != nil:
			return nil, fmt.Errorf("demo folder: %w", err)
		case bytes.Equal(cur, f.data):
			next[f.rel] = digest(f.data)
			continue
		case force || manifest[f.rel] == digest(cur):
			write = append(write, f) // the demo's own earlier version
		case f.rel == config.FileName:
			return nil, usageError{fmt.Errorf("%s %w, and the demo must rewrite it with its emulators' addresses: copy your changes elsewhere, choose another --dir, or overwrite it with --force", filepath.Join(abs, f.rel), errDemoConfigChanged)}
		default:
			out.kept = append(out.kept, f.rel)
			if h, ok := manifest[f.rel]; ok {
				next[f.rel] = h // still the demo's version on record: still kept next time
			}
			continue
		}
		next[f.rel] = digest(f.data)
	}

	for _, sub := range []string{"playbooks", "plugins", "secrets"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("demo folder: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(abs, "secrets"), 0o700); err != nil {
		return nil, fmt.Errorf("demo folder: %w", err)
	}
	for _, f := range []string{"goshawk.db", "goshawk.db-wal", "goshawk.db-shm"} {
		if err := os.Remove(filepath.Join(abs, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("demo folder: resetting the store: %w", err)
		}
	}
	for _, f := range write {
		if err := os.WriteFile(filepath.Join(abs, f.rel), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("demo folder: %w", err)
		}
		if err := os.Chmod(filepath.Join(abs, f.rel), f.mode); err != nil { // WriteFile keeps an existing file's mode
			return nil, fmt.Errorf("demo folder: %w", err)
		}
	}
	b, _ := json.MarshalIndent(map[string]any{
		"comment": "written by goshawk demo: the digest of each file it wrote, so it never overwrites one you changed",
		"files":   next,
	}, "", "  ")
	if err := os.WriteFile(filepath.Join(abs, demoManifest), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("demo folder: %w", err)
	}
	return out, nil
}

func readDemoManifest(dir string) map[string]string {
	var m struct {
		Files map[string]string `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(dir, demoManifest))
	if err != nil || json.Unmarshal(b, &m) != nil {
		return map[string]string{}
	}
	return m.Files
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// demoExports returns the shell lines that put the demo's credentials in
// the environment, read from the secrets files so no value is printed.
func demoExports(dir string) []string {
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(demoSecrets)) {
		lines = append(lines, fmt.Sprintf(`export %s="$(cat %s)"`, name, shellQuote(filepath.Join(dir, "secrets", name))))
	}
	return lines
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// selfCommand is how the user can run this goshawk again from the same
// shell: goshawk when it is the one on PATH, go run ./cmd/goshawk under
// go run, else the binary's path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "goshawk"
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/goshawk"
	}
	if p, err := exec.LookPath("goshawk"); err == nil {
		if a, err1 := os.Stat(p); err1 == nil {
			if b, err2 := os.Stat(exe); err2 == nil && os.SameFile(a, b) {
				return "goshawk"
			}
		}
	}
	return shellQuote(exe)
}
