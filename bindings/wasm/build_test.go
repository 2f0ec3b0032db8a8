package wasm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/bindings/wasm/wasmbuild"
)

// testPlugins are the plugin sources the tests build, by output name. They
// are built once per test binary, all at once, into one temporary folder.
var testPlugins = map[string]struct {
	pkg     string
	ldflags string
}{
	"echo":       {pkg: "./testdata/plugins/echo"},
	"echo-v2":    {pkg: "./testdata/plugins/echo", ldflags: "-X main.version=2"},
	"hog":        {pkg: "./testdata/plugins/hog"},
	"spin":       {pkg: "./testdata/plugins/spin"},
	"chatty":     {pkg: "./testdata/plugins/chatty"},
	"crash":      {pkg: "./testdata/plugins/crash"},
	"garbage":    {pkg: "./testdata/plugins/garbage"},
	"noalloc":    {pkg: "./testdata/plugins/noalloc"},
	"nomanifest": {pkg: "./testdata/plugins/nomanifest"},
	"unexported": {pkg: "./testdata/plugins/unexported"},
	"reputation": {pkg: "./examples/plugins/reputation"},
}

var (
	buildDir  string
	buildOnce sync.Once
	buildErr  error
)

// pluginFile returns the path of a built test plugin, building all of them
// on first use. Each is at <tmp>/<key>/<name>.wasm, so that both versions of
// echo carry the name echo.
func pluginFile(t testing.TB, key string) string {
	t.Helper()
	buildOnce.Do(func() { buildErr = buildPlugins() })
	if buildErr != nil {
		t.Fatalf("build test plugins: %v", buildErr)
	}
	spec, ok := testPlugins[key]
	if !ok {
		t.Fatalf("no test plugin %q", key)
	}
	return filepath.Join(buildDir, key, filepath.Base(spec.pkg)+".wasm")
}

// pluginBytes returns the content of a built test plugin.
func pluginBytes(t testing.TB, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(pluginFile(t, key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildPlugins builds every test plugin and compiles each into the shared
// cache, all in parallel: compiling a Go plugin is the slowest part of
// these tests, under the race detector most of all.
func buildPlugins() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := readSources(root); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(testPlugins))
	for key, spec := range testPlugins {
		wg.Go(func() {
			out := filepath.Join(buildDir, key, filepath.Base(spec.pkg)+".wasm")
			var flags []string
			if spec.ldflags != "" {
				flags = []string{"-ldflags", spec.ldflags}
			}
			if err := wasmbuild.Build(context.Background(), filepath.Join(root, spec.pkg), out, flags...); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return warmCache()
}

// warmCache compiles every test plugin into the shared cache. Bad plugins
// fail their checks after compiling, so they are cached too.
func warmCache() error {
	ctx := context.Background()
	h, err := NewHost(ctx, Options{CacheDir: cacheDir})
	if err != nil {
		return err
	}
	defer h.Close(ctx)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for key, spec := range testPlugins {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = h.Load(ctx, filepath.Join(buildDir, key, filepath.Base(spec.pkg)+".wasm"))
		})
	}
	wg.Wait()
	return nil
}

// readSources reads every Go file the plugins are built from. go test
// caches a passing result until a file the test read changes; the builds
// run in a child process, so without this an edit to a plugin or to the kit
// would not rerun the tests.
func readSources(root string) error {
	dirs := []string{"bindings/wasm/pdk", "testdata/plugins", "examples/plugins"}
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(path) != ".go" {
				return err
			}
			_, err = os.ReadFile(path)
			return err
		})
		if err != nil {
			return fmt.Errorf("read plugin sources: %w", err)
		}
	}
	return nil
}

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(string(b[:len(b)-1])), nil
}

// cacheDir is one compilation cache shared by the tests, so each plugin is
// compiled once per test binary.
var cacheDir string

func TestMain(m *testing.M) {
	var err error
	if buildDir, err = os.MkdirTemp("", "goshawk-wasm-plugins-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = filepath.Join(buildDir, "cache")
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// newTestHost returns a host with the shared cache, closed when the test
// ends.
func newTestHost(t testing.TB, o Options) *Host {
	t.Helper()
	o.CacheDir = cacheDir
	if o.Default.Timeout == 0 {
		// The machine running the tests may be busy; only tests about the
		// time limit use a short one.
		o.Default.Timeout = time.Minute
	}
	h, err := NewHost(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// load loads a built test plugin into h.
func load(t testing.TB, h *Host, key string) {
	t.Helper()
	if err := h.Load(context.Background(), pluginFile(t, key)); err != nil {
		t.Fatal(err)
	}
}
