package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPackagingCommandsParse keeps the systemd unit and the Dockerfile true
// to the CLI: the command lines they run parse (with --help appended, so
// nothing starts) and exit 0.
func TestPackagingCommandsParse(t *testing.T) {
	root := filepath.Join("..", "..")
	unit, err := os.ReadFile(filepath.Join(root, "packaging", "goshawk.service"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=(\S+) (.*)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("goshawk.service has no ExecStart")
	}
	unitArgs := strings.Fields(string(m[2]))

	docker, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var dockerArgs []string
	c := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindSubmatch(docker)
	if c == nil || json.Unmarshal(c[1], &dockerArgs) != nil {
		t.Fatalf("the Dockerfile has no CMD in exec form")
	}
	for name, args := range map[string][]string{"goshawk.service": unitArgs, "Dockerfile": dockerArgs} {
		if args[len(args)-1] != "serve" {
			t.Errorf("%s runs %v, want goshawk ... serve", name, args)
		}
		out, errOut, code := runCLI(append(args, "--help")...)
		if code != exitOK || !strings.Contains(out, "goshawk serve") {
			t.Errorf("%s: goshawk %s --help exited %d: %s", name, strings.Join(args, " "), code, errOut)
		}
	}
}

// TestGoInstallable keeps `go install github.com/goshawk/goshawk/cmd/goshawk@latest`
// working: the module is github.com/goshawk/goshawk, go.mod has no replace
// directive (go install refuses a module that has one), and no folder holds
// a go.mod of its own, which would cut it, and the files the binary embeds,
// out of the module.
func TestGoInstallable(t *testing.T) {
	root := filepath.Join("..", "..")
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^module github\.com/goshawk/goshawk$`).Match(mod) {
		t.Errorf("go.mod does not declare module github.com/goshawk/goshawk")
	}
	if m := regexp.MustCompile(`(?m)^\s*replace\b.*$`).Find(mod); m != nil {
		t.Errorf("go.mod has a replace directive, which go install ...@latest refuses: %s", m)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), "goshawk-demo")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" && p != filepath.Join(root, "go.mod") {
			t.Errorf("%s makes its folder a module of its own, outside github.com/goshawk/goshawk", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
