package main

import (
	"encoding/json"
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
