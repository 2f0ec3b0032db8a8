package logx_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/logx"
)

// countWith counts the WithAttrs and WithGroup calls that reach a real
// handler.
type countWith struct {
	slog.Handler
	n *int
}

func (c countWith) WithAttrs(as []slog.Attr) slog.Handler {
	*c.n++
	return countWith{c.Handler.WithAttrs(as), c.n}
}

func (c countWith) WithGroup(name string) slog.Handler {
	*c.n++
	return countWith{c.Handler.WithGroup(name), c.n}
}

var stamp = regexp.MustCompile(`time=\S+ |"time":"[^"]*",`)

// TestLazyWritesTheSameLines logs the same lines through a logger and
// through its Lazy form, with attributes, groups, repeated keys (which
// New's loggers drop), built-in keys, levels the logger drops, and first
// and later lines of a derived logger, in text and JSON.
func TestLazyWritesTheSameLines(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var plain, lazy bytes.Buffer
		for _, c := range []struct {
			buf  *bytes.Buffer
			wrap func(slog.Handler) slog.Handler
		}{{&plain, func(h slog.Handler) slog.Handler { return h }}, {&lazy, logx.Lazy}} {
			base := logx.New(c.buf, format, slog.LevelInfo, logx.NewRedactor("hush-hush"))
			log := slog.New(c.wrap(base.Handler())).With("run", 7, "playbook", "p")
			call := log.With("asset", "tc", "action", "hunt", "run", 8)
			call.Debug("dropped", "x", 1)
			call.Info("kept", "status", 200, "token", "hush-hush")     // first line: one record
			call.Info("again", "status", 201, "asset", "tq", "msg", 1) // then the derived handler
			g := call.WithGroup("req").With("path", "/v3").WithGroup("").With()
			g.Warn("grouped", "attempt", 2)
			log.Info("run finished", "status", "success")
		}
		p, l := stamp.ReplaceAllString(plain.String(), ""), stamp.ReplaceAllString(lazy.String(), "")
		if p != l || p == "" {
			t.Fatalf("%s: lazy wrote\n%s\nplain wrote\n%s", format, l, p)
		}
	}
}

// TestLazyDefersWithUntilAHandle: loggers derived with With whose lines
// the level drops cost no WithAttrs on the real handler; the first line
// handled applies them, once.
func TestLazyDefersWithUntilAHandle(t *testing.T) {
	n := 0
	var buf bytes.Buffer
	real := countWith{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}), &n}
	log := slog.New(logx.Lazy(real)).With("run", 1)
	for range 10 {
		l := log.With("asset", "tc").WithGroup("g")
		l.Debug("not shown")
	}
	if n != 0 || buf.Len() != 0 {
		t.Fatalf("%d WithAttrs calls reached the handler for lines it drops; output %q", n, buf.String())
	}
	l := log.With("asset", "tc")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); l.Info("shown") }()
	}
	wg.Wait()
	if n != 2 {
		t.Fatalf("%d WithAttrs calls, want 2 (the run's and the asset's, once each)", n)
	}
	if !bytes.Contains(buf.Bytes(), []byte("msg=shown run=1 asset=tc")) {
		t.Fatalf("output %q", buf.String())
	}
	if !logx.Lazy(real).Enabled(context.Background(), slog.LevelWarn) || logx.Lazy(real).Enabled(context.Background(), slog.LevelDebug) {
		t.Fatal("Lazy's Enabled differs from the handler's")
	}
}

// BenchmarkRunLogLine is a run's one line at the default level: a logger
// derived with the run's attributes, then "run finished" with three more.
func BenchmarkRunLogLine(b *testing.B) {
	base := slog.New(logx.Lazy(logx.New(io.Discard, "text", slog.LevelInfo, logx.NewRedactor("hush-hush")).Handler()))
	b.ReportAllocs()
	for b.Loop() {
		log := base.With("playbook", "hunt-enrich-post", "run", 12345, "version", "1a32196dc53a")
		log.Info("run finished", "status", "success", "steps", 3, "duration", 2103*time.Microsecond)
	}
}
