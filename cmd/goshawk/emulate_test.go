package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestEmulate starts goshawk emulate, writes the config it prints, sets
// the variables its export lines set, and runs actions against both
// emulators through the CLI; Ctrl-C (the context) stops it with exit 0.
func TestEmulate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"emulate", "--tc-listen", "127.0.0.1:0", "--tq-listen=127.0.0.1:0"}, &out, &errb, noEnv)
	}()
	waitUntil(t, "the emulators serving", func() bool {
		select {
		case code := <-exited:
			t.Fatalf("goshawk emulate exited %d before serving\n%s\n%s", code, out.String(), errb.String())
		default:
		}
		return strings.Contains(out.String(), "Serving until Ctrl-C")
	})
	text := out.String()
	assets := regexp.MustCompile(`(?s)\nassets:\n.*?\n\n`).FindString(text)
	if assets == "" {
		t.Fatalf("no assets: section printed:\n%s", text)
	}
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export (\w+)=(.*)$`).FindAllStringSubmatch(text, -1) {
		env[m[1]] = unquoteShell(t, m[2])
	}
	for _, v := range []string{"TC_ACCESS_ID", "TC_SECRET_KEY", "TQ_PASSWORD", "TQ_CLIENT_ID"} {
		if env[v] == "" {
			t.Fatalf("no export line for %s:\n%s", v, text)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "goshawk.yaml")
	if err := os.WriteFile(cfg, []byte(strings.TrimPrefix(assets, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, args := range [][]string{
		{"act", "tc", "hunt_ip", "ip=" + tcfake.SeedIPv4},
		{"act", "tq", "test_connectivity"},
		{"act", "tq", "indicator_search_with_value", "value=" + tcfake.SeedIPv4}, // the intel both share
		{"poll", "tc"},
	} {
		var o, e lockedBuffer
		if code := run(context.Background(), append([]string{"--config", cfg}, args...), &o, &e, lookup); code != exitOK {
			t.Errorf("goshawk %s against the emulators: exit %d\n%s\n%s", strings.Join(args, " "), code, o.String(), e.String())
		}
	}
	cancel()
	if code := <-exited; code != exitOK {
		t.Fatalf("goshawk emulate exited %d after the interrupt\n%s", code, errb.String())
	}
}

func unquoteShell(t *testing.T, s string) string {
	t.Helper()
	if strings.HasPrefix(s, "'") {
		if !strings.HasSuffix(s, "'") {
			t.Fatalf("unterminated quote in %s", s)
		}
		return strings.ReplaceAll(s[1:len(s)-1], `'\''`, "'")
	}
	return s
}

func TestEmulateBadAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"emulate", "--tc-listen", "0.0.0.0:0"}, "--tc-listen 0.0.0.0:0: the emulators accept well-known credentials"},
		{[]string{"emulate", "--tq-listen", "nonsense"}, "--tq-listen nonsense"},
		{[]string{"emulate", "--tc-listen", "127.0.0.1:0", "--tq-listen", busy}, "; choose another address with --tq-listen"},
	}
	for _, c := range cases {
		_, errOut, code := runCLI(c.args...)
		flag := c.args[len(c.args)-2] + " " + c.args[len(c.args)-1] // the address refused is named
		if code != exitUsage || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, flag) {
			t.Errorf("goshawk %v: exit %d, %q; want 2, %q and %q", c.args, code, errOut, flag, c.want)
		}
	}
}
